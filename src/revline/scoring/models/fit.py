from django.db import models
from django.db.models import Q

from revline.core.models import TimeStampedModel
from revline.scoring.choices import IcpAppliesTo, IcpOperator


class IcpRule(TimeStampedModel):
    """One weighted rule of the ideal customer profile, on a firmographic field of leads and
    accounts: ``sector``, ``employees``, ``annual_revenue``, ``region``, ``country`` or a custom
    field (``custom:<key>``). ``value`` is a value (eq, contains), a list (in) or
    ``{"min": .., "max": ..}`` (range, either end open). A negative weight marks a trait that
    makes the fit worse."""

    name = models.CharField(max_length=150)
    field = models.CharField(max_length=100)
    operator = models.CharField(max_length=10, choices=IcpOperator.choices)
    value = models.JSONField()
    weight = models.SmallIntegerField(default=10, help_text="-100 to 100.")
    applies_to = models.CharField(
        max_length=10, choices=IcpAppliesTo.choices, default=IcpAppliesTo.BOTH
    )
    active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class FitScore(models.Model):
    """How well a lead or an account matches the ideal customer profile: 0-100, with the rules
    that matched."""

    lead = models.OneToOneField(
        "crm.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="fit"
    )
    account = models.OneToOneField(
        "crm.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="fit"
    )
    score = models.PositiveSmallIntegerField()
    matched = models.JSONField(default=list, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False, account__isnull=True)
                | Q(lead__isnull=True, account__isnull=False),
                name="scoring_fit_one_record",
            )
        ]

    def __str__(self) -> str:
        return f"fit {self.score}"
