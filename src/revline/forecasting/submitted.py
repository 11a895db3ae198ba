"""The submitted forecast as it stood at a cut-off, for the backtest's ``submitted`` method.

Planning keeps a weekly snapshot of every position's forecast roll-up
(``planning.ForecastSnapshot``). At a cut-off the submitted forecast of the organisation is the
top roll-up (the position whose subtree holds the most submissions) of the latest week that
started at most seven days before: closed to date plus commit, the figure a manager calls "the
forecast". No snapshot of the period in that week: no submitted figure for that cut-off.
"""

from __future__ import annotations

import datetime as dt

from revline.forecasting.backtest import SubmittedSource


def submitted_source() -> SubmittedSource | None:
    """A lookup of the submitted forecast, or None when there are no forecast snapshots."""
    try:
        from revline.planning.models import ForecastSnapshot
    except ImportError:  # planning without forecast snapshots
        return None
    if not ForecastSnapshot.objects.exists():
        return None

    def lookup(start: dt.date, end: dt.date, cutoff: dt.date) -> float | None:
        row = (
            ForecastSnapshot.objects.filter(
                period_start=start,
                period_end=end,
                week_start__lte=cutoff,
                week_start__gt=cutoff - dt.timedelta(days=7),
            )
            .order_by("-week_start", "-submissions", "owner_position_id")
            .values("closed", "commit")
            .first()
        )
        if row is None:
            return None
        return float(row["closed"] + row["commit"])

    return lookup
