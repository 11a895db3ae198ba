"""KPI values computed from the recorded history, for one user, period, position and filters.

``compute(user=..., keys=[...], start=..., end=...)`` answers a ``KpiValue`` per key;
``breakdown(user=..., key=..., by=...)`` answers one per group (a rep, a team, a region, a
quarter, a stage, a competitor...). Every number comes from SQL aggregates over querysets that
start from the visibility predicate (``Model.objects.visible_to(user)``) and, with a position,
narrow to its subtree through the closure table (``revline.analytics.scope``). Each KPI runs a
fixed number of queries whatever the size of the data; KPIs computed from the same aggregate
(win rate, deals won and lost, bookings, average deal size) share its one query.

Each value carries the record filters behind it (``drilldown``) in the terms of the list that
shows those records (``drilldown_list``: ``opportunities``, ``leads``, ``activities``,
``quotes``, ``complaints``, ``surveys``, ``campaigns``, ``accounts`` or ``prospects``), so a
cockpit links a number to the web list (and its CSV export) and the API to ``drilldown_url``. docs/kpis.md defines every KPI
and names the list each one drills down to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate

from revline.analytics import scope as scopes
from revline.analytics.registry import KPIS, Kpi
from revline.analytics.scope import Dim, Scope, Subject, scope_resolve
from revline.analytics.stats import TOTAL, grouped, quantiles, ratio, to_number
from revline.crm.choices import TOUCH_KINDS, ActivityKind, ActivityOutcome
from revline.crm.selectors import complaint_open_at_q, overdue_at_q, sales_qualified_q
from revline.org.choices import Domain
from revline.org.visibility import held_roles, org_wide_roles
from revline.pipeline.choices import OpportunityStatus, OpportunityType, QuoteStatus, StageKind
from revline.pipeline.selectors import recurring_q
from revline.planning.calendar import FiscalYearRule, fiscal_rule

WON, LOST, OPEN = OpportunityStatus.WON, OpportunityStatus.LOST, OpportunityStatus.OPEN
CENT = Decimal("0.01")


class UnknownKpi(ValueError):
    """A key that is not in the registry."""

    def __init__(self, keys: list[str]):
        self.keys = keys
        super().__init__(f"Unknown KPI: {', '.join(keys)}.")


@dataclass
class KpiValue:
    key: str
    name: str
    unit: str
    value: float | Decimal | None
    start: dt.date
    end: dt.date
    definition: str = ""
    count: int | None = None  # the records behind the value (deals closed, leads created...)
    parts: dict[str, Any] = field(default_factory=dict)
    drilldown: dict[str, Any] | None = None  # filters of the list named by drilldown_list
    drilldown_list: str | None = None
    ignored_filters: list[str] = field(default_factory=list)
    note: str = ""
    group: Any = None  # breakdown rows: the group's key
    label: str = ""  # breakdown rows: the group's name


@dataclass
class Result:
    value: Any
    count: int | None = None
    parts: dict[str, Any] = field(default_factory=dict)
    note: str = ""


class Context:
    """One computation: the scope and the aggregates already run (shared between KPIs)."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.cache: dict[Any, Any] = {}

    def once(self, key: Any, run: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = run()
        return self.cache[key]

    def dim(self, subject: Subject, by: str, date_field: str) -> Dim:
        """The dimension ``by`` of ``subject``'s records dated by ``date_field``, built once."""
        return self.once(
            ("dim", subject.name, by, date_field), lambda: subject.dim(self.scope, by, date_field)
        )


Measure = Callable[[Context, Dim | None], dict[Any, Result]]


@dataclass(frozen=True)
class Definition:
    """How a registry KPI is computed: its records, the date that places them in the period,
    the computation, and the list its records drill down to."""

    subject: Subject
    date_field: str
    measure: Measure
    drill_list: str | None = None
    drill_extra: Callable[[Scope], dict[str, Any]] | None = None
    drill_dates: tuple[str, str] | None = None  # the list's from/to filters for the date
    dims: tuple[str, ...] | None = None  # None: every dimension of the subject
    # A snapshot KPI (open complaints, overdue tasks) counts records dated before the period
    # too: its total has no date range, but a breakdown row by period narrows to these filters.
    row_dates: tuple[str, str] | None = None


def _dim_key(dim: Dim | None) -> Any:
    """What a shared aggregate is cached under: the dimension object itself (a context builds
    one per dimension and date field, ``Context.dim``), so KPIs that group the same records the
    same way share one query, and a period dimension over another date never does."""
    return (dim.name, id(dim)) if dim is not None else None


def _expr(dim: Dim | None) -> Any:
    return dim.expression if dim is not None else None


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value).quantize(CENT)


# --- closed deals -------------------------------------------------------------------------------


def _closed(ctx: Context, dim: Dim | None) -> dict[Any, dict[str, Any]]:
    s = ctx.scope

    def run() -> dict[Any, dict[str, Any]]:
        qs = scopes.OPPORTUNITIES.records(s).filter(
            status__in=[WON, LOST], closed_on__gte=s.start, closed_on__lte=s.end
        )
        return grouped(
            qs,
            _expr(dim),
            won=Count("pk", filter=Q(status=WON)),
            lost=Count("pk", filter=Q(status=LOST)),
            bookings=Sum("amount", filter=Q(status=WON)),
            priced=Count("amount", filter=Q(status=WON)),
        )

    return ctx.once(("closed", _dim_key(dim)), run)


def win_rate(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {
        g: Result(
            ratio(r["won"], r["won"] + r["lost"]),
            r["won"] + r["lost"],
            {
                "won": r["won"],
                "lost": r["lost"],
            },
        )
        for g, r in _closed(ctx, dim).items()
    }


def deals_won(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {g: Result(r["won"], r["won"]) for g, r in _closed(ctx, dim).items()}


def deals_lost(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {g: Result(r["lost"], r["lost"]) for g, r in _closed(ctx, dim).items()}


def bookings(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {g: Result(_money(r["bookings"] or 0), r["won"]) for g, r in _closed(ctx, dim).items()}


def avg_deal_size(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    out = {}
    for g, r in _closed(ctx, dim).items():
        value = _money(Decimal(r["bookings"]) / r["priced"]) if r["priced"] else None
        out[g] = Result(value, r["priced"])
    return out


def bookings_by_type(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    out = bookings(ctx, dim)
    if dim is None:
        s = ctx.scope
        qs = scopes.OPPORTUNITIES.records(s).filter(
            status=WON, closed_on__gte=s.start, closed_on__lte=s.end
        )
        by_type = grouped(qs, "type", amount=Sum("amount"))
        out[TOTAL].parts = {
            t: _money((by_type.get(t) or {}).get("amount") or 0) for t in OpportunityType.values
        }
    return out


def _cycle(ctx: Context, dim: Dim | None) -> dict[Any, dict[Any, Any]]:
    s = ctx.scope

    def run() -> dict[Any, dict[Any, Any]]:
        qs = scopes.OPPORTUNITIES.records(s).filter(
            status=WON, closed_on__gte=s.start, closed_on__lte=s.end
        )
        days = ExpressionWrapper(
            F("closed_on") - Coalesce("engaged_on", TruncDate("created_at")),
            output_field=DurationField(),
        )
        return quantiles(qs, days, _expr(dim), (0.5, 0.75))

    return ctx.once(("cycle", _dim_key(dim)), run)


def sales_cycle_median_days(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    out = {g: Result(q[0.5], q["n"], {"p75_days": q[0.75]}) for g, q in _cycle(ctx, dim).items()}
    if dim is None and TOTAL not in out:
        out[TOTAL] = Result(None, 0, note="No deal won in the period.")
    return out


def sales_cycle_p75_days(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {g: Result(q[0.75], q["n"]) for g, q in _cycle(ctx, dim).items()}


def competitor_win_loss(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    qs = scopes.OPPORTUNITIES.records(s).filter(
        status__in=[WON, LOST],
        closed_on__gte=s.start,
        closed_on__lte=s.end,
        competitors__isnull=False,
    )
    rows = grouped(
        qs,
        _expr(dim),
        won=Count("pk", filter=Q(status=WON), distinct=True),
        lost=Count("pk", filter=Q(status=LOST), distinct=True),
    )
    out = {
        g: Result(
            ratio(r["won"], r["won"] + r["lost"]),
            r["won"] + r["lost"],
            {
                "won": r["won"],
                "lost": r["lost"],
            },
        )
        for g, r in rows.items()
    }
    if dim is None:
        per = grouped(
            qs,
            "competitors",
            won=Count("pk", filter=Q(status=WON)),
            lost=Count("pk", filter=Q(status=LOST)),
        )
        names = labels_for("competitor", list(per), s)
        out[TOTAL].parts = {
            "competitors": sorted(
                (
                    {
                        "competitor": pk,
                        "name": names.get(pk, str(pk)),
                        "won": r["won"],
                        "lost": r["lost"],
                        "win_rate": ratio(r["won"], r["won"] + r["lost"]),
                    }
                    for pk, r in per.items()
                ),
                key=lambda c: c["name"],
            )
        }
    return out


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def segment_growth(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    length = s.end - s.start
    prev_end = s.start - dt.timedelta(days=1)
    prev_start = prev_end - length
    qs = scopes.OPPORTUNITIES.records(s).filter(
        status=WON, closed_on__gte=prev_start, closed_on__lte=s.end
    )
    rows = grouped(
        qs,
        _expr(dim),
        current=Sum("amount", filter=Q(closed_on__gte=s.start)),
        previous=Sum("amount", filter=Q(closed_on__lt=s.start)),
        n=Count("pk", filter=Q(closed_on__gte=s.start)),
    )
    out = {}
    for g, r in rows.items():
        current, previous = r["current"] or 0, r["previous"] or 0
        value = ratio(Decimal(current) - Decimal(previous), previous)
        out[g] = Result(
            value,
            r["n"],
            {
                "current": _money(current),
                "previous": _money(previous),
                "previous_start": prev_start.isoformat(),
                "previous_end": prev_end.isoformat(),
            },
        )
    return out


# --- the pipeline -------------------------------------------------------------------------------


def stage_conversion(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    """Entries into open stages in the period, and the share after which the deal moved on (to
    a won stage or a higher open stage): ``StageChange.advanced``, kept by the pipeline services.
    Without a breakdown, one query per stage gives both the per-stage rows and the total."""
    s = ctx.scope
    qs = scopes.STAGE_CHANGES.records(s).filter(
        to_stage__kind=StageKind.OPEN, changed_at__gte=s.start_at, changed_at__lt=s.end_before
    )
    # COUNT(*): the conversion index holds every column read, so no heap page is visited.
    aggregates = {"entries": Count("*"), "advanced": Count("advanced", filter=Q(advanced=True))}
    if dim is not None:
        rows = grouped(qs, _expr(dim), **aggregates)
        return {
            g: Result(ratio(r["advanced"], r["entries"]), r["entries"], {"advanced": r["advanced"]})
            for g, r in rows.items()
        }
    per = grouped(qs, "to_stage_id", **aggregates)
    entries = sum(r["entries"] for r in per.values())
    advanced = sum(r["advanced"] for r in per.values())
    stages = stage_info(list(per)) if per else {}
    return {
        TOTAL: Result(
            ratio(advanced, entries),
            entries,
            {
                "advanced": advanced,
                "stages": [
                    {
                        "stage": pk,
                        "name": stages[pk][0] if pk in stages else str(pk),
                        "entered": r["entries"],
                        "advanced": r["advanced"],
                        "rate": ratio(r["advanced"], r["entries"]),
                    }
                    for pk, r in sorted(
                        per.items(), key=lambda kv: stages.get(kv[0], ("", (0, 0)))[1]
                    )
                ],
            },
        )
    }


def stage_info(ids: list[Any]) -> dict[int, tuple[str, tuple[int, int]]]:
    """Each stage's name and place (pipeline order, stage order). One query."""
    from revline.pipeline.models import Stage

    return {
        pk: (name, (pipeline_order, order))
        for pk, name, pipeline_order, order in Stage.objects.filter(pk__in=ids).values_list(
            "pk", "name", "pipeline__order", "order"
        )
    }


def _open_pipeline(ctx: Context, dim: Dim | None) -> dict[Any, dict[str, Any]]:
    s = ctx.scope

    def run() -> dict[Any, dict[str, Any]]:
        qs = scopes.OPPORTUNITIES.records(s).filter(
            status=OPEN, close_date__gte=s.start, close_date__lte=s.end
        )
        return grouped(qs, _expr(dim), amount=Sum("amount"), n=Count("pk"))

    return ctx.once(("open", _dim_key(dim)), run)


def open_pipeline(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {
        g: Result(_money(r["amount"] or 0), r["n"]) for g, r in _open_pipeline(ctx, dim).items()
    }


def _quota_positions(scope: Scope) -> list[int] | None:
    """The positions whose quota covers the scope: the position asked for, the person filtered
    on, the top positions of a region or team, the whole organisation for those who see all
    revenue, else the positions the user holds."""
    from revline.org.models import Position

    if scope.position is not None:
        return [scope.position.pk]
    f = scope.filters
    if "owner" in f:
        return [f["owner"]]
    for key, field_name in (("team", "team_id"), ("region", "region_id")):
        if key in f:
            members = Position.objects.filter(**{field_name: f[key]})
            tops = members.exclude(**{f"reports_to__{field_name}": f[key]})
            return list(tops.values_list("pk", flat=True))
    user = scope.user
    if user.is_superuser or held_roles(user) & set(org_wide_roles(Domain.REVENUE, "view")):
        return None
    return list(Position.objects.filter(holder_id=user.pk).values_list("pk", flat=True))


def _quota(ctx: Context, position_ids: list[int] | None) -> tuple[Decimal | None, str]:
    """The quota of ``position_ids``' subtrees (None: the organisation) for the scope's period,
    read once per computation (quota attainment and pipeline coverage share it)."""
    try:
        from revline.planning.selectors import quota_amount
    except ImportError:
        return None, "Quotas are not available yet (the planning app has no quota_amount)."
    scope = ctx.scope

    def run() -> Decimal:
        return quota_amount(
            position_ids=position_ids,
            start=scope.start,
            end=scope.end,
            opportunity_type=scope.filters.get("type"),
        )

    key = tuple(position_ids) if position_ids is not None else None
    amount = ctx.once(("quota", key), run)
    if not amount:
        return None, "No quota is set for this scope and period."
    return Decimal(amount), ""


def _group_positions(ctx: Context, dim: Dim | None, groups: list[Any]) -> dict[Any, Any]:
    scope = ctx.scope
    if dim is None:
        return {TOTAL: ctx.once("quota positions", lambda: _quota_positions(scope))}
    if dim.name not in ("position", "report"):
        raise ValidationError({"by": "Quota KPIs break down by position or report only."})
    return {g: [g] for g in groups if g is not None}


def quota_attainment(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    closed = _closed(ctx, dim)
    out = {}
    groups = _group_positions(ctx, dim, list(closed) if dim is not None else [TOTAL])
    for g, positions in groups.items():
        booked = Decimal((closed.get(g) or {}).get("bookings") or 0)
        quota, note = _quota(ctx, positions)
        out[g] = Result(
            ratio(booked, quota) if quota else None,
            (closed.get(g) or {}).get("won", 0),
            {"quota": _money(quota), "bookings": _money(booked)},
            note,
        )
    return out


def pipeline_coverage(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    closed, pipe = _closed(ctx, dim), _open_pipeline(ctx, dim)
    groups = _group_positions(ctx, dim, sorted(set(closed) | set(pipe), key=str))
    out = {}
    for g, positions in groups.items():
        booked = Decimal((closed.get(g) or {}).get("bookings") or 0)
        open_amount = Decimal((pipe.get(g) or {}).get("amount") or 0)
        quota, note = _quota(ctx, positions)
        remaining = quota - booked if quota is not None else None
        if remaining is not None and remaining <= 0:
            note = "The quota is already met."
        out[g] = Result(
            ratio(open_amount, remaining) if remaining and remaining > 0 else None,
            (pipe.get(g) or {}).get("n", 0),
            {
                "open_pipeline": _money(open_amount),
                "quota": _money(quota),
                "bookings": _money(booked),
                "remaining_quota": _money(remaining),
            },
            note,
        )
    return out


# --- renewals and retention ---------------------------------------------------------------------


def renewal_rate(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    qs = scopes.OPPORTUNITIES.records(s).filter(
        type=OpportunityType.RENEWAL, close_date__gte=s.start, close_date__lte=s.end
    )
    rows = grouped(
        qs,
        _expr(dim),
        due=Count("pk"),
        won=Count("pk", filter=Q(status=WON)),
        lost=Count("pk", filter=Q(status=LOST)),
        open=Count("pk", filter=Q(status=OPEN)),
    )
    return {g: Result(ratio(r["won"], r["due"]), r["due"], dict(r)) for g, r in rows.items()}


def net_revenue_retention(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    year_ago, two_years_ago = _years_before(s.end, 1), _years_before(s.end, 2)
    recurring = scopes.OPPORTUNITIES.records(s).filter(
        recurring_q(),
        status=WON,
        closed_on__gt=two_years_ago,
        closed_on__lte=s.end,
        account__isnull=False,
    )
    cohort = recurring.filter(closed_on__lte=year_ago).values("account_id")
    rows = grouped(
        recurring.filter(account_id__in=cohort),
        _expr(dim),
        current=Sum("amount", filter=Q(closed_on__gt=year_ago)),
        previous=Sum("amount", filter=Q(closed_on__lte=year_ago)),
        accounts=Count("account_id", filter=Q(closed_on__lte=year_ago), distinct=True),
    )
    out = {}
    for g, r in rows.items():
        out[g] = Result(
            ratio(r["current"] or 0, r["previous"]),
            r["accounts"],
            {
                "current": _money(r["current"] or 0),
                "previous": _money(r["previous"] or 0),
                "accounts": r["accounts"],
                "current_from": (year_ago + dt.timedelta(days=1)).isoformat(),
                "previous_from": (two_years_ago + dt.timedelta(days=1)).isoformat(),
            },
        )
    return out


# --- marketing ----------------------------------------------------------------------------------


def _touches(order: str) -> Subquery:
    """The campaign of the earliest (``order="created_at"``) or latest (``"-created_at"``)
    campaign-sourced lead of a won deal before it closed: the lead it came from, or a lead at
    its account."""
    from revline.crm.models import Lead

    link = (
        Q(converted_opportunity_id=OuterRef("pk"))
        | Q(pk=OuterRef("lead_id"))
        | Q(account_id=OuterRef("account_id"))
        | Q(converted_account_id=OuterRef("account_id"))
    )
    leads = Lead.objects.filter(
        link,
        campaign_id__isnull=False,
        merged_into__isnull=True,
        created_at__date__lte=OuterRef("closed_on"),
    )
    second = "id" if order == "created_at" else "-id"
    return Subquery(leads.order_by(order, second).values("campaign_id")[:1])


def campaign_roi(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    from revline.crm.models import Campaign, Lead

    s = ctx.scope
    if dim is not None and dim.name != "campaign":
        raise ValidationError({"by": "Campaign ROI breaks down by campaign only."})
    campaigns = dict(
        Campaign.objects.visible_to(s.user)
        .filter(start_date__gte=s.start, start_date__lte=s.end)
        .values_list("pk", "cost")
    )
    if not campaigns:
        return {TOTAL: Result(None, 0, note="No campaign you can see started in the period.")}
    sourced = Lead.objects.filter(campaign_id__isnull=False, merged_into__isnull=True)
    deals = scopes.OPPORTUNITIES.records(s).filter(
        Q(campaign_id__isnull=False)
        | Q(pk__in=sourced.values("converted_opportunity_id"))
        | Q(lead_id__in=sourced.values("pk"))
        | Q(account_id__in=sourced.values("account_id"))
        | Q(account_id__in=sourced.values("converted_account_id")),
        status=WON,
        closed_on__lte=s.end,
    )
    touch = {
        "last": Coalesce(F("campaign_id"), _touches("-created_at"), output_field=IntegerField()),
        "first": Coalesce(_touches("created_at"), F("campaign_id"), output_field=IntegerField()),
    }
    revenue: dict[str, dict[Any, dict[str, Any]]] = {}
    for model, credited in touch.items():
        rows = grouped(
            deals.annotate(_credited=credited).filter(_credited__in=list(campaigns)),
            "_credited",
            amount=Sum("amount"),
            n=Count("pk"),
        )
        revenue[model] = rows

    def result(ids: list[int]) -> Result:
        cost = sum((Decimal(campaigns[i]) for i in ids), Decimal(0))
        last = sum(
            (Decimal(revenue["last"].get(i, {}).get("amount") or 0) for i in ids), Decimal(0)
        )
        first = sum(
            (Decimal(revenue["first"].get(i, {}).get("amount") or 0) for i in ids), Decimal(0)
        )
        won = sum(revenue["last"].get(i, {}).get("n") or 0 for i in ids)
        return Result(
            ratio(last - cost, cost),
            won,
            {
                "cost": _money(cost),
                "revenue_last_touch": _money(last),
                "revenue_first_touch": _money(first),
                "roi_first_touch": ratio(first - cost, cost),
                "campaigns": len(ids),
            },
            "" if cost else "The campaigns cost nothing: no ROI.",
        )

    if dim is None:
        return {TOTAL: result(list(campaigns))}
    return {pk: result([pk]) for pk in campaigns}


# --- leads and hand-offs ------------------------------------------------------------------------


def lead_conversion(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    qs = scopes.LEADS.records(s).filter(created_at__gte=s.start_at, created_at__lt=s.end_before)
    rows = grouped(
        qs,
        _expr(dim),
        leads=Count("pk"),
        sqls=Count("pk", filter=sales_qualified_q()),
        opportunities=Count("pk", filter=Q(converted_opportunity__isnull=False)),
        won=Count("pk", filter=Q(converted_opportunity__status=WON)),
    )
    out = {}
    for g, r in rows.items():
        out[g] = Result(
            ratio(r["won"], r["leads"]),
            r["leads"],
            {
                **r,
                "lead_to_sql": ratio(r["sqls"], r["leads"]),
                "sql_to_opportunity": ratio(r["opportunities"], r["sqls"]),
                "opportunity_to_won": ratio(r["won"], r["opportunities"]),
            },
        )
    return out


def speed_to_lead(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    qs = scopes.LEADS.records(s).filter(created_at__gte=s.start_at, created_at__lt=s.end_before)
    wait = ExpressionWrapper(F("first_touch_at") - F("created_at"), output_field=DurationField())
    q = quantiles(qs.filter(first_touch_at__isnull=False), wait, _expr(dim), (0.5, 0.75))
    counts = grouped(
        qs,
        _expr(dim),
        touched=Count("pk", filter=Q(first_touch_at__isnull=False)),
        untouched=Count("pk", filter=Q(first_touch_at__isnull=True)),
    )
    out = {}
    for g, c in counts.items():
        got = q.get(g) or {}

        def hours(v: Any) -> float | None:
            return v * 24 if v is not None else None

        out[g] = Result(
            hours(got.get(0.5)),
            c["touched"],
            {"p75_hours": hours(got.get(0.75)), **c},
            "" if got else "No lead created in the period was touched.",
        )
    return out


def qualification_rate(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    qs = scopes.LEADS_BY_SDR.records(s).filter(
        first_touch_at__gte=s.start_at, first_touch_at__lt=s.end_before
    )
    rows = grouped(
        qs, _expr(dim), worked=Count("pk"), qualified=Count("pk", filter=sales_qualified_q())
    )
    return {
        g: Result(ratio(r["qualified"], r["worked"]), r["worked"], dict(r)) for g, r in rows.items()
    }


def _sqls(ctx: Context, dim: Dim | None) -> dict[Any, dict[str, Any]]:
    s = ctx.scope

    def run() -> dict[Any, dict[str, Any]]:
        qs = scopes.SQL_CHANGES.records(s).filter(at__gte=s.start_at, at__lt=s.end_before)
        return grouped(
            qs,
            _expr(dim),
            sqls=Count("lead_id", distinct=True),
            opportunities=Count(
                "lead_id", distinct=True, filter=Q(lead__converted_opportunity__isnull=False)
            ),
        )

    return ctx.once(("sqls", _dim_key(dim)), run)


def sqls_handed_over(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {g: Result(r["sqls"], r["sqls"]) for g, r in _sqls(ctx, dim).items()}


def sql_to_opportunity(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {
        g: Result(ratio(r["opportunities"], r["sqls"]), r["sqls"], dict(r))
        for g, r in _sqls(ctx, dim).items()
    }


def sdr_output(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {
        g: Result(
            r["sqls"],
            r["sqls"],
            {
                "sql_to_opportunity": ratio(r["opportunities"], r["sqls"]),
                "opportunities": r["opportunities"],
            },
        )
        for g, r in _sqls(ctx, dim).items()
    }


def _count(subject: Subject, date_field: str, **conditions: Any) -> Measure:
    """A count of ``subject``'s records whose ``date_field`` (a moment) falls in the period."""

    def measure(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
        s = ctx.scope
        qs = subject.records(s).filter(
            **{f"{date_field}__gte": s.start_at, f"{date_field}__lt": s.end_before}, **conditions
        )
        return {
            g: Result(r["n"], r["n"]) for g, r in grouped(qs, _expr(dim), n=Count("pk")).items()
        }

    return measure


prospects_added = _count(scopes.PROSPECTS, "added_at")
leads_generated = _count(scopes.LEADS_BY_BDR, "created_at", generated_by__isnull=False)
meetings_booked = _count(scopes.ACTIVITIES, "occurred_at", outcome=ActivityOutcome.MEETING_BOOKED)


def bdr_output(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    out = leads_generated(ctx, dim)
    if dim is None:
        out[TOTAL].parts = {
            "prospects_added": prospects_added(ctx, None)[TOTAL].value,
            "meetings_booked": meetings_booked(ctx, None)[TOTAL].value,
        }
    return out


# --- activity and tasks -------------------------------------------------------------------------


def activity_volume(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    kinds = sorted(TOUCH_KINDS)
    qs = scopes.ACTIVITIES.records(s).filter(
        kind__in=kinds, occurred_at__gte=s.start_at, occurred_at__lt=s.end_before
    )
    rows = grouped(
        qs, _expr(dim), n=Count("pk"), **{k: Count("pk", filter=Q(kind=k)) for k in kinds}
    )
    return {g: Result(r.pop("n"), None, r) for g, r in rows.items()}


def task_completion(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    qs = scopes.ACTIVITIES.records(s).filter(
        kind=ActivityKind.TASK, due_at__gte=s.start_at, due_at__lt=s.end_before
    )
    rows = grouped(
        qs,
        _expr(dim),
        due=Count("pk"),
        done_on_time=Count("pk", filter=Q(done_at__lte=F("due_at"))),
    )
    return {
        g: Result(ratio(r["done_on_time"], r["due"]), r["due"], dict(r)) for g, r in rows.items()
    }


def overdue_tasks(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    as_of = s.as_of
    qs = scopes.ACTIVITIES.records(s).filter(overdue_at_q(as_of), kind=ActivityKind.TASK)
    return {g: Result(r["n"], r["n"]) for g, r in grouped(qs, _expr(dim), n=Count("pk")).items()}


# --- discounts, complaints, satisfaction --------------------------------------------------------

SENT_QUOTES = (QuoteStatus.SENT, QuoteStatus.ACCEPTED, QuoteStatus.DECLINED)


def discounts(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    from revline.pipeline.models import DiscountPolicy

    s = ctx.scope
    policy = DiscountPolicy.objects.order_by("pk").first() or DiscountPolicy()
    qs = scopes.QUOTES.records(s).filter(
        status__in=SENT_QUOTES, sent_at__gte=s.start_at, sent_at__lt=s.end_before
    )
    rows = grouped(
        qs,
        _expr(dim),
        quotes=Count("pk"),
        average=Avg("effective_discount"),
        above_manager=Count("pk", filter=Q(effective_discount__gt=policy.manager_threshold)),
        above_vp=Count("pk", filter=Q(effective_discount__gt=policy.vp_threshold)),
    )
    out = {}
    for g, r in rows.items():
        out[g] = Result(
            to_number(r["average"]),
            r["quotes"],
            {
                "quotes": r["quotes"],
                "share_above_manager": ratio(r["above_manager"], r["quotes"]),
                "share_above_vp": ratio(r["above_vp"], r["quotes"]),
                "manager_threshold": float(policy.manager_threshold),
                "vp_threshold": float(policy.vp_threshold),
            },
        )
    return out


def open_complaints(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    s = ctx.scope
    as_of = s.as_of
    qs = scopes.COMPLAINTS.records(s).filter(complaint_open_at_q(as_of))
    age = ExpressionWrapper(
        Value(as_of, output_field=DateTimeField()) - F("raised_at"), output_field=DurationField()
    )
    ages = quantiles(qs, age, _expr(dim), (0.5,))
    rows = grouped(qs, _expr(dim), n=Count("pk"), oldest=Min("raised_at"))
    out = {}
    for g, r in rows.items():
        oldest = (as_of - r["oldest"]).total_seconds() / 86400 if r["oldest"] else None
        out[g] = Result(
            r["n"],
            r["n"],
            {
                "median_age_days": (ages.get(g) or {}).get(0.5),
                "oldest_age_days": oldest,
                "as_of": as_of.isoformat(),
            },
        )
    return out


def _surveys(ctx: Context, dim: Dim | None) -> dict[Any, dict[str, Any]]:
    s = ctx.scope

    def run() -> dict[Any, dict[str, Any]]:
        qs = scopes.SURVEYS.records(s).filter(
            responded_at__gte=s.start_at, responded_at__lt=s.end_before
        )
        return grouped(
            qs,
            _expr(dim),
            csat=Avg("score", filter=Q(kind="csat")),
            csat_answers=Count("pk", filter=Q(kind="csat")),
            nps_answers=Count("pk", filter=Q(kind="nps")),
            promoters=Count("pk", filter=Q(kind="nps", score__gte=9)),
            detractors=Count("pk", filter=Q(kind="nps", score__lte=6)),
        )

    return ctx.once(("surveys", _dim_key(dim)), run)


def _nps(r: dict[str, Any]) -> float | None:
    if not r["nps_answers"]:
        return None
    return 100.0 * (r["promoters"] - r["detractors"]) / r["nps_answers"]


def csat(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {
        g: Result(to_number(r["csat"]), r["csat_answers"]) for g, r in _surveys(ctx, dim).items()
    }


def nps(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {
        g: Result(
            _nps(r), r["nps_answers"], {"promoters": r["promoters"], "detractors": r["detractors"]}
        )
        for g, r in _surveys(ctx, dim).items()
    }


def csat_nps(ctx: Context, dim: Dim | None) -> dict[Any, Result]:
    return {
        g: Result(
            to_number(r["csat"]),
            r["csat_answers"],
            {
                "nps": _nps(r),
                "csat_answers": r["csat_answers"],
                "nps_answers": r["nps_answers"],
            },
        )
        for g, r in _surveys(ctx, dim).items()
    }


# --- drill-downs --------------------------------------------------------------------------------


def opportunity_filters(scope: Scope) -> dict[str, Any]:
    """The opportunity list's filters for the scope (pipeline.selectors.opportunities_filter)."""
    f: dict[str, Any] = {}
    if scope.position is not None:
        f["under"] = scope.position.pk
    f.update(scope.filters)
    return f


def lead_filters(scope: Scope) -> dict[str, Any]:
    """The lead list's filters for the scope (crm.selectors.lead_filter_q). Team and size have
    no lead-list filter: a drill-down with them lists more leads than the KPI counts."""
    f: dict[str, Any] = {}
    if scope.position is not None:
        f["under"] = scope.position.pk
    if scope.region_code:
        f["region"] = scope.region_code
    for key in ("owner", "sector"):
        if key in scope.filters:
            f[key] = scope.filters[key]
    return f


def owned_filters(subject: Subject, scope: Scope) -> dict[str, Any]:
    """The filters of the activity, quote, complaint and survey lists for the scope
    (crm.selectors.owned_q and account_q, pipeline.selectors._quote_analytics_filter): the
    position's subtree as ``under``, and each scope filter the KPI's records honour, under the
    same name (region, team, owner, product, type, sector, size)."""
    f: dict[str, Any] = {}
    if scope.position is not None:
        f["under"] = scope.position.pk
    f.update({k: v for k, v in scope.filters.items() if k in subject.filters})
    return f


def _owned(subject: Subject, **extra: Any) -> Callable[[Scope], dict[str, Any]]:
    return lambda scope: {**owned_filters(subject, scope), **extra}


def _opp(**extra: Any) -> Callable[[Scope], dict[str, Any]]:
    return lambda scope: {**opportunity_filters(scope), **extra}


def _lead(**extra: Any) -> Callable[[Scope], dict[str, Any]]:
    return lambda scope: {**lead_filters(scope), **extra}


def nrr_base_filters(scope: Scope) -> dict[str, Any]:
    """The account list's filters for the accounts net revenue retention counts: those with a
    recurring deal won in the base year (the year before the last twelve months to the
    period's end) within the scope (crm.selectors.accounts_list, ``deal_<filter>``)."""
    year_ago, two_years_ago = _years_before(scope.end, 1), _years_before(scope.end, 2)
    f = {f"deal_{k}": v for k, v in opportunity_filters(scope).items()}
    f["recurring_won_from"] = (two_years_ago + dt.timedelta(days=1)).isoformat()
    f["recurring_won_to"] = year_ago.isoformat()
    return f


OPPS, LEADS_ = scopes.OPPORTUNITIES, scopes.LEADS
ACTS, SURVEYS_ = scopes.ACTIVITIES, scopes.SURVEYS
CLOSED = ("closed_from", "closed_to")
CLOSING = ("close_from", "close_to")
CREATED = ("created_from", "created_to")
OCCURRED = ("occurred_from", "occurred_to")
DUE = ("due_from", "due_to")
SENT = ("sent_from", "sent_to")
RESPONDED = ("responded_from", "responded_to")
TOUCHES = ",".join(sorted(str(kind.value) for kind in TOUCH_KINDS))


def _closed_def(measure: Measure, status: str | None = None, **kw: Any) -> Definition:
    extra = {"status": status} if status else {}
    return Definition(OPPS, "closed_on", measure, "opportunities", _opp(**extra), CLOSED, **kw)


DEFINITIONS: dict[str, Definition] = {
    "win_rate": _closed_def(win_rate),
    "deals_won": _closed_def(deals_won, WON),
    "deals_lost": _closed_def(deals_lost, LOST),
    "bookings": _closed_def(bookings, WON),
    "avg_deal_size": _closed_def(avg_deal_size, WON),
    "bookings_by_type": _closed_def(bookings_by_type, WON),
    "sales_cycle_median_days": _closed_def(sales_cycle_median_days, WON),
    "sales_cycle_p75_days": _closed_def(sales_cycle_p75_days, WON),
    "competitor_win_loss": Definition(
        OPPS, "closed_on", competitor_win_loss, "opportunities", _opp(has_competitor="1"), CLOSED
    ),
    "segment_growth": _closed_def(segment_growth, WON),
    # The deals that entered an open stage in the period: a deal that entered the same stage
    # twice is one row of the list and two of the KPI's entries (docs/kpis.md).
    "stage_conversion": Definition(
        scopes.STAGE_CHANGES,
        "changed_at",
        stage_conversion,
        "opportunities",
        _opp(),
        ("entered_from", "entered_to"),
    ),
    "open_pipeline": Definition(
        OPPS, "close_date", open_pipeline, "opportunities", _opp(status=OPEN), CLOSING
    ),
    "pipeline_coverage": Definition(
        OPPS,
        "close_date",
        pipeline_coverage,
        "opportunities",
        _opp(status=OPEN),
        CLOSING,
        dims=("position", "report"),
    ),
    "quota_attainment": _closed_def(quota_attainment, WON, dims=("position", "report")),
    "renewal_rate": Definition(
        OPPS,
        "close_date",
        renewal_rate,
        "opportunities",
        _opp(type=OpportunityType.RENEWAL),
        CLOSING,
    ),
    "net_revenue_retention": Definition(
        OPPS, "closed_on", net_revenue_retention, "accounts", nrr_base_filters
    ),
    # The campaigns the KPI costs (those the user sees that started in the period): its
    # ``campaigns`` part; the won deals it credits to them have no list filter.
    "campaign_roi": Definition(
        OPPS,
        "closed_on",
        campaign_roi,
        "campaigns",
        lambda scope: {},
        ("started_from", "started_to"),
        dims=("campaign",),
    ),
    "lead_conversion": Definition(LEADS_, "created_at", lead_conversion, "leads", _lead(), CREATED),
    "speed_to_lead": Definition(LEADS_, "created_at", speed_to_lead, "leads", _lead(), CREATED),
    "qualification_rate": Definition(
        scopes.LEADS_BY_SDR,
        "first_touch_at",
        qualification_rate,
        "leads",
        _lead(),
        ("touched_from", "touched_to"),
    ),
    "sqls_handed_over": Definition(
        scopes.SQL_CHANGES, "at", sqls_handed_over, "leads", _lead(), ("sql_from", "sql_to")
    ),
    "sql_to_opportunity": Definition(
        scopes.SQL_CHANGES, "at", sql_to_opportunity, "leads", _lead(), ("sql_from", "sql_to")
    ),
    "sdr_output": Definition(
        scopes.SQL_CHANGES, "at", sdr_output, "leads", _lead(), ("sql_from", "sql_to")
    ),
    "prospects_added": Definition(
        scopes.PROSPECTS,
        "added_at",
        prospects_added,
        "prospects",
        _owned(scopes.PROSPECTS),
        ("added_from", "added_to"),
    ),
    "leads_generated": Definition(
        scopes.LEADS_BY_BDR,
        "created_at",
        leads_generated,
        "leads",
        _lead(generated="1"),
        CREATED,
    ),
    "meetings_booked": Definition(
        ACTS,
        "occurred_at",
        meetings_booked,
        "activities",
        _owned(ACTS, outcome=ActivityOutcome.MEETING_BOOKED.value),
        OCCURRED,
    ),
    "bdr_output": Definition(
        scopes.LEADS_BY_BDR, "created_at", bdr_output, "leads", _lead(generated="1"), CREATED
    ),
    "activity_volume": Definition(
        ACTS, "occurred_at", activity_volume, "activities", _owned(ACTS, kind=TOUCHES), OCCURRED
    ),
    "task_completion": Definition(
        ACTS,
        "due_at",
        task_completion,
        "activities",
        _owned(ACTS, kind=ActivityKind.TASK.value),
        DUE,
    ),
    "overdue_tasks": Definition(
        ACTS,
        "due_at",
        overdue_tasks,
        "activities",
        lambda scope: {
            **owned_filters(ACTS, scope),
            "kind": ActivityKind.TASK.value,
            "overdue_on": scope.end.isoformat(),
        },
        row_dates=DUE,
    ),
    "discounts": Definition(
        scopes.QUOTES,
        "sent_at",
        discounts,
        "quotes",
        _owned(scopes.QUOTES, status=",".join(str(s.value) for s in SENT_QUOTES)),
        SENT,
    ),
    "open_complaints": Definition(
        scopes.COMPLAINTS,
        "raised_at",
        open_complaints,
        "complaints",
        lambda scope: {
            **owned_filters(scopes.COMPLAINTS, scope),
            "open_on": scope.end.isoformat(),
        },
        row_dates=("raised_from", "raised_to"),
    ),
    "csat": Definition(
        SURVEYS_, "responded_at", csat, "surveys", _owned(SURVEYS_, kind="csat"), RESPONDED
    ),
    "nps": Definition(
        SURVEYS_, "responded_at", nps, "surveys", _owned(SURVEYS_, kind="nps"), RESPONDED
    ),
    "csat_nps": Definition(
        SURVEYS_, "responded_at", csat_nps, "surveys", _owned(SURVEYS_), RESPONDED
    ),
}

# A breakdown group's drill-down filter on each list.
GROUP_FILTERS = {
    "opportunities": {
        "position": "owner",
        "report": "under",
        "team": "team",
        "region": "region",
        "product": "product",
        "type": "type",
        "sector": "sector",
        "size": "size",
        "competitor": "competitor",
        "stage": "last_stage",
        "campaign": "campaign",
    },
    "leads": {
        "report": "under",
        "region": "region",  # the code: see _row_drilldown
        "source": "source",
        "campaign": "campaign",
        "sector": "sector",
    },
}
_OWNED_GROUPS = {"position": "owner", "report": "under", "team": "team", "region": "region"}
GROUP_FILTERS.update(
    {
        "activities": {**_OWNED_GROUPS, "kind": "kind"},
        "quotes": {**_OWNED_GROUPS, "product": "product", "type": "type"},
        "complaints": {**_OWNED_GROUPS, "sector": "sector", "size": "size", "severity": "severity"},
        "surveys": {**_OWNED_GROUPS, "sector": "sector", "size": "size"},
        "campaigns": {"campaign": "id"},
        "prospects": _OWNED_GROUPS,  # the list owner's
        # Net revenue retention's accounts, by the base deals' group.
        "accounts": {
            "position": "deal_owner",
            "report": "deal_under",
            "team": "deal_team",
            "region": "deal_region",
            "product": "deal_product",
            "type": "deal_type",
            "sector": "deal_sector",
            "size": "deal_size",
        },
    }
)
LEAD_PERSON_FILTERS = {
    "owner_position_id": "owner",
    "qualified_by_id": "qualified_by",
    "lead__qualified_by_id": "qualified_by",
    "generated_by_id": "generated_by",
}


# --- the entry points ---------------------------------------------------------------------------


def measured_keys() -> list[str]:
    return [key for key, kpi in KPIS.items() if kpi.measured and key in DEFINITIONS]


def _check_keys(keys: list[str]) -> None:
    unknown = [k for k in keys if k not in KPIS]
    if unknown:
        raise UnknownKpi(unknown)


def _value(
    kpi: Kpi, scope: Scope, result: Result | None, definition: Definition | None
) -> KpiValue:
    out = KpiValue(
        key=kpi.key,
        name=kpi.name,
        unit=kpi.unit,
        value=None,
        start=scope.start,
        end=scope.end,
        definition=kpi.definition,
    )
    if definition is None:
        out.note = f"Not measured here: {kpi.measured_by} computes it."
        return out
    result = result or Result(None, 0)
    out.value, out.count, out.parts, out.note = (
        result.value,
        result.count,
        result.parts,
        result.note,
    )
    out.ignored_filters = definition.subject.ignored(scope)
    if definition.drill_list and definition.drill_extra:
        drill = definition.drill_extra(scope)
        if definition.drill_dates:
            drill[definition.drill_dates[0]] = scope.start.isoformat()
            drill[definition.drill_dates[1]] = scope.end.isoformat()
        out.drilldown, out.drilldown_list = drill, definition.drill_list
    return out


def compute(
    *,
    user: Any,
    keys: list[str],
    start: dt.date,
    end: dt.date,
    position_id: int | None = None,
    filters: dict | None = None,
    rule: FiscalYearRule | None = None,
) -> list[KpiValue]:
    """The value of each KPI in ``keys`` for what ``user`` may see in ``[start, end]``, within
    ``position_id``'s subtree when given, narrowed by ``filters`` (region, team, owner, product,
    sector, size, type). Raises ``UnknownKpi``, ``Position.DoesNotExist`` (a position outside the
    user's view) and ``ValidationError`` (unusable filters). ``rule``: the fiscal calendar, when
    the caller has read it already."""
    _check_keys(keys)
    scope = scope_resolve(
        user=user,
        start=start,
        end=end,
        rule=rule or fiscal_rule(),
        position_id=position_id,
        filters=filters,
    )
    ctx = Context(scope)
    out = []
    for key in keys:
        definition = DEFINITIONS.get(key) if KPIS[key].measured else None
        result = definition.measure(ctx, None).get(TOTAL) if definition else None
        out.append(_value(KPIS[key], scope, result, definition))
    return out


@dataclass
class Breakdown:
    kpi: Kpi
    by: str
    start: dt.date
    end: dt.date
    total: KpiValue
    rows: list[KpiValue]


def breakdown_dims(key: str) -> list[str]:
    """The dimensions ``key`` can be broken down by."""
    definition = DEFINITIONS.get(key)
    if definition is None:
        return []
    if definition.dims is not None:
        return list(definition.dims)
    return definition.subject.dim_names()


def _check_breakdown(key: str, by: str) -> Definition:
    _check_keys([key])
    definition = DEFINITIONS.get(key) if KPIS[key].measured else None
    if definition is None:
        raise ValidationError({"key": f"{key} is not measured by the analytics app."})
    if by not in breakdown_dims(key):
        raise ValidationError(
            {"by": f"{key} breaks down by {', '.join(breakdown_dims(key))}; not by {by}."}
        )
    return definition


def _rows(
    ctx: Context, key: str, by: str, labels: Callable[[str, list[Any]], dict[Any, str]]
) -> tuple[list[KpiValue], Dim]:
    """``key``'s rows per group of ``by`` in the context's scope (unsorted)."""
    scope, kpi, definition = ctx.scope, KPIS[key], DEFINITIONS[key]
    dim = ctx.dim(definition.subject, by, definition.date_field)
    results = definition.measure(ctx, dim)
    names = labels(dim.labels, [g for g in results if g is not None])
    rows = []
    for group, result in results.items():
        row = _value(kpi, scope, result, definition)
        row.group, row.label = group, names.get(group, _fallback_label(group))
        row.drilldown = _row_drilldown(definition, scope, dim, group, row.drilldown)
        if dim.labels == "period" and group is not None:
            period = next(p for p in scope.periods(by) if p.key == group)
            row.start, row.end = max(period.start, scope.start), min(period.end, scope.end)
        rows.append(row)
    return rows, dim


def _labeller(ctx: Context) -> Callable[[str, list[Any]], dict[Any, str]]:
    def labels(kind: str, groups: list[Any]) -> dict[Any, str]:
        if kind == "stage":
            return {pk: name for pk, (name, _) in _stages(ctx, groups).items()}
        return labels_for(kind, groups, ctx.scope)

    return labels


def _stages(ctx: Context, groups: list[Any]) -> dict[int, tuple[str, tuple[int, int]]]:
    return ctx.once(("stages", tuple(sorted(groups, key=str))), lambda: stage_info(groups))


def breakdown(
    *,
    user: Any,
    key: str,
    by: str,
    start: dt.date,
    end: dt.date,
    position_id: int | None = None,
    filters: dict | None = None,
    rule: FiscalYearRule | None = None,
) -> Breakdown:
    """``key`` per group of ``by`` (position, report, team, region, month, quarter, year,
    product, type, sector, size, stage, competitor, campaign, source, kind... as the KPI's
    records allow: ``breakdown_dims``), each row with its drill-down, plus the total."""
    definition = _check_breakdown(key, by)
    kpi = KPIS[key]
    scope = scope_resolve(
        user=user,
        start=start,
        end=end,
        rule=rule or fiscal_rule(),
        position_id=position_id,
        filters=filters,
    )
    ctx = Context(scope)
    rows, dim = _rows(ctx, key, by, _labeller(ctx))
    total = _value(kpi, scope, definition.measure(ctx, None).get(TOTAL), definition)
    stages = (
        _stages(ctx, [r.group for r in rows if r.group is not None])
        if dim.labels == "stage"
        else {}
    )
    rows.sort(key=lambda r: _row_order(dim, r, stages))
    return Breakdown(kpi, by, scope.start, scope.end, total, rows)


def breakdown_rows(
    *,
    user: Any,
    keys: list[str],
    by: str,
    start: dt.date,
    end: dt.date,
    position_id: int | None = None,
    filters: dict | None = None,
    rule: FiscalYearRule | None = None,
) -> dict[str, list[KpiValue]]:
    """The rows of ``breakdown`` for each of ``keys`` by the same ``by``, without the totals,
    in one computation: KPIs computed from the same aggregate (bookings, win rate, deals won
    and lost, average deal size) share its one query, and the scope and the group labels are
    read once. For pages that show several KPIs per group (a cockpit's team table, its trend
    charts)."""
    definitions = {key: _check_breakdown(key, by) for key in keys}
    scope = scope_resolve(
        user=user,
        start=start,
        end=end,
        rule=rule or fiscal_rule(),
        position_id=position_id,
        filters=filters,
    )
    ctx = Context(scope)
    pending: dict[str, set[Any]] = {}

    def collect(kind: str, groups: list[Any]) -> dict[Any, str]:
        pending.setdefault(kind, set()).update(groups)
        return {}

    got = {key: _rows(ctx, key, by, collect) for key in definitions}
    labeller = _labeller(ctx)
    names = {kind: labeller(kind, sorted(groups, key=str)) for kind, groups in pending.items()}
    out: dict[str, list[KpiValue]] = {}
    for key, (rows, dim) in got.items():
        for row in rows:
            row.label = names.get(dim.labels, {}).get(row.group, row.label)
        stages = (
            _stages(ctx, sorted(pending.get("stage", set()), key=str))
            if dim.labels == "stage"
            else {}
        )
        rows.sort(key=lambda r, dim=dim, stages=stages: _row_order(dim, r, stages))  # type: ignore[misc]
        out[key] = rows
    return out


def _fallback_label(group: Any) -> str:
    return "(none)" if group in (None, "") else str(group)


def _row_order(dim: Dim, row: KpiValue, stages: dict[int, tuple[str, tuple[int, int]]]) -> tuple:
    if row.group is None:
        return (2, (), "")
    if dim.labels == "period":
        return (0, (), str(row.group))
    if dim.labels == "stage":
        return (0, stages.get(row.group, ("", (0, 0)))[1], "")
    return (0, (), row.label.lower())


def _row_drilldown(
    definition: Definition, scope: Scope, dim: Dim, group: Any, drill: dict[str, Any] | None
) -> dict[str, Any] | None:
    if drill is None or group in (None, ""):
        return None
    drill = dict(drill)
    if dim.labels == "period":
        period = next(p for p in scope.periods(dim.name) if p.key == group)
        dates = definition.drill_dates or definition.row_dates
        if dates is None:
            return None
        drill[dates[0]] = max(period.start, scope.start).isoformat()
        drill[dates[1]] = min(period.end, scope.end).isoformat()
        return drill
    list_name = definition.drill_list or ""
    if list_name == "leads" and dim.name == "position":
        name = LEAD_PERSON_FILTERS.get(definition.subject.person)
        if name is None:
            return None
        drill[name] = group
        return drill
    name = GROUP_FILTERS.get(list_name, {}).get(dim.name)
    if definition.subject is scopes.STAGE_CHANGES and dim.name == "stage":
        name = "entered_stage"  # the stage entered, not the one the deal is in now
    if name is None:
        return None
    if list_name == "leads" and dim.name == "region":
        from revline.org.models import Region

        code = Region.objects.filter(pk=group).values_list("code", flat=True).first()
        if code is None:
            return None
        group = code
    drill[name] = group
    return drill


# --- labels -------------------------------------------------------------------------------------


def labels_for(kind: str, groups: list[Any], scope: Scope) -> dict[Any, str]:
    """Names of the groups of a breakdown: one query per call (none for choices and periods)."""
    from revline.crm.models import Campaign
    from revline.org.models import Position, Region, Team
    from revline.pipeline.models import Competitor, Product

    if not groups:
        return {}
    if kind == "period":
        names: dict[Any, str] = {}
        for period_kind in scopes.PERIOD_DIMS:
            for p in scope.periods(period_kind):
                names.setdefault(p.key, p.label)
        return names
    if kind == "choice":
        return {g: _choice_label(g) for g in groups}
    if kind == "position":
        return {
            p.pk: f"{p.holder.get_full_name()} ({p.title})" if p.holder else f"{p.title} (vacant)"
            for p in Position.objects.filter(pk__in=groups).select_related("holder")
        }
    if kind == "stage":
        return {pk: name for pk, (name, _) in stage_info(groups).items()}
    if kind == "campaign":  # only campaigns the user sees are named
        visible = Campaign.objects.visible_to(scope.user).filter(pk__in=groups)
        return dict(visible.values_list("pk", "name"))
    model: Any = {"region": Region, "team": Team, "product": Product, "competitor": Competitor}[
        kind
    ]
    return dict(model.objects.filter(pk__in=groups).values_list("pk", "name"))


def _choice_label(value: Any) -> str:
    from revline.crm.choices import ActivityKind as AK
    from revline.crm.choices import ComplaintSeverity, LeadSource

    for choices in (OpportunityType, LeadSource, AK, ComplaintSeverity):
        if value in choices.values:
            return str(choices(value).label)
    return _fallback_label(value)
