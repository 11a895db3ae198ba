import datetime as dt

from django.db import models

from revline.planning.calendar import Period
from revline.planning.choices import PeriodKind


def stored_period(kind: str, start: dt.date, end: dt.date, key: str) -> Period:
    """The ``Period`` a row's stored fields name (``2027``, ``2027-Q2``, ``2027-M05``)."""
    number = int(key[6:]) if len(key) > 4 else 1
    return Period(start, end, kind, int(key[:4]), number)  # type: ignore[arg-type]


class PeriodFields(models.Model):
    """A fiscal period as the calendar named it when the row was written.

    ``period_start`` and ``period_end`` are the truth; ``period_key`` (``2027-Q2``) is kept for
    lists and filters. Changing the fiscal calendar later does not move existing rows: they keep
    the dates they were set for (docs/planning.md).
    """

    period_kind = models.CharField(max_length=7, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    period_key = models.CharField(max_length=10, db_index=True)

    class Meta:
        abstract = True

    @property
    def period(self) -> Period:
        return stored_period(self.period_kind, self.period_start, self.period_end, self.period_key)

    def set_period(self, period: Period) -> None:
        self.period_kind = period.kind
        self.period_start = period.start
        self.period_end = period.end
        self.period_key = period.key

    @property
    def period_label(self) -> str:
        return self.period.label
