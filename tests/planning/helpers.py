"""Builders for the planning tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from revline.pipeline.choices import OpportunityStatus, StageKind
from revline.pipeline.models import Opportunity, Stage
from revline.planning.calendar import FiscalYearRule, Period
from tests.crm.factories import make_opportunity

RULE = FiscalYearRule()  # January start, as the tests' calendar is left


def period(key: str) -> Period:
    return RULE.parse(key)


def won(owner, amount: Any, day: dt.date, **fields: Any) -> Opportunity:
    """A deal owned by ``owner`` won on ``day`` (closed_on) for ``amount``."""
    deal = make_opportunity(owner, amount=Decimal(str(amount)), close_date=day, **fields)
    stage = Stage.objects.filter(pipeline=deal.pipeline, kind=StageKind.WON).first()
    Opportunity.objects.filter(pk=deal.pk).update(
        status=OpportunityStatus.WON, stage=stage, closed_on=day, forecast_category="closed"
    )
    deal.refresh_from_db()
    return deal


def lost(owner, amount: Any, day: dt.date, **fields: Any) -> Opportunity:
    deal = make_opportunity(owner, amount=Decimal(str(amount)), close_date=day, **fields)
    stage = Stage.objects.filter(pipeline=deal.pipeline, kind=StageKind.LOST).first()
    Opportunity.objects.filter(pk=deal.pk).update(
        status=OpportunityStatus.LOST, stage=stage, closed_on=day, forecast_category="omitted"
    )
    return deal


def open_deal(owner, amount: Any, close: dt.date, category: str, **fields: Any) -> Opportunity:
    return make_opportunity(
        owner, amount=Decimal(str(amount)), close_date=close, forecast_category=category, **fields
    )


def D(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
