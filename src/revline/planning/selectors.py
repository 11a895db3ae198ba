"""Reads of the planning app: quotas and attainment, targets, budgets and spend, submitted
forecasts and their roll-ups. Every read for a person takes the acting user and starts from the
visibility predicate (``visible_to`` / ``record_owner_positions``); ``quota_amount`` is the one
exception, an org-level figure other apps call for positions they have already checked.

Bookings (attainment, target vs actual, a forecast's "closed") are the amounts of deals won
whose close day falls in the period: ``closed_on`` (the day the deal was closed won), or the
expected ``close_date`` for a won deal that has no ``closed_on`` (imported history).

Roll-ups follow the reporting tree inside the positions concerned: each position hangs under its
solid manager when that manager is among them, else under a dotted-line manager among them. A
VP on a solid line to the CSO and a dotted one to the CRO is counted once in the whole org, under
the CSO, and is still part of the CRO's own roll-up.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from revline.org.choices import Domain, RoleType
from revline.org.models import DottedLine, Position, PositionClosure
from revline.org.visibility import VIEW, record_owner_positions
from revline.pipeline.choices import OpportunityStatus
from revline.pipeline.models import Opportunity
from revline.planning import rules
from revline.planning.calendar import FiscalYearRule, Period, fiscal_rule
from revline.planning.choices import FIGURES, ForecastFigure
from revline.planning.models import (
    Budget,
    BudgetSpend,
    ForecastAdjustment,
    ForecastSnapshot,
    ForecastSubmission,
    Quota,
    Target,
)

ZERO = Decimal("0")
CENT = Decimal("0.01")
FINENESS = {"year": 1, "quarter": 2, "month": 3}
ROLE_ORDER = {role: index for index, role in enumerate(RoleType.values)}


def money(value: Decimal | int | float | None) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(part: Decimal | None, whole: Decimal | None) -> float | None:
    if part is None or not whole:
        return None
    return float(part) / float(whole)


def today() -> dt.date:
    return timezone.localdate()


# --- who sees whose planning rows --------------------------------------------------------------


def planning_positions(*, user: Any) -> QuerySet[Position]:
    """The positions whose quotas, forecasts and attainment ``user`` sees: those whose revenue
    records the user sees (the one visibility predicate: their own positions, everything below,
    team-mates where the team shares records, every position for org-wide revenue roles)."""
    if not rules._active(user):
        return Position.objects.none()
    if user.is_superuser:
        return Position.objects.all()
    return Position.objects.filter(id__in=record_owner_positions(user, VIEW, Domain.REVENUE))


def hierarchy_positions(*, user: Any) -> QuerySet[Position]:
    """The positions at or below one the user holds (every position for org-wide revenue
    roles and superusers): the hierarchy part of the visibility rule, without team sharing or
    record shares."""
    from revline.org.visibility import held_roles, org_wide_roles

    if not rules._active(user):
        return Position.objects.none()
    if user.is_superuser or held_roles(user) & set(org_wide_roles(Domain.REVENUE, VIEW)):
        return Position.objects.all()
    return Position.objects.filter(
        id__in=PositionClosure.objects.filter(ancestor__holder_id=user.pk).values("descendant_id")
    )


def held_positions(*, user: Any) -> list[Position]:
    """The positions ``user`` holds, most senior role first."""
    if not rules._active(user):
        return []
    rows = Position.objects.filter(holder_id=user.pk).select_related("holder", "team", "region")
    return sorted(rows, key=lambda p: (ROLE_ORDER.get(p.role, 99), p.title, p.pk))


class PlanningNotFound(Exception):
    """The position asked for is outside the user's view (web and API answer 404)."""


def planning_position_get(*, user: Any, pk: Any) -> Position:
    try:
        pid = int(pk)
    except (TypeError, ValueError):
        raise PlanningNotFound(pk) from None
    position = (
        planning_positions(user=user).select_related("holder", "team", "region").filter(pk=pid)
    ).first()
    if position is None:
        raise PlanningNotFound(pk)
    return position


# --- the reporting tree ------------------------------------------------------------------------


@dataclass
class Forest:
    """Positions as a forest: ``parent`` of each (None for a root), ``children`` in id order."""

    parent: dict[int, int | None]
    children: dict[int, list[int]]

    @property
    def roots(self) -> list[int]:
        return sorted(p for p, parent in self.parent.items() if parent is None)

    def post_order(self, roots: Iterable[int] | None = None) -> list[int]:
        """Every position below (and including) ``roots``, children before parents."""
        out: list[int] = []
        stack: list[tuple[int, bool]] = [(r, False) for r in (roots or self.roots)]
        seen: set[int] = set()
        while stack:
            node, expanded = stack.pop()
            if expanded:
                out.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((c, False) for c in self.children.get(node, ()))
        return out

    def subtree(self, root: int) -> list[int]:
        return self.post_order([root])


def forest_of(
    ids: Iterable[int], reports_to: Mapping[int, int | None], dotted: Mapping[int, list[int]]
) -> Forest:
    """The forest of ``ids``: each under its solid manager when among ``ids``, else under its
    first dotted-line manager among ``ids``, else a root."""
    scope = set(ids)
    parent: dict[int, int | None] = {}
    children: dict[int, list[int]] = defaultdict(list)
    for pid in sorted(scope):
        up = reports_to.get(pid)
        if up is None or up not in scope:
            up = next((m for m in sorted(dotted.get(pid, ())) if m in scope), None)
        parent[pid] = up
        if up is not None:
            children[up].append(pid)
    return Forest(parent, dict(children))


@dataclass
class OrgGraph:
    """The reporting lines of some positions, loaded once: ``reports_to``, dotted managers and
    (when asked for) the closure rows below ``roots``."""

    reports_to: dict[int, int | None]
    dotted: dict[int, list[int]]
    below: dict[int, dict[int, int]] = field(default_factory=dict)  # ancestor -> {desc: depth}

    @classmethod
    def load(cls, *, scope: Any = None, closure_of: Iterable[int] | None = None) -> OrgGraph:
        """``scope``: ids or an id subquery (None: every position). ``closure_of``: ancestors
        whose closure rows to load. Two or three queries."""
        positions = Position.objects.order_by()
        lines = DottedLine.objects.order_by()
        if scope is not None:
            positions = positions.filter(id__in=scope)
            lines = lines.filter(position_id__in=scope)
        reports_to: dict[int, int | None] = dict(positions.values_list("id", "reports_to_id"))
        dotted: dict[int, list[int]] = defaultdict(list)
        for pid, manager in lines.values_list("position_id", "manager_id"):
            dotted[pid].append(manager)
        below: dict[int, dict[int, int]] = defaultdict(dict)
        if closure_of is not None:
            for anc, desc, depth in PositionClosure.objects.filter(
                ancestor_id__in=list(closure_of)
            ).values_list("ancestor_id", "descendant_id", "depth"):
                below[anc][desc] = depth
        return cls(reports_to, dict(dotted), dict(below))

    def forest(self, ids: Iterable[int]) -> Forest:
        return forest_of(ids, self.reports_to, self.dotted)


def subtree_ids(position_ids: Iterable[int]) -> set[int]:
    """The positions at or below any of ``position_ids`` (solid and dotted lines)."""
    return set(
        PositionClosure.objects.filter(ancestor_id__in=list(position_ids)).values_list(
            "descendant_id", flat=True
        )
    )


# --- quotas: amounts over a date range ---------------------------------------------------------


@dataclass(frozen=True)
class QuotaRow:
    position_id: int
    kind: str
    start: dt.date
    end: dt.date
    opportunity_type: str
    amount: Decimal
    deal_count: int | None


def _overlap_days(start: dt.date, end: dt.date, a: dt.date, b: dt.date) -> int:
    lo, hi = max(start, a), min(end, b)
    return (hi - lo).days + 1 if hi >= lo else 0


def own_quota(
    rows: list[QuotaRow], start: dt.date, end: dt.date, opportunity_type: str | None
) -> tuple[Decimal, Decimal | None] | None:
    """One position's own quota over ``[start, end]`` from its quota rows overlapping it, or
    None when it has none there.

    - Type: with ``opportunity_type`` the quotas of that type; without, the quotas for every
      type where the position has some in the range, else the sum of its per-type quotas.
    - Period kind: when the position has quotas of several kinds (a year and its quarters), one
      kind is used, the one covering most of the range (ties: the finer), so nothing is counted
      twice.
    - Proration: a quota counts in proportion to the days of its period inside the range (a
      whole period inside counts in full; half a month, half that month's quota).

    Returns (amount, deals); deals is None when no quota row in use sets a deal count.
    """
    if opportunity_type:
        rows = [r for r in rows if r.opportunity_type == opportunity_type]
    else:
        untyped = [r for r in rows if not r.opportunity_type]
        rows = untyped or rows
    if not rows:
        return None
    by_kind: dict[str, list[QuotaRow]] = defaultdict(list)
    for r in rows:
        by_kind[r.kind].append(r)

    def coverage(kind: str) -> tuple[int, int]:
        periods = {(r.start, r.end) for r in by_kind[kind]}
        return sum(_overlap_days(start, end, a, b) for a, b in periods), FINENESS.get(kind, 0)

    kind = max(by_kind, key=coverage)
    amount = ZERO
    deals: Decimal | None = None
    for r in by_kind[kind]:
        share = Decimal(_overlap_days(start, end, r.start, r.end)) / Decimal(
            (r.end - r.start).days + 1
        )
        amount += r.amount * share
        if r.deal_count is not None:
            deals = (deals or ZERO) + Decimal(r.deal_count) * share
    return money(amount), deals


def quota_rows(
    *, scope: Any, start: dt.date, end: dt.date, opportunity_type: str | None = None
) -> dict[int, list[QuotaRow]]:
    """The quota rows overlapping ``[start, end]`` of the positions in ``scope`` (ids or an id
    subquery; None: every position), by position. One query."""
    qs = Quota.objects.filter(period_start__lte=end, period_end__gte=start).order_by()
    if scope is not None:
        qs = qs.filter(owner_position_id__in=scope)
    if opportunity_type:
        qs = qs.filter(opportunity_type=opportunity_type)
    out: dict[int, list[QuotaRow]] = defaultdict(list)
    for row in qs.values_list(
        "owner_position_id",
        "period_kind",
        "period_start",
        "period_end",
        "opportunity_type",
        "amount",
        "deal_count",
    ):
        out[row[0]].append(QuotaRow(*row))
    return out


@dataclass
class QuotaFigure:
    amount: Decimal | None  # None: no quota anywhere in the subtree
    deals: Decimal | None
    own: bool  # the position's own quota (True) or the sum of its reports' (False)
    reports: Decimal | None = None  # the sum of the reports' figures (None without reports)


def quota_rollup(
    forest: Forest,
    rows: Mapping[int, list[QuotaRow]],
    start: dt.date,
    end: dt.date,
    opportunity_type: str | None = None,
) -> dict[int, QuotaFigure]:
    """Each position's quota: its own where set, else the sum of its reports' (no double
    counting: a manager's own quota replaces, never adds to, the reps' below)."""
    figures: dict[int, QuotaFigure] = {}
    for pid in forest.post_order():
        kids = [figures[c] for c in forest.children.get(pid, ()) if c in figures]
        with_amount = [k for k in kids if k.amount is not None]
        reports = sum((k.amount or ZERO for k in with_amount), ZERO) if with_amount else None
        report_deals = [k.deals for k in with_amount if k.deals is not None]
        own = own_quota(rows.get(pid, []), start, end, opportunity_type)
        if own is not None:
            figures[pid] = QuotaFigure(own[0], own[1], True, reports)
        else:
            deals = sum(report_deals, ZERO) if report_deals else None
            figures[pid] = QuotaFigure(reports, deals, False, reports)
    return figures


def quota_amount(
    *,
    position_ids: list[int] | None,
    start: dt.date,
    end: dt.date,
    opportunity_type: str | None = None,
) -> Decimal:
    """The quota covering ``[start, end]`` for the given positions' subtrees (None: the whole
    organisation), without double counting: a position's own quota where it has one in the
    range, else the sum of its reports' (recursively). Periods partly inside the range count
    pro rata by days (see ``own_quota``). A position listed below another listed one is
    counted once. No visibility check: callers pass positions the user may see. Four queries.
    """
    if end < start:
        return ZERO
    if position_ids is None:
        scope: Any = None
        graph = OrgGraph.load()
        ids: Iterable[int] = graph.reports_to.keys()
    else:
        ids = subtree_ids(position_ids)
        if not ids:
            return ZERO
        scope = sorted(ids)
        graph = OrgGraph.load(scope=scope)
    forest = graph.forest(ids)
    figures = quota_rollup(
        forest,
        quota_rows(scope=scope, start=start, end=end, opportunity_type=opportunity_type),
        start,
        end,
        opportunity_type,
    )
    return money(sum((figures[r].amount or ZERO for r in forest.roots), ZERO))


# --- bookings ----------------------------------------------------------------------------------


def closed_between(start: dt.date, end: dt.date) -> Q:
    """Deals whose close day (``closed_on``, else ``close_date``) is in ``[start, end]``."""
    return Q(closed_on__gte=start, closed_on__lte=end) | Q(
        closed_on__isnull=True, close_date__gte=start, close_date__lte=end
    )


def won_deals(
    *,
    user: Any | None,
    start: dt.date,
    end: dt.date,
    opportunity_type: str | None = None,
) -> QuerySet[Opportunity]:
    """Deals won in ``[start, end]`` that ``user`` sees (every deal when ``user`` is None: tasks
    computing org-level figures)."""
    qs = Opportunity.objects.all() if user is None else Opportunity.objects.visible_to(user)
    qs = qs.filter(closed_between(start, end), status=OpportunityStatus.WON)
    if opportunity_type:
        qs = qs.filter(type=opportunity_type)
    return qs


def bookings_by_owner(
    *,
    user: Any | None,
    owners: Any,
    start: dt.date,
    end: dt.date,
    opportunity_type: str | None = None,
) -> dict[int, tuple[Decimal, int]]:
    """Won amount and deal count per owner position, for owners in ``owners`` (ids or an id
    subquery; None: everyone). One query."""
    qs = won_deals(user=user, start=start, end=end, opportunity_type=opportunity_type)
    if owners is not None:
        qs = qs.filter(owner_position_id__in=owners)
    rows = (
        qs.order_by()
        .values("owner_position_id")
        .annotate(
            total=Coalesce(Sum("amount"), Value(ZERO), output_field=DecimalField()), n=Count("id")
        )
        .values_list("owner_position_id", "total", "n")
    )
    return {pid: (money(total), n) for pid, total, n in rows}


def _sum_bookings(
    ids: Iterable[int], bookings: Mapping[int, tuple[Decimal, int]]
) -> tuple[Decimal, int]:
    amount, n = ZERO, 0
    for pid in set(ids):
        a, c = bookings.get(pid, (ZERO, 0))
        amount += a
        n += c
    return money(amount), n


# --- the quota board ---------------------------------------------------------------------------


@dataclass
class QuotaLine:
    """One position's quota and attainment in a period."""

    position: Position | None  # None: the whole organisation
    quota: Decimal | None
    deals_quota: Decimal | None
    is_own: bool
    reports_sum: Decimal | None
    bookings: Decimal
    deals_won: int
    elapsed: float
    quotas: list[Quota] = field(default_factory=list)  # the own quota rows of this period
    may_set: bool = False
    has_reports: bool = False

    @property
    def attainment(self) -> float | None:
        return ratio(self.bookings, self.quota)

    @property
    def pace(self) -> Decimal | None:
        """Where bookings should be by today: the quota times the share of the period gone."""
        if self.quota is None:
            return None
        return money(self.quota * Decimal(str(self.elapsed)))

    @property
    def on_pace(self) -> bool | None:
        pace = self.pace
        if pace is None or self.quota == 0:
            return None
        return self.bookings >= pace

    @property
    def period_over(self) -> bool:
        return self.elapsed >= 1

    @property
    def gap(self) -> Decimal | None:
        """Own quota minus the sum of the reports' (positive: not all of it is given out)."""
        if not self.is_own or self.reports_sum is None or self.quota is None:
            return None
        return money(self.quota - self.reports_sum)

    @property
    def remaining(self) -> Decimal | None:
        if self.quota is None:
            return None
        return money(max(self.quota - self.bookings, ZERO))

    @property
    def untyped_quota(self) -> Quota | None:
        return next((q for q in self.quotas if not q.opportunity_type), None)


@dataclass
class QuotaBoard:
    period: Period
    opportunity_type: str
    node: QuotaLine
    rows: list[QuotaLine]
    held: list[Position]
    today: dt.date

    @property
    def elapsed(self) -> float:
        return self.node.elapsed

    @property
    def rows_quota_total(self) -> Decimal:
        return money(sum((r.quota or ZERO for r in self.rows), ZERO))

    @property
    def rows_bookings_total(self) -> Decimal:
        return money(sum((r.bookings for r in self.rows), ZERO))


def _position_order(position: Position | None) -> tuple[int, str, int]:
    if position is None:
        return (99, "", 0)
    return (ROLE_ORDER.get(position.role, 99), position.title, position.pk)


def default_position(*, user: Any) -> Position | None:
    held = held_positions(user=user)
    return held[0] if held else None


def _leads_anyone(position: Position) -> bool:
    return PositionClosure.objects.filter(ancestor=position, depth__gte=1).exists()


def _org_top() -> Position | None:
    """The root position with the most positions below it (the CEO's, usually)."""
    row = (
        PositionClosure.objects.filter(ancestor__reports_to__isnull=True)
        .values("ancestor_id")
        .annotate(n=Count("id"))
        .order_by("-n", "ancestor_id")
        .first()
    )
    return (
        Position.objects.select_related("holder").filter(pk=row["ancestor_id"]).first()
        if row
        else None
    )


def quota_board(
    *,
    user: Any,
    period: Period,
    position: Position | None = None,
    opportunity_type: str = "",
    on: dt.date | None = None,
) -> QuotaBoard:
    """The quota page: ``position`` (default: the user's most senior position; None for a user
    holding none who sees the whole org) with its own quota, the sum of its reports' and the gap,
    its attainment and pace; then one line per report (the next level down), each with its quota
    (own or rolled up), bookings, attainment, pace and whether ``user`` may set it.

    Raises ``PlanningNotFound`` when the position is outside the user's view. A fixed number of
    queries whatever the size of the team.
    """
    on = on or today()
    held = held_positions(user=user)
    if position is None and held:
        position = held[0]
        if rules.sees_whole_org(user) and not _leads_anyone(position):
            position = None  # RevOps: the whole organisation rather than their own seat
    if position is None and not rules.sees_whole_org(user):
        raise PlanningNotFound(None)
    if position is not None and not planning_positions(user=user).filter(pk=position.pk).exists():
        raise PlanningNotFound(position.pk)
    elapsed = period.elapsed_share(on)
    type_filter = opportunity_type or None

    if position is None:
        positions = list(Position.objects.select_related("holder"))
        scope_ids = {p.pk for p in positions}
        graph = OrgGraph.load()
        scope: Any = None
    else:
        scope_ids = subtree_ids([position.pk])
        positions = list(Position.objects.filter(id__in=scope_ids).select_related("holder"))
        scope = sorted(scope_ids)
        graph = OrgGraph.load(scope=scope)
    by_id = {p.pk: p for p in positions}
    forest = graph.forest(scope_ids)
    rows = quota_rows(scope=scope, start=period.start, end=period.end, opportunity_type=type_filter)
    figures = quota_rollup(forest, rows, period.start, period.end, type_filter)
    bookings = bookings_by_owner(
        user=user, owners=scope, start=period.start, end=period.end, opportunity_type=type_filter
    )
    settable = (
        set(
            rules.quota_settable_positions(user)
            .filter(id__in=scope_ids)
            .values_list("id", flat=True)
        )
        if scope is not None
        else set(rules.quota_settable_positions(user).values_list("id", flat=True))
    )
    own_rows: dict[int, list[Quota]] = defaultdict(list)
    exact = Quota.objects.filter(period_kind=period.kind, period_start=period.start).select_related(
        "set_by"
    )
    if scope is not None:
        exact = exact.filter(owner_position_id__in=scope)
    for q in exact:
        own_rows[q.owner_position_id].append(q)

    def line(pid: int, members: Iterable[int]) -> QuotaLine:
        fig = figures.get(pid, QuotaFigure(None, None, False))
        amount, n = _sum_bookings(members, bookings)
        return QuotaLine(
            position=by_id.get(pid),
            quota=fig.amount,
            deals_quota=fig.deals,
            is_own=fig.own,
            reports_sum=fig.reports,
            bookings=amount,
            deals_won=n,
            elapsed=elapsed,
            quotas=own_rows.get(pid, []),
            may_set=pid in settable,
            has_reports=bool(forest.children.get(pid)),
        )

    if position is None:
        root_ids = forest.roots
        total_amount, total_n = _sum_bookings(scope_ids, bookings)
        quotas = [a for r in root_ids if (a := figures[r].amount) is not None]
        node = QuotaLine(
            position=None,
            quota=money(sum(quotas, ZERO)) if quotas else None,
            deals_quota=None,
            is_own=False,
            reports_sum=None,
            bookings=total_amount,
            deals_won=total_n,
            elapsed=elapsed,
        )
        child_ids = root_ids
    else:
        node = line(position.pk, scope_ids)
        child_ids = forest.children.get(position.pk, [])
    lines = [line(c, forest.subtree(c)) for c in child_ids]
    lines.sort(key=lambda ln: _position_order(ln.position))
    return QuotaBoard(period, opportunity_type, node, lines, held, on)


def quotas_list(*, user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Quota]:
    """The quotas ``user`` sees (those of positions whose deals they see), filtered by
    ``position`` (id; its own quotas), ``period`` (a key), ``kind``, ``type`` and ``fiscal_year``."""
    filters = filters or {}
    qs = Quota.objects.visible_to(user).select_related("owner_position__holder", "set_by")
    if (pid := filters.get("position")) not in (None, ""):
        qs = qs.filter(owner_position_id=pid)
    if key := filters.get("period"):
        period = _parse(key)
        qs = qs.filter(period_kind=period.kind, period_start=period.start) if period else qs.none()
    if kind := filters.get("kind"):
        qs = qs.filter(period_kind=kind)
    if (otype := filters.get("type")) is not None:
        qs = qs.filter(opportunity_type=otype)
    return qs


def quota_get(*, user: Any, pk: int) -> Quota:
    """One quota ``user`` sees; ``Quota.DoesNotExist`` (404) otherwise."""
    return quotas_list(user=user).get(pk=pk)


def _parse(key: str, rule: FiscalYearRule | None = None) -> Period | None:
    try:
        return (rule or fiscal_rule()).parse(str(key))
    except ValueError:
        return None


# --- targets -----------------------------------------------------------------------------------


@dataclass
class TargetLine:
    """A team or region's target and its bookings in a period."""

    kind: str  # "region" | "team"
    scope: Any  # Team | Region
    target: Target | None
    bookings: Decimal
    deals_won: int
    elapsed: float
    may_set: bool
    budget: Decimal = ZERO
    spent: Decimal = ZERO
    depth: int = 0

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.scope.pk}"

    @property
    def amount(self) -> Decimal | None:
        return self.target.amount if self.target else None

    @property
    def attainment(self) -> float | None:
        return ratio(self.bookings, self.amount)

    @property
    def pace(self) -> Decimal | None:
        if self.amount is None:
            return None
        return money(self.amount * Decimal(str(self.elapsed)))

    @property
    def on_pace(self) -> bool | None:
        pace = self.pace
        if pace is None or not self.amount:
            return None
        return self.bookings >= pace

    @property
    def period_over(self) -> bool:
        return self.elapsed >= 1

    @property
    def budget_left(self) -> Decimal:
        return money(self.budget - self.spent)

    @property
    def budget_used(self) -> float | None:
        return ratio(self.spent, self.budget)


def targets_list(*, user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Target]:
    """The targets ``user`` sees (``rules.view_scope``), filtered by ``period`` (key), ``team``,
    ``region`` (ids) and ``type``."""
    filters = filters or {}
    scope = rules.view_scope(user)
    if scope.empty:
        return Target.objects.none()
    qs = Target.objects.filter(scope.q()).select_related("team", "region", "set_by")
    return _scoped_filters(qs, filters)


def _scoped_filters(qs: QuerySet, filters: Mapping[str, Any]) -> QuerySet:
    if key := filters.get("period"):
        period = _parse(key)
        qs = qs.filter(period_kind=period.kind, period_start=period.start) if period else qs.none()
    for name in ("team", "region"):
        if (value := filters.get(name)) not in (None, ""):
            qs = qs.filter(**{f"{name}_id": value})
    if (otype := filters.get("type")) is not None:
        qs = qs.filter(opportunity_type=otype)
    if category := filters.get("category"):
        qs = qs.filter(category=category)
    return qs


def target_get(*, user: Any, pk: int) -> Target:
    return targets_list(user=user).get(pk=pk)


def _scope_bookings(
    *, user: Any, period: Period, opportunity_type: str | None
) -> tuple[dict[int, tuple[Decimal, int]], dict[int, tuple[Decimal, int]]]:
    """Won amount and count per owner's team and per owner's region (two queries)."""
    qs = won_deals(
        user=user, start=period.start, end=period.end, opportunity_type=opportunity_type
    ).order_by()
    out = []
    for column in ("owner_position__team_id", "owner_position__region_id"):
        rows = (
            qs.filter(**{f"{column}__isnull": False})
            .values(column)
            .annotate(
                total=Coalesce(Sum("amount"), Value(ZERO), output_field=DecimalField()),
                n=Count("id"),
            )
            .values_list(column, "total", "n")
        )
        out.append({k: (money(t), n) for k, t, n in rows})
    return out[0], out[1]


def target_board(
    *, user: Any, period: Period, opportunity_type: str = "", on: dt.date | None = None
) -> list[TargetLine]:
    """Target vs actual (and budget vs spend) per region, each followed by its teams, for the
    regions and teams ``user`` sees. Actual = the bookings of the deals ``user`` sees whose
    owner's position is in the team (region, or one of its territories). A fixed number of
    queries."""
    on = on or today()
    view = rules.view_scope(user)
    if view.empty:
        return []
    setting = rules.target_scope(user)
    elapsed = period.elapsed_share(on)
    otype = opportunity_type or None
    targets = {
        t.scope_key: t
        for t in Target.objects.filter(
            view.q(),
            period_kind=period.kind,
            period_start=period.start,
            opportunity_type=opportunity_type,
        ).select_related("set_by")
    }
    budgets: dict[str, tuple[Decimal, Decimal]] = {}
    for b in budgets_with_spend(
        Budget.objects.filter(view.q(), period_kind=period.kind, period_start=period.start)
    ):
        amount, spent = budgets.get(b.scope_key, (ZERO, ZERO))
        budgets[b.scope_key] = (amount + b.amount, spent + b.spent)  # type: ignore[attr-defined]
    by_team, by_region = _scope_bookings(user=user, period=period, opportunity_type=otype)
    regions = list(view.regions().order_by("name"))
    teams = list(view.teams().order_by("name"))
    children: dict[int | None, list[Any]] = defaultdict(list)
    region_ids = {r.pk for r in regions}
    for r in regions:
        children[r.parent_id if r.parent_id in region_ids else None].append(r)

    def region_total(region) -> tuple[Decimal, int]:
        amount, n = by_region.get(region.pk, (ZERO, 0))
        for child in children.get(region.pk, []):
            a, c = region_total(child)
            amount, n = amount + a, n + c
        return amount, n

    lines: list[TargetLine] = []

    def add(kind: str, obj: Any, bookings: tuple[Decimal, int], depth: int) -> None:
        key = f"{kind}:{obj.pk}"
        budget, spent = budgets.get(key, (ZERO, ZERO))
        lines.append(
            TargetLine(
                kind=kind,
                scope=obj,
                target=targets.get(key),
                bookings=money(bookings[0]),
                deals_won=bookings[1],
                elapsed=elapsed,
                may_set=setting.covers(**{f"{kind}_id": obj.pk}),
                budget=money(budget),
                spent=money(spent),
                depth=depth,
            )
        )

    placed: set[int] = set()

    def walk(region, depth: int) -> None:
        add("region", region, region_total(region), depth)
        for team in teams:
            if team.region_id == region.pk:
                add("team", team, by_team.get(team.pk, (ZERO, 0)), depth + 1)
                placed.add(team.pk)
        for child in children.get(region.pk, []):
            walk(child, depth + 1)

    for region in children.get(None, []):
        walk(region, 0)
    for team in teams:
        if team.pk not in placed:
            add("team", team, by_team.get(team.pk, (ZERO, 0)), 0)
    return lines


# --- budgets and spend -------------------------------------------------------------------------


def budgets_with_spend(qs: QuerySet[Budget]) -> QuerySet[Budget]:
    """Budgets annotated with ``spent`` (the sum of their spend, 0 without)."""
    return qs.annotate(
        spent=Coalesce(Sum("spend__amount"), Value(ZERO), output_field=DecimalField())
    )


def budgets_list(*, user: Any, filters: Mapping[str, Any] | None = None) -> QuerySet[Budget]:
    """The budgets ``user`` sees (``rules.view_scope``) with ``spent``, filtered by ``period``,
    ``team``, ``region`` and ``category``."""
    filters = filters or {}
    scope = rules.view_scope(user)
    if scope.empty:
        return Budget.objects.none()
    qs = Budget.objects.filter(scope.q()).select_related("team", "region", "set_by")
    return budgets_with_spend(_scoped_filters(qs, filters))


def budget_get(*, user: Any, pk: Any) -> Budget:
    """One budget ``user`` sees, with ``spent``; ``Budget.DoesNotExist`` (404) otherwise."""
    return budgets_list(user=user).get(pk=pk)


def spend_list(
    *, user: Any, budget: Budget | None = None, filters: Mapping[str, Any] | None = None
):
    """Spend entries on budgets ``user`` sees (of one ``budget``); campaign names are shown only
    for campaigns the user sees (``campaign_visible``)."""
    from revline.crm.models import Campaign
    from revline.org.visibility import visible_link

    filters = filters or {}
    scope = rules.view_scope(user)
    if scope.empty:
        return BudgetSpend.objects.none()
    qs = BudgetSpend.objects.filter(scope.q("budget__")).select_related(
        "budget", "budget__team", "budget__region", "recorded_by", "campaign"
    )
    if budget is not None:
        qs = qs.filter(budget=budget)
    if (bid := filters.get("budget")) not in (None, ""):
        qs = qs.filter(budget_id=bid)
    if key := filters.get("period"):
        period = _parse(key)
        qs = (
            qs.filter(budget__period_kind=period.kind, budget__period_start=period.start)
            if period
            else qs.none()
        )
    return qs.annotate(campaign_visible=visible_link(user, Campaign, "campaign_id"))


def spend_get(*, user: Any, pk: Any) -> BudgetSpend:
    return spend_list(user=user).get(pk=pk)


@dataclass
class BudgetSummary:
    budgets: list[Budget]
    by_category: list[tuple[str, str, Decimal, Decimal]]  # key, label, budget, spent

    @property
    def total(self) -> Decimal:
        return money(sum((b.amount for b in self.budgets), ZERO))

    @property
    def spent(self) -> Decimal:
        return money(sum((b.spent for b in self.budgets), ZERO))  # type: ignore[attr-defined]

    @property
    def used(self) -> float | None:
        return ratio(self.spent, self.total)


def budget_summary(*, user: Any, period: Period) -> BudgetSummary:
    """The budgets of ``period`` that ``user`` sees, with spend, and totals per category."""
    from revline.planning.choices import BudgetCategory

    budgets = list(
        budgets_list(user=user)
        .filter(period_kind=period.kind, period_start=period.start)
        .order_by(F("region__name").asc(nulls_last=True), "team__name", "category", "id")
    )
    sums: dict[str, tuple[Decimal, Decimal]] = {}
    for b in budgets:
        amount, spent = sums.get(b.category, (ZERO, ZERO))
        sums[b.category] = (amount + b.amount, spent + b.spent)  # type: ignore[attr-defined]
    by_category = [
        (value, str(label), money(sums[value][0]), money(sums[value][1]))
        for value, label in BudgetCategory.choices
        if value in sums
    ]
    return BudgetSummary(budgets, by_category)


# --- submitted forecasts -----------------------------------------------------------------------


@dataclass
class Prefill:
    """What a position's own deals say for a period: open amounts by forecast category (close
    date in the period) and what was already won."""

    commit: Decimal = ZERO
    best_case: Decimal = ZERO
    pipeline: Decimal = ZERO
    closed: Decimal = ZERO
    counts: dict[str, int] = field(default_factory=dict)

    def figures(self) -> dict[str, Decimal]:
        return {"commit": self.commit, "best_case": self.best_case, "pipeline": self.pipeline}


def forecast_prefill(*, position: Position | int, period: Period) -> Prefill:
    """The figures a submission starts from: the position's own open deals with a close date in
    the period, summed by their forecast category (omitted deals left out), and its deals won in
    the period as closed. Two queries. Callers check the user may see the position."""
    pid = position if isinstance(position, int) else position.pk
    out = Prefill()
    rows = (
        Opportunity.objects.filter(
            owner_position_id=pid,
            status=OpportunityStatus.OPEN,
            close_date__gte=period.start,
            close_date__lte=period.end,
            forecast_category__in=FIGURES,
        )
        .order_by()
        .values("forecast_category")
        .annotate(
            total=Coalesce(Sum("amount"), Value(ZERO), output_field=DecimalField()), n=Count("id")
        )
        .values_list("forecast_category", "total", "n")
    )
    for category, total, n in rows:
        setattr(out, category, money(total))
        out.counts[category] = n
    won = bookings_by_owner(user=None, owners=[pid], start=period.start, end=period.end)
    out.closed, out.counts["closed"] = won.get(pid, (ZERO, 0))
    return out


def _figures(obj: Any, prefix: str = "") -> dict[str, Decimal]:
    return {f: getattr(obj, prefix + f) for f in FIGURES}


def _zero() -> dict[str, Decimal]:
    return dict.fromkeys(FIGURES, ZERO)


@dataclass
class ForecastNode:
    """A position's forecast in a roll-up, as the viewer sees it."""

    position: Position
    submission: ForecastSubmission | None
    own: dict[str, Decimal]  # its own submission (zeros without)
    submitted: dict[str, Decimal]  # subtree submissions, before any adjustment
    total: dict[str, Decimal]  # own + the reports' figures as adjusted
    adjustments: dict[str, ForecastAdjustment]  # applied to this position's figures
    closed: Decimal
    quota: Decimal | None
    children: list[ForecastNode] = field(default_factory=list)
    may_adjust: bool = False
    submitters: int = 0  # submissions in the subtree
    members: int = 0  # positions in the subtree

    @property
    def effective(self) -> dict[str, Decimal]:
        """The figures the position's manager sums: an adjustment where there is one."""
        return {
            f: (self.adjustments[f].amount if f in self.adjustments else self.total[f])
            for f in FIGURES
        }

    @property
    def commit(self) -> Decimal:
        return self.effective["commit"]

    @property
    def best_case(self) -> Decimal:
        return self.effective["best_case"]

    @property
    def pipeline(self) -> Decimal:
        return self.effective["pipeline"]

    @property
    def forecast(self) -> Decimal:
        """Closed plus commit: what the position expects to book."""
        return money(self.closed + self.commit)

    @property
    def upside(self) -> Decimal:
        return money(self.closed + self.commit + self.best_case)

    @property
    def is_adjusted(self) -> bool:
        return bool(self.adjustments)

    @property
    def adjusted_children(self) -> bool:
        return any(child.adjustments for child in self.children)

    @property
    def adjusted_below(self) -> bool:
        return any(self.total[f] != self.submitted[f] for f in FIGURES)

    @property
    def coverage(self) -> float | None:
        return ratio(self.forecast, self.quota)

    def cells(self) -> list[dict[str, Any]]:
        """Per figure: the figure before this node's adjustment, the adjustment (if any) and
        the figure in use, for templates."""
        return [
            {
                "figure": f,
                "label": ForecastFigure(f).label,
                "total": self.total[f],
                "adjustment": self.adjustments.get(f),
                "value": self.effective[f],
            }
            for f in FIGURES
        ]


@dataclass
class ForecastData:
    """What a set of roll-ups is computed from, loaded once (see ``forecast_data``)."""

    period: Period
    graph: OrgGraph
    positions: dict[int, Position]
    submissions: dict[int, ForecastSubmission]
    adjustments: list[ForecastAdjustment]
    bookings: dict[int, tuple[Decimal, int]]
    quotas: dict[int, list[QuotaRow]]


def forecast_data(
    *, user: Any | None, period: Period, scope_ids: set[int] | None, closure_of: Iterable[int]
) -> ForecastData:
    """Load everything the roll-ups of ``closure_of`` need: positions in ``scope_ids`` (None:
    all), the closure below ``closure_of``, submissions, adjustments, bookings (those ``user``
    sees; every deal for None) and quotas of the period. Eight queries."""
    scope = None if scope_ids is None else sorted(scope_ids)
    graph = OrgGraph.load(scope=scope, closure_of=closure_of)
    positions = Position.objects.select_related("holder")
    subs = ForecastSubmission.objects.filter(
        period_kind=period.kind, period_start=period.start
    ).select_related("submitted_by")
    adjs = ForecastAdjustment.objects.filter(
        period_kind=period.kind, period_start=period.start
    ).select_related("adjusted_by", "owner_position__holder")
    if scope is not None:
        positions = positions.filter(id__in=scope)
        subs = subs.filter(owner_position_id__in=scope)
        adjs = adjs.filter(position_id__in=scope, owner_position_id__in=scope)
    return ForecastData(
        period=period,
        graph=graph,
        positions={p.pk: p for p in positions},
        submissions={s.owner_position_id: s for s in subs},
        adjustments=list(adjs.order_by("adjusted_at", "id")),
        bookings=bookings_by_owner(user=user, owners=scope, start=period.start, end=period.end),
        quotas=quota_rows(scope=scope, start=period.start, end=period.end),
    )


def rollup_from(
    data: ForecastData,
    *,
    root: int,
    viewer: int | None,
    adjustable: set[int] | None = None,
) -> ForecastNode:
    """The roll-up of ``root`` as ``viewer`` sees it, from loaded ``data`` (no query).

    Adjustments count when made by the viewer or a position below the viewer (``viewer`` None:
    by ``root`` or below); where several apply to one figure, the most senior author's wins
    (the one nearest the viewer). A position's total is its own submission plus its reports'
    figures, each as adjusted.
    """
    top = viewer if viewer is not None else root
    depth_from_top = data.graph.below.get(top, {})
    members = set(data.graph.below.get(root, {root: 0}))
    forest = data.graph.forest(members)
    chosen: dict[tuple[int, str], ForecastAdjustment] = {}
    for adj in data.adjustments:
        author = adj.owner_position_id
        if author not in depth_from_top or adj.position_id not in members:
            continue
        key = (adj.position_id, adj.figure)
        current = chosen.get(key)
        if current is None or depth_from_top[author] <= depth_from_top[current.owner_position_id]:
            chosen[key] = adj
    figures = quota_rollup(forest, data.quotas, data.period.start, data.period.end)
    nodes: dict[int, ForecastNode] = {}
    for pid in forest.post_order([root]):
        sub = data.submissions.get(pid)
        own = _figures(sub) if sub else _zero()
        kids = [nodes[c] for c in forest.children.get(pid, ()) if c in nodes]
        submitted = {f: own[f] + sum((k.submitted[f] for k in kids), ZERO) for f in FIGURES}
        total = {f: own[f] + sum((k.effective[f] for k in kids), ZERO) for f in FIGURES}
        closed, _ = data.bookings.get(pid, (ZERO, 0))
        node = ForecastNode(
            position=data.positions[pid],
            submission=sub,
            own=own,
            submitted={f: money(v) for f, v in submitted.items()},
            total={f: money(v) for f, v in total.items()},
            adjustments={f: chosen[(pid, f)] for f in FIGURES if (pid, f) in chosen},
            closed=money(closed + sum((k.closed for k in kids), ZERO)),
            quota=figures[pid].amount if pid in figures else None,
            children=sorted(
                kids,
                key=lambda n: (
                    ROLE_ORDER.get(n.position.role, 99),
                    n.position.title,
                    n.position.pk,
                ),
            ),
            may_adjust=adjustable is not None and pid in adjustable,
            submitters=(1 if sub else 0) + sum(k.submitters for k in kids),
            members=1 + sum(k.members for k in kids),
        )
        nodes[pid] = node
    return nodes[root]


@dataclass
class ForecastSummary:
    """The top line of a position's roll-up (``rollup_from``'s root): the figures as adjusted,
    closed, the quota, how many positions submitted."""

    closed: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    quota: Decimal | None
    submitters: int
    members: int

    @property
    def forecast(self) -> Decimal:
        return money(self.closed + self.commit)

    @property
    def upside(self) -> Decimal:
        return money(self.closed + self.commit + self.best_case)


def forecast_summary(*, user: Any, period: Period, position_id: int) -> ForecastSummary:
    """``rollup_from(forecast_data(...), root=position_id, viewer=position_id)``'s root figures
    (the position's roll-up as its holder sees it, bookings of the deals ``user`` sees), worked
    out from plain tuples: no model instance per position, submission or adjustment, no node per
    position. For pages that show only the top line (the CRO's cockpit). Seven queries (and the
    user's roles, when not read yet)."""
    graph = OrgGraph.load(scope=None, closure_of=[position_id])
    depth = graph.below.get(position_id, {})
    members = set(depth) or {position_id}
    forest = graph.forest(members)
    submitted: dict[int, tuple[Decimal, ...]] = {
        row[0]: row[1:]
        for row in ForecastSubmission.objects.filter(
            period_kind=period.kind, period_start=period.start
        )
        .order_by()
        .values_list("owner_position_id", *FIGURES)
    }
    chosen: dict[tuple[int, str], tuple[int, Decimal]] = {}  # (position, figure) -> author, amount
    for pid, author, figure, amount in (
        ForecastAdjustment.objects.filter(period_kind=period.kind, period_start=period.start)
        .order_by("adjusted_at", "id")
        .values_list("position_id", "owner_position_id", "figure", "amount")
    ):
        if author not in depth or pid not in members:
            continue
        current = chosen.get((pid, figure))
        if current is None or depth[author] <= depth[current[0]]:
            chosen[(pid, figure)] = (author, amount)
    bookings = bookings_by_owner(user=user, owners=None, start=period.start, end=period.end)
    quotas = quota_rollup(
        forest, quota_rows(scope=None, start=period.start, end=period.end), period.start, period.end
    )
    zero = tuple(ZERO for _ in FIGURES)
    effective: dict[int, list[Decimal]] = {}
    closed: dict[int, Decimal] = {}
    submitters: dict[int, int] = {}
    count: dict[int, int] = {}
    for pid in forest.post_order([position_id]):
        kids = [c for c in forest.children.get(pid, ()) if c in effective]
        own = submitted.get(pid)
        figures = list(own or zero)
        for kid in kids:
            kid_figures = effective[kid]
            for i in range(len(FIGURES)):
                figures[i] += kid_figures[i]
        for i, f in enumerate(FIGURES):
            if (pid, f) in chosen:
                figures[i] = chosen[(pid, f)][1]
        effective[pid] = figures
        closed[pid] = bookings.get(pid, (ZERO, 0))[0] + sum((closed[k] for k in kids), ZERO)
        submitters[pid] = (1 if own is not None else 0) + sum(submitters[k] for k in kids)
        count[pid] = 1 + sum(count[k] for k in kids)
    top = dict(zip(FIGURES, effective[position_id], strict=True))
    return ForecastSummary(
        closed=money(closed[position_id]),
        commit=money(top["commit"]),
        best_case=money(top["best_case"]),
        pipeline=money(top["pipeline"]),
        quota=quotas[position_id].amount if position_id in quotas else None,
        submitters=submitters[position_id],
        members=count[position_id],
    )


@dataclass
class ForecastView:
    period: Period
    node: ForecastNode
    viewer: Position | None
    held: list[Position]
    prefill: Prefill | None  # for the user's own position, when the node is theirs
    may_submit: bool
    snapshots: list[ForecastSnapshot]
    path: list[Position]  # from the viewer's position down to the node's manager


def forecast_view(*, user: Any, period: Period, position: Position | None = None) -> ForecastView:
    """The forecast page: ``position``'s roll-up (default: the user's most senior position) as
    the user sees it, each report's line with the adjustments the user and those below them
    made, the user's own submission form (prefilled) when the position is theirs, and the
    weekly snapshots of the position's roll-up. ``PlanningNotFound`` outside the user's view.
    """
    held = held_positions(user=user)
    if position is None:
        if held and not (rules.sees_whole_org(user) and not _leads_anyone(held[0])):
            position = held[0]
        elif rules.sees_whole_org(user):
            position = _org_top()  # RevOps, a bare superuser: the top of the organisation
        if position is None:
            raise PlanningNotFound(None)
    if not planning_positions(user=user).filter(pk=position.pk).exists():
        raise PlanningNotFound(position.pk)
    held_ids = {p.pk for p in held}
    if position.pk in held_ids:
        viewer: Position | None = position
    else:
        viewer = rules.nearest_held_ancestor(user, position)
    scope_ids = subtree_ids([position.pk])
    closure_of = {position.pk} | ({viewer.pk} if viewer else set())
    data = forecast_data(user=user, period=period, scope_ids=scope_ids, closure_of=closure_of)
    if viewer is not None and viewer.pk != position.pk:
        # Adjustments on the node's subtree made between the viewer and the node count too.
        between = set(data.graph.below.get(viewer.pk, {}))
        extra = ForecastAdjustment.objects.filter(
            period_kind=period.kind,
            period_start=period.start,
            position_id__in=sorted(scope_ids),
            owner_position_id__in=sorted(between - scope_ids),
        ).select_related("adjusted_by", "owner_position__holder")
        data.adjustments.extend(extra)
    adjustable = set(
        rules.adjustable_positions(user)
        .filter(id__in=sorted(scope_ids))
        .values_list("id", flat=True)
    )
    node = rollup_from(
        data, root=position.pk, viewer=viewer.pk if viewer else None, adjustable=adjustable
    )
    mine = position.pk in held_ids
    path: list[Position] = []
    if viewer is not None and viewer.pk != position.pk:
        chain = Position.objects.filter(
            id__in=PositionClosure.objects.filter(descendant=position, depth__gte=1).values(
                "ancestor_id"
            )
        ).filter(id__in=PositionClosure.objects.filter(ancestor=viewer).values("descendant_id"))
        depth = data.graph.below.get(viewer.pk, {})
        path = sorted(chain.select_related("holder"), key=lambda p: depth.get(p.pk, 99))
    return ForecastView(
        period=period,
        node=node,
        viewer=viewer,
        held=held,
        prefill=forecast_prefill(position=position, period=period) if mine else None,
        may_submit=mine,
        snapshots=list(
            ForecastSnapshot.objects.filter(
                owner_position=position, period_kind=period.kind, period_start=period.start
            ).order_by("week_start")
        ),
        path=path,
    )


def forecast_rollup(*, user: Any, period: Period, position: Position | None = None) -> ForecastNode:
    """The roll-up of ``position`` (default: the user's most senior one) as ``user`` sees it."""
    return forecast_view(user=user, period=period, position=position).node


def submissions_list(
    *, user: Any, filters: Mapping[str, Any] | None = None
) -> QuerySet[ForecastSubmission]:
    """Submissions ``user`` sees (of positions whose deals they see), by ``position``, ``period``."""
    filters = filters or {}
    qs = ForecastSubmission.objects.visible_to(user).select_related(
        "owner_position__holder", "submitted_by"
    )
    if (pid := filters.get("position")) not in (None, ""):
        qs = qs.filter(owner_position_id=pid)
    if key := filters.get("period"):
        period = _parse(key)
        qs = qs.filter(period_kind=period.kind, period_start=period.start) if period else qs.none()
    return qs


def submission_get(*, user: Any, pk: Any) -> ForecastSubmission:
    return submissions_list(user=user).get(pk=pk)


def adjustments_list(
    *, user: Any, filters: Mapping[str, Any] | None = None
) -> QuerySet[ForecastAdjustment]:
    """Adjustments ``user`` sees: those made from their positions or below, never those made
    above them (nor shared through a team: an adjustment is a manager's judgement, kept from the
    people it is about), by ``position`` (the adjusted one) and ``period``."""
    filters = filters or {}
    qs = ForecastAdjustment.objects.filter(
        owner_position_id__in=hierarchy_positions(user=user)
    ).select_related("position__holder", "owner_position__holder", "adjusted_by")
    if (pid := filters.get("position")) not in (None, ""):
        qs = qs.filter(position_id=pid)
    if key := filters.get("period"):
        period = _parse(key)
        qs = qs.filter(period_kind=period.kind, period_start=period.start) if period else qs.none()
    return qs


def adjustment_get(*, user: Any, pk: Any) -> ForecastAdjustment:
    """One adjustment ``user`` sees (``adjustments_list``: never one made above them);
    ``ForecastAdjustment.DoesNotExist`` (404) otherwise."""
    return adjustments_list(user=user).get(pk=pk)


def snapshots_list(
    *, user: Any, filters: Mapping[str, Any] | None = None
) -> QuerySet[ForecastSnapshot]:
    """Weekly snapshots ``user`` sees (of positions whose deals they see)."""
    filters = filters or {}
    qs = ForecastSnapshot.objects.visible_to(user).select_related("owner_position__holder")
    if (pid := filters.get("position")) not in (None, ""):
        qs = qs.filter(owner_position_id=pid)
    if key := filters.get("period"):
        period = _parse(key)
        qs = qs.filter(period_kind=period.kind, period_start=period.start) if period else qs.none()
    return qs


# --- periods with data -------------------------------------------------------------------------


def periods_in_use(*, user: Any, kind: str = "quarter", limit: int = 12) -> list[str]:
    """The keys of the most recent periods of ``kind`` holding quotas, targets, budgets or
    submissions ``user`` sees, newest first (the period picker offers them)."""
    keys: set[tuple[dt.date, str]] = set()
    for qs in (
        Quota.objects.visible_to(user),
        ForecastSubmission.objects.visible_to(user),
        targets_list(user=user),
        Budget.objects.filter(pk__in=budgets_list(user=user).values("pk")),
    ):
        keys |= set(
            qs.filter(period_kind=kind)
            .order_by()
            .values_list("period_start", "period_key")
            .distinct()[:200]
        )
    return [k for _, k in sorted(keys, reverse=True)[:limit]]
