from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class FiscalCalendar(models.Model):
    """The organisation's fiscal calendar: one row (pk 1). Months, quarters and fiscal years
    everywhere (quotas, targets, forecasts, KPI periods) are counted from ``start_month``."""

    start_month = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="The month the fiscal year starts in (1 = January).",
    )
    year_named_by_end = models.BooleanField(
        default=True,
        help_text="Name a fiscal year after the calendar year it ends in (FY2027 = Feb 2026 - "
        "Jan 2027 when it starts in February).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_month__gte=1, start_month__lte=12),
                name="planning_fiscal_start_month_range",
            )
        ]

    def __str__(self) -> str:
        return f"Fiscal year from month {self.start_month}"
