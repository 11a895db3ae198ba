"""The numbers on each role's cockpit: its KPIs for a period against the period before and its
quota or target, their trend, the team below it (each rep, each team or each region), and for
the CSO the conversion funnel, for the CRO the forecast roll-up beside the predicted range.

Every figure comes from the analytics app (``revline.analytics.kpis``: ``compute`` and
``breakdown``, which start from the visibility predicate) or the planning app (quotas, targets,
the submitted roll-up), each called with the acting user, so a cockpit never shows a number the
user could not drill into. Each value carries the filters of the list behind it; ``list_url``
turns them into a link to that list (opportunities, leads, activities, quotes, complaints,
surveys, campaigns, accounts or prospects added: ``LISTS``), where the list's own visibility applies again.

The page runs a fixed number of queries for a role, whatever the size of the data or of the
team: one ``compute`` per period for every KPI on the page (KPIs sharing an aggregate share its
query), one period breakdown per trend chart, one breakdown per team column, and the planning
selectors' fixed sets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from revline.analytics import kpis
from revline.analytics.registry import KPIS, Kpi
from revline.org.choices import RoleType
from revline.org.models import Position, Region
from revline.planning.calendar import KINDS, FiscalYearRule, Period, fiscal_rule
from revline.web.charts import Bar, Series

R = RoleType

# Roles that look at the whole company (what they may see), broken down by region; the others
# look at their position's subtree, broken down by direct report where they have reports.
COMPANY_ROLES = frozenset({R.CEO, R.CSO, R.CRO, R.REVOPS})
WHOLE_VIEW_ROLES = COMPANY_ROLES | {R.MARKETING, R.CUSTOMER_SUCCESS}
TEAM_ROLES = frozenset({R.VP_SALES, R.SALES_MANAGER, R.TEAM_LEAD})
SELLER_ROLES = frozenset({R.VP_SALES, R.SALES_MANAGER, R.TEAM_LEAD, R.AE})

# The tiles at the top of each role's cockpit (the responsibilities' KPIs follow in the list).
HEADLINES: dict[str, tuple[str, ...]] = {
    R.CEO: ("bookings", "win_rate", "open_pipeline", "net_revenue_retention"),
    R.CSO: ("win_rate", "avg_deal_size", "sales_cycle_median_days", "stage_conversion"),
    R.CRO: ("bookings", "pipeline_coverage", "renewal_rate", "sdr_output"),
    R.VP_SALES: ("bookings", "quota_attainment", "win_rate", "avg_deal_size"),
    R.SALES_MANAGER: ("bookings", "quota_attainment", "win_rate", "pipeline_coverage"),
    R.TEAM_LEAD: ("bookings", "win_rate", "activity_volume", "overdue_tasks"),
    R.AE: ("bookings", "quota_attainment", "win_rate", "open_pipeline"),
    R.BDR: ("leads_generated", "prospects_added", "meetings_booked", "activity_volume"),
    R.SDR: ("sqls_handed_over", "speed_to_lead", "qualification_rate", "sql_to_opportunity"),
    R.MARKETING: ("campaign_roi", "lead_conversion", "leads_generated", "sqls_handed_over"),
    R.CUSTOMER_SUCCESS: ("renewal_rate", "open_complaints", "csat", "nps"),
    R.REVOPS: ("bookings", "win_rate", "open_pipeline", "activity_volume"),
}
# The trend charts: each KPI per period over the last TREND_LENGTH periods.
TRENDS: dict[str, tuple[str, ...]] = {
    R.CEO: ("bookings",),
    R.CSO: ("win_rate", "avg_deal_size"),
    R.CRO: ("bookings",),
    R.VP_SALES: ("bookings", "win_rate"),
    R.SALES_MANAGER: ("bookings", "win_rate"),
    R.TEAM_LEAD: ("bookings", "activity_volume"),
    R.AE: ("bookings", "win_rate"),
    R.BDR: ("leads_generated",),
    R.SDR: ("sqls_handed_over",),
    R.MARKETING: ("lead_conversion",),
    R.CUSTOMER_SUCCESS: ("renewal_rate",),
    R.REVOPS: ("bookings",),
}
TREND_LENGTH = {"month": 12, "quarter": 8, "year": 3}
FUNNEL_KEYS = ("lead_conversion", "stage_conversion")
# KPIs that describe the state of things now (open deals, open complaints, overdue tasks): the
# same figure for the period before says little, so it is not computed.
MULTIPLES = frozenset({"pipeline_coverage"})
SNAPSHOTS = frozenset({"open_pipeline", "pipeline_coverage", "open_complaints", "overdue_tasks"})
# Where a smaller number is the better one (the change is coloured accordingly).
LOWER_IS_BETTER = frozenset(
    {
        "sales_cycle_median_days",
        "sales_cycle_p75_days",
        "speed_to_lead",
        "open_complaints",
        "overdue_tasks",
        "discounts",
    }
)
# With no deal closed this recently, the default period is the latest one with closed deals
# (an organisation whose history was imported, such as the demo), and the page says so.
STALE_AFTER_DAYS = 92
# The web list each KPI's records drill down to (``KpiValue.drilldown_list``); each exports
# its rows as CSV with the same filters and visibility.
LISTS = {
    "opportunities": "web:opportunities",
    "leads": "web:leads",
    "activities": "web:activities",
    "quotes": "web:quotes",
    "complaints": "web:complaints",
    "surveys": "web:surveys",
    "campaigns": "web:campaigns",
    "accounts": "web:accounts",
    "prospects": "web:prospects",
}


class NoSuchRegion(Exception):
    """The region asked for does not exist (the view answers 404)."""


# --- formatting ---------------------------------------------------------------------------------


def format_value(value: Any, unit: str, *, short: bool = True) -> str:
    """A KPI value as people read it: money with its sign and a k/M suffix, ratios as
    percentages, days and hours with their unit; an em dash for no value."""
    if value is None:
        return "—"
    number = float(value)
    if unit == "ratio":
        return f"{number * 100:.1f}%"
    if unit == "percent":
        return f"{number:.1f}%"
    if unit == "days":
        return f"{number:.0f} d" if number >= 10 else f"{number:.1f} d"
    if unit == "hours":
        return f"{number:.1f} h"
    if unit == "score":
        return f"{number:.1f}"
    if unit == "multiple":
        return f"{number:.2f}×"
    if unit == "money":
        sign = "-" if number < 0 else ""
        magnitude = abs(number)
        if short and magnitude >= 1e6:
            return f"{sign}${magnitude / 1e6:.2f}M"
        if short and magnitude >= 1e4:
            return f"{sign}${magnitude / 1e3:.1f}k"
        return f"{sign}${magnitude:,.0f}"
    return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"


def change_between(current: Any, previous: Any, unit: str, lower_is_better: bool = False) -> Change:
    """How ``current`` compares with ``previous``: percentage points for ratios, a relative
    change for the rest."""
    if current is None or previous is None:
        return Change("", "flat", "no figure to compare")
    now, before = float(current), float(previous)
    if unit in ("ratio",):
        diff = (now - before) * 100
        text = f"{diff:+.1f} pts"
    elif unit == "percent":
        diff = now - before
        text = f"{diff:+.1f} pts"
    elif before == 0:
        diff = now
        text = "new" if now else "±0"
    else:
        diff = (now - before) / abs(before) * 100
        text = f"{diff:+.1f}%"
    if abs(diff) < 1e-9:
        return Change("±0" if text not in ("new",) else text, "flat", "unchanged")
    up = diff > 0
    good = up != lower_is_better
    return Change(text, "up" if up else "down", "better" if good else "worse")


@dataclass(frozen=True)
class Change:
    text: str
    direction: str  # up | down | flat
    verdict: str  # better | worse | unchanged | no figure to compare


def list_url(value: kpis.KpiValue | None, **extra: Any) -> str:
    """The list (``LISTS``) filtered to the records behind ``value`` ('' when the KPI has no
    list of records)."""
    if value is None or value.drilldown is None or value.drilldown_list not in LISTS:
        return ""
    params = {k: str(v) for k, v in {**value.drilldown, **extra}.items() if v not in (None, "")}
    return f"{reverse(LISTS[value.drilldown_list])}?{urlencode(sorted(params.items()))}"


# --- the period ---------------------------------------------------------------------------------


@dataclass
class CockpitPeriod:
    kind: str
    current: Period
    previous: Period
    trend: list[Period]  # oldest first, ending with ``current``
    choices: list[Period]  # the picker's options (newest first)
    today: dt.date
    note: str = ""  # why the default is not today's period
    explicit: bool = False  # chosen by the user (?period=)

    @property
    def key(self) -> str:
        return self.current.key

    @property
    def elapsed(self) -> float:
        return self.current.elapsed_share(self.today)

    @property
    def earlier(self) -> Period:
        return self.previous

    def kind_keys(self, rule: FiscalYearRule) -> list[tuple[str, str, str]]:
        """(kind, label, period key) of the same moment in each kind, for the kind switch."""
        anchor = min(self.current.end, max(self.today, self.current.start))
        return [
            (kind, kind.capitalize(), rule.period_of(anchor, kind).key)  # type: ignore[arg-type]
            for kind in KINDS
        ]


def latest_close(*, user: Any) -> dt.date | None:
    """The latest close day among the deals ``user`` sees (one query)."""
    from revline.pipeline.models import Opportunity

    return (
        Opportunity.objects.visible_to(user)
        .filter(closed_on__isnull=False)
        .order_by()
        .aggregate(day=Max("closed_on"))["day"]
    )


def cockpit_period(
    *,
    user: Any,
    rule: FiscalYearRule,
    key: str = "",
    kind: str = "",
    today: dt.date | None = None,
) -> CockpitPeriod:
    """The period the cockpit shows: ``key`` (``2027-Q2``) when given and valid; else the
    current ``kind`` (quarter by default) — or, when no deal the user sees has closed in the
    last STALE_AFTER_DAYS days, the ``kind`` holding the latest close, said in ``note``."""
    today = today or timezone.localdate()
    current: Period | None = None
    note = ""
    if key:
        try:
            current = rule.parse(key)
        except ValueError:
            note = f"{key!r} is not a period; showing the current one."
    if current is None:
        kind = kind if kind in KINDS else "quarter"
        anchor = today
        latest = latest_close(user=user)
        if latest is not None and latest < today - dt.timedelta(days=STALE_AFTER_DAYS):
            anchor = latest
        current = rule.period_of(anchor, kind)  # type: ignore[arg-type]
        if anchor != today:
            note = note + " " if note else ""
            note += (
                f"No deal you can see has closed since {latest:%-d %b %Y}: showing "
                f"{current.label}, the latest {kind} with closed deals. Pick another period "
                "above."
            )
    length = TREND_LENGTH[current.kind]
    trend = [rule.shift(current, -i) for i in range(length - 1, -1, -1)]
    newest = rule.period_of(max(today, current.end), current.kind)
    choices = [rule.shift(newest, -i) for i in range(max(length, 8) + 4)]
    if current not in choices:
        choices.append(current)
    return CockpitPeriod(
        kind=current.kind,
        current=current,
        previous=rule.shift(current, -1),
        trend=trend,
        choices=choices,
        today=today,
        note=note,
        explicit=bool(key) and not note,
    )


# --- tiles: a KPI this period against the last, its quota or target ----------------------------


@dataclass
class Tile:
    kpi: Kpi
    value: kpis.KpiValue | None
    previous: kpis.KpiValue | None
    period: Period
    previous_period: Period
    target: Any = None  # the quota or target the value is held against (same unit)
    target_label: str = ""  # "quota" | "target"
    trend: list[Any] | None = None  # per trend period (sparkline)
    url: str = ""  # where the figure comes from, when it is not a list of records

    @property
    def key(self) -> str:
        return self.kpi.key

    @property
    def unit(self) -> str:
        """How the value reads: pipeline coverage as a multiple (2.5 times), not a percentage."""
        return "multiple" if self.kpi.key in MULTIPLES else self.kpi.unit

    @property
    def display(self) -> str:
        return format_value(self.value.value if self.value else None, self.unit)

    @property
    def exact(self) -> str:
        return format_value(self.value.value if self.value else None, self.unit, short=False)

    @property
    def previous_display(self) -> str:
        return format_value(self.previous.value if self.previous else None, self.unit)

    @property
    def change(self) -> Change:
        return change_between(
            self.value.value if self.value else None,
            self.previous.value if self.previous else None,
            self.kpi.unit,
            self.kpi.key in LOWER_IS_BETTER,
        )

    @property
    def target_display(self) -> str:
        return format_value(self.target, self.unit)

    @property
    def attainment(self) -> float | None:
        if self.target in (None, 0) or self.value is None or self.value.value is None:
            return None
        return float(self.value.value) / float(self.target)

    @property
    def drill_url(self) -> str:
        return self.url or list_url(self.value)

    @property
    def previous_url(self) -> str:
        return list_url(self.previous)

    @property
    def count(self) -> int | None:
        return self.value.count if self.value else None

    @property
    def note(self) -> str:
        return self.value.note if self.value else ""


# --- trends -------------------------------------------------------------------------------------


@dataclass
class Trend:
    kpi: Kpi
    periods: list[Period]
    values: list[Any]
    urls: list[str]

    @property
    def labels(self) -> list[str]:
        return [
            p.label.replace(" FY", " ") if p.kind == "quarter" else p.label for p in self.periods
        ]

    @property
    def series(self) -> list[Series]:
        return [Series(self.kpi.name, self.values)]

    @property
    def chart_unit(self) -> str:
        return "ratio" if self.kpi.unit == "ratio" else ""

    @property
    def points(self) -> list[tuple[str, str, str]]:
        """(period label, value, drill-down URL) per period, newest first, for the table."""
        return [
            (p.label, format_value(v, self.kpi.unit), u)
            for p, v, u in zip(
                reversed(self.periods), reversed(self.values), reversed(self.urls), strict=True
            )
        ]


# --- the team: each rep, each team or each region -----------------------------------------------


@dataclass
class TeamRow:
    group: Any
    label: str
    position: Position | None = None
    sublabel: str = ""
    bookings: Any = None
    won: int = 0
    lost: int = 0
    win_rate: float | None = None
    open_pipeline: Any = None
    open_count: int = 0
    quota: Any = None
    target_label: str = ""
    bookings_url: str = ""
    closed_url: str = ""
    lost_url: str = ""
    open_url: str = ""
    elapsed: float = 0.0

    @property
    def attainment(self) -> float | None:
        if not self.quota or self.bookings is None:
            return None
        return float(self.bookings) / float(self.quota)

    @property
    def pace(self) -> float | None:
        return self.elapsed if self.quota else None

    @property
    def on_pace(self) -> bool | None:
        att = self.attainment
        return None if att is None else att >= self.elapsed

    @property
    def bookings_display(self) -> str:
        return format_value(self.bookings, "money")

    @property
    def quota_display(self) -> str:
        return format_value(self.quota, "money")

    @property
    def open_display(self) -> str:
        return format_value(self.open_pipeline, "money")

    @property
    def win_rate_display(self) -> str:
        return format_value(self.win_rate, "ratio")

    @property
    def attainment_display(self) -> str:
        return format_value(self.attainment, "ratio")


@dataclass
class TeamSection:
    by: str  # report | region
    title: str
    subtitle: str
    rows: list[TeamRow]
    target_label: str  # quota | target

    @property
    def bars(self) -> list[Bar]:
        return [Bar(r.label, r.bookings or 0, r.quota, r.bookings_url) for r in self.rows]

    @property
    def has_targets(self) -> bool:
        return any(r.quota for r in self.rows)


# --- the CSO's funnel ---------------------------------------------------------------------------


@dataclass
class FunnelStep:
    label: str
    count: int
    rate: float | None  # from the step before
    url: str = ""

    @property
    def rate_display(self) -> str:
        return format_value(self.rate, "ratio")


@dataclass
class FunnelStage:
    stage_id: int
    name: str
    entered: int
    advanced: int
    rate: float | None
    lost: int = 0
    lost_url: str = ""
    entered_url: str = ""

    @property
    def rate_display(self) -> str:
        return format_value(self.rate, "ratio")


@dataclass
class Funnel:
    region: Region | None
    regions: list[Region]
    steps: list[FunnelStep]
    stages: list[FunnelStage]
    lead_value: kpis.KpiValue | None
    stage_value: kpis.KpiValue | None
    lost_total: int = 0
    lost_url: str = ""

    @property
    def chart_steps(self) -> list[tuple[str, int]]:
        return [(s.label, s.count) for s in self.steps]

    @property
    def stage_bars(self) -> list[Bar]:
        return [Bar(s.name, s.rate, None, s.lost_url) for s in self.stages]


# --- the CRO's forecast -------------------------------------------------------------------------


@dataclass
class PredictedRange:
    """The predicted bookings of a period (the forecasting app's P10/P50/P90)."""

    p10: Decimal
    p50: Decimal
    p90: Decimal
    expected: Decimal | None = None
    as_of: Any = None
    url: str = ""


@dataclass
class ForecastPanel:
    period: Period
    rollup: Any  # planning.selectors.ForecastSummary, or None
    predicted: PredictedRange | None
    rollup_note: str = ""
    predicted_note: str = ""
    rollup_url: str = ""
    predicted_url: str = ""

    @property
    def quota(self) -> Any:
        return getattr(self.rollup, "quota", None)

    @property
    def bars(self) -> list[Bar]:
        quota = self.quota
        bars: list[Bar] = []
        if self.rollup is not None:
            bars += [
                Bar("Closed", self.rollup.closed, quota),
                Bar("Forecast (closed + commit)", self.rollup.forecast, quota),
                Bar("Upside (+ best case)", self.rollup.upside, quota),
            ]
        if self.predicted is not None:
            bars += [
                Bar("Predicted P10", self.predicted.p10, quota),
                Bar("Predicted P50", self.predicted.p50, quota),
                Bar("Predicted P90", self.predicted.p90, quota),
            ]
        return bars

    @property
    def gap(self) -> Decimal | None:
        """Submitted forecast minus the predicted P50 (positive: the team calls more)."""
        if self.rollup is None or self.predicted is None:
            return None
        return Decimal(self.rollup.forecast) - Decimal(self.predicted.p50)

    @property
    def within_range(self) -> bool | None:
        if self.rollup is None or self.predicted is None:
            return None
        return self.predicted.p10 <= self.rollup.forecast <= self.predicted.p90


def predicted_range(*, user: Any, period: Period) -> tuple[PredictedRange | None, str]:
    """The forecasting app's predicted range for ``period`` as ``user`` sees it (its latest
    run), or None and why. Someone who sees every deal gets the run's own organisation-wide
    figures; anyone else the range of the deals they see (``forecasting.selectors.predicted``,
    simulated over those deals)."""
    from revline.forecasting import selectors as forecasting

    run = forecasting.latest_run(period=period)
    if run is None:
        return None, f"No prediction has been run for {period.label} yet."
    if run.status != "done":
        return None, f"The latest prediction for {period.label} failed: {run.message}"
    url = (
        f"{reverse('web:forecasting')}?{urlencode({'period': period.key})}"
        if _has_url("web:forecasting")
        else ""
    )
    if forecasting.sees_everything(user=user):
        return (
            PredictedRange(run.p10, run.p50, run.p90, run.expected, run.as_of, url),
            "",
        )
    got = forecasting.predicted(user=user, period=period, limit=0, run=run)
    if got.range is None:
        return None, f"No prediction for {period.label} covers your deals."
    span = got.range
    return (
        PredictedRange(
            Decimal(str(round(span.p10, 2))),
            Decimal(str(round(span.p50, 2))),
            Decimal(str(round(span.p90, 2))),
            Decimal(str(round(span.expected, 2))),
            run.as_of,
            url,
        ),
        "",
    )


def _has_url(name: str) -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def forecast_panel(
    *, user: Any, position: Position, rule: FiscalYearRule, period: Period
) -> ForecastPanel:
    """The submitted roll-up of ``position`` beside the predicted range, for the quarter of the
    cockpit's period (the period itself when it is a quarter)."""
    from revline.planning import selectors as planning

    quarter = period if period.kind == "quarter" else rule.period_of(period.start, "quarter")
    # The top line of the user's own position's roll-up as they see it (planning.forecast_view's
    # node): the panel shows no line per report, so none is built.
    rollup = planning.forecast_summary(user=user, period=quarter, position_id=position.pk)
    note = ""
    if not rollup.submitters:
        note = "Nobody below you has submitted a forecast for this quarter yet."
    predicted, predicted_note = predicted_range(user=user, period=quarter)
    query = urlencode({"period": quarter.key})
    return ForecastPanel(
        quarter,
        rollup,
        predicted,
        note,
        predicted_note,
        _url("web:planning_forecast", query),
        _url("web:forecasting", query),
    )


# --- the cockpit's numbers ----------------------------------------------------------------------


@dataclass
class Numbers:
    position: Position
    role: str
    period: CockpitPeriod
    scope_label: str
    region: Region | None
    tiles: list[Tile]
    by_key: dict[str, Tile]
    trends: list[Trend]
    team: TeamSection | None = None
    funnel: Funnel | None = None
    forecast: ForecastPanel | None = None
    regions: list[Region] = field(default_factory=list)

    @property
    def company_wide(self) -> bool:
        return self.role in WHOLE_VIEW_ROLES


def scope_of(role: str, position: Position) -> int | None:
    """The position a role's KPIs are scoped to: none (everything the user sees) for the
    company-wide roles, else the position's subtree."""
    return None if role in WHOLE_VIEW_ROLES else position.pk


def _unique(keys: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for key in keys:
        if key and key in KPIS:
            seen.setdefault(key, None)
    return list(seen)


def kpi_keys(role: str, responsibility_kpis: Iterable[str]) -> list[str]:
    """The KPIs a role's page computes: its headline tiles, its responsibilities' KPIs that the
    analytics app measures, and the quota attainment behind a seller's bookings-vs-quota."""
    keys = [*HEADLINES.get(role, ()), *responsibility_kpis]
    if role in SELLER_ROLES or role in COMPANY_ROLES:
        keys.append("quota_attainment")
    if role == R.CSO:
        keys += FUNNEL_KEYS  # the funnel reads them from the same computation
    return _unique(k for k in keys if KPIS.get(k) and KPIS[k].measured)


def compared_keys(role: str, keys: list[str]) -> list[str]:
    """The KPIs computed for the previous period too: the headline tiles but the snapshots (the
    others show the period's value and the number of records behind it)."""
    return [k for k in keys if k in HEADLINES.get(role, ()) and k not in SNAPSHOTS]


def _targets(tile_values: dict[str, kpis.KpiValue]) -> dict[str, tuple[Any, str]]:
    """The quota each KPI is held against, where the values give one: bookings against the
    period's quota, quota attainment against 100 %."""
    out: dict[str, tuple[Any, str]] = {}
    attainment = tile_values.get("quota_attainment")
    quota = (attainment.parts or {}).get("quota") if attainment else None
    if quota:
        out["bookings"] = (quota, "quota")
        out["quota_attainment"] = (1.0, "quota")
    coverage = tile_values.get("pipeline_coverage")
    if coverage is not None and coverage.value is not None:
        out["pipeline_coverage"] = (3.0, "rule of thumb")
    return out


def cockpit_numbers(
    *,
    user: Any,
    position: Position,
    responsibility_kpis: Iterable[str],
    period_key: str = "",
    kind: str = "",
    region_id: int | None = None,
    today: dt.date | None = None,
    sections: frozenset[str] | None = None,
) -> Numbers:
    """Everything the cockpit of ``position`` shows for the period (see ``cockpit_period``).

    ``region_id`` narrows a company-wide cockpit (and the CSO's funnel) to one region;
    ``NoSuchRegion`` when it does not exist. ``sections`` limits the work to some parts
    (``tiles``, ``trends``, ``team``, ``funnel``, ``forecast``): the CSV exports ask for one.
    """
    rule = fiscal_rule()
    role = position.role
    want = sections or frozenset({"tiles", "trends", "team", "funnel", "forecast"})
    period = cockpit_period(user=user, rule=rule, key=period_key, kind=kind, today=today)
    region = None
    if region_id is not None:
        region = Region.objects.filter(pk=region_id).first()
        if region is None:
            raise NoSuchRegion(region_id)
    scope = scope_of(role, position)
    filters = {"region": region.pk} if region is not None and role in WHOLE_VIEW_ROLES else None
    keys = kpi_keys(role, responsibility_kpis)
    tiles: list[Tile] = []
    by_key: dict[str, Tile] = {}
    current: dict[str, kpis.KpiValue] = {}
    if "tiles" in want or ("funnel" in want and role == R.CSO):
        current = _compute(user, keys, period.current, scope, filters, rule)
    if "tiles" in want:
        previous = _compute(user, compared_keys(role, keys), period.previous, scope, filters, rule)
        targets = _targets(current)
        for key in keys:
            target, label = targets.get(key, (None, ""))
            tile = Tile(
                KPIS[key],
                current.get(key),
                previous.get(key),
                period.current,
                period.previous,
                target,
                label,
            )
            tiles.append(tile)
            by_key[key] = tile
    planned = [k for k in _unique(responsibility_kpis) if KPIS[k].measured_by == "planning"]
    targets_cache: dict[str, Any] = {}
    if "tiles" in want:
        for key in planned:
            measured = _planning_tile(user, key, period, targets_cache)
            if measured is not None:
                by_key[key] = measured
    trends: list[Trend] = []
    if "trends" in want or "tiles" in want:
        trends = _trends(user, list(TRENDS.get(role, ())), period, scope, filters, rule)
        for trend in trends:
            if trend.kpi.key in by_key:
                by_key[trend.kpi.key].trend = trend.values
    numbers = Numbers(
        position=position,
        role=role,
        period=period,
        scope_label=_scope_label(role, position, region),
        region=region,
        tiles=[by_key[k] for k in HEADLINES.get(role, ()) if k in by_key],
        by_key=by_key,
        trends=trends,
    )
    if "team" in want:
        if role in COMPANY_ROLES:
            numbers.team = _regions_section(user, period, filters, targets_cache, rule)
        elif role in TEAM_ROLES:
            numbers.team = _reports_section(user, position, period, rule)
    if role in COMPANY_ROLES:
        numbers.regions = list(Region.objects.filter(parent__isnull=True).order_by("name"))
    if "funnel" in want and role == R.CSO:
        numbers.funnel = _funnel(user, period, region, numbers.regions, current, rule)
    if "forecast" in want and role == R.CRO:
        numbers.forecast = forecast_panel(
            user=user, position=position, rule=rule, period=period.current
        )
    return numbers


def _scope_label(role: str, position: Position, region: Region | None) -> str:
    if role in WHOLE_VIEW_ROLES:
        return f"{region.name} region" if region else "The whole company (all you can see)"
    if role in TEAM_ROLES:
        return f"{position.title} and everyone below"
    return "Your own records"


def _compute(
    user: Any,
    keys: list[str],
    period: Period,
    scope: int | None,
    filters: dict | None,
    rule: FiscalYearRule,
) -> dict[str, kpis.KpiValue]:
    if not keys:
        return {}
    values = kpis.compute(
        user=user,
        keys=keys,
        start=period.start,
        end=period.end,
        position_id=scope,
        filters=filters,
        rule=rule,
    )
    return {v.key: v for v in values}


def _trends(
    user: Any,
    keys: list[str],
    period: CockpitPeriod,
    scope: int | None,
    filters: dict | None,
    rule: FiscalYearRule,
) -> list[Trend]:
    """Each of ``keys`` per period over the trend window: one breakdown by the period kind for
    them all (KPIs of the same aggregate share its query; no total is computed)."""
    if not keys:
        return []
    first, last = period.trend[0], period.trend[-1]
    got = kpis.breakdown_rows(
        user=user,
        keys=keys,
        by=period.kind,
        start=first.start,
        end=last.end,
        position_id=scope,
        filters=filters,
        rule=rule,
    )
    trends = []
    for key in keys:
        rows = {r.group: r for r in got[key]}
        values, urls = [], []
        for p in period.trend:
            row = rows.get(p.key)
            values.append(row.value if row is not None else _empty_value(key))
            urls.append(list_url(row) if row is not None else "")
        trends.append(Trend(KPIS[key], list(period.trend), values, urls))
    return trends


def _empty_value(key: str) -> Any:
    """A period with no record: zero for counts and sums, no value for rates and averages."""
    kpi = KPIS[key]
    if kpi.unit == "count" or key in ("bookings", "open_pipeline", "deals_won", "deals_lost"):
        return 0
    return None


def _rows_by_group(rows: list[kpis.KpiValue]) -> dict[Any, kpis.KpiValue]:
    return {r.group: r for r in rows if r.group is not None}


TEAM_KEYS = ["bookings", "win_rate", "open_pipeline"]


def _team_figures(**args: Any) -> tuple[dict[Any, kpis.KpiValue], ...]:
    """Bookings, win rate and open pipeline per group: one breakdown for the three (bookings
    and win rate share their query)."""
    got = kpis.breakdown_rows(keys=TEAM_KEYS, **args)
    return tuple(_rows_by_group(got[key]) for key in TEAM_KEYS)


def _reports_section(
    user: Any, position: Position, period: CockpitPeriod, rule: FiscalYearRule
) -> TeamSection:
    """Each direct report of ``position`` (a rep, or a manager's whole team): bookings against
    quota (the planning app's quota roll-up) with pace, win rate and open pipeline."""
    from revline.planning import selectors as planning

    p = period.current
    board = planning.quota_board(user=user, period=p, position=position, on=period.today)
    args = {
        "user": user,
        "by": "report",
        "start": p.start,
        "end": p.end,
        "position_id": position.pk,
        "rule": rule,
    }
    booked, closed, pipe = _team_figures(**args)
    rows: list[TeamRow] = []
    # The reports who sell (and any other with deals): an SDR or a CS rep reporting to a manager
    # has no bookings row of its own.
    with_deals = set(booked) | set(closed) | set(pipe)
    order: list[tuple[Any, str, Position | None, Any]] = [
        (line.position.pk, _name(line.position), line.position, line.quota)
        for line in board.rows
        if line.position is not None
        and (line.position.role in SELLER_ROLES or line.position.pk in with_deals or line.quota)
    ]
    listed = {g for g, *_ in order}
    if position.pk in booked or position.pk in closed or position.pk in pipe:
        order.append((position.pk, f"{_name(position)} (own deals)", position, None))
        listed.add(position.pk)
    for group in sorted((set(booked) | set(closed) | set(pipe)) - listed, key=str):
        label = (booked.get(group) or closed.get(group) or pipe.get(group)).label  # type: ignore[union-attr]
        order.append((group, label, None, None))
    for group, label, pos, quota in order:
        row = _team_row(group, label, pos, quota, booked, closed, pipe, period.elapsed)
        row.sublabel = pos.title if pos is not None else ""
        rows.append(row)
    kind = "rep" if position.role in (R.SALES_MANAGER, R.TEAM_LEAD) else "team"
    return TeamSection(
        by="report",
        title="Each rep" if kind == "rep" else "Each team",
        subtitle=(
            f"Your direct reports{' and their teams' if kind == 'team' else ''}: bookings in "
            f"{p.label} against quota, with pace ({period.elapsed * 100:.0f}% of the period gone)."
        ),
        rows=rows,
        target_label="quota",
    )


def _name(position: Position) -> str:
    holder = position.holder
    return holder.get_full_name() if holder is not None else f"{position.title} (vacant)"


def _team_row(
    group: Any,
    label: str,
    position: Position | None,
    quota: Any,
    booked: dict[Any, kpis.KpiValue],
    closed: dict[Any, kpis.KpiValue],
    pipe: dict[Any, kpis.KpiValue],
    elapsed: float,
    target_label: str = "quota",
) -> TeamRow:
    b, c, o = booked.get(group), closed.get(group), pipe.get(group)
    parts = c.parts if c is not None else {}
    return TeamRow(
        group=group,
        label=label,
        position=position,
        bookings=b.value if b is not None else Decimal(0),
        won=parts.get("won", 0),
        lost=parts.get("lost", 0),
        win_rate=float(c.value) if c is not None and c.value is not None else None,
        open_pipeline=o.value if o is not None else Decimal(0),
        open_count=o.count or 0 if o is not None else 0,
        quota=quota,
        target_label=target_label,
        bookings_url=list_url(b),
        closed_url=list_url(c),
        lost_url=list_url(c, status="lost") if c is not None else "",
        open_url=list_url(o),
        elapsed=elapsed,
    )


def _target_lines(user: Any, period: CockpitPeriod, cache: dict[str, Any]) -> list[Any]:
    """planning's target board for the period (computed once per page)."""
    from revline.planning import selectors as planning

    if "lines" not in cache:
        cache["lines"] = planning.target_board(user=user, period=period.current, on=period.today)
    return cache["lines"]


def _planning_tile(
    user: Any, key: str, period: CockpitPeriod, cache: dict[str, Any]
) -> Tile | None:
    """The KPIs the planning app measures: target vs actual (bookings against the targets of
    the regions and teams the user sees, the outermost ones set) and budget vs spend."""
    from revline.planning import selectors as planning

    p = period.current
    kpi = KPIS[key]

    def value(v: Any, count: int | None, note: str = "", **parts: Any) -> kpis.KpiValue:
        return kpis.KpiValue(
            key, kpi.name, kpi.unit, v, p.start, p.end, kpi.definition, count, parts, note=note
        )

    query = urlencode({"period": p.key})
    if key == "target_vs_actual":
        lines = [ln for ln in _target_lines(user, period, cache) if ln.amount]
        if not lines:
            got = value(None, 0, f"No target is set for {p.label}.")
            return Tile(kpi, got, None, p, period.previous, url=_url("web:planning_targets", query))
        depth = min(ln.depth for ln in lines)
        top = [ln for ln in lines if ln.depth == depth]
        target = sum((ln.amount for ln in top), Decimal(0))
        booked = sum((ln.bookings for ln in top), Decimal(0))
        got = value(float(booked / target), len(top), target=target, bookings=booked)
        return Tile(kpi, got, None, p, period.previous, url=_url("web:planning_targets", query))
    if key == "budget_vs_spend":
        summary = planning.budget_summary(user=user, period=p)
        if not summary.budgets:
            got = value(None, 0, f"No budget is set for {p.label}.")
        else:
            got = value(summary.spent, len(summary.budgets), budget=summary.total)
        return Tile(
            kpi,
            got,
            None,
            p,
            period.previous,
            summary.total if summary.budgets else None,
            "budget",
            url=_url("web:planning_budgets", query),
        )
    return None


def _url(name: str, query: str) -> str:
    return f"{reverse(name)}?{query}" if _has_url(name) else ""


def _regions_section(
    user: Any,
    period: CockpitPeriod,
    filters: dict | None,
    cache: dict[str, Any],
    rule: FiscalYearRule,
) -> TeamSection:
    """Each region: bookings against the region's target (planning), win rate, open pipeline."""
    p = period.current
    args = {
        "user": user,
        "by": "region",
        "start": p.start,
        "end": p.end,
        "filters": filters,
        "rule": rule,
    }
    booked, closed, pipe = _team_figures(**args)
    targets = {
        line.scope.pk: line.amount
        for line in _target_lines(user, period, cache)
        if line.kind == "region"
    }
    groups = sorted(
        set(booked) | set(closed) | set(pipe),
        key=lambda g: (booked.get(g) or closed.get(g) or pipe.get(g)).label.lower(),  # type: ignore[union-attr]
    )
    rows = []
    for g in groups:
        label = (booked.get(g) or closed.get(g) or pipe.get(g)).label  # type: ignore[union-attr]
        rows.append(
            _team_row(
                g, label, None, targets.get(g), booked, closed, pipe, period.elapsed, "target"
            )
        )
    return TeamSection(
        by="region",
        title="Each region",
        subtitle=(
            f"Bookings in {p.label} by the owner's region, against the region's target where one "
            "is set; win rate and open pipeline."
        ),
        rows=rows,
        target_label="target",
    )


def _funnel(
    user: Any,
    period: CockpitPeriod,
    region: Region | None,
    regions: list[Region],
    values: dict[str, kpis.KpiValue],
    rule: FiscalYearRule,
) -> Funnel:
    """Lead -> SQL -> opportunity -> won for the leads created in the period, and stage to
    stage for the deals that entered each stage in it, with the deals lost from each stage
    (closed lost in the period) a click away; for one region or all."""
    p = period.current
    filters = {"region": region.pk} if region is not None else None
    if not all(k in values for k in FUNNEL_KEYS):
        values = {
            v.key: v
            for v in kpis.compute(
                user=user,
                keys=list(FUNNEL_KEYS),
                start=p.start,
                end=p.end,
                filters=filters,
                rule=rule,
            )
        }
    leads = values["lead_conversion"]
    parts = leads.parts or {}
    base = list_url(leads)
    steps = [
        FunnelStep("Leads", parts.get("leads", 0), None, base),
        FunnelStep(
            "Sales-qualified",
            parts.get("sqls", 0),
            parts.get("lead_to_sql"),
            list_url(leads, sales_qualified="1") if base else "",
        ),
        FunnelStep(
            "Opportunity",
            parts.get("opportunities", 0),
            parts.get("sql_to_opportunity"),
            list_url(leads, converted="1") if base else "",
        ),
        FunnelStep(
            "Won",
            parts.get("won", 0),
            parts.get("opportunity_to_won"),
            list_url(leads, won="1") if base else "",
        ),
    ]
    lost = kpis.breakdown(
        user=user,
        key="deals_lost",
        by="stage",
        start=p.start,
        end=p.end,
        filters=filters,
        rule=rule,
    )
    lost_by_stage = _rows_by_group(lost.rows)
    stages_value = values["stage_conversion"]
    stages: list[FunnelStage] = []
    for s in (stages_value.parts or {}).get("stages", []):
        row = lost_by_stage.pop(s["stage"], None)
        stages.append(
            FunnelStage(
                stage_id=s["stage"],
                name=s["name"],
                entered=s["entered"],
                advanced=s["advanced"],
                rate=s["rate"],
                lost=int(row.value or 0) if row is not None else 0,
                lost_url=list_url(row) if row is not None else "",
            )
        )
    for group, row in lost_by_stage.items():  # lost from a stage nobody entered in the period
        stages.append(FunnelStage(group, row.label, 0, 0, None, int(row.value or 0), list_url(row)))
    return Funnel(
        region=region,
        regions=regions,
        steps=steps,
        stages=stages,
        lead_value=leads,
        stage_value=stages_value,
        lost_total=int(lost.total.value or 0),
        lost_url=list_url(lost.total),
    )
