from django.db import models

from revline.core.models import TimeStampedModel
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel
from revline.planning.models.periods import PeriodFields
from revline.planning.models.plans import BookingsPlanFields


class Quota(OrgScopedModel, TimeStampedModel, PeriodFields, BookingsPlanFields):
    """What a position is asked to book in a period: an amount, optionally a number of deals, for
    every opportunity type (``opportunity_type`` blank) or for one.

    ``owner_position`` is the position the quota is for, so the quota is seen by the same people
    who see that position's deals (its holder, the managers above, org-wide revenue roles). Who may
    *set* it is narrower: a position strictly above (``revline.planning.rules``).
    """

    visibility_domain = Domain.REVENUE

    class Meta:
        ordering = ["period_start", "owner_position_id", "opportunity_type", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner_position", "period_kind", "period_start", "opportunity_type"],
                name="planning_quota_unique",
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="planning_quota_amount"),
        ]
        indexes = [models.Index(fields=["period_start", "period_end"])]

    def __str__(self) -> str:
        kind = f" {self.get_opportunity_type_display()}" if self.opportunity_type else ""
        return f"Quota{kind} {self.period_key} for position {self.owner_position_id}"
