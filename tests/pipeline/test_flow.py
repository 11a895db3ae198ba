"""The whole lead-to-renewal flow through the services, as the roles would run it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from revline.crm import services as crm
from revline.crm.choices import LeadStatus
from revline.crm.models import Activity, Lead
from revline.pipeline import services as pipeline
from revline.pipeline.choices import OpportunityStatus, QuoteStatus
from revline.pipeline.models import Opportunity, PriceBook, PriceBookEntry, Product

pytestmark = pytest.mark.django_db


def test_prospect_to_renewal(sales_org):
    bdr, sdr, ae, manager = (sales_org[k] for k in ("bdr", "sdr", "ae1", "m1"))
    product = Product.objects.create(
        name="Revline Cloud", list_price=Decimal("1000"), is_subscription=True, term_months=12
    )
    book = PriceBook.objects.create(name="Standard", is_default=True)
    PriceBookEntry.objects.create(price_book=book, product=product, unit_price=Decimal("1000"))

    # BDR builds a list and adds a prospect, then passes it to the SDR.
    plist = crm.prospect_list_create(by=bdr.holder, name="Logistics, Q1")
    lead = crm.prospect_add(
        prospect_list=plist, by=bdr.holder, first_name="Ada", last_name="Ray", company="Freightly"
    )
    assert lead.generated_by == bdr
    crm.lead_assign(lead=lead, to_position=sdr, by=bdr.holder)

    # SDR contacts, qualifies and hands it to the AE.
    crm.activity_log(by=sdr.holder, kind="call", subject="Intro call", lead=lead)
    crm.lead_qualify(lead=lead, by=sdr.holder, need="Route planning", budget=Decimal("9000"))
    result = crm.lead_convert(lead=lead, by=sdr.holder, ae_position=ae)
    opp = result.opportunity
    assert Opportunity.objects.visible_to(ae.holder).filter(pk=opp.pk).exists()
    assert not Opportunity.objects.visible_to(sdr.holder).filter(pk=opp.pk).exists()
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.generated_by, lead.qualified_by, lead.received_by) == (bdr, sdr, ae)
    assert lead.status == LeadStatus.CONVERTED

    # AE runs discovery and a demo, records an objection.
    stages = {s.name: s for s in opp.pipeline.stages.all()}
    crm.activity_log(by=ae.holder, kind="discovery_call", subject="Discovery", opportunity=opp)
    pipeline.opportunity_move_stage(opportunity=opp, stage=stages["Discovery"], by=ae.holder)
    crm.activity_log(by=ae.holder, kind="demo", subject="Demo", opportunity=opp)
    pipeline.opportunity_move_stage(opportunity=opp, stage=stages["Demo"], by=ae.holder)
    pipeline.objection_record(
        opportunity=opp, by=ae.holder, category="price", text="Over budget", response="Discount"
    )
    pipeline.opportunity_update(
        opportunity=opp, by=ae.holder, product=product, close_date=dt.date(2027, 2, 1)
    )
    pipeline.opportunity_move_stage(opportunity=opp, stage=stages["Proposal"], by=ae.holder)

    # A quote at 15% needs the manager; it cannot be sent before.
    quote = pipeline.quote_create(
        opportunity=opp,
        by=ae.holder,
        lines=[{"product": product, "quantity": 10}],
        discount_percent=15,
    )
    assert quote.total == Decimal("8500.00")
    quote = pipeline.quote_submit(quote=quote, by=ae.holder)
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    with pytest.raises(ValidationError):
        pipeline.quote_send(quote=quote, by=ae.holder)
    (approval,) = quote.approvals.all()
    assert approval.approver_position == manager
    with pytest.raises(PermissionDenied):
        pipeline.approval_decide(approval=approval, by=ae.holder, approve=True)
    pipeline.approval_decide(approval=approval, by=manager.holder, approve=True, comment="OK")
    quote = pipeline.quote_send(quote=quote, by=ae.holder)
    assert quote.status == QuoteStatus.SENT

    # Negotiation needs the quote; then the deal is won and the renewal appears.
    pipeline.opportunity_update(opportunity=opp, by=ae.holder, amount=quote.total)
    pipeline.opportunity_move_stage(opportunity=opp, stage=stages["Negotiation"], by=ae.holder)
    pipeline.opportunity_close(opportunity=opp, won=True, by=ae.holder)
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.WON
    (renewal,) = opp.renewals.all()
    assert renewal.owner_position == ae and renewal.amount == Decimal("8500.00")
    history = list(opp.stage_changes.order_by("id").values_list("to_stage__name", flat=True))
    assert history == ["Prospecting", "Discovery", "Demo", "Proposal", "Negotiation", "Closed won"]
    assert Activity.objects.filter(opportunity=opp).count() == 2
    assert Opportunity.objects.visible_to(manager.holder).filter(pk=renewal.pk).exists()
