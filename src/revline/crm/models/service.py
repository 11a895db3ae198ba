from django.db import models

from revline.core.models import TimeStampedModel
from revline.crm.choices import ComplaintSeverity, ComplaintStatus, SurveyKind
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel


class Complaint(OrgScopedModel, TimeStampedModel):
    """Raised by a customer; owned and resolved by a Sales Manager or Customer Success."""

    visibility_domain = Domain.SERVICE

    account = models.ForeignKey("crm.Account", on_delete=models.CASCADE, related_name="complaints")
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="complaints"
    )
    opportunity = models.ForeignKey(
        "pipeline.Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints",
    )
    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.CharField(
        max_length=10, choices=ComplaintSeverity.choices, default=ComplaintSeverity.MEDIUM
    )
    status = models.CharField(
        max_length=12, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN, db_index=True
    )
    raised_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-raised_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class SatisfactionResponse(OrgScopedModel, TimeStampedModel):
    """One CSAT (1-5) or NPS (0-10) answer from a customer."""

    visibility_domain = Domain.SERVICE

    account = models.ForeignKey(
        "crm.Account", on_delete=models.CASCADE, related_name="satisfaction_responses"
    )
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField(db_index=True)
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-responded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="csat", score__gte=1, score__lte=5))
                | models.Q(kind="nps", score__lte=10),
                name="crm_survey_score_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score}"
