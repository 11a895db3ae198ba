"""Quotes and discount approvals: pricing, versions, who approves, in which order, and sending."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from revline.core.models import AuditEvent
from revline.org import services as org_services
from revline.org.choices import RoleType
from revline.pipeline import quoting, services
from revline.pipeline.choices import ApprovalLevel, ApprovalStatus, QuoteStatus
from revline.pipeline.models import (
    ApprovalRequest,
    DiscountPolicy,
    Opportunity,
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
    QuoteLine,
)
from tests.crm.factories import make_opportunity
from tests.org.factories import UserFactory, make_position

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    book = PriceBook.objects.create(name="Standard", currency="EUR", is_default=True)
    suite = Product.objects.create(name="Suite", list_price=Decimal("1000"), currency="EUR")
    addon = Product.objects.create(name="Add-on", list_price=Decimal("500"), currency="EUR")
    tiny = Product.objects.create(name="Tiny", list_price=Decimal("0.05"), currency="EUR")
    offbook = Product.objects.create(name="Services", list_price=Decimal("200"), currency="EUR")
    for product, price in ((suite, "1000"), (addon, "500"), (tiny, "0.05")):
        PriceBookEntry.objects.create(price_book=book, product=product, unit_price=Decimal(price))
    return {"book": book, "suite": suite, "addon": addon, "tiny": tiny, "offbook": offbook}


@pytest.fixture
def deal(sales_org):
    return make_opportunity(sales_org["ae1"], name="Acme rollout")


def holder(org, name):
    return org[name].holder


def quote_at(deal, catalog, discount, by=None):
    """A one-line quote at ``discount`` % off the book (10 x Suite at 1,000)."""
    return services.quote_create(
        opportunity=deal,
        by=by,
        lines=[{"product": catalog["suite"], "quantity": 10, "discount_percent": discount}],
    )


def actions(quote):
    return list(
        AuditEvent.objects.filter(object_id=quote.pk, action__startswith="quote.")
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- pricing -----------------------------------------------------------------------------------


def test_services_reexport_quoting():
    assert services.quote_create is quoting.quote_create
    assert services.approval_decide is quoting.approval_decide


def test_pricing_math(sales_org, catalog, deal):
    ae = holder(sales_org, "ae1")
    quote = services.quote_create(
        opportunity=deal,
        by=ae,
        lines=[
            {"product": catalog["suite"], "quantity": 3, "discount_percent": 10},
            {"product": catalog["addon"].pk, "quantity": "2", "unit_price": "450"},
        ],
        discount_percent=5,
        terms="Net 30",
    )
    lines = list(quote.lines.all())
    assert [(line.list_price, line.unit_price, line.line_total) for line in lines] == [
        (Decimal("1000.00"), Decimal("1000.00"), Decimal("2700.00")),
        (Decimal("500.00"), Decimal("450.00"), Decimal("900.00")),
    ]
    assert quote.subtotal == Decimal("3600.00")
    assert quote.total == Decimal("3420.00")  # 3,600 less 5 %
    # 3,420 against 4,000 at list prices
    assert quote.effective_discount == Decimal("14.50")
    assert re.fullmatch(r"Q-\d{6}", quote.number) and quote.version == 1
    assert quote.status == QuoteStatus.DRAFT
    assert quote.owner_position == sales_org["ae1"]
    assert quote.currency == "EUR" and quote.price_book == catalog["book"]
    assert quote.created_by == ae and quote.terms == "Net 30"
    assert actions(quote) == ["quote.create"]


def test_numbers_are_unique(sales_org, catalog, deal):
    first = quote_at(deal, catalog, 0)
    second = quote_at(deal, catalog, 0)
    assert first.number != second.number


def test_line_totals_round_half_up(sales_org, catalog, deal):
    quote = services.quote_create(
        opportunity=deal,
        by=None,
        lines=[{"product": catalog["tiny"], "quantity": 1, "discount_percent": 50}],
    )
    assert quote.lines.get().line_total == Decimal("0.03")  # 0.025 -> 0.03


def test_off_book_product_needs_a_price(sales_org, catalog, deal):
    with pytest.raises(ValidationError) as exc:
        services.quote_create(
            opportunity=deal, by=None, lines=[{"product": catalog["offbook"], "quantity": 1}]
        )
    assert "lines.0.product" in exc.value.message_dict
    quote = services.quote_create(
        opportunity=deal,
        by=None,
        lines=[{"product": catalog["offbook"], "quantity": 1, "unit_price": "150"}],
    )
    line = quote.lines.get()
    assert line.list_price == Decimal("200.00") and line.unit_price == Decimal("150.00")
    assert quote.effective_discount == Decimal("25.00")


@pytest.mark.parametrize(
    "line, field",
    [
        ({"quantity": 0}, "lines.0.quantity"),
        ({"quantity": -2}, "lines.0.quantity"),
        ({"quantity": "lots"}, "lines.0.quantity"),
        ({"discount_percent": 101}, "lines.0.discount_percent"),
        ({"discount_percent": -1}, "lines.0.discount_percent"),
        ({"unit_price": -5}, "lines.0.unit_price"),
    ],
)
def test_line_validation(sales_org, catalog, deal, line, field):
    with pytest.raises(ValidationError) as exc:
        services.quote_create(
            opportunity=deal, by=None, lines=[{"product": catalog["suite"], **line}]
        )
    assert field in exc.value.message_dict
    assert not Quote.objects.exists()


def test_quote_validation(sales_org, catalog, deal):
    with pytest.raises(ValidationError):
        services.quote_create(opportunity=deal, by=None, lines=[])
    with pytest.raises(ValidationError) as exc:
        services.quote_create(
            opportunity=deal,
            by=None,
            lines=[{"product": catalog["suite"]}],
            discount_percent=120,
        )
    assert "discount_percent" in exc.value.message_dict


def test_no_default_price_book(sales_org, deal):
    product = Product.objects.create(name="Lonely", list_price=Decimal("10"))
    with pytest.raises(ValidationError) as exc:
        services.quote_create(
            opportunity=deal, by=None, lines=[{"product": product, "unit_price": 10}]
        )
    assert "price_book" in exc.value.message_dict


def test_explicit_price_book(sales_org, catalog, deal):
    usd = PriceBook.objects.create(name="US", currency="USD")
    PriceBookEntry.objects.create(price_book=usd, product=catalog["suite"], unit_price=1100)
    quote = services.quote_create(
        opportunity=deal, by=None, lines=[{"product": catalog["suite"]}], price_book=usd
    )
    assert quote.currency == "USD" and quote.total == Decimal("1100.00")


# --- thresholds --------------------------------------------------------------------------------


def test_small_discount_is_approved_at_once(sales_org, catalog, deal):
    assert not DiscountPolicy.objects.exists()
    quote = services.quote_submit(quote=quote_at(deal, catalog, 10), by=None)
    assert quote.status == QuoteStatus.APPROVED
    assert not quote.approvals.exists()
    assert DiscountPolicy.objects.count() == 1  # created with its defaults
    assert actions(quote) == ["quote.create", "quote.submit"]


def test_manager_threshold_asks_the_manager(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    (step,) = quote.approvals.all()
    assert (step.step, step.level, step.approver_position) == (
        1,
        ApprovalLevel.MANAGER,
        sales_org["m1"],
    )
    assert step.status == ApprovalStatus.PENDING and step.discount_percent == Decimal("15.00")


def test_vp_threshold_asks_manager_then_vp(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 25), by=None)
    steps = [(a.step, a.level, a.approver_position) for a in quote.approvals.all()]
    assert steps == [
        (1, ApprovalLevel.MANAGER, sales_org["m1"]),
        (2, ApprovalLevel.VP, sales_org["vp"]),
    ]


def test_policy_thresholds_are_read(sales_org, catalog, deal):
    DiscountPolicy.objects.create(manager_threshold=30, vp_threshold=40)
    assert services.quote_submit(quote=quote_at(deal, catalog, 25), by=None).status == (
        QuoteStatus.APPROVED
    )
    quote = services.quote_submit(quote=quote_at(deal, catalog, 45), by=None)
    assert quote.approvals.count() == 2


def test_manager_owner_goes_to_vp_once(sales_org, catalog):
    """A manager's own quote: their manager is the VP, who approves once at the VP level."""
    deal = make_opportunity(sales_org["m1"])
    quote = services.quote_submit(quote=quote_at(deal, catalog, 25), by=None)
    (step,) = quote.approvals.all()
    assert (step.level, step.approver_position) == (ApprovalLevel.VP, sales_org["vp"])


def test_without_a_vp_the_cso_approves(org, sales_org, catalog):
    manager = make_position(RoleType.SALES_MANAGER, reports_to=org["cso"], title="Direct mgr")
    ae = make_position(RoleType.AE, reports_to=manager, title="Direct AE")
    deal = make_opportunity(ae)
    quote = services.quote_submit(quote=quote_at(deal, catalog, 25), by=None)
    assert [a.approver_position for a in quote.approvals.all()] == [manager, org["cso"]]


def test_owner_reporting_to_nobody_cannot_submit(org, sales_org, catalog):
    deal = make_opportunity(org["ceo"])
    quote = quote_at(deal, catalog, 15)
    with pytest.raises(ValidationError):
        services.quote_submit(quote=quote, by=None)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT and not quote.approvals.exists()


def test_vacant_manager_seat_still_gets_the_request(sales_org, catalog, deal):
    org_services.position_assign_holder(position=sales_org["m1"], holder=None, by=None)
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    (step,) = quote.approvals.all()
    assert step.approver_position == sales_org["m1"]
    # The VP above the empty seat may decide in the meantime.
    services.approval_decide(approval=step, by=holder(sales_org, "vp"), approve=True)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED


def test_only_drafts_are_submitted(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 0), by=None)
    with pytest.raises(ValidationError):
        services.quote_submit(quote=quote, by=None)


# --- deciding ----------------------------------------------------------------------------------


def test_steps_are_decided_in_order(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 25), by=None)
    manager_step, vp_step = quote.approvals.all()
    vp = holder(sales_org, "vp")
    with pytest.raises(ValidationError):
        services.approval_decide(approval=vp_step, by=vp, approve=True)
    services.approval_decide(
        approval=manager_step, by=holder(sales_org, "m1"), approve=True, comment="ok by me"
    )
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    decided = services.approval_decide(approval=vp_step, by=vp, approve=True)
    assert decided.status == ApprovalStatus.APPROVED and decided.decided_by == vp
    assert decided.decided_at is not None
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED
    manager_step.refresh_from_db()
    assert manager_step.comment == "ok by me" and manager_step.decided_by == holder(sales_org, "m1")
    assert actions(quote) == ["quote.create", "quote.submit", "quote.approve", "quote.approve"]
    event = (
        AuditEvent.objects.filter(object_id=quote.pk, action="quote.approve").order_by("id").first()
    )
    assert event.changes["comment"] == [None, "ok by me"]
    # A decided step cannot be decided again.
    with pytest.raises(ValidationError):
        services.approval_decide(approval=vp_step, by=vp, approve=False)


def test_someone_above_the_approver_may_decide(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    step = quote.approvals.get()
    services.approval_decide(approval=step, by=holder(sales_org, "cso"), approve=True)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED


@pytest.mark.parametrize("who", ["m2", "ae1", "ae2", "ae3", "mkt", "sdr"])
def test_the_wrong_approver_is_refused(sales_org, catalog, deal, who):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    step = quote.approvals.get()
    with pytest.raises(PermissionDenied):
        services.approval_decide(approval=step, by=holder(sales_org, who), approve=True)
    step.refresh_from_db()
    quote.refresh_from_db()
    assert step.status == ApprovalStatus.PENDING and step.decided_by is None
    assert quote.status == QuoteStatus.PENDING_APPROVAL


def test_anonymous_and_inactive_are_refused(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    step = quote.approvals.get()
    with pytest.raises(PermissionDenied):
        services.approval_decide(approval=step, by=AnonymousUser(), approve=True)
    manager = holder(sales_org, "m1")
    manager.is_active = False
    manager.save()
    with pytest.raises(PermissionDenied):
        services.approval_decide(approval=step, by=manager, approve=True)


def test_a_superuser_may_decide(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    admin = UserFactory(is_superuser=True)
    services.approval_decide(approval=quote.approvals.get(), by=admin, approve=True)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED


def test_reject_flow(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 25), by=None)
    manager_step, vp_step = quote.approvals.all()
    manager = holder(sales_org, "m1")
    services.approval_decide(
        approval=manager_step, by=manager, approve=False, comment="Too generous"
    )
    quote.refresh_from_db()
    manager_step.refresh_from_db()
    vp_step.refresh_from_db()
    assert quote.status == QuoteStatus.REJECTED
    assert manager_step.status == ApprovalStatus.REJECTED
    assert manager_step.comment == "Too generous" and manager_step.decided_by == manager
    assert vp_step.status == ApprovalStatus.CANCELLED
    assert actions(quote)[-1] == "quote.reject"
    with pytest.raises(ValidationError):
        services.quote_send(quote=quote, by=None)
    # Revising brings it back to draft; resubmitting asks again.
    revised = services.quote_revise(
        quote=quote, by=None, lines=[{"product": catalog["suite"], "quantity": 10}]
    )
    assert revised.pk == quote.pk and revised.status == QuoteStatus.DRAFT
    assert revised.effective_discount == Decimal("0.00")
    assert services.quote_submit(quote=revised, by=None).status == QuoteStatus.APPROVED


# --- versions ----------------------------------------------------------------------------------


def test_draft_is_revised_in_place(sales_org, catalog, deal):
    quote = quote_at(deal, catalog, 0)
    revised = services.quote_revise(quote=quote, by=None, discount_percent=5, terms="Net 45")
    assert revised.pk == quote.pk and revised.version == 1
    assert revised.total == Decimal("9500.00") and revised.effective_discount == Decimal("5.00")
    assert revised.terms == "Net 45"
    assert Quote.objects.count() == 1
    revised = services.quote_revise(
        quote=revised, by=None, lines=[{"product": catalog["addon"], "quantity": 4}]
    )
    assert [line.product for line in revised.lines.all()] == [catalog["addon"]]
    assert revised.subtotal == Decimal("2000.00") and revised.total == Decimal("1900.00")
    assert QuoteLine.objects.count() == 1
    assert actions(quote) == ["quote.create", "quote.revise", "quote.revise"]


@pytest.mark.parametrize("submitted_discount", [0, 15])
def test_approved_or_pending_quote_gets_a_new_version(sales_org, catalog, deal, submitted_discount):
    quote = services.quote_submit(quote=quote_at(deal, catalog, submitted_discount), by=None)
    pending = list(quote.approvals.all())
    new = services.quote_revise(quote=quote, by=None, discount_percent=2)
    quote.refresh_from_db()
    assert new.pk != quote.pk
    assert (new.number, new.version, new.status) == (quote.number, 2, QuoteStatus.DRAFT)
    assert quote.status == QuoteStatus.SUPERSEDED
    # Lines copied as they were.
    assert [
        (line.product_id, line.quantity, line.discount_percent) for line in new.lines.all()
    ] == [(line.product_id, line.quantity, line.discount_percent) for line in quote.lines.all()]
    assert new.discount_percent == Decimal("2.00")
    assert all(
        a.status == ApprovalStatus.CANCELLED for a in ApprovalRequest.objects.filter(quote=quote)
    )
    assert len(pending) == (1 if submitted_discount else 0)
    assert "quote.supersede" in actions(quote) and actions(new) == ["quote.version"]
    # A superseded version is history.
    with pytest.raises(ValidationError):
        services.quote_revise(quote=quote, by=None, discount_percent=1)
    with pytest.raises(ValidationError):
        services.quote_submit(quote=quote, by=None)


def test_sent_quote_gets_a_new_version(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 0), by=None)
    quote = services.quote_send(quote=quote, by=None)
    new = services.quote_revise(
        quote=quote, by=None, lines=[{"product": catalog["suite"], "quantity": 12}]
    )
    assert new.version == 2 and new.total == Decimal("12000.00")
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SUPERSEDED
    third = services.quote_revise(quote=services.quote_submit(quote=new, by=None), by=None)
    assert third.version == 3 and third.number == quote.number


def test_accepted_quote_cannot_change(sales_org, catalog, deal):
    quote = services.quote_submit(quote=quote_at(deal, catalog, 0), by=None)
    quote = services.quote_mark_accepted(quote=services.quote_send(quote=quote, by=None), by=None)
    with pytest.raises(ValidationError):
        services.quote_revise(quote=quote, by=None, discount_percent=1)


# --- sending -----------------------------------------------------------------------------------


def test_an_unapproved_quote_is_never_sent(sales_org, catalog, deal):
    draft = quote_at(deal, catalog, 0)
    with pytest.raises(ValidationError):
        services.quote_send(quote=draft, by=None)
    pending = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    with pytest.raises(ValidationError):
        services.quote_send(quote=pending, by=None)
    for quote in (draft, pending):
        quote.refresh_from_db()
        assert quote.sent_at is None and quote.status != QuoteStatus.SENT
        assert "quote.send" not in actions(quote)


def test_send_accept_decline(sales_org, catalog, deal):
    ae = holder(sales_org, "ae1")
    quote = services.quote_submit(quote=quote_at(deal, catalog, 0, by=ae), by=ae)
    with pytest.raises(ValidationError):
        services.quote_mark_accepted(quote=quote, by=ae)
    quote = services.quote_send(quote=quote, by=ae)
    assert quote.status == QuoteStatus.SENT and quote.sent_at is not None
    with pytest.raises(ValidationError):
        services.quote_send(quote=quote, by=ae)
    accepted = services.quote_mark_accepted(quote=quote, by=ae)
    assert accepted.status == QuoteStatus.ACCEPTED
    with pytest.raises(ValidationError):
        services.quote_mark_declined(quote=accepted, by=ae)
    assert actions(quote) == ["quote.create", "quote.submit", "quote.send", "quote.accept"]
    assert set(
        AuditEvent.objects.filter(object_id=quote.pk, action__startswith="quote.").values_list(
            "actor", flat=True
        )
    ) == {ae.pk}

    other = services.quote_send(
        quote=services.quote_submit(quote=quote_at(deal, catalog, 0), by=ae), by=ae
    )
    declined = services.quote_mark_declined(quote=other, by=ae)
    assert declined.status == QuoteStatus.DECLINED
    # A declined offer may be followed by a new version; the declined one stays declined.
    follow_up = services.quote_revise(quote=declined, by=ae, discount_percent=3)
    declined.refresh_from_db()
    assert follow_up.version == 2 and declined.status == QuoteStatus.DECLINED


def test_approved_quote_meets_the_negotiation_requirement(sales_org, catalog, deal):
    from tests.pipeline.test_services import stage

    deal = services.opportunity_update(opportunity=deal, by=None, amount=Decimal("9000"))
    negotiation = stage(sales_org["pipeline"], "Negotiation")
    with pytest.raises(ValidationError):
        services.opportunity_move_stage(opportunity=deal, stage=negotiation, by=None)
    quote_at(deal, catalog, 0)
    moved = services.opportunity_move_stage(opportunity=deal, stage=negotiation, by=None)
    assert moved.stage == negotiation


def test_the_system_may_decide(sales_org, catalog, deal):
    """``by=None`` is the system (demo data, scripts), as everywhere in the services."""
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    step = services.approval_decide(approval=quote.approvals.get(), by=None, approve=True)
    assert step.status == ApprovalStatus.APPROVED and step.decided_by is None
    assert quoting.approval_may_decide(user=None, approval=step) is False


def test_an_accepted_quote_sets_the_open_deals_amount(sales_org, catalog, deal):
    ae = holder(sales_org, "ae1")
    quote = quote_at(deal, catalog, 0, by=ae)
    services.quote_mark_accepted(
        quote=services.quote_send(quote=services.quote_submit(quote=quote, by=ae), by=ae), by=ae
    )
    deal.refresh_from_db()
    assert (deal.amount, deal.currency) == (Decimal("10000.00"), "EUR")
    change = AuditEvent.objects.get(object_id=deal.pk, action="opportunity.update")
    assert change.actor_id == ae.pk and "amount" in change.changes

    # a closed deal keeps the amount it closed with
    services.opportunity_close(opportunity=deal, won=True, by=ae)
    closed_amount = Opportunity.objects.get(pk=deal.pk).amount
    later = services.quote_submit(quote=quote_at(deal, catalog, 5, by=ae), by=ae)
    services.quote_mark_accepted(quote=services.quote_send(quote=later, by=ae), by=ae)
    assert Opportunity.objects.get(pk=deal.pk).amount == closed_amount
