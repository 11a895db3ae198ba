from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel
from revline.planning.choices import ForecastFigure
from revline.planning.models.periods import PeriodFields

MONEY = {"max_digits": 14, "decimal_places": 2}


class ForecastSubmission(OrgScopedModel, TimeStampedModel, PeriodFields):
    """A rep's own forecast for a period: commit, best case and pipeline (each the amount of the
    deals the rep puts in that category, not cumulative). One per position and period; submitting
    again replaces the figures (the audit trail and the weekly snapshots keep the history).

    ``owner_position`` is the submitting position. ``prefill_*`` are what the rep's deals said at
    the time (their forecast categories), ``closed`` what was already won in the period.
    """

    visibility_domain = Domain.REVENUE

    commit = models.DecimalField(**MONEY)
    best_case = models.DecimalField(**MONEY)
    pipeline = models.DecimalField(**MONEY)
    closed = models.DecimalField(**MONEY, default=0)
    prefill_commit = models.DecimalField(**MONEY, default=0)
    prefill_best_case = models.DecimalField(**MONEY, default=0)
    prefill_pipeline = models.DecimalField(**MONEY, default=0)
    note = models.CharField(max_length=500, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField()
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["period_start", "owner_position_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner_position", "period_kind", "period_start"],
                name="planning_submission_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(commit__gte=0, best_case__gte=0, pipeline__gte=0),
                name="planning_submission_amounts",
            ),
        ]

    def __str__(self) -> str:
        return f"Forecast {self.period_key} of position {self.owner_position_id}"


class ForecastAdjustment(OrgScopedModel, TimeStampedModel, PeriodFields):
    """A manager's own figure for one of a subordinate's forecast numbers, kept apart from the
    subordinate's submission (as Salesforce does).

    ``position`` is the adjusted position (its roll-up, for a manager); ``owner_position`` the
    adjusting manager's position, so an adjustment is seen by its author and those above, never by
    the person adjusted. ``amount`` replaces the figure for everyone at or above the author;
    ``previous`` is what the figure was when it was adjusted.
    """

    visibility_domain = Domain.REVENUE

    position = models.ForeignKey("org.Position", on_delete=models.CASCADE, related_name="+")
    figure = models.CharField(max_length=10, choices=ForecastFigure.choices)
    amount = models.DecimalField(**MONEY)
    previous = models.DecimalField(**MONEY, default=0)
    note = models.CharField(max_length=500, blank=True)
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adjusted_at = models.DateTimeField()
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["period_start", "position_id", "figure", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["position", "owner_position", "period_kind", "period_start", "figure"],
                name="planning_adjustment_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(position=models.F("owner_position")),
                name="planning_adjustment_not_self",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gte=0), name="planning_adjustment_amount"
            ),
        ]
        indexes = [models.Index(fields=["period_start", "period_kind"])]

    def __str__(self) -> str:
        return f"{self.figure} of position {self.position_id} set to {self.amount}"


class ForecastSnapshot(OrgScopedModel, PeriodFields):
    """A position's forecast roll-up as it stood in one week of a period (taken weekly by the
    ``forecast_snapshots_take`` task; one row per position, period and week).

    Figures are the roll-up seen from the position itself: its subtree's submissions with the
    adjustments made by it and below. ``submitted_*`` are the same sums before any adjustment.
    """

    visibility_domain = Domain.REVENUE

    week_start = models.DateField(help_text="The Monday of the week.")
    taken_at = models.DateTimeField()
    commit = models.DecimalField(**MONEY, default=0)
    best_case = models.DecimalField(**MONEY, default=0)
    pipeline = models.DecimalField(**MONEY, default=0)
    closed = models.DecimalField(**MONEY, default=0)
    submitted_commit = models.DecimalField(**MONEY, default=0)
    submitted_best_case = models.DecimalField(**MONEY, default=0)
    submitted_pipeline = models.DecimalField(**MONEY, default=0)
    quota = models.DecimalField(**MONEY, null=True, blank=True)
    submissions = models.PositiveIntegerField(default=0)
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["period_start", "owner_position_id", "week_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner_position", "period_kind", "period_start", "week_start"],
                name="planning_snapshot_unique",
            )
        ]
        indexes = [models.Index(fields=["week_start"])]

    def __str__(self) -> str:
        return (
            f"Forecast of position {self.owner_position_id}, {self.period_key}, {self.week_start}"
        )
