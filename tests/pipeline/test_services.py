"""Opportunities: stage requirements, history, closing, renewals, objections, competitors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from revline.core.models import AuditEvent
from revline.crm.models import Account
from revline.pipeline import services
from revline.pipeline.choices import OpportunityStatus, OpportunityType
from revline.pipeline.models import Pipeline, Product, Stage, StageChange
from tests.crm.factories import make_account, make_opportunity

pytestmark = pytest.mark.django_db


def stage(pipeline, name):
    return pipeline.stages.get(name=name)


def test_default_pipeline_is_idempotent(sales_org):
    first = services.pipeline_ensure_default()
    assert first == sales_org["pipeline"]
    services.pipeline_ensure_default()
    assert Pipeline.objects.count() == 1
    names = list(first.stages.values_list("name", flat=True))
    assert names == [
        "Prospecting",
        "Discovery",
        "Demo",
        "Proposal",
        "Negotiation",
        "Closed won",
        "Closed lost",
    ]
    assert stage(first, "Closed lost").required_fields == ["loss_reason"]


def test_create_starts_history(sales_org):
    opp = make_opportunity(sales_org["ae1"])
    assert opp.stage.name == "Prospecting" and opp.probability == 10
    (change,) = StageChange.objects.filter(opportunity=opp)
    assert change.from_stage is None and change.to_stage == opp.stage
    assert change.amount == Decimal("1000")


def test_create_refuses_closed_stage_and_foreign_stage(sales_org):
    pipeline = sales_org["pipeline"]
    with pytest.raises(ValidationError):
        make_opportunity(sales_org["ae1"], stage=stage(pipeline, "Closed won"))
    other = Pipeline.objects.create(name="Partners")
    foreign = Stage.objects.create(pipeline=other, name="Intro")
    with pytest.raises(ValidationError):
        make_opportunity(sales_org["ae1"], pipeline=pipeline, stage=foreign)


def test_move_keeps_history_with_amount_and_actor(sales_org):
    pipeline = sales_org["pipeline"]
    ae = sales_org["ae1"]
    opp = make_opportunity(ae, close_date=dt.date(2027, 1, 31))
    t1 = timezone.now() - dt.timedelta(days=3)
    services.opportunity_move_stage(
        opportunity=opp, stage=stage(pipeline, "Discovery"), by=ae.holder, at=t1
    )
    services.opportunity_update(opportunity=opp, by=ae.holder, amount=Decimal("2500"))
    services.opportunity_move_stage(
        opportunity=opp, stage=stage(pipeline, "Proposal"), by=ae.holder
    )
    history = list(StageChange.objects.filter(opportunity=opp).order_by("id"))
    assert [h.to_stage.name for h in history] == ["Prospecting", "Discovery", "Proposal"]
    assert history[1].changed_at == t1 and history[1].changed_by == ae.holder
    assert history[2].amount == Decimal("2500") and history[2].probability == 60
    opp.refresh_from_db()
    assert opp.forecast_category == "best_case"
    assert AuditEvent.objects.filter(action="opportunity.move_stage", object_id=opp.pk).count() == 2


def test_requirements_block_the_move(sales_org):
    pipeline = sales_org["pipeline"]
    opp = make_opportunity(sales_org["ae1"], amount=None)
    with pytest.raises(services.StageRequirementsMissing) as err:
        services.opportunity_move_stage(opportunity=opp, stage=stage(pipeline, "Proposal"), by=None)
    assert err.value.missing == ["amount", "close_date"]
    assert "an amount" in err.value.messages[0]
    opp.refresh_from_db()
    assert opp.stage.name == "Prospecting"
    services.opportunity_update(opportunity=opp, by=None, amount=5, close_date=dt.date(2027, 1, 1))
    with pytest.raises(services.StageRequirementsMissing) as err:
        services.opportunity_move_stage(
            opportunity=opp, stage=stage(pipeline, "Negotiation"), by=None
        )
    assert err.value.missing == ["quote"]


def test_close_lost_needs_a_reason(sales_org):
    opp = make_opportunity(sales_org["ae1"])
    with pytest.raises(ValidationError, match="loss reason"):
        services.opportunity_close(opportunity=opp, won=False, by=None)
    with pytest.raises(ValidationError):
        services.opportunity_close(opportunity=opp, won=False, by=None, loss_reason="made-up")
    services.opportunity_close(
        opportunity=opp, won=False, by=None, loss_reason="price", loss_note="too dear"
    )
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.LOST and opp.loss_reason == "price"
    assert opp.closed_on == timezone.localdate() and opp.probability == 0


def test_reopen_clears_close(sales_org):
    opp = make_opportunity(sales_org["ae1"])
    services.opportunity_close(opportunity=opp, won=False, by=None, loss_reason="timing")
    services.opportunity_move_stage(
        opportunity=opp, stage=stage(sales_org["pipeline"], "Discovery"), by=None
    )
    opp.refresh_from_db()
    assert opp.status == "open" and opp.closed_on is None and opp.loss_reason == ""


def test_won_subscription_opens_its_renewal_once(sales_org):
    product = Product.objects.create(
        name="Platform", list_price=100, is_subscription=True, term_months=12
    )
    account = make_account(sales_org["ae1"], name="Subscriber")
    opp = make_opportunity(
        sales_org["ae1"], account=account, product=product, amount=Decimal("1200")
    )
    closed = timezone.make_aware(dt.datetime(2026, 3, 31, 12))
    services.opportunity_close(opportunity=opp, won=True, by=None, at=closed)
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.WON and opp.closed_on == dt.date(2026, 3, 31)
    (renewal,) = opp.renewals.all()
    assert renewal.type == OpportunityType.RENEWAL
    assert renewal.close_date == dt.date(2027, 3, 31)
    assert renewal.owner_position == opp.owner_position and renewal.amount == Decimal("1200")
    assert services.renewal_create(opportunity=opp, by=None) == renewal
    account.refresh_from_db()
    assert account.customer_status == "customer" and account.customer_since == dt.date(2026, 3, 31)


def test_won_one_off_deal_has_no_renewal(sales_org):
    opp = make_opportunity(sales_org["ae1"])
    services.opportunity_close(opportunity=opp, won=True, by=None)
    assert not opp.renewals.exists()
    with pytest.raises(ValidationError):
        services.renewal_create(opportunity=opp, by=None)


def test_renewal_month_end(sales_org):
    assert services._add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert services._add_months(dt.date(2026, 11, 15), 14) == dt.date(2028, 1, 15)


def test_objections_and_competitors(sales_org):
    opp = make_opportunity(sales_org["ae1"])
    with pytest.raises(ValidationError):
        services.objection_record(opportunity=opp, by=None, category="price", text=" ")
    objection = services.objection_record(
        opportunity=opp, by=None, category="price", text="Too expensive", response="ROI case"
    )
    services.objection_update(objection=objection, by=None, resolved=True)
    objection.refresh_from_db()
    assert objection.resolved
    services.competitor_set(opportunity=opp, names=["Rivalsoft", "rivalsoft", " Other "], by=None)
    assert sorted(opp.competitors.values_list("name", flat=True)) == ["Other", "Rivalsoft"]
    services.competitor_set(opportunity=opp, names=["Other"], by=None)
    assert list(opp.competitors.values_list("name", flat=True)) == ["Other"]


def test_update_refuses_stage_and_unknown_fields(sales_org):
    opp = make_opportunity(sales_org["ae1"])
    with pytest.raises(ValidationError):
        services.opportunity_update(opportunity=opp, by=None, stage=opp.stage)
    with pytest.raises(ValidationError):
        services.opportunity_update(opportunity=opp, by=None, amount=Decimal("-1"))


def test_reassigning_owner_moves_quotes_visibility(sales_org):
    opp = make_opportunity(sales_org["ae1"])
    services.opportunity_update(opportunity=opp, by=None, owner_position=sales_org["ae2"])
    opp.refresh_from_db()
    assert opp.owner_position == sales_org["ae2"]
    assert not Account.objects.exists()


def test_stage_save_validates(sales_org):
    pipeline = sales_org["pipeline"]
    with pytest.raises(ValidationError):
        services.stage_save(pipeline=pipeline, by=None, name="Demo")
    with pytest.raises(ValidationError):
        services.stage_save(pipeline=pipeline, by=None, name="Legal", required_fields=["nope"])
    legal = services.stage_save(
        pipeline=pipeline, by=None, name="Legal", probability=85, max_days=10
    )
    assert legal.order > stage(pipeline, "Closed lost").order
