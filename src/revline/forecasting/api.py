"""``/api/v1/forecasting/...``: the predicted range of a period and the backtest.

- ``GET /forecasting/predicted?period=2017-Q3&position=ID&limit=100``: the latest stored run
  of the period, scoped to the deals the caller sees (and to ``position``'s subtree): expected
  bookings, P10/P50/P90, the parts they are made of, a roll-up per direct report of
  ``position``, and the deals with the largest expected bookings. ``status`` is ``none`` when
  the period has no run yet, ``failed`` (with ``message``) when the last one could not train.
  An unknown or invisible position answers 404; a bad period 422.
- ``POST /forecasting/runs`` ``{"period": "2017-Q3", "as_of": "2017-07-01"}``: queue a refresh
  (202). ``GET /forecasting/runs``: the stored runs.
- ``GET /forecasting/backtest``: the latest backtest table; ``POST /forecasting/backtest``
  queues a new one (202).
Runs and the backtest are organisation-wide figures: the caller must see every revenue record
(CRO, CSO, CEO, RevOps, superuser), else 403.

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations.)
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import Field

from revline.api.schemas import with_errors
from revline.forecasting import selectors, services
from revline.forecasting.selectors import ITEM_LIMIT, MAX_ITEM_LIMIT
from revline.planning.calendar import Period, fiscal_rule

router = Router(tags=["forecasting"])


# --- schemas -------------------------------------------------------------------------------------


class PositionRef(Schema):
    id: int
    title: str
    holder: str | None = None


class DealOut(Schema):
    opportunity_id: int
    name: str
    owner_position_id: int
    owner: str
    stage: str
    won: bool = Field(..., description="Already won in the period (probability 1).")
    amount: float
    probability: float = Field(..., description="Of being won by the period's end, 0-1.")
    expected: float = Field(..., description="amount x probability.")
    stage_probability: float = Field(..., description="The stage's default probability, 0-1.")


class RollupOut(Schema):
    position: PositionRef
    expected: float
    p10: float
    p50: float
    p90: float
    won_to_date: float
    open_expected: float
    new_deals: float
    deals: int


class ModelOut(Schema):
    method: str
    trained_through: dt.datetime | None
    examples: int
    positives: int
    snapshots: int


class PredictedOut(Schema):
    period: str
    period_label: str
    start: dt.date
    end: dt.date
    status: str = Field(..., description="none (no run yet), done or failed.")
    message: str = ""
    run_id: int | None = None
    as_of: dt.datetime | None = None
    created_at: dt.datetime | None = None
    position: PositionRef | None = None
    expected: float | None = Field(None, description="won_to_date + open_expected + new_deals.")
    p10: float | None = None
    p50: float | None = None
    p90: float | None = None
    won_to_date: float | None = None
    open_expected: float | None = Field(
        None, description="sum(probability x amount) of open deals."
    )
    new_deals: float | None = Field(None, description="Expected from deals not open at as_of.")
    stage_weighted: float | None = Field(None, description="The stage-probability baseline.")
    open_deals: int = 0
    won_deals: int = 0
    model: ModelOut | None = None
    children: list[RollupOut] = []
    items: list[DealOut] = []


class RunIn(Schema):
    period: str | None = Field(None, description="Default: the current fiscal quarter.")
    as_of: dt.datetime | dt.date | None = Field(
        None, description="Default: now, or the period's start when the period is over."
    )


class QueuedOut(Schema):
    status: str
    task_id: str | None = Field(
        None, description="The background job's id (queued once the request's changes commit)."
    )
    period: str | None = None


class RunOut(Schema):
    id: int
    period: str
    start: dt.date
    end: dt.date
    as_of: dt.datetime
    status: str
    message: str
    expected: float
    p10: float
    p50: float
    p90: float
    won_to_date: float
    open_deals: int
    created_at: dt.datetime
    seconds: float


class ScoreOut(Schema):
    view: str
    method: str
    label: str
    mape: float | None = Field(None, description="Mean of |forecast - actual| / actual.")
    bias: float | None = Field(None, description="Mean of (forecast - actual) / actual.")
    coverage: float | None = Field(None, description="Share of actuals inside P10-P90.")
    n: int


class PointOut(Schema):
    cutoff: dt.date
    view: str
    period: str
    start: dt.date
    end: dt.date
    actual: float
    forecasts: dict[str, float]


class BacktestOut(Schema):
    status: str
    message: str = ""
    run_id: int | None = None
    created_at: dt.datetime | None = None
    methods: dict[str, str] = {}
    scores: list[ScoreOut] = []
    points: list[PointOut] = []


# --- helpers -------------------------------------------------------------------------------------


def _period(key: str | None) -> Period:
    if not key:
        return selectors.current_period()
    try:
        return fiscal_rule().parse(key)
    except ValueError as exc:
        raise ValidationError({"period": str(exc)}) from None


def _position_ref(position: Any) -> dict[str, Any]:
    holder = position.holder.get_full_name() if position.holder_id else None
    return {"id": position.pk, "title": position.title, "holder": holder}


def _range(r: Any) -> dict[str, float]:
    return {"expected": r.expected, "p10": r.p10, "p50": r.p50, "p90": r.p90}


def _require_everything(request: HttpRequest) -> None:
    if not selectors.sees_everything(user=request.auth):
        raise PermissionDenied("Only those who see every deal run organisation-wide forecasts.")


# --- predicted -----------------------------------------------------------------------------------


@router.get("/predicted", response=with_errors({200: PredictedOut}, 404))
def predicted(
    request: HttpRequest,
    period: str | None = None,
    position: int | None = None,
    limit: int = ITEM_LIMIT,
):
    """The predicted range of ``period`` for the caller's scope (see the module docstring)."""
    the_period = _period(period)
    scope = selectors.scope_position(user=request.auth, pk=position) if position else None
    if not 0 <= limit <= MAX_ITEM_LIMIT:
        raise ValidationError({"limit": f"Give 0 to {MAX_ITEM_LIMIT}."})
    result = selectors.predicted(user=request.auth, period=the_period, position=scope, limit=limit)
    run = result.run
    out: dict[str, Any] = {
        "period": the_period.key,
        "period_label": the_period.label,
        "start": the_period.start,
        "end": the_period.end,
        "status": result.status,
        "position": _position_ref(scope) if scope else None,
    }
    if run is None:
        out["message"] = "No forecast of this period yet."
        return out
    out.update(run_id=run.pk, as_of=run.as_of, created_at=run.created_at, message=run.message)
    if result.range is None:
        return out
    out.update(
        _range(result.range),
        won_to_date=result.won_to_date,
        open_expected=result.open_expected,
        new_deals=result.new_deals,
        stage_weighted=result.stage_weighted,
        open_deals=result.open_deals,
        won_deals=result.won_deals,
        model={
            "method": run.method,
            "trained_through": run.trained_through,
            "examples": run.examples,
            "positives": run.positives,
            "snapshots": run.snapshots,
        },
        children=[
            {
                "position": _position_ref(c.position),
                **_range(c.range),
                "won_to_date": c.won_to_date,
                "open_expected": c.open_expected,
                "new_deals": c.new_deals,
                "deals": c.deals,
            }
            for c in result.children
        ],
        items=[{**item.__dict__, "expected": item.expected} for item in result.items],
    )
    return out


# --- runs ----------------------------------------------------------------------------------------


@router.get("/runs", response=with_errors({200: list[RunOut]}, 403))
def runs_list(request: HttpRequest, period: str | None = None, limit: int = 20):
    """The stored runs, newest first (organisation-wide viewers)."""
    runs = selectors.runs_list(user=request.auth, period=_period(period) if period else None)
    return [
        {
            "id": r.pk,
            "period": r.period_key,
            "start": r.period_start,
            "end": r.period_end,
            "as_of": r.as_of,
            "status": r.status,
            "message": r.message,
            "expected": r.expected,
            "p10": r.p10,
            "p50": r.p50,
            "p90": r.p90,
            "won_to_date": r.won_to_date,
            "open_deals": r.open_deals,
            "created_at": r.created_at,
            "seconds": r.seconds,
        }
        for r in runs[: max(1, min(limit, 100))]
    ]


@router.post("/runs", response=with_errors({202: QueuedOut}, 403))
def runs_create(request: HttpRequest, payload: RunIn):
    """Queue a retrain and a new run of ``period``."""
    _require_everything(request)
    the_period = _period(payload.period)
    as_of = payload.as_of
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        as_of = dt.datetime.combine(as_of, dt.time.min)
    if as_of is not None and timezone.is_naive(as_of):
        as_of = timezone.make_aware(as_of)
    queued = services.forecast_refresh_queue(period=the_period, as_of=as_of, by=request.auth)
    return Status(202, {"status": "queued", "task_id": queued.task_id, "period": the_period.key})


# --- backtest ------------------------------------------------------------------------------------


@router.get("/backtest", response=with_errors({200: BacktestOut}, 403))
def backtest(request: HttpRequest):
    """The latest backtest: each method's MAPE and bias by view, and every cut-off."""
    table = selectors.backtest_latest(user=request.auth)
    if table.run is None:
        return {"status": "none", "message": "No backtest has been run yet."}
    return {
        "status": table.status,
        "message": table.run.message,
        "run_id": table.run.pk,
        "created_at": table.run.created_at,
        "methods": dict(table.methods),
        "scores": [
            {**score, "label": label}
            for key, label in table.methods
            for view in ("month", "quarter")
            if (score := table.scores[view].get(key)) is not None
        ],
        "points": table.points,
    }


@router.post("/backtest", response=with_errors({202: QueuedOut}, 403))
def backtest_create(request: HttpRequest):
    """Queue a new replay of the history."""
    _require_everything(request)
    queued = services.backtest_queue(by=request.auth)
    return Status(202, {"status": "queued", "task_id": queued.task_id})
