from .calendar import FiscalCalendar

__all__ = ["FiscalCalendar"]
