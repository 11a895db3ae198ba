"""Web views of the forecasting app: the predicted range of a period for the user's scope, and
(for those who see every deal) the backtest table and the buttons that queue fresh runs.

Reads go through ``revline.forecasting.selectors`` (the visibility predicate): a position the
user cannot see answers 404; the refresh buttons answer 403 to anyone who does not see every
deal. The refreshes queue the tasks (``revline.forecasting.tasks``), whose runs the page shows
once a worker has made them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from revline.forecasting import selectors, services
from revline.forecasting.backtest import METHODS
from revline.forecasting.charts import backtest_chart, range_chart
from revline.forecasting.models import RunStatus
from revline.org.models import Position
from revline.planning.calendar import Period, fiscal_rule

CHART_METHODS = ("predicted", "stage_weighted", "run_rate", "submitted")
DEALS_SHOWN = 25


def _period(request: HttpRequest, key: str | None) -> Period:
    if key:
        try:
            return fiscal_rule().parse(key)
        except ValueError as exc:
            messages.error(request, str(exc))
    current = selectors.current_period()
    known = selectors.periods_with_runs()
    if current.key in known or not known:
        return current
    return fiscal_rule().parse(known[0])


def _scope(request: HttpRequest) -> tuple[Position | None, bool]:
    """The position the page is scoped to, and whether the user chose it."""
    raw = request.GET.get("position")
    if raw is None:
        return selectors.default_scope(user=request.user), False
    if raw in ("", "all"):
        return None, True
    try:
        return selectors.scope_position(user=request.user, pk=raw), True
    except (Position.DoesNotExist, ValueError, TypeError):
        raise Http404("No such position.") from None


def _backtest_context(user: Any) -> dict[str, Any]:
    table = selectors.backtest_latest(user=user)
    month = table.series("month")
    labels = [dt.date.fromisoformat(p["start"]).strftime("%b %y") for p in month]
    series = [("actual", "Actual", [p["actual"] for p in month])]
    methods = table.run.methods if table.run is not None else []
    for key in CHART_METHODS:
        if key in methods:
            series.append((key, METHODS[key], [p["forecasts"].get(key) for p in month]))
    return {
        "backtest": table,
        "backtest_rows": table.rows(),
        "backtest_chart": backtest_chart(labels, series) if month else "",
        "backtest_points": month,
        "backtest_quarter_points": table.series("quarter"),
    }


@login_required
def forecasting(request: HttpRequest) -> HttpResponse:
    period = _period(request, request.GET.get("period"))
    position, chosen = _scope(request)
    deal_limit = 500 if request.GET.get("deals") == "500" else DEALS_SHOWN
    result = selectors.predicted(
        user=request.user, period=period, position=position, limit=deal_limit
    )
    everything = selectors.sees_everything(user=request.user)
    chart = ""
    if result.range is not None:
        chart = range_chart(
            expected=result.range.expected,
            p10=result.range.p10,
            p50=result.range.p50,
            p90=result.range.p90,
            won_to_date=result.won_to_date,
            baseline=result.stage_weighted,
        )
    context: dict[str, Any] = {
        "period": period,
        "position": position,
        "scope_chosen": chosen,
        "result": result,
        "run": result.run,
        "chart": chart,
        "choices": selectors.scope_choices(user=request.user),
        "known_periods": selectors.periods_with_runs(),
        "sees_everything": everything,
        "failed": result.run is not None and result.run.status == RunStatus.FAILED,
        "today": timezone.localdate(),
        "deal_limit": deal_limit,
    }
    if everything:
        context.update(_backtest_context(request.user))
    return render(request, "web/forecasting/page.html", context)


@login_required
@require_POST
def forecasting_refresh(request: HttpRequest) -> HttpResponse:
    """Queue a retrain and a run of the period (``as_of`` optional, a date)."""
    if not selectors.sees_everything(user=request.user):
        raise PermissionDenied("Only those who see every deal refresh the forecast.")
    key = request.POST.get("period", "")
    target = reverse("web:forecasting")
    try:
        period = fiscal_rule().parse(key) if key else selectors.current_period()
        raw = request.POST.get("as_of") or None
        as_of = dt.date.fromisoformat(raw) if raw else None
    except ValueError as exc:
        messages.error(request, f"Nothing queued: {exc}")
        return redirect(target)
    services.forecast_refresh_queue(period=period, as_of=as_of, by=request.user)
    messages.success(
        request,
        f"A new forecast of {period.label} is queued; it shows here once a worker has made it.",
    )
    return redirect(f"{target}?period={period.key}")


@login_required
@require_POST
def forecasting_backtest(request: HttpRequest) -> HttpResponse:
    if not selectors.sees_everything(user=request.user):
        raise PermissionDenied("Only those who see every deal run the backtest.")
    services.backtest_queue(by=request.user)
    messages.success(request, "A new backtest is queued; it shows here once a worker has run it.")
    return redirect(reverse("web:forecasting") + "#backtest")


urlpatterns: list = [
    path("forecasting/", forecasting, name="forecasting"),
    path("forecasting/refresh", forecasting_refresh, name="forecasting_refresh"),
    path("forecasting/backtest", forecasting_backtest, name="forecasting_backtest"),
]
