from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel
from revline.planning.choices import BudgetCategory
from revline.planning.models.periods import PeriodFields
from revline.planning.models.plans import BookingsPlanFields, PlanFields

ONE_SCOPE = models.Q(team__isnull=False, region__isnull=True) | models.Q(
    team__isnull=True, region__isnull=False
)


def scoped_constraints(name: str, key: str) -> list[models.BaseConstraint]:
    """The constraints of a target or a budget (``name``): exactly one scope, an amount not below
    zero, one row per team (or region), period and ``key``."""
    return [
        models.CheckConstraint(condition=ONE_SCOPE, name=f"planning_{name}_one_scope"),
        models.CheckConstraint(condition=models.Q(amount__gte=0), name=f"planning_{name}_amount"),
        *(
            models.UniqueConstraint(
                fields=[scope, "period_kind", "period_start", key],
                condition=models.Q(**{f"{scope}__isnull": False}),
                name=f"planning_{name}_{scope}_unique",
            )
            for scope in ("team", "region")
        ),
    ]


class ScopedToTeamOrRegion(models.Model):
    """A planning row for one team or one region (exactly one of the two)."""

    team = models.ForeignKey(
        "org.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    region = models.ForeignKey(
        "org.Region", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        abstract = True

    @property
    def scope(self):
        return self.team if self.team_id else self.region

    @property
    def scope_key(self) -> str:
        return f"team:{self.team_id}" if self.team_id else f"region:{self.region_id}"

    @property
    def scope_kind(self) -> str:
        return "team" if self.team_id else "region"


class Target(ScopedToTeamOrRegion, TimeStampedModel, PeriodFields, BookingsPlanFields):
    """A bookings target a VP, the CSO or the CRO sets for a team or a region in a period."""

    class Meta:
        ordering = ["period_start", "region_id", "team_id", "opportunity_type", "id"]
        constraints = scoped_constraints("target", "opportunity_type")

    def __str__(self) -> str:
        return f"Target {self.period_key} for {self.scope}"


class Budget(ScopedToTeamOrRegion, TimeStampedModel, PeriodFields, PlanFields):
    """Money a team or region may spend in a period on one category; spend is recorded against
    it (``BudgetSpend``)."""

    category = models.CharField(max_length=20, choices=BudgetCategory.choices)

    class Meta:
        ordering = ["period_start", "region_id", "team_id", "category", "id"]
        constraints = scoped_constraints("budget", "category")

    def __str__(self) -> str:
        return f"{self.get_category_display()} budget {self.period_key} for {self.scope}"

    @property
    def left(self):
        """The amount minus the spend (``spent`` is annotated by the selectors)."""
        return self.amount - getattr(self, "spent", 0)


class BudgetSpend(TimeStampedModel):
    """Money spent against a budget: how much, when, on what, who recorded it."""

    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="spend")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    spent_on = models.DateField()
    note = models.CharField(max_length=255, blank=True)
    campaign = models.ForeignKey(
        "crm.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-spent_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="planning_spend_amount"),
        ]
        indexes = [models.Index(fields=["budget", "spent_on"])]

    def __str__(self) -> str:
        return f"{self.amount} on {self.spent_on} against budget {self.budget_id}"
