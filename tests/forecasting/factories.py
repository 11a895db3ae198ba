"""Stored runs and a small deal history in the database, for the forecasting tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from revline.forecasting.models import DealPrediction, ForecastRun, NewDealExpectation
from revline.pipeline import services as pipeline
from revline.pipeline.models import Stage
from revline.planning.calendar import FiscalYearRule, Period
from tests.crm.factories import make_opportunity

PERIOD = FiscalYearRule().parse("2025-Q2")


def make_run(
    deals: list[tuple[object, float]],
    *,
    period: Period = PERIOD,
    won: list[object] = (),
    new: dict[int, float] | None = None,
) -> ForecastRun:
    """A done run of ``period`` holding ``deals`` (opportunity, probability) open and ``won``
    won, and ``new`` (owner position id -> amount) expected from deals not open yet. The
    totals are those of all of them (as a run made for the whole organisation)."""
    open_expected = sum(float(o.amount) * p for o, p in deals)
    won_total = sum(float(o.amount) for o in won)
    new = new or {}
    run = ForecastRun.objects.create(
        period_key=period.key,
        period_kind=period.kind,
        period_start=period.start,
        period_end=period.end,
        as_of=timezone.make_aware(dt.datetime.combine(period.start, dt.time.min)),
        won_to_date=Decimal(str(won_total)),
        open_expected=Decimal(str(round(open_expected, 2))),
        new_deals=Decimal(str(sum(new.values()))),
        expected=Decimal(str(round(open_expected + won_total + sum(new.values()), 2))),
        p10=Decimal("1"),
        p50=Decimal("2"),
        p90=Decimal("3"),
        open_deals=len(deals),
    )
    DealPrediction.objects.bulk_create(
        [
            DealPrediction(
                run=run,
                opportunity=o,
                owner_position_id=o.owner_position_id,
                stage_id=o.stage_id,
                amount=o.amount,
                probability=p,
                stage_probability=o.stage.probability / 100,
            )
            for o, p in deals
        ]
        + [
            DealPrediction(
                run=run,
                opportunity=o,
                owner_position_id=o.owner_position_id,
                stage_id=o.stage_id,
                won=True,
                amount=o.amount,
                probability=1.0,
                stage_probability=1.0,
            )
            for o in won
        ]
    )
    NewDealExpectation.objects.bulk_create(
        NewDealExpectation(run=run, owner_position_id=pk, amount=Decimal(str(v)), windows=[v, v])
        for pk, v in new.items()
    )
    return run


def history_in_db(org, *, deals: int = 40) -> None:
    """Deals opened from January 2025 by the four AEs, two days apart: every third shown a
    demo after 5 days; the first 30 closed 10-30 days after opening (won when even, and more
    often for AE 1a), the others still open at April 1."""
    aes = [org["ae1"], org["ae2"], org["ae3"], org["ae4"]]
    demo = Stage.objects.get(pipeline=org["pipeline"], name="Demo")
    base = timezone.make_aware(dt.datetime(2025, 1, 2, 9, 0))
    for i in range(deals):
        owner = aes[i % 4]
        opened = base + dt.timedelta(days=2 * i)
        deal = make_opportunity(owner, at=opened, amount=Decimal(1000 + 100 * (i % 5)))
        if i % 3 == 0:
            deal = pipeline.opportunity_move_stage(
                opportunity=deal, stage=demo, by=None, at=opened + dt.timedelta(days=5)
            )
        if i < 30:
            won = i % 2 == 0 or owner == org["ae1"]
            pipeline.opportunity_close(
                opportunity=deal,
                won=won,
                by=None,
                at=opened + dt.timedelta(days=10 + (i * 7) % 21),
                loss_reason="" if won else "price",
            )
