"""``/api/v1/analytics``: KPI values, breakdowns (and their CSV) and the KPI registry.

``GET /kpis?keys=win_rate,bookings&from=2017-01-01&to=2017-03-31&position=12`` answers
``{"items": [{"key", "value", "unit", ...}]}``: the contract docs/kpis.md describes. The numbers
come from ``revline.analytics.kpis`` (so from ``visible_to``); a position outside the caller's
view answers 404, an unknown KPI key 400 (``bad_request``, ``reason: "unknown_kpi"``), a date
that does not parse or a period that ends before it starts 422 (``validation_error``).

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations.)
"""

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router

from revline.analytics import kpis
from revline.analytics.registry import KPIS
from revline.analytics.schemas import (
    BreakdownOut,
    BreakdownQuery,
    KpiDefinitionsOut,
    KpiListOut,
    KpiQuery,
    ScopeQuery,
)
from revline.analytics.scope import period_resolve
from revline.api.errors import BadRequest
from revline.api.schemas import with_errors
from revline.core.export import csv_response
from revline.planning.calendar import FiscalYearRule, fiscal_rule

router = Router(tags=["analytics"])

# Where ``drilldown_url`` points for each ``drilldown_list``: the API list, which takes every
# filter the KPI's drill-down sets (and applies the caller's visibility), so its ``total`` is the
# number of records behind the KPI. Prospects added have no API list: their drill-down is the
# web list (with its CSV export), which needs a browser session.
LIST_URLS = {
    "opportunities": "/api/v1/opportunities",
    "leads": "/api/v1/leads",
    "activities": "/api/v1/activities",
    "quotes": "/api/v1/quotes",
    "complaints": "/api/v1/complaints",
    "surveys": "/api/v1/surveys",
    "campaigns": "/api/v1/campaigns",
    "accounts": "/api/v1/accounts",
    "prospects": "/crm/prospects-added/",
}


def plain(value: Any) -> Any:
    """Decimals as floats, recursively (JSON numbers, not strings)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def kpi_out(value: kpis.KpiValue) -> dict[str, Any]:
    drill_url = None
    if value.drilldown is not None and value.drilldown_list in LIST_URLS:
        drill_url = f"{LIST_URLS[value.drilldown_list]}?{urlencode(value.drilldown)}"
    return {
        "key": value.key,
        "name": value.name,
        "unit": value.unit,
        "value": plain(value.value),
        "count": value.count,
        "start": value.start,
        "end": value.end,
        "definition": value.definition,
        "parts": plain(value.parts),
        "drilldown": value.drilldown,
        "drilldown_list": value.drilldown_list,
        "drilldown_url": drill_url,
        "ignored_filters": value.ignored_filters,
        "note": value.note,
        "group": value.group,
        "label": value.label,
    }


def _range(query: ScopeQuery) -> tuple[Any, Any, FiscalYearRule]:
    rule = fiscal_rule()
    start, end = period_resolve(rule=rule, start=query.from_, end=query.to, period=query.period)
    return start, end, rule


def _unknown(exc: kpis.UnknownKpi) -> BadRequest:
    return BadRequest(str(exc), reason="unknown_kpi", unknown=exc.keys, known=sorted(KPIS))


@router.get(
    "/kpis",
    response=with_errors({200: KpiListOut}, 404),
    summary="KPI values for a period, a position's subtree and filters",
)
def kpi_values(request: HttpRequest, query: Query[KpiQuery]):
    keys = [k.strip() for k in query.keys.split(",") if k.strip()] or kpis.measured_keys()
    start, end, rule = _range(query)
    try:
        values = kpis.compute(
            user=request.auth,
            keys=keys,
            start=start,
            end=end,
            position_id=query.position,
            filters=query.filters(),
            rule=rule,
        )
    except kpis.UnknownKpi as exc:
        raise _unknown(exc) from None
    return {
        "items": [kpi_out(v) for v in values],
        "start": start,
        "end": end,
        "position": query.position,
    }


def _breakdown(request: HttpRequest, query: BreakdownQuery) -> kpis.Breakdown:
    start, end, rule = _range(query)
    try:
        return kpis.breakdown(
            user=request.auth,
            key=query.key.strip(),
            by=query.by.strip(),
            start=start,
            end=end,
            position_id=query.position,
            filters=query.filters(),
            rule=rule,
        )
    except kpis.UnknownKpi as exc:
        raise _unknown(exc) from None


@router.get(
    "/kpis/breakdown",
    response=with_errors({200: BreakdownOut}, 404),
    summary="One KPI per rep, team, region, period, stage, competitor...",
)
def kpi_breakdown(request: HttpRequest, query: Query[BreakdownQuery]):
    result = _breakdown(request, query)
    return {
        "key": result.kpi.key,
        "by": result.by,
        "start": result.start,
        "end": result.end,
        "total": kpi_out(result.total),
        "items": [kpi_out(row) for row in result.rows],
    }


def breakdown_csv(result: kpis.Breakdown) -> StreamingHttpResponse:
    """A breakdown as CSV: one line per group, then the total; the parts that are plain
    numbers as extra columns."""
    part_keys: list[str] = []
    for row in [*result.rows, result.total]:
        for k, v in row.parts.items():
            if k not in part_keys and (v is None or isinstance(v, int | float | Decimal)):
                part_keys.append(k)
    columns: list[Any] = [
        (result.by, lambda r: "total" if r is result.total else r.group),
        ("label", lambda r: "Total" if r is result.total else r.label),
        (result.kpi.key, lambda r: plain(r.value)),
        ("unit", "unit"),
        ("count", "count"),
        ("from", "start"),
        ("to", "end"),
        *[(k, lambda r, k=k: plain(r.parts.get(k))) for k in part_keys],
        ("drilldown", lambda r: urlencode(r.drilldown) if r.drilldown else ""),
    ]
    name = f"{result.kpi.key}-by-{result.by}-{result.start}-{result.end}.csv"
    return csv_response([*result.rows, result.total], columns, filename=name)


@router.get(
    "/kpis/breakdown.csv",
    response=with_errors({200: None}, 404),
    summary="A breakdown as CSV",
)
def kpi_breakdown_csv(request: HttpRequest, query: Query[BreakdownQuery]):
    return breakdown_csv(_breakdown(request, query))


@router.get(
    "/kpis/definitions",
    response=with_errors({200: KpiDefinitionsOut}),
    summary="The KPI registry",
)
def kpi_definitions(request: HttpRequest):
    return {
        "items": [
            {
                "key": k.key,
                "name": k.name,
                "unit": k.unit,
                "definition": k.definition,
                "roles": [str(r) for r in k.roles],
                "responsibility": k.responsibility,
                "measured_by": k.measured_by,
                "parts": list(k.parts),
                "breakdowns": kpis.breakdown_dims(k.key),
            }
            for k in KPIS.values()
        ]
    }
