"""Pipeline reads: who sees which deals, list filters, stuck deals, the board, a deal's timeline,
the approval queue, quotes, renewals and cross-sell ideas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from revline.crm import services as crm
from revline.crm.choices import ActivityKind, CustomFieldType
from revline.crm.custom_fields import custom_field_save
from revline.pipeline import selectors, services
from revline.pipeline.choices import (
    ObjectionCategory,
    OpportunityStatus,
    OpportunityType,
    QuoteStatus,
)
from revline.pipeline.models import (
    Opportunity,
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
)
from tests.crm.factories import make_account, make_opportunity
from tests.org.factories import UserFactory

pytestmark = pytest.mark.django_db


def holder(org, name):
    return org[name].holder


def stage(org, name):
    return org["pipeline"].stages.get(name=name)


def names(rows):
    return sorted(o.name for o in rows)


@pytest.fixture
def deals(sales_org):
    """Two deals for AE 1a, one for AE 1b (both under Manager 1), one for AE 2a (Manager 2)."""
    acme = make_account(sales_org["ae1"], name="Acme Corp")
    globex = make_account(sales_org["ae3"], name="Globex")
    return {
        "a1": make_opportunity(sales_org["ae1"], name="Acme pilot", account=acme),
        "a2": make_opportunity(sales_org["ae1"], name="Acme expansion", account=acme),
        "b1": make_opportunity(sales_org["ae2"], name="Initech deal"),
        "c1": make_opportunity(sales_org["ae3"], name="Globex deal", account=globex),
    }


@pytest.fixture
def catalog(db):
    book = PriceBook.objects.create(name="Standard", is_default=True)
    suite = Product.objects.create(name="Suite", list_price=Decimal("1000"))
    PriceBookEntry.objects.create(price_book=book, product=suite, unit_price=Decimal("1000"))
    return {"book": book, "suite": suite}


def quote_at(deal, catalog, discount):
    return services.quote_create(
        opportunity=deal,
        by=None,
        lines=[{"product": catalog["suite"], "quantity": 10, "discount_percent": discount}],
    )


# --- visibility --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, expected",
    [
        ("ae1", ["Acme expansion", "Acme pilot"]),
        ("ae2", ["Initech deal"]),
        ("m1", ["Acme expansion", "Acme pilot", "Initech deal"]),
        ("m2", ["Globex deal"]),
        ("vp", ["Acme expansion", "Acme pilot", "Globex deal", "Initech deal"]),
        ("cro", ["Acme expansion", "Acme pilot", "Globex deal", "Initech deal"]),
        ("mkt", []),
        ("sdr", []),
    ],
)
def test_list_visibility(sales_org, deals, who, expected):
    assert names(selectors.opportunities_list(user=holder(sales_org, who))) == expected


def test_anonymous_sees_nothing(sales_org, deals):
    assert not selectors.opportunities_list(user=AnonymousUser()).exists()
    assert not selectors.opportunities_list(user=None).exists()


def test_get_respects_visibility(sales_org, deals):
    c1 = deals["c1"]
    assert selectors.opportunity_get(user=holder(sales_org, "m2"), pk=c1.pk) == c1
    for peer in ("m1", "ae1", "ae4"):
        with pytest.raises(Opportunity.DoesNotExist):
            selectors.opportunity_get(user=holder(sales_org, peer), pk=c1.pk)
    # The CRO sees every deal but edits only down the hierarchy.
    assert selectors.opportunity_get(user=holder(sales_org, "cro"), pk=c1.pk) == c1
    with pytest.raises(Opportunity.DoesNotExist):
        selectors.opportunity_get(user=holder(sales_org, "mkt"), pk=c1.pk, action="change")
    with pytest.raises(Opportunity.DoesNotExist):
        selectors.opportunity_get(user=holder(sales_org, "m2"), pk="junk")


def test_list_has_no_n_plus_one(sales_org, deals, django_assert_num_queries):
    vp = holder(sales_org, "vp")
    list(selectors.opportunities_list(user=vp))  # warm the content-type cache
    with django_assert_num_queries(1):
        rows = selectors.with_stuck_flags(selectors.opportunities_list(user=vp))
        for row in rows:
            str(row.owner_position.holder), row.stage.name, row.pipeline.name
            row.account and row.account.name, row.product
    assert len(rows) == 4


# --- filters -----------------------------------------------------------------------------------


def test_filters(sales_org, deals):
    vp = holder(sales_org, "vp")
    a1, a2, b1, c1 = deals["a1"], deals["a2"], deals["b1"], deals["c1"]
    product = Product.objects.create(name="Widget")
    services.opportunity_update(
        opportunity=a1,
        by=None,
        product=product,
        close_date=dt.date(2030, 3, 1),
        type=OpportunityType.UPSELL,
    )
    services.opportunity_update(opportunity=c1, by=None, close_date=dt.date(2030, 6, 1))
    Opportunity.objects.filter(pk=b1.pk).update(external_id="SF-77")
    services.opportunity_move_stage(opportunity=a2, stage=stage(sales_org, "Demo"), by=None)
    services.opportunity_close(
        opportunity=c1, won=False, by=None, loss_reason="price"
    )  # closed lost

    def find(q="", **filters):
        return names(selectors.opportunities_list(user=vp, q=q, filters=filters))

    assert find(status="lost") == ["Globex deal"]
    assert find(status="open") == ["Acme expansion", "Acme pilot", "Initech deal"]
    assert find(status="bogus") == []
    assert find(type="upsell") == ["Acme pilot"]
    assert find(stage=str(stage(sales_org, "Demo").pk)) == ["Acme expansion"]
    assert find(pipeline=sales_org["pipeline"].pk) == names(deals.values())
    assert find(owner=str(sales_org["ae2"].pk)) == ["Initech deal"]
    assert find(account=a1.account_id) == ["Acme expansion", "Acme pilot"]
    assert find(product=product.pk) == ["Acme pilot"]
    assert find(external_id="SF-77") == ["Initech deal"]
    assert find(close_from="2030-04-01") == ["Globex deal"]
    assert find(close_to="2030-04-01") == ["Acme pilot"]
    assert find(close_from="2030-01-01", close_to="2030-12-31") == ["Acme pilot", "Globex deal"]
    today = timezone.localdate()
    assert len(find(created_from=today.isoformat(), created_to=today.isoformat())) == 4
    assert find(created_to=(today - dt.timedelta(days=1)).isoformat()) == []
    # Bad values match nothing instead of failing.
    assert find(owner="nobody") == []
    assert find(close_from="31/12/2030") == []
    # Search: name, account name, external id.
    assert find(q="acme") == ["Acme expansion", "Acme pilot"]
    assert find(q="globex") == ["Globex deal"]
    assert find(q="sf-7") == ["Initech deal"]
    assert find(q="initech", status="open") == ["Initech deal"]
    # Filters narrow, never widen, what the user sees.
    assert (
        names(
            selectors.opportunities_list(user=holder(sales_org, "ae1"), filters={"status": "lost"})
        )
        == []
    )


def test_custom_field_filter(sales_org):
    custom_field_save(
        by=None,
        entity="opportunity",
        key="segment",
        label="Segment",
        field_type=CustomFieldType.CHOICE,
        choices=["SMB", "Enterprise"],
    )
    make_opportunity(sales_org["ae1"], name="Small", custom={"segment": "smb"})
    make_opportunity(sales_org["ae1"], name="Big", custom={"segment": "Enterprise"})
    make_opportunity(sales_org["ae1"], name="Unknown")
    user = holder(sales_org, "ae1")
    found = selectors.opportunities_list(user=user, filters={"cf_segment": "enterprise"})
    assert names(found) == ["Big"]
    assert names(selectors.opportunities_list(user=user, filters={"cf_segment": "Huge"})) == []


def test_order(sales_org):
    for name, amount in (("B", "300"), ("A", "100"), ("C", "200")):
        make_opportunity(sales_org["ae1"], name=name, amount=Decimal(amount))
    user = holder(sales_org, "ae1")

    def order(key):
        return [o.name for o in selectors.opportunities_list(user=user, order=key)]

    assert order("name") == ["A", "B", "C"]
    assert order("-name") == ["C", "B", "A"]
    assert order("amount") == ["A", "C", "B"]
    assert order("-amount") == ["B", "C", "A"]
    assert order("") == ["C", "A", "B"]  # newest first
    assert order("owner_position__holder__password") == ["C", "A", "B"]  # not whitelisted


# --- stuck deals -------------------------------------------------------------------------------


def test_stuck_deals(sales_org):
    now = timezone.now()
    old = make_opportunity(sales_org["ae1"], name="Old", at=now - dt.timedelta(days=40))
    make_opportunity(sales_org["ae1"], name="Fresh", at=now - dt.timedelta(days=5))
    closed = make_opportunity(sales_org["ae1"], name="Closed", at=now - dt.timedelta(days=90))
    services.opportunity_close(
        opportunity=closed, won=True, by=None, at=now - dt.timedelta(days=80)
    )
    # Negotiation allows 45 days: 40 days there is not stuck.
    negotiating = make_opportunity(sales_org["ae1"], name="Negotiating")
    Opportunity.objects.filter(pk=negotiating.pk).update(
        stage=stage(sales_org, "Negotiation"), stage_entered_at=now - dt.timedelta(days=40)
    )
    user = holder(sales_org, "ae1")

    assert names(selectors.opportunities_list(user=user, filters={"stuck": "1"})) == ["Old"]
    rows = {o.name: o for o in selectors.with_stuck_flags(selectors.opportunities_list(user=user))}
    assert {name for name, o in rows.items() if o.is_stuck} == {"Old"}
    assert rows["Old"].days_in_stage == 40
    assert selectors.is_stuck(old) is True
    assert selectors.is_stuck(old, now=now - dt.timedelta(days=20)) is False


# --- the board ---------------------------------------------------------------------------------


def test_board(sales_org, django_assert_max_num_queries):
    now = timezone.now()
    make_opportunity(sales_org["ae1"], name="Stale", amount=None, at=now - dt.timedelta(days=60))
    for i in range(3):
        make_opportunity(sales_org["ae1"], name=f"P{i}", amount=Decimal("100"))
    demo = make_opportunity(sales_org["ae2"], name="D", amount=Decimal("50"))
    services.opportunity_move_stage(opportunity=demo, stage=stage(sales_org, "Demo"), by=None)
    make_opportunity(sales_org["ae3"], name="Hidden from m1", amount=Decimal("999"))
    won = make_opportunity(sales_org["ae1"], name="Won")
    services.opportunity_close(opportunity=won, won=True, by=None)

    manager = holder(sales_org, "m1")
    selectors.board(user=manager, pipeline=sales_org["pipeline"])  # warm caches
    with django_assert_max_num_queries(3):
        columns = selectors.board(user=manager, pipeline=sales_org["pipeline"], limit=2)
        for column in columns:
            for card in column.opportunities:
                card.owner_position.holder, card.account, card.stage.name, card.is_stuck

    by_name = {c.stage.name: c for c in columns}
    assert list(by_name) == ["Prospecting", "Discovery", "Demo", "Proposal", "Negotiation"]
    prospecting = by_name["Prospecting"]
    assert prospecting.count == 4 and prospecting.total_amount == Decimal("300")
    assert prospecting.stuck_count == 1
    assert [o.name for o in prospecting.opportunities] == ["P2", "P1"]  # newest, at most 2
    assert prospecting.more == 2
    assert by_name["Demo"].count == 1 and by_name["Demo"].total_amount == Decimal("50")
    assert by_name["Discovery"].count == 0 and by_name["Discovery"].opportunities == []

    full = selectors.board(user=manager, pipeline=sales_org["pipeline"], include_closed=True)
    assert {c.stage.name: c.count for c in full}["Closed won"] == 1
    stuck_only = selectors.board(
        user=manager, pipeline=sales_org["pipeline"], filters={"stuck": "1"}
    )
    assert [o.name for c in stuck_only for o in c.opportunities] == ["Stale"]
    assert all(o.is_stuck for c in stuck_only for o in c.opportunities)
    mine = selectors.board(user=holder(sales_org, "ae2"), pipeline=sales_org["pipeline"])
    assert sum(c.count for c in mine) == 1


def test_board_query_count_does_not_grow(sales_org, django_assert_max_num_queries):
    for i in range(30):
        make_opportunity(sales_org[f"ae{i % 4 + 1}"], name=f"Deal {i}")
    vp = holder(sales_org, "vp")
    selectors.board(user=vp, pipeline=sales_org["pipeline"])
    with django_assert_max_num_queries(3):
        columns = selectors.board(user=vp, pipeline=sales_org["pipeline"])
        assert sum(len(c.opportunities) for c in columns) == 30
        [str(card.owner_position) for c in columns for card in c.opportunities]


# --- timeline ----------------------------------------------------------------------------------


def test_timeline(sales_org, catalog):
    ae = holder(sales_org, "ae1")
    deal = make_opportunity(sales_org["ae1"], name="Timeline deal")
    crm.activity_log(by=ae, kind=ActivityKind.DISCOVERY_CALL, subject="Kick-off", opportunity=deal)
    # An activity by someone the AE cannot see (a peer's note on the deal) stays out.
    crm.activity_log(
        by=holder(sales_org, "ae2"),
        kind=ActivityKind.NOTE,
        subject="Peer note",
        opportunity=deal,
        owner_position=sales_org["ae2"],
    )
    services.opportunity_move_stage(opportunity=deal, stage=stage(sales_org, "Discovery"), by=ae)
    services.objection_record(
        opportunity=deal, by=ae, category=ObjectionCategory.PRICE, text="Too dear"
    )
    services.opportunity_update(opportunity=deal, by=ae, next_step="Send the quote")
    quote = services.quote_submit(quote=quote_at(deal, catalog, 15), by=ae)
    services.approval_decide(
        approval=quote.approvals.get(), by=holder(sales_org, "m1"), approve=True, comment="fine"
    )
    services.quote_send(quote=quote, by=ae)

    entries = selectors.timeline(user=ae, opportunity=deal)
    kinds = {e.kind for e in entries}
    assert kinds == {"activity", "stage", "objection", "quote", "approval", "audit"}
    texts = [e.text for e in entries]
    assert any("Kick-off" in t for t in texts)
    assert not any("Peer note" in t for t in texts)
    assert any("Moved from Prospecting to Discovery" in t for t in texts)
    assert any("Opened in Prospecting" in t for t in texts)
    assert any("Too dear" in t for t in texts)
    assert any(t.startswith("Approved") and "fine" in t for t in texts)
    assert any(e.kind == "audit" and "next_step" in e.text for e in entries)
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    # Only one stage entry per move (the move's audit event is not repeated).
    assert sum(t.startswith("Moved") for t in texts) == 1
    # The manager sees the peer's note too; a peer manager does not see the deal at all.
    manager_texts = [
        e.text for e in selectors.timeline(user=holder(sales_org, "m1"), opportunity=deal)
    ]
    assert any("Peer note" in t for t in manager_texts)
    with pytest.raises(Opportunity.DoesNotExist):
        selectors.timeline(user=holder(sales_org, "m2"), opportunity=deal)


def test_timeline_query_count(sales_org, catalog, django_assert_max_num_queries):
    ae = holder(sales_org, "ae1")
    deal = make_opportunity(sales_org["ae1"])
    for i in range(5):
        crm.activity_log(by=ae, kind=ActivityKind.CALL, subject=f"Call {i}", opportunity=deal)
        services.quote_submit(quote=quote_at(deal, catalog, 15), by=ae)
    ContentType.objects.get_for_model(Quote)
    selectors.timeline(user=ae, opportunity=deal)
    with django_assert_max_num_queries(7):
        entries = selectors.timeline(user=ae, opportunity=deal)
        [str(e.actor) for e in entries]


# --- approvals queue ---------------------------------------------------------------------------


def test_approvals_queue_shows_only_the_current_step(sales_org, catalog, deals):
    quote = services.quote_submit(quote=quote_at(deals["a1"], catalog, 25), by=None)
    manager_step, vp_step = quote.approvals.all()
    manager, vp = holder(sales_org, "m1"), holder(sales_org, "vp")

    assert list(selectors.approvals_queue(user=manager)) == [manager_step]
    assert list(selectors.approvals_queue(user=vp)) == []  # step 2 waits for step 1
    assert list(selectors.approvals_queue(user=holder(sales_org, "m2"))) == []
    assert list(selectors.approvals_queue(user=holder(sales_org, "ae1"))) == []
    assert list(selectors.approvals_queue(user=AnonymousUser())) == []

    services.approval_decide(approval=manager_step, by=manager, approve=True)
    assert list(selectors.approvals_queue(user=manager)) == []
    assert list(selectors.approvals_queue(user=vp)) == [vp_step]
    services.approval_decide(approval=vp_step, by=vp, approve=True)
    assert list(selectors.approvals_queue(user=vp)) == []


def test_approvals_queue_skips_vacant_seats_and_is_flat(
    sales_org, catalog, deals, django_assert_num_queries
):
    from revline.org import services as org_services

    for deal in (deals["a1"], deals["a2"], deals["b1"]):
        services.quote_submit(quote=quote_at(deal, catalog, 15), by=None)
    manager = holder(sales_org, "m1")
    with django_assert_num_queries(1):
        rows = list(selectors.approvals_queue(user=manager))
        [(r.quote.opportunity.account, r.quote.owner_position.holder) for r in rows]
    assert len(rows) == 3
    org_services.position_assign_holder(position=sales_org["m1"], holder=None, by=None)
    assert list(selectors.approvals_queue(user=manager)) == []


# --- quotes ------------------------------------------------------------------------------------


def test_quotes_list(sales_org, catalog, deals):
    q1 = services.quote_submit(quote=quote_at(deals["a1"], catalog, 0), by=None)
    q1v2 = services.quote_revise(quote=q1, by=None, discount_percent=1)
    q3 = quote_at(deals["c1"], catalog, 5)

    def numbers(user, **kw):
        return sorted((q.number, q.version) for q in selectors.quotes_list(user=user, **kw))

    ae1, m2 = holder(sales_org, "ae1"), holder(sales_org, "m2")
    assert numbers(ae1) == [(q1.number, 1), (q1.number, 2)]
    assert numbers(ae1, filters={"latest": "1"}) == [(q1.number, 2)]
    assert numbers(ae1, filters={"status": QuoteStatus.SUPERSEDED}) == [(q1.number, 1)]
    assert numbers(m2) == [(q3.number, 1)]
    assert numbers(holder(sales_org, "vp"), q="globex") == [(q3.number, 1)]
    assert numbers(holder(sales_org, "vp"), filters={"opportunity": deals["a1"].pk}) == [
        (q1.number, 1),
        (q1.number, 2),
    ]
    assert numbers(ae1, filters={"owner": "x"}) == []
    assert selectors.quote_get(user=ae1, pk=q1v2.pk) == q1v2
    with pytest.raises(Quote.DoesNotExist):
        selectors.quote_get(user=m2, pk=q1v2.pk)


# --- renewals ----------------------------------------------------------------------------------


def test_renewals_due(sales_org):
    today = timezone.localdate()
    soon = make_opportunity(
        sales_org["ae1"],
        name="Renew soon",
        type=OpportunityType.RENEWAL,
        close_date=today + dt.timedelta(days=30),
    )
    overdue = make_opportunity(
        sales_org["ae1"],
        name="Renew overdue",
        type=OpportunityType.RENEWAL,
        close_date=today - dt.timedelta(days=3),
    )
    make_opportunity(
        sales_org["ae1"],
        name="Renew later",
        type=OpportunityType.RENEWAL,
        close_date=today + dt.timedelta(days=200),
    )
    make_opportunity(sales_org["ae1"], name="New", close_date=today + dt.timedelta(days=10))
    make_opportunity(
        sales_org["ae3"],
        name="Other team",
        type=OpportunityType.RENEWAL,
        close_date=today + dt.timedelta(days=10),
    )
    lost = make_opportunity(
        sales_org["ae1"],
        name="Renew lost",
        type=OpportunityType.RENEWAL,
        close_date=today + dt.timedelta(days=5),
    )
    services.opportunity_close(opportunity=lost, won=False, by=None, loss_reason="price")

    rows = list(selectors.renewals_due(user=holder(sales_org, "ae1")))
    assert rows == [overdue, soon]
    later = selectors.renewals_due(user=holder(sales_org, "ae1"), within_days=365)
    assert [o.name for o in later] == ["Renew overdue", "Renew soon", "Renew later"]


def test_won_subscription_shows_up_as_renewal(sales_org):
    product = Product.objects.create(name="Yearly", is_subscription=True, term_months=3)
    deal = make_opportunity(sales_org["ae1"], product=product)
    services.opportunity_close(opportunity=deal, won=True, by=None)
    (renewal,) = selectors.renewals_due(user=holder(sales_org, "ae1"))
    assert renewal.renewal_of == deal and renewal.status == OpportunityStatus.OPEN


# --- cross-sell --------------------------------------------------------------------------------


@pytest.fixture
def customers(sales_org):
    """Who bought what, by sector and size band:

    target  Retail   51-200     A            (AE 1a's account)
    c1      Retail   11-50      A, B
    c2      Retail   51-200     A, B, C
    c3      Software 51-200     C
    c4      Retail   1001-5000  C
    c5      Mining   5000+      D            (similar to nobody)
    prospect Retail  51-200     -            (no won deal: not a customer)
    """
    products = {n: Product.objects.create(name=f"Product {n}") for n in "ABCD"}
    owner = sales_org["ae3"]

    def customer(name, sector, size, bought, owner=owner):
        account = make_account(owner, name=name, sector=sector, size=size)
        for letter in bought:
            deal = make_opportunity(owner, account=account, product=products[letter])
            services.opportunity_close(opportunity=deal, won=True, by=None)
        return account

    accounts = {
        "target": customer("Target", "Retail", "51-200", "A", owner=sales_org["ae1"]),
        "c1": customer("C1", "Retail", "11-50", "AB"),
        "c2": customer("C2", "retail ", "51-200", "ABC"),
        "c3": customer("C3", "Software", "51-200", "C"),
        "c4": customer("C4", "Retail", "1001-5000", "C"),
        "c5": customer("C5", "Mining", "5000+", "D"),
        "prospect": make_account(owner, name="Prospect", sector="Retail", size="51-200"),
    }
    return accounts, products


def test_cross_sell_ranking(sales_org, customers, django_assert_max_num_queries):
    accounts, _products = customers
    ae1 = holder(sales_org, "ae1")
    selectors.cross_sell_candidates(user=ae1)
    with django_assert_max_num_queries(5):
        rows = selectors.cross_sell_candidates(user=ae1)
    # Similar to the target: c1, c2, c4 (sector) and c2, c3 (size): four customers.
    assert [(r.account, r.product.name, r.similar_count, r.similar_customers) for r in rows] == [
        (accounts["target"], "Product C", 3, 4),
        (accounts["target"], "Product B", 2, 4),
    ]
    assert rows[0].share == 0.75 and rows[1].share == 0.5


def test_cross_sell_visibility_and_open_deals(sales_org, customers):
    accounts, products = customers
    ae1 = holder(sales_org, "ae1")
    # An open deal for C already: not a candidate any more.
    make_opportunity(sales_org["ae1"], account=accounts["target"], product=products["C"])
    assert [r.product.name for r in selectors.cross_sell_candidates(user=ae1)] == ["Product B"]
    # Peers of the target's owner never see it; the owner of the others sees theirs.
    ae3_rows = selectors.cross_sell_candidates(user=holder(sales_org, "ae3"), limit=0)
    assert accounts["target"] not in {r.account for r in ae3_rows}
    assert accounts["prospect"] not in {r.account for r in ae3_rows}
    # c1 (Retail, 11-50) is similar to target, c2, c4: C is bought by 2 of 3.
    c1_rows = [(r.product.name, r.similar_count) for r in ae3_rows if r.account == accounts["c1"]]
    assert c1_rows == [("Product C", 2)]
    assert not any(r.account == accounts["c5"] for r in ae3_rows)  # alone in its groups
    assert selectors.cross_sell_candidates(user=holder(sales_org, "ae2")) == []
    assert selectors.cross_sell_candidates(user=AnonymousUser()) == []
    one = selectors.cross_sell_candidates(user=holder(sales_org, "vp"), account=accounts["c3"])
    assert {r.account for r in one} == {accounts["c3"]}
    assert selectors.cross_sell_candidates(user=holder(sales_org, "vp"), limit=1)[0].share == 1.0
    admin = UserFactory(is_superuser=True)
    assert len(selectors.cross_sell_candidates(user=admin, limit=0)) == len(
        selectors.cross_sell_candidates(user=holder(sales_org, "vp"), limit=0)
    )
