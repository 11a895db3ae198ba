from django.db import models

from revline.core.models import TimeStampedModel
from revline.crm.choices import CampaignKind, CampaignStatus, ReferralOutcome
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel


class Campaign(OrgScopedModel, TimeStampedModel):
    """A marketing campaign: a lead source with a cost (outreach sequences come later)."""

    visibility_domain = Domain.CAMPAIGNS

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=CampaignKind.choices, default=CampaignKind.OTHER)
    status = models.CharField(
        max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.PLANNED
    )
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-start_date", "name", "id"]

    def __str__(self) -> str:
        return self.name


class Referral(OrgScopedModel, TimeStampedModel):
    """Who referred whom: a contact (or a named outsider) refers a lead; the outcome follows."""

    visibility_domain = Domain.LEADS

    referrer_contact = models.ForeignKey(
        "crm.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    referrer_account = models.ForeignKey(
        "crm.Account", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    referrer_name = models.CharField(max_length=200, blank=True)
    lead = models.OneToOneField(
        "crm.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="referral"
    )
    outcome = models.CharField(
        max_length=20, choices=ReferralOutcome.choices, default=ReferralOutcome.PENDING
    )
    reward = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        who = self.referrer_contact or self.referrer_account or self.referrer_name
        return f"{who} -> {self.lead}"
