from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel
from revline.crm.choices import ActivityKind, ActivityOutcome
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel


class Activity(OrgScopedModel, TimeStampedModel):
    """A call, email, meeting, discovery call, demo, note or task, on a lead, contact, account or
    opportunity. Tasks carry ``due_at``; every kind may carry ``done_at`` and an ``outcome``."""

    visibility_domain = Domain.REVENUE

    kind = models.CharField(max_length=20, choices=ActivityKind.choices, db_index=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    occurred_at = models.DateTimeField(db_index=True, help_text="When it happened (or is planned).")
    due_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=ActivityOutcome.choices, blank=True)
    lead = models.ForeignKey(
        "crm.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    account = models.ForeignKey(
        "crm.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    opportunity = models.ForeignKey(
        "pipeline.Opportunity",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["owner_position", "id"]),
            models.Index(fields=["opportunity", "-occurred_at"]),
            models.Index(fields=["lead", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"
