from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel
from revline.pipeline.choices import (
    ForecastCategory,
    LossReason,
    ObjectionCategory,
    OpportunityStatus,
    OpportunityType,
)


class Competitor(TimeStampedModel):
    name = models.CharField(max_length=150, unique=True)
    website = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Opportunity(OrgScopedModel, TimeStampedModel):
    """A deal. ``status`` mirrors the stage's kind (open / won / lost) for fast filtering; every
    stage change is kept in ``StageChange``."""

    visibility_domain = Domain.REVENUE

    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    type = models.CharField(
        max_length=20, choices=OpportunityType.choices, default=OpportunityType.NEW_BUSINESS
    )
    account = models.ForeignKey(
        "crm.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="opportunities"
    )
    contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    pipeline = models.ForeignKey(
        "pipeline.Pipeline", on_delete=models.PROTECT, related_name="opportunities"
    )
    stage = models.ForeignKey(
        "pipeline.Stage", on_delete=models.PROTECT, related_name="opportunities"
    )
    status = models.CharField(
        max_length=4,
        choices=OpportunityStatus.choices,
        default=OpportunityStatus.OPEN,
        db_index=True,
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    close_date = models.DateField(null=True, blank=True, db_index=True)
    probability = models.PositiveSmallIntegerField(default=10)
    forecast_category = models.CharField(
        max_length=10, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    next_step = models.CharField(max_length=255, blank=True)
    product = models.ForeignKey(
        "pipeline.Product",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
        help_text="The main product (quotes may hold several).",
    )
    competitors = models.ManyToManyField(Competitor, blank=True, related_name="opportunities")
    loss_reason = models.CharField(max_length=20, choices=LossReason.choices, blank=True)
    loss_note = models.CharField(max_length=255, blank=True)
    engaged_on = models.DateField(
        null=True, blank=True, help_text="When the sales cycle started (first engagement)."
    )
    closed_on = models.DateField(null=True, blank=True, db_index=True)
    stage_entered_at = models.DateTimeField(null=True, blank=True)
    term_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Subscription term; a won deal with a term gets a renewal."
    )
    renewal_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals"
    )
    lead = models.ForeignKey(
        "crm.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey(
        "crm.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    custom = models.JSONField(default=dict, blank=True)
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "opportunities"
        indexes = [
            models.Index(fields=["owner_position", "id"]),
            models.Index(fields=["owner_position", "status", "closed_on"]),
            models.Index(fields=["pipeline", "stage", "id"]),
        ]

    def __str__(self) -> str:
        return self.name


class StageChange(models.Model):
    """One move of a deal between stages: from, to, when, by whom, amount and probability then."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        "pipeline.Stage", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey("pipeline.Stage", on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()  # indexed first in the conversion index below
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    probability = models.PositiveSmallIntegerField(default=0)
    owner_position = models.ForeignKey(
        "org.Position", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whether the deal later moved on from this entry: to a won stage, or to an open stage of a
    # higher order (stage-to-stage conversion counts these). Kept by the services that write the
    # history (``pipeline.services.stage_changes_mark_advanced``).
    advanced = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            # A deal's history in order; with the stages in the index, the latest closing
            # change of each deal (the stage it was won or lost from) is read from it alone.
            models.Index(
                fields=["opportunity", "changed_at", "id", "to_stage", "from_stage"],
                name="pipeline_sc_history_idx",
            ),
            models.Index(fields=["to_stage", "changed_at"]),
            # Stage-to-stage conversion counts a period's entries and those that moved on from
            # the index alone (an index-only scan, not a heap page per change).
            models.Index(
                fields=["changed_at", "to_stage", "advanced", "opportunity"],
                name="pipeline_sc_conversion_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} -> {self.to_stage_id}"


class Objection(TimeStampedModel):
    """An objection the buyer raised, and how it was handled."""

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="objections"
    )
    category = models.CharField(max_length=20, choices=ObjectionCategory.choices)
    text = models.TextField()
    response = models.TextField(blank=True, help_text="How it was handled.")
    resolved = models.BooleanField(default=False)
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["raised_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.text[:40]}"
