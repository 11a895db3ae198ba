"""Reads of the forecasting app, always for an acting user.

``predicted`` scopes the latest run of a period to what the user may see: the deals of the run
pass through the visibility predicate (``record_visibility_q``), so a rep's range is built from
their own deals only and a manager's from their team's; ``position`` narrows it to one
position's subtree (solid and dotted lines), and the position's direct reports each get their
own range (the roll-up). Ranges are simulated from the per-deal probabilities of the deals in
scope (``simulation.bookings_range``), so a manager's P10 is not the sum of their reps' P10s.

The backtest and the run history are organisation-wide figures: only users who see every
revenue record (CRO, CSO, CEO, RevOps, superusers) read them (``sees_everything``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from revline.forecasting.backtest import METHODS, VIEWS
from revline.forecasting.models import (
    BacktestRun,
    DealPrediction,
    ForecastRun,
    NewDealExpectation,
    RunStatus,
)
from revline.forecasting.simulation import Range, bookings_range
from revline.org.choices import Domain, RoleType
from revline.org.models import DottedLine, Position, PositionClosure
from revline.org.visibility import (
    EVERYTHING,
    NOTHING,
    VIEW,
    position_visibility_q,
    record_owner_positions,
    record_visibility_q,
)
from revline.pipeline.models import Opportunity, Stage
from revline.planning.calendar import Period, fiscal_rule

ITEM_LIMIT = 100
MAX_ITEM_LIMIT = 1000


def sees_everything(*, user: Any) -> bool:
    """Whether ``user`` sees every revenue record (and so the organisation-wide figures)."""
    return record_visibility_q(user, VIEW, Opportunity) == EVERYTHING


def current_period(kind: str = "quarter", today: dt.date | None = None) -> Period:
    return fiscal_rule().period_of(today or timezone.localdate(), kind)  # type: ignore[arg-type]


def latest_run(*, period: Period) -> ForecastRun | None:
    """The newest run of ``period`` (done or failed)."""
    return ForecastRun.objects.filter(period_key=period.key).order_by("-created_at", "-id").first()


def runs_list(*, user: Any, period: Period | None = None) -> QuerySet[ForecastRun]:
    """Every stored run (newest first), for organisation-wide viewers."""
    if not sees_everything(user=user):
        raise PermissionDenied("Forecast runs are organisation-wide figures.")
    qs = ForecastRun.objects.order_by("-created_at", "-id")
    return qs.filter(period_key=period.key) if period is not None else qs


def scope_position(*, user: Any, pk: Any) -> Position:
    """A position the user sees in the org chart; ``Position.DoesNotExist`` (404) otherwise."""
    return Position.objects.filter(position_visibility_q(user, VIEW)).get(pk=int(pk))


SCOPE_CHOICES = 300


def scope_choices(*, user: Any) -> list[Position]:
    """The positions a user may scope the page to: those they hold and, among the positions
    they see in the org chart, every one with reports (a manager's team, a VP's region...);
    most senior first, at most ``SCOPE_CHOICES``."""
    has_reports = Exists(Position.objects.filter(reports_to=OuterRef("pk")))
    found = list(
        Position.objects.filter(position_visibility_q(user, VIEW))
        .filter(Q(holder_id=user.pk) | Q(has_reports))
        .select_related("holder")
        .order_by("title", "id")[:SCOPE_CHOICES]
    )
    return sorted(found, key=_seniority)


def _seniority(position: Position) -> tuple[int, str, int]:
    order = RoleType.values.index(position.role) if position.role in RoleType.values else 99
    return (order, position.title, position.pk)


def default_scope(*, user: Any) -> Position | None:
    """The page's default scope: everything for those who see every deal, else the user's most
    senior position (so a manager sees their reps' roll-up at once)."""
    if sees_everything(user=user) or not getattr(user, "is_authenticated", False):
        return None
    held = sorted(Position.objects.filter(holder_id=user.pk), key=_seniority)
    return held[0] if held else None


def periods_with_runs() -> list[str]:
    """The keys of the periods that have a stored run, newest run first."""
    keys: list[str] = []
    for key in ForecastRun.objects.order_by("-created_at").values_list("period_key", flat=True)[
        :200
    ]:
        if key not in keys:
            keys.append(key)
    return keys


@dataclass
class DealItem:
    opportunity_id: int
    name: str
    owner_position_id: int
    owner: str
    stage: str
    won: bool
    amount: float
    probability: float
    stage_probability: float

    @property
    def expected(self) -> float:
        return self.amount * self.probability


@dataclass
class Rollup:
    position: Position
    range: Range
    won_to_date: float
    open_expected: float
    new_deals: float
    deals: int


@dataclass
class Predicted:
    period: Period
    run: ForecastRun | None
    position: Position | None
    range: Range | None = None
    won_to_date: float = 0.0
    open_expected: float = 0.0
    new_deals: float = 0.0
    stage_weighted: float = 0.0
    open_deals: int = 0
    won_deals: int = 0
    items: list[DealItem] = field(default_factory=list)
    children: list[Rollup] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.run.status if self.run is not None else "none"

    @property
    def deal_count(self) -> int:
        return self.open_deals + self.won_deals


@dataclass
class _Rows:
    """The run's deals in scope as arrays."""

    opportunity: np.ndarray
    owner: np.ndarray
    stage: np.ndarray
    won: np.ndarray
    amount: np.ndarray
    probability: np.ndarray
    stage_probability: np.ndarray

    def summary(
        self, new: dict[int, list[float]], shocks: list[float], owners: set[int] | None = None
    ):
        """Totals and range of the deals (of ``owners``, default all); ``new`` maps an owner
        to their "not open yet" windows."""
        mask = (
            np.ones(self.owner.size, dtype=bool)
            if owners is None
            else np.isin(self.owner, list(owners))
        )
        won = mask & self.won
        open_ = mask & ~self.won
        won_sum = float(self.amount[won].sum())
        windows = [v for k, v in new.items() if (owners is None or k in owners) and v]
        extra = np.sum(np.array(windows, dtype=np.float64), axis=0) if windows else None
        new_sum = float(extra.mean()) if extra is not None else 0.0
        span = bookings_range(
            self.probability[open_],
            self.amount[open_],
            certain=won_sum,
            shocks=np.array(shocks, dtype=np.float64) if shocks else None,
            extra=extra,
        )
        open_expected = float((self.probability[open_] * self.amount[open_]).sum())
        stage_weighted = won_sum + float((self.stage_probability[open_] * self.amount[open_]).sum())
        return (
            span,
            won_sum,
            open_expected,
            new_sum,
            stage_weighted,
            int(open_.sum()),
            int(won.sum()),
        )


def _visible_deal_q(user: Any) -> Q:
    q = record_visibility_q(user, VIEW, Opportunity)
    if q in (EVERYTHING, NOTHING):
        return q
    return Q(opportunity_id__in=Opportunity.objects.filter(q).order_by().values("pk"))


def _subtree(position: Position):
    return PositionClosure.objects.filter(ancestor=position).values("descendant_id")


def predicted(
    *,
    user: Any,
    period: Period,
    position: Position | None = None,
    limit: int = ITEM_LIMIT,
    run: ForecastRun | None = None,
) -> Predicted:
    """The predicted range of ``period`` as ``user`` sees it (see the module docstring):
    totals over the deals in scope, the ``limit`` deals with the largest expected bookings,
    and one roll-up per direct (solid or dotted) report of ``position``. A fixed number of
    queries whatever the number of deals."""
    run = run or latest_run(period=period)
    out = Predicted(period=period, run=run, position=position)
    if run is None or run.status != RunStatus.DONE:
        return out
    deal_q = _visible_deal_q(user)
    rows_qs = DealPrediction.objects.filter(deal_q, run=run)
    new_qs = NewDealExpectation.objects.filter(run=run)
    owner_q = record_visibility_q(user, VIEW, Opportunity)
    if owner_q == NOTHING:
        new_qs = new_qs.none()
    elif owner_q != EVERYTHING:
        new_qs = new_qs.filter(
            owner_position_id__in=record_owner_positions(user, VIEW, Domain.REVENUE)
        )
    if position is not None:
        rows_qs = rows_qs.filter(owner_position_id__in=_subtree(position))
        new_qs = new_qs.filter(owner_position_id__in=_subtree(position))
    raw = list(
        rows_qs.order_by().values_list(
            "opportunity_id",
            "owner_position_id",
            "stage_id",
            "won",
            "amount",
            "probability",
            "stage_probability",
        )
    )
    columns = list(zip(*raw, strict=True)) if raw else [()] * 7
    rows = _Rows(
        np.array(columns[0], dtype=np.int64),
        np.array(columns[1], dtype=np.int64),
        np.array(columns[2], dtype=np.int64),
        np.array(columns[3], dtype=bool),
        np.array([float(a) for a in columns[4]], dtype=np.float64),
        np.array(columns[5], dtype=np.float64),
        np.array(columns[6], dtype=np.float64),
    )
    new = {pk: list(w or []) for pk, w in new_qs.values_list("owner_position_id", "windows")}
    if deal_q == EVERYTHING and position is None:
        # The whole run: its totals and range were computed when it was made.
        out.range = Range(float(run.expected), float(run.p10), float(run.p50), float(run.p90))
        out.won_to_date, out.open_expected = float(run.won_to_date), float(run.open_expected)
        out.new_deals, out.stage_weighted = float(run.new_deals), float(run.stage_weighted)
        out.won_deals = int(rows.won.sum())
        out.open_deals = int(rows.won.size - out.won_deals)
    else:
        (
            out.range,
            out.won_to_date,
            out.open_expected,
            out.new_deals,
            out.stage_weighted,
            out.open_deals,
            out.won_deals,
        ) = rows.summary(new, run.shocks)
    if position is not None:
        out.children = _rollups(user, position, rows, new, run.shocks)
    out.items = _items(rows, max(0, min(limit, MAX_ITEM_LIMIT)))
    return out


def _rollups(
    user: Any, position: Position, rows: _Rows, new: dict[int, list[float]], shocks: list[float]
) -> list[Rollup]:
    reports = list(
        Position.objects.filter(position_visibility_q(user, VIEW))
        .filter(
            Q(reports_to=position)
            | Q(pk__in=DottedLine.objects.filter(manager=position).values("position_id"))
        )
        .select_related("holder")
        .order_by("title", "id")
    )
    if not reports:
        return []
    members: dict[int, set[int]] = {r.pk: set() for r in reports}
    for ancestor, descendant in PositionClosure.objects.filter(
        ancestor__in=[r.pk for r in reports]
    ).values_list("ancestor_id", "descendant_id"):
        members[ancestor].add(descendant)
    out = []
    for report in reports:
        span, won, open_expected, new_sum, _sw, n_open, n_won = rows.summary(
            new, shocks, members[report.pk]
        )
        out.append(Rollup(report, span, won, open_expected, new_sum, n_open + n_won))
    return out


def _items(rows: _Rows, limit: int) -> list[DealItem]:
    if limit == 0 or rows.opportunity.size == 0:
        return []
    expected = rows.amount * rows.probability
    order = np.lexsort((rows.opportunity, -expected))[:limit]
    ids = [int(rows.opportunity[i]) for i in order]
    names = dict(Opportunity.objects.filter(pk__in=ids).values_list("pk", "name"))
    owners = {
        p.pk: (p.holder.get_full_name() if p.holder is not None else f"{p.title} (vacant)")
        for p in Position.objects.filter(pk__in={int(rows.owner[i]) for i in order}).select_related(
            "holder"
        )
    }
    stages = dict(
        Stage.objects.filter(pk__in={int(rows.stage[i]) for i in order}).values_list("pk", "name")
    )
    return [
        DealItem(
            opportunity_id=int(rows.opportunity[i]),
            name=names.get(int(rows.opportunity[i]), ""),
            owner_position_id=int(rows.owner[i]),
            owner=owners.get(int(rows.owner[i]), ""),
            stage=stages.get(int(rows.stage[i]), ""),
            won=bool(rows.won[i]),
            amount=float(rows.amount[i]),
            probability=float(rows.probability[i]),
            stage_probability=float(rows.stage_probability[i]),
        )
        for i in order
    ]


# --- the backtest --------------------------------------------------------------------------------


@dataclass
class BacktestTable:
    run: BacktestRun | None
    methods: list[tuple[str, str]]  # key, label
    scores: dict[str, dict[str, dict[str, Any]]]  # view -> method -> {mape, bias, n}
    points: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return self.run.status if self.run is not None else "none"

    def rows(self) -> list[dict[str, Any]]:
        """One row per method: its label and each view's score."""
        return [
            {"key": key, "label": label, **{view: self.scores[view].get(key) for view in VIEWS}}
            for key, label in self.methods
        ]

    def series(self, view: str) -> list[dict[str, Any]]:
        return [p for p in self.points if p["view"] == view]


def backtest_latest(*, user: Any) -> BacktestTable:
    """The newest stored backtest; ``PermissionDenied`` unless the user sees every deal."""
    if not sees_everything(user=user):
        raise PermissionDenied("The backtest is an organisation-wide figure.")
    run = BacktestRun.objects.order_by("-created_at", "-id").first()
    if run is None:
        return BacktestTable(None, [], {v: {} for v in VIEWS}, [])
    scores: dict[str, dict[str, dict[str, Any]]] = {v: {} for v in VIEWS}
    for s in run.scores:
        scores.setdefault(s["view"], {})[s["method"]] = s
    methods = [(m, METHODS.get(m, m)) for m in run.methods]
    return BacktestTable(run, methods, scores, run.points)
