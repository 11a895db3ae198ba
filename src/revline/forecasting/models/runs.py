from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel

MONEY = {"max_digits": 16, "decimal_places": 2}


class RunStatus(models.TextChoices):
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ForecastRun(TimeStampedModel):
    """One predicted forecast of a period as of a moment, for the whole organisation: the model
    that made it, the totals, and (in ``DealPrediction``) every deal behind them, so screens
    scope and roll it up without recomputing. ``new_deals`` is the expected bookings of deals
    not open at ``as_of``, by owner in ``NewDealExpectation``."""

    period_key = models.CharField(max_length=12)
    period_kind = models.CharField(max_length=8)
    period_start = models.DateField()
    period_end = models.DateField()
    as_of = models.DateTimeField()
    method = models.CharField(max_length=20, default="lightgbm")
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.DONE)
    message = models.CharField(max_length=500, blank=True)
    won_to_date = models.DecimalField(**MONEY, default=0)
    open_expected = models.DecimalField(**MONEY, default=0)
    new_deals = models.DecimalField(**MONEY, default=0)
    expected = models.DecimalField(**MONEY, default=0)
    p10 = models.DecimalField(**MONEY, default=0)
    p50 = models.DecimalField(**MONEY, default=0)
    p90 = models.DecimalField(**MONEY, default=0)
    stage_weighted = models.DecimalField(**MONEY, default=0)
    open_deals = models.PositiveIntegerField(default=0)
    trained_through = models.DateTimeField(null=True, blank=True)
    examples = models.PositiveIntegerField(default=0)
    positives = models.PositiveIntegerField(default=0)
    snapshots = models.PositiveSmallIntegerField(default=0)
    shocks = models.JSONField(
        default=list,
        blank=True,
        help_text="The model's cohort shocks (model.cohort_shocks), drawn by the simulation.",
    )
    seconds = models.FloatField(default=0, help_text="CPU time the run took.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["period_key", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"Forecast {self.period_key} as of {self.as_of:%Y-%m-%d}"


class DealPrediction(models.Model):
    """A deal in a run: open at ``as_of`` with its probability of being won in the period, or
    already won in it (``won``, probability 1). ``owner_position`` is the deal's owner when the
    run was made, which scopes and rolls it up."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="deals")
    opportunity = models.ForeignKey(
        "pipeline.Opportunity", on_delete=models.CASCADE, related_name="+"
    )
    owner_position = models.ForeignKey("org.Position", on_delete=models.CASCADE, related_name="+")
    stage = models.ForeignKey("pipeline.Stage", on_delete=models.CASCADE, related_name="+")
    won = models.BooleanField(default=False)
    amount = models.DecimalField(**MONEY, default=0)
    probability = models.FloatField()
    stage_probability = models.FloatField(default=0)

    class Meta:
        ordering = ["run", "-probability", "id"]
        indexes = [models.Index(fields=["run", "owner_position"])]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.probability:.2f}"


class NewDealExpectation(models.Model):
    """A run's expected bookings from deals an owner had not opened yet at ``as_of``: the
    mean (``amount``) of what such deals brought them in past windows as long (``windows``)."""

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="new_deal_rows")
    owner_position = models.ForeignKey("org.Position", on_delete=models.CASCADE, related_name="+")
    amount = models.DecimalField(**MONEY, default=0)
    windows = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run", "owner_position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "owner_position"], name="forecasting_new_unique")
        ]

    def __str__(self) -> str:
        return f"{self.owner_position_id}: {self.amount}"


class BacktestRun(TimeStampedModel):
    """A replay of the history (``revline.forecasting.backtest``): every cut-off's forecasts by
    method and the actual, and each method's MAPE and bias, kept for the page and the API."""

    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.DONE)
    message = models.CharField(max_length=500, blank=True)
    methods = models.JSONField(default=list)
    points = models.JSONField(default=list)
    scores = models.JSONField(default=list)
    seconds = models.FloatField(default=0, help_text="CPU time the run took.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Backtest of {self.created_at:%Y-%m-%d %H:%M}"
