"""The fiscal calendar: months, quarters and fiscal years counted from the configured start month.

Everything that speaks of a period (quotas, targets, budgets, forecasts, KPI filters, backtests)
uses these functions, so "Q3" means the same everywhere. Periods are closed date ranges
``[start, end]``; ``key`` is stable text (``2027``, ``2027-Q1``, ``2027-M01``) for URLs and APIs,
``label`` is what a person reads (``FY2027``, ``Q1 FY2027``, ``Feb 2026``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

PeriodKind = Literal["month", "quarter", "year"]
KINDS: tuple[PeriodKind, ...] = ("month", "quarter", "year")
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
_KEY = re.compile(r"^(?P<fy>\d{4})(?:-(?P<kind>[QM])(?P<n>\d{1,2}))?$")


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    kind: PeriodKind
    fiscal_year: int
    number: int  # quarter 1-4 or fiscal month 1-12 within the fiscal year; 1 for a year

    @property
    def key(self) -> str:
        if self.kind == "year":
            return str(self.fiscal_year)
        if self.kind == "quarter":
            return f"{self.fiscal_year}-Q{self.number}"
        return f"{self.fiscal_year}-M{self.number:02d}"

    @property
    def label(self) -> str:
        if self.kind == "year":
            return f"FY{self.fiscal_year}"
        if self.kind == "quarter":
            return f"Q{self.number} FY{self.fiscal_year}"
        return self.start.strftime("%b %Y")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def elapsed_share(self, today: date) -> float:
        """How much of the period has passed by the end of ``today`` (0 before, 1 after)."""
        if today < self.start:
            return 0.0
        if today >= self.end:
            return 1.0
        return ((today - self.start).days + 1) / self.days

    def __str__(self) -> str:
        return self.label


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _month_end(year: int, month: int) -> date:
    ny, nm = _add_months(year, month, 1)
    return date(ny, nm, 1) - timedelta(days=1)


@dataclass(frozen=True)
class FiscalYearRule:
    start_month: int = 1
    year_named_by_end: bool = True

    def fiscal_year_of(self, day: date) -> int:
        """The fiscal year ``day`` falls in."""
        start_year = day.year if day.month >= self.start_month else day.year - 1
        if self.start_month == 1:
            return start_year
        return start_year + 1 if self.year_named_by_end else start_year

    def year_start(self, fiscal_year: int) -> date:
        if self.start_month == 1:
            return date(fiscal_year, 1, 1)
        start_year = fiscal_year - 1 if self.year_named_by_end else fiscal_year
        return date(start_year, self.start_month, 1)

    def period(self, kind: PeriodKind, fiscal_year: int, number: int = 1) -> Period:
        if kind not in MONTHS_IN:
            raise ValueError(f"Unknown period kind {kind!r}; use month, quarter or year.")
        count = 12 // MONTHS_IN[kind]
        if not 1 <= number <= count:
            raise ValueError(f"A fiscal year has {count} {kind}s; {number} is out of range.")
        first = self.year_start(fiscal_year)
        sy, sm = _add_months(first.year, first.month, (number - 1) * MONTHS_IN[kind])
        ey, em = _add_months(sy, sm, MONTHS_IN[kind] - 1)
        return Period(date(sy, sm, 1), _month_end(ey, em), kind, fiscal_year, number)

    def period_of(self, day: date, kind: PeriodKind) -> Period:
        """The month, quarter or fiscal year containing ``day``."""
        fy = self.fiscal_year_of(day)
        first = self.year_start(fy)
        months_in = (day.year - first.year) * 12 + day.month - first.month
        return self.period(kind, fy, months_in // MONTHS_IN[kind] + 1)

    def shift(self, period: Period, steps: int) -> Period:
        """The period ``steps`` after (negative: before) ``period``, of the same kind."""
        sy, sm = _add_months(period.start.year, period.start.month, steps * MONTHS_IN[period.kind])
        return self.period_of(date(sy, sm, 1), period.kind)

    def periods_between(self, start: date, end: date, kind: PeriodKind) -> list[Period]:
        """Every period of ``kind`` overlapping ``[start, end]``, in order."""
        out: list[Period] = []
        if end < start:
            return out
        current = self.period_of(start, kind)
        while current.start <= end:
            out.append(current)
            current = self.shift(current, 1)
        return out

    def parse(self, key: str) -> Period:
        """The period a ``key`` names (``2027``, ``2027-Q2``, ``2027-M05``); ValueError if none."""
        match = _KEY.match(key.strip())
        if not match:
            raise ValueError(f"{key!r} is not a period: use 2027, 2027-Q2 or 2027-M05.")
        fy = int(match["fy"])
        if not match["kind"]:
            return self.period("year", fy)
        kind: PeriodKind = "quarter" if match["kind"] == "Q" else "month"
        return self.period(kind, fy, int(match["n"]))


def fiscal_rule() -> FiscalYearRule:
    """The organisation's rule, from the ``FiscalCalendar`` row (January start when none)."""
    from revline.planning.models import FiscalCalendar

    row = FiscalCalendar.objects.filter(pk=1).values("start_month", "year_named_by_end").first()
    if row is None:
        return FiscalYearRule()
    return FiscalYearRule(row["start_month"], row["year_named_by_end"])


def period_of(day: date, kind: PeriodKind, rule: FiscalYearRule | None = None) -> Period:
    return (rule or fiscal_rule()).period_of(day, kind)


def parse_period(key: str, rule: FiscalYearRule | None = None) -> Period:
    return (rule or fiscal_rule()).parse(key)
