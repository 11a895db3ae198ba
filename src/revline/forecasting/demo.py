"""``revline demo``'s predicted forecast: the first quarter of 2018 (the quarter the demo's
open pipeline closes in, and the one its planning data submits forecasts for) as of 1 January
2018, the day after the Maven history ends; the model learns from the whole of it.

About 5 s of CPU. Idempotent: nothing is made when a run of that quarter exists. The backtest
(over a minute of CPU) is left to ``revline forecast --backtest`` or the page's button.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from revline.forecasting.models import ForecastRun
from revline.forecasting.services import forecast_run_create
from revline.planning.calendar import fiscal_rule

DEMO_PERIOD = "2018-Q1"
DEMO_AS_OF = dt.datetime(2018, 1, 1)


def demo_forecasts_load(*, by=None) -> ForecastRun | None:
    """The demo quarter's run, unless one exists; returns the run made (or None)."""
    period = fiscal_rule().parse(DEMO_PERIOD)
    if ForecastRun.objects.filter(period_key=period.key).exists():
        return None
    return forecast_run_create(period=period, as_of=timezone.make_aware(DEMO_AS_OF), by=by)
