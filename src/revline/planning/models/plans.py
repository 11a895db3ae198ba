from django.conf import settings
from django.db import models

from revline.pipeline.choices import OpportunityType


class PlanFields(models.Model):
    """What a quota, a target and a budget share: the amount set, a note, who set it last, and
    whether the demo data generator wrote it."""

    amount = models.DecimalField(max_digits=14, decimal_places=2)
    note = models.CharField(max_length=255, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_generated = models.BooleanField(default=False)

    class Meta:
        abstract = True


class BookingsPlanFields(PlanFields):
    """A bookings plan (a quota or a target): optionally a number of deals, for every opportunity
    type (``opportunity_type`` blank) or for one."""

    opportunity_type = models.CharField(
        max_length=20, choices=OpportunityType.choices, blank=True, default=""
    )
    deal_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        abstract = True
