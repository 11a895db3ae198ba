from .calendar import FiscalCalendar
from .forecasts import ForecastAdjustment, ForecastSnapshot, ForecastSubmission
from .quotas import Quota
from .targets import Budget, BudgetSpend, Target

__all__ = [
    "Budget",
    "BudgetSpend",
    "FiscalCalendar",
    "ForecastAdjustment",
    "ForecastSnapshot",
    "ForecastSubmission",
    "Quota",
    "Target",
]
