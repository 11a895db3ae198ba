"""Background jobs of the forecasting app: ids and keys in, the work done by services.

Both are safe to run again: each run adds a new stored run (the older ones are pruned), and a
period key that no longer parses, or a user gone, is reported rather than raised.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tasks import task


def _user(user_id: int | None):
    from revline.org.models import User

    return User.objects.filter(pk=user_id).first() if user_id else None


@task()
def forecast_refresh(
    *, period_key: str | None = None, as_of: str | None = None, user_id: int | None = None
) -> str:
    """Retrain the model and store a predicted forecast of ``period_key`` (default: the
    current fiscal quarter) as of ``as_of`` (ISO date or datetime; default: ``default_as_of``)."""
    from revline.forecasting.selectors import current_period
    from revline.forecasting.services import forecast_run_create
    from revline.planning.calendar import fiscal_rule

    try:
        period = fiscal_rule().parse(period_key) if period_key else current_period()
        moment = None
        if as_of:
            moment = dt.datetime.fromisoformat(as_of)
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
    except ValueError as exc:
        return f"skipped: {exc}"
    run = forecast_run_create(period=period, as_of=moment, by=_user(user_id))
    return f"{run.status}: {run.period_key} as of {run.as_of:%Y-%m-%d} {run.message}".strip()


@task()
def backtest_refresh(*, user_id: int | None = None) -> str:
    """Replay the history and store the backtest table."""
    from revline.forecasting.services import backtest_run_create

    run = backtest_run_create(by=_user(user_id))
    return f"{run.status}: {len(run.points)} points {run.message}".strip()
