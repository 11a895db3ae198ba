"""Web views: the cockpit, each user's home page in the role of one of their positions, and its
CSV exports.

Query parameters (all optional, kept by every link on the page): ``position`` (one the user
holds; another is 404), ``period`` (a fiscal period key, ``2027-Q2``), ``kind`` (month, quarter
or year: the current one of that kind) and ``region`` (a region id: narrows a company-wide
cockpit and the CSO's funnel).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from revline.core.export import csv_response
from revline.planning.calendar import fiscal_rule
from revline.web import cockpits, selectors
from revline.web.htmx import htmx_render

EXPORT_SECTIONS = ("kpis", "trends", "team", "funnel")


def _position_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("position", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such position.") from None


def _region_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("region", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such region.") from None


def _cockpit(request: HttpRequest, sections: frozenset[str] | None = None) -> Any:
    try:
        cockpit = selectors.cockpit_for(user=request.user, position_id=_position_param(request))
    except selectors.PositionNotHeld:
        raise Http404("You do not hold this position.") from None
    if cockpit.position is None:
        return cockpit, None
    try:
        numbers = cockpits.cockpit_numbers(
            user=request.user,
            position=cockpit.position,
            responsibility_kpis=[item.responsibility.kpi for item in cockpit.items],
            period_key=request.GET.get("period", "").strip(),
            kind=request.GET.get("kind", "").strip(),
            region_id=_region_param(request),
            sections=sections,
        )
    except cockpits.NoSuchRegion:
        raise Http404("No such region.") from None
    for item in cockpit.items:
        item.tile = numbers.by_key.get(item.responsibility.kpi)
    return cockpit, numbers


class Links:
    """The page's own URLs with some parameters changed (the others kept)."""

    def __init__(self, request: HttpRequest, cockpit: Any, numbers: Any):
        self.base: dict[str, str] = {}
        if len(cockpit.positions) > 1 and cockpit.position is not None:
            self.base["position"] = str(cockpit.position.pk)
        if numbers is not None:
            self.base["period"] = numbers.period.key
            if numbers.region is not None:
                self.base["region"] = str(numbers.region.pk)
        self.numbers = numbers

    def home(self, **changes: Any) -> str:
        params = {**self.base, **{k: v for k, v in changes.items()}}
        query = urlencode(sorted((k, str(v)) for k, v in params.items() if v not in (None, "")))
        return reverse("web:home") + (f"?{query}" if query else "")

    def export(self, section: str) -> str:
        params = {**self.base, "section": section}
        return reverse("web:cockpit_export") + "?" + urlencode(sorted(params.items()))

    @property
    def prev_period(self) -> str:
        return self.home(period=self.numbers.period.previous.key)

    @property
    def next_period(self) -> str:
        rule = fiscal_rule()
        return self.home(period=rule.shift(self.numbers.period.current, 1).key)

    @property
    def kinds(self) -> list[tuple[str, str, bool]]:
        """(label, URL, active) per period kind."""
        rule = fiscal_rule()
        current = self.numbers.period
        return [
            (label, self.home(period=key), kind == current.kind)
            for kind, label, key in current.kind_keys(rule)
        ]

    @property
    def periods(self) -> list[tuple[str, str, bool]]:
        current = self.numbers.period.current
        return [(p.label, p.key, p == current) for p in self.numbers.period.choices]

    @property
    def regions(self) -> list[tuple[str, str, bool]]:
        """(label, URL, active): all regions, then each top-level region."""
        region = self.numbers.region
        out = [("All regions", self.home(region=None), region is None)]
        for r in self.numbers.regions:
            out.append((r.name, self.home(region=r.pk), region is not None and region.pk == r.pk))
        return out

    @property
    def exports(self) -> dict[str, str]:
        return {section: self.export(section) for section in EXPORT_SECTIONS}

    @property
    def keep_fields(self) -> list[tuple[str, str]]:
        """Hidden fields of the period form: every parameter but the period."""
        return sorted((k, v) for k, v in self.base.items() if k != "period")


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Full page normally; the cockpit panel alone when the position switcher, the period
    picker or a region tab asks via htmx."""
    cockpit, numbers = _cockpit(request)
    context = {
        "cockpit": cockpit,
        "numbers": numbers,
        "links": Links(request, cockpit, numbers),
    }
    return htmx_render(request, "web/cockpit/home.html", "web/cockpit/_cockpit.html", context)


def _kpi_rows(numbers: Any) -> list[dict[str, Any]]:
    rows = []
    for tile in numbers.by_key.values():
        value, previous = tile.value, tile.previous
        rows.append(
            {
                "key": tile.key,
                "name": tile.kpi.name,
                "unit": tile.kpi.unit,
                "period": tile.period.label,
                "from": tile.period.start,
                "to": tile.period.end,
                "value": value.value if value else None,
                "records": value.count if value else None,
                "previous_period": tile.previous_period.label,
                "previous_value": previous.value if previous else None,
                "change": tile.change.text,
                "target": tile.target,
                "target_kind": tile.target_label,
                "note": tile.note,
                "drilldown": tile.drill_url,
            }
        )
    return rows


def _team_rows(numbers: Any) -> list[dict[str, Any]]:
    team = numbers.team
    if team is None:
        return []
    return [
        {
            "group": r.label,
            "position": r.sublabel,
            "bookings": r.bookings,
            team.target_label: r.quota,
            "attainment": r.attainment,
            "won": r.won,
            "lost": r.lost,
            "win_rate": r.win_rate,
            "open_pipeline": r.open_pipeline,
            "open_deals": r.open_count,
            "period": numbers.period.current.label,
            "drilldown": r.bookings_url,
        }
        for r in team.rows
    ]


def _trend_rows(numbers: Any) -> list[dict[str, Any]]:
    return [
        {
            "key": trend.kpi.key,
            "name": trend.kpi.name,
            "unit": trend.kpi.unit,
            "period": p.label,
            "from": p.start,
            "to": p.end,
            "value": v,
            "drilldown": u,
        }
        for trend in numbers.trends
        for p, v, u in zip(trend.periods, trend.values, trend.urls, strict=True)
    ]


def _funnel_rows(numbers: Any) -> list[dict[str, Any]]:
    funnel = numbers.funnel
    if funnel is None:
        return []
    region = funnel.region.name if funnel.region else "All regions"
    rows = [
        {
            "region": region,
            "step": f"lead: {s.label}",
            "count": s.count,
            "advanced": "",
            "rate": s.rate,
            "lost": "",
            "drilldown": s.url,
        }
        for s in funnel.steps
    ]
    rows += [
        {
            "region": region,
            "step": f"stage: {s.name}",
            "count": s.entered,
            "advanced": s.advanced,
            "rate": s.rate,
            "lost": s.lost,
            "drilldown": s.lost_url,
        }
        for s in funnel.stages
    ]
    return rows


EXPORTS = {
    "kpis": (frozenset({"tiles"}), _kpi_rows),
    "trends": (frozenset({"trends"}), _trend_rows),
    "team": (frozenset({"team"}), _team_rows),
    "funnel": (frozenset({"funnel"}), _funnel_rows),
}


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """One part of the cockpit as CSV (``?section=kpis|trends|team|funnel`` with the page's
    parameters): the same numbers the page shows, each with the link to its records."""
    section = request.GET.get("section", "kpis")
    if section not in EXPORTS:
        raise Http404("No such section.")
    sections, build = EXPORTS[section]
    _, numbers = _cockpit(request, sections)
    rows = build(numbers) if numbers is not None else []
    if rows:
        for row in rows:
            if row.get("drilldown"):
                row["drilldown"] = request.build_absolute_uri(row["drilldown"])
        columns = [(name, name) for name in rows[0]]
    else:
        columns = [("key", "key"), ("value", "value")]
    key = numbers.period.key if numbers is not None else timezone.localdate().isoformat()
    return csv_response(
        rows,
        [(header, _getter(name)) for header, name in columns],
        filename=f"cockpit-{section}-{key}.csv",
    )


def _getter(name: str) -> Any:
    return lambda row: row.get(name)


urlpatterns = [
    path("", home, name="home"),
    path("cockpit/export.csv", export, name="cockpit_export"),
]
