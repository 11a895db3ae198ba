"""Web views of the analytics app: the KPI dashboard (every measured KPI for a period and a
position's subtree, one KPI broken down by rep, team, region, period, stage...) and its CSV.

Numbers come from ``revline.analytics.kpis`` (so from ``visible_to``); a position outside the
user's view answers 404. Each number links to the records behind it where the list takes its
filters (the opportunity list); the role cockpits (``revline.web.cockpits``) use the same API.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from revline.analytics import kpis
from revline.analytics.api import breakdown_csv
from revline.analytics.registry import KPIS
from revline.analytics.scope import ROLE_ORDER, period_resolve
from revline.org.models import Position, PositionClosure
from revline.planning.calendar import fiscal_rule

POSITION_CHOICES_LIMIT = 300


def display(value: Any, unit: str) -> str:
    """A KPI value as a person reads it."""
    if value is None:
        return "—"
    number = float(value)
    if unit == "ratio":
        return f"{number * 100:.1f}%"
    if unit == "percent":
        return f"{number:.1f}%"
    if unit == "money":
        return f"{number:,.0f}"
    if unit == "days":
        return f"{number:.1f} d"
    if unit == "hours":
        return f"{number:.1f} h"
    if unit == "score":
        return f"{number:.1f}"
    return f"{number:,.0f}"


def drill_url(value: kpis.KpiValue) -> str | None:
    """The web list of the records behind ``value`` (the opportunity list takes the drill-down
    filters; other lists do not yet)."""
    if value.drilldown is None or value.drilldown_list != "opportunities":
        return None
    return f"{reverse('web:opportunities')}?{urlencode(value.drilldown)}"


@dataclass
class Row:
    value: kpis.KpiValue
    shown: str
    url: str | None


def _row(value: kpis.KpiValue) -> Row:
    return Row(value, display(value.value, value.unit), drill_url(value))


def _int(raw: str) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such position.") from None


def _date(raw: str, field: str) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({field: "Use a date like 2026-03-31."}) from None


def position_choices(user: Any) -> list[Position]:
    """The positions the dashboard offers to scope to: the user's own and those below them
    (most senior first), capped; any other position in view still works by URL."""
    below = PositionClosure.objects.filter(ancestor__holder_id=user.pk).values("descendant_id")
    positions = list(
        Position.objects.filter(id__in=below).select_related("holder")[:POSITION_CHOICES_LIMIT]
    )
    positions.sort(key=lambda p: (ROLE_ORDER.get(p.role, 99), p.title, p.pk))
    return positions


def _question(request: HttpRequest) -> dict[str, Any]:
    rule = fiscal_rule()
    g = request.GET
    start, end = period_resolve(
        rule=rule,
        start=_date(g.get("from", ""), "from"),
        end=_date(g.get("to", ""), "to"),
        period=g.get("period", ""),
    )
    return {"start": start, "end": end, "position_id": _int(g.get("position", "")), "rule": rule}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every measured KPI for the period and scope; with ``key`` and ``by``, that KPI broken
    down."""
    error = ""
    rows: list[Row] = []
    table: list[Row] = []
    total: Row | None = None
    key = request.GET.get("key", "").strip() or "win_rate"
    by = request.GET.get("by", "").strip() or "position"
    question: dict[str, Any] = {}
    try:
        question = _question(request)
        values = kpis.compute(user=request.user, keys=kpis.measured_keys(), **question)
        rows = [_row(v) for v in values]
        if key in KPIS and by in kpis.breakdown_dims(key):
            result = kpis.breakdown(user=request.user, key=key, by=by, **question)
            table = [_row(v) for v in result.rows]
            total = _row(result.total)
    except Position.DoesNotExist:
        raise Http404("No such position.") from None
    except ValidationError as exc:
        error = "; ".join(exc.messages)
    context = {
        "rows": rows,
        "table": table,
        "total": total,
        "error": error,
        "key": key,
        "by": by,
        "kpis": [KPIS[k] for k in kpis.measured_keys()],
        "dims": kpis.breakdown_dims(key) if key in KPIS else [],
        "positions": position_choices(request.user),
        "start": question.get("start"),
        "end": question.get("end"),
        "position_id": question.get("position_id"),
        "period": request.GET.get("period", ""),
        "csv_query": urlencode(
            {k: v for k, v in request.GET.items() if k in {"from", "to", "period", "position"}}
            | {"key": key, "by": by}
        ),
    }
    return render(request, "web/analytics/kpis.html", context)


@login_required
@require_GET
def breakdown_export(request: HttpRequest) -> HttpResponseBase:
    """One KPI broken down, as CSV (the same rows as the dashboard's table)."""
    try:
        question = _question(request)
        result = kpis.breakdown(
            user=request.user,
            key=request.GET.get("key", "").strip(),
            by=request.GET.get("by", "").strip(),
            **question,
        )
    except Position.DoesNotExist:
        raise Http404("No such position.") from None
    except (ValidationError, kpis.UnknownKpi) as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    return breakdown_csv(result)


urlpatterns = [
    path("analytics/kpis/", dashboard, name="kpis"),
    path("analytics/kpis/breakdown.csv", breakdown_export, name="kpis_breakdown_csv"),
]
