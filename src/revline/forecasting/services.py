"""Writes of the forecasting app: a predicted forecast run and a backtest run.

Each reads the whole history (``history.history_load``), trains and predicts in memory, then
writes its results in one transaction with its audit event. The training happens before the
transaction opens, so no lock is held while the model learns. Keyword-only; the task
(``revline.forecasting.tasks``) and the ``revline forecast`` command call them. The page and
the API queue that task through ``forecast_refresh_queue`` / ``backtest_queue``, which enqueue
it once the current transaction commits.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from revline.core.services import Queued, actor_or_none, audit_event_record, enqueue_on_commit
from revline.forecasting.backtest import DEFAULT_METHODS, backtest_run
from revline.forecasting.history import History, history_load
from revline.forecasting.model import NotEnoughHistory, train
from revline.forecasting.models import (
    BacktestRun,
    DealPrediction,
    ForecastRun,
    NewDealExpectation,
    RunStatus,
)
from revline.forecasting.predict import forecast
from revline.planning.calendar import Period

RUNS_KEPT = 5  # per period: older runs (and their deal rows) are deleted
BACKTESTS_KEPT = 5
CENT = Decimal("0.01")


def money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2))).quantize(CENT)


def default_as_of(period: Period, now: dt.datetime | None = None) -> dt.datetime:
    """When a forecast of ``period`` is made by default: now, unless the period is over, in
    which case its start (the forecast it would have had then, replayed from the history)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if today > period.end:
        return timezone.make_aware(dt.datetime.combine(period.start, dt.time.min))
    return now


def forecast_run_create(
    *,
    period: Period,
    by: Any,
    as_of: dt.datetime | None = None,
    method: str = "lightgbm",
    history: History | None = None,
) -> ForecastRun:
    """Train on the history known at ``as_of`` (default: ``default_as_of``), predict every
    deal open then, and store the run with its deals. Too little history gives a run with
    status ``failed`` and the reason, so the screens can say why there is no range."""
    as_of = as_of or default_as_of(period)
    started = time.process_time()
    history = history if history is not None else history_load()
    base = {
        "period_key": period.key,
        "period_kind": period.kind,
        "period_start": period.start,
        "period_end": period.end,
        "as_of": as_of,
        "method": method,
        "created_by": actor_or_none(by),
    }
    try:
        model = train(history, as_of, method=method)
    except NotEnoughHistory as exc:
        with transaction.atomic():
            run = ForecastRun.objects.create(**base, status=RunStatus.FAILED, message=str(exc))
            audit_event_record(actor=by, action="forecast.run", instance=run)
        return run
    result = forecast(history, start=period.start, end=period.end, as_of=as_of, model=model)
    span = result.range()
    deals = result.deals
    won = result.won
    current_owner = history.deals["owner_position_id"]
    with transaction.atomic():
        run = ForecastRun.objects.create(
            **base,
            status=RunStatus.DONE,
            won_to_date=money(result.won_to_date),
            open_expected=money(result.open_expected),
            new_deals=money(result.new_deals),
            expected=money(span.expected),
            p10=money(span.p10),
            p50=money(span.p50),
            p90=money(span.p90),
            stage_weighted=money(result.stage_weighted),
            open_deals=len(deals),
            trained_through=timezone.make_aware(
                model.trained_through.to_pydatetime(), timezone.get_default_timezone()
            ),
            examples=model.examples,
            positives=model.positives,
            snapshots=model.snapshots,
            shocks=[round(float(k), 4) for k in model.shocks],
        )
        rows = [
            DealPrediction(
                run=run,
                opportunity_id=int(pk),
                owner_position_id=int(current_owner.get(pk)),
                stage_id=int(row.stage_id),
                amount=money(row.amount),
                probability=float(row.probability),
                stage_probability=float(row.stage_probability),
            )
            for pk, row in zip(deals.index, deals.itertuples(index=False), strict=True)
        ]
        stages = history.stages
        rows += [
            DealPrediction(
                run=run,
                opportunity_id=int(w.opportunity_id),
                owner_position_id=int(current_owner.get(w.opportunity_id)),
                stage_id=int(w.stage_id),
                won=True,
                amount=money(w.amount),
                probability=1.0,
                stage_probability=float(stages["probability"].get(w.stage_id, 1.0)),
            )
            for w in won.itertuples(index=False)
        ]
        DealPrediction.objects.bulk_create(rows, batch_size=2000)
        windows = result.new_windows
        known = _existing_positions(windows.index)
        NewDealExpectation.objects.bulk_create(
            NewDealExpectation(
                run=run,
                owner_position_id=int(pk),
                amount=money(values.mean()),
                windows=[round(float(v), 2) for v in values],
            )
            for pk, values in windows.iterrows()
            if int(pk) in known and values.sum() > 0
        )
        run.seconds = time.process_time() - started
        run.save(update_fields=["seconds"])
        audit_event_record(actor=by, action="forecast.run", instance=run)
        _prune(ForecastRun.objects.filter(period_key=period.key), RUNS_KEPT)
    return run


def _existing_positions(ids: pd.Index) -> set[int]:
    from revline.org.models import Position

    wanted = [int(i) for i in ids if int(i) > 0]
    return set(Position.objects.filter(pk__in=wanted).values_list("pk", flat=True))


def _prune(queryset, keep: int) -> None:
    old = list(queryset.order_by("-created_at", "-id").values_list("pk", flat=True)[keep:])
    if old:
        queryset.model.objects.filter(pk__in=old).delete()


def backtest_run_create(
    *,
    by: Any,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    history: History | None = None,
    include_submitted: bool = True,
) -> BacktestRun:
    """Replay the history (``backtest.backtest_run``) and store the table."""
    from revline.forecasting.submitted import submitted_source

    started = time.process_time()
    history = history if history is not None else history_load()
    submitted = submitted_source() if include_submitted else None
    wanted = (*methods, "submitted") if submitted is not None else methods
    result = backtest_run(history, methods=wanted, submitted=submitted)
    with transaction.atomic():
        run = BacktestRun.objects.create(
            status=RunStatus.DONE if result.points else RunStatus.FAILED,
            message="" if result.points else "Not enough closed history to replay yet.",
            methods=result.methods,
            points=[
                {
                    "cutoff": p.cutoff.isoformat(),
                    "view": p.view,
                    "period": p.period,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat(),
                    "actual": round(p.actual, 2),
                    "forecasts": {k: round(v, 2) for k, v in p.forecasts.items()},
                    "ranges": {k: [round(a, 2), round(b, 2)] for k, (a, b) in p.ranges.items()},
                }
                for p in result.points
            ],
            scores=[
                {
                    "view": s.view,
                    "method": s.method,
                    "mape": s.mape,
                    "bias": s.bias,
                    "n": s.n,
                    "coverage": s.coverage,
                }
                for s in result.scores
            ],
            seconds=time.process_time() - started,
            created_by=actor_or_none(by),
        )
        audit_event_record(actor=by, action="forecast.backtest", instance=run)
        _prune(BacktestRun.objects.all(), BACKTESTS_KEPT)
    return run


# --- queueing the background jobs ----------------------------------------------------------------


def forecast_refresh_queue(
    *, period: Period, as_of: dt.date | dt.datetime | None, by: Any
) -> Queued:
    """Queue a retrain and a new predicted run of ``period`` as of ``as_of`` (a date, a
    datetime, or None for ``default_as_of``); the task writes the run."""
    from revline.forecasting.tasks import forecast_refresh

    return enqueue_on_commit(
        forecast_refresh,
        period_key=period.key,
        as_of=as_of.isoformat() if as_of is not None else None,
        user_id=getattr(actor_or_none(by), "pk", None),
    )


def backtest_queue(*, by: Any) -> Queued:
    """Queue a new replay of the history (the backtest table)."""
    from revline.forecasting.tasks import backtest_refresh

    return enqueue_on_commit(backtest_refresh, user_id=getattr(actor_or_none(by), "pk", None))
