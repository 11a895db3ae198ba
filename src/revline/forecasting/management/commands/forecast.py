"""``revline forecast``: retrain the win-probability model and store a predicted forecast, or
replay the history (``--backtest``). The same services as the task and the page.

    revline forecast                          # the current fiscal quarter, as of now
    revline forecast --period 2017-Q4 --as-of 2017-10-01
    revline forecast --backtest

Run it from cron (or let the page's "Refresh" queue the task) to keep the cockpits' ranges
fresh; each run is stored, the five newest of each period are kept.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from revline.forecasting.selectors import current_period
from revline.forecasting.services import backtest_run_create, forecast_run_create
from revline.planning.calendar import fiscal_rule


class Command(BaseCommand):
    help = "Store a predicted forecast of a period, or replay the history (--backtest)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--period", help="A fiscal period key: 2027, 2027-Q2 or 2027-M05.")
        parser.add_argument("--as-of", help="The moment of the forecast (YYYY-MM-DD[THH:MM]).")
        parser.add_argument("--backtest", action="store_true", help="Replay the history.")

    def handle(self, *args, **options) -> None:
        if options["backtest"]:
            run = backtest_run_create(by=None)
            self.stdout.write(
                f"Backtest {run.status}: {len(run.points)} points, {run.seconds:.1f} s"
            )
            for s in run.scores:
                if s["mape"] is None:
                    continue
                self.stdout.write(
                    f"  {s['view']:8s} {s['method']:16s} MAPE {s['mape']:7.1%}  "
                    f"bias {s['bias']:+7.1%}  n={s['n']}"
                )
            return
        try:
            period = fiscal_rule().parse(options["period"]) if options["period"] else None
            as_of = None
            if options["as_of"]:
                as_of = dt.datetime.fromisoformat(options["as_of"])
                if timezone.is_naive(as_of):
                    as_of = timezone.make_aware(as_of)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        period = period or current_period()
        run = forecast_run_create(period=period, as_of=as_of, by=None)
        if run.status != "done":
            raise CommandError(f"No forecast for {period.label}: {run.message}")
        self.stdout.write(
            f"{period.label} as of {timezone.localtime(run.as_of):%Y-%m-%d %H:%M}: expected "
            f"{run.expected:,.0f} (P10 {run.p10:,.0f}, P50 {run.p50:,.0f}, P90 {run.p90:,.0f}); "
            f"won to date {run.won_to_date:,.0f}, {run.open_deals} open deals, "
            f"{run.seconds:.1f} s"
        )
