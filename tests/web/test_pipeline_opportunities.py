"""The opportunity list (filters, sort, pages, CSV export), the opportunity page and its
actions (edit, close, objections, competitors, next step, renewals), renewals, cross-sell and
competitor pages: what each user sees and may do."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revline.crm.models import Lead
from revline.crm.services import prospect_list_create
from revline.pipeline import services
from revline.pipeline.choices import OpportunityStatus, OpportunityType
from revline.pipeline.models import Objection, Opportunity
from tests.web.pipeline_helpers import (
    as_user,
    build_catalog,
    make_account,
    make_opportunity,
    share_view,
    stage,
    url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    return build_catalog()


def export_rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- every page: owner, peer, anonymous ----------------------------------------------------------


def owner_pages(sales_org, catalog):
    opp = make_opportunity(sales_org["ae1"], account=make_account(sales_org["ae1"]))
    quote = services.quote_create(
        opportunity=opp, by=None, lines=[{"product": catalog["seats"], "quantity": 2}]
    )
    return (
        opp,
        quote,
        [
            url("board"),
            url("opportunities"),
            url("opportunities_export"),
            url("opportunity_new"),
            url("opportunity_detail", opp.pk),
            url("opportunity_edit", opp.pk),
            url("quote_new", opp.pk),
            url("quote_detail", quote.pk),
            url("quote_edit", quote.pk),
            url("quote_print", quote.pk),
            url("approvals"),
            url("renewals"),
            url("cross_sell"),
            url("competitors"),
        ],
    )


def test_every_page_renders_for_the_owner(client, sales_org, catalog):
    _, _, pages = owner_pages(sales_org, catalog)
    client = as_user(client, sales_org["ae1"])
    for page in pages:
        assert client.get(page).status_code == 200, page


def test_record_pages_are_404_for_a_peer(client, sales_org, catalog):
    opp, quote, _ = owner_pages(sales_org, catalog)
    client = as_user(client, sales_org["ae2"])
    for page in [
        url("opportunity_detail", opp.pk),
        url("opportunity_edit", opp.pk),
        url("quote_new", opp.pk),
        url("quote_detail", quote.pk),
        url("quote_edit", quote.pk),
        url("quote_print", quote.pk),
    ]:
        assert client.get(page).status_code == 404, page
    for name, args in [
        ("opportunity_move", [opp.pk]),
        ("opportunity_close", [opp.pk]),
        ("opportunity_next_step", [opp.pk]),
        ("opportunity_competitors", [opp.pk]),
        ("objection_add", [opp.pk]),
        ("renewal_create", [opp.pk]),
        ("quote_submit", [quote.pk]),
        ("quote_send", [quote.pk]),
        ("quote_outcome", [quote.pk]),
    ]:
        assert client.post(url(name, *args), {"outcome": "won"}).status_code == 404, name
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.OPEN


def test_every_page_redirects_anonymous_to_login(client, sales_org, catalog):
    _, _, pages = owner_pages(sales_org, catalog)
    for page in pages:
        response = client.get(page)
        assert response.status_code == 302 and url("login") in response["Location"], page


def test_view_only_share_sees_the_page_but_may_not_act(client, sales_org, catalog):
    opp, quote, _ = owner_pages(sales_org, catalog)
    share_view(opp, sales_org["ae3"])
    share_view(quote, sales_org["ae3"])
    client = as_user(client, sales_org["ae3"])
    response = client.get(url("opportunity_detail", opp.pk))
    assert response.status_code == 200 and not response.context["may_change"]
    assert url("opportunity_close", opp.pk) not in response.content.decode()
    assert client.get(url("opportunity_edit", opp.pk)).status_code == 403
    assert client.post(url("opportunity_close", opp.pk), {"outcome": "won"}).status_code == 403
    assert client.post(url("objection_add", opp.pk), {"category": "price"}).status_code == 403
    assert client.get(url("quote_detail", quote.pk)).status_code == 200
    assert client.post(url("quote_submit", quote.pk)).status_code == 403


# --- the list ----------------------------------------------------------------------------------


def test_list_filters_search_sort(client, sales_org):
    a = make_opportunity(sales_org["ae1"], name="Alpha Zq", amount=Decimal("300"))
    b = make_opportunity(
        sales_org["ae2"], name="Bravo Zq", amount=Decimal("100"), type=OpportunityType.UPSELL
    )
    c = make_opportunity(sales_org["ae1"], name="Charlie Zq", amount=Decimal("200"))
    services.opportunity_close(opportunity=c, won=True, by=None)
    client = as_user(client, sales_org["m1"])

    def names(**params):
        response = client.get(url("opportunities"), params)
        assert response.status_code == 200
        return [o.name for o in response.context["page"].object_list]

    assert set(names()) == {"Alpha Zq", "Bravo Zq", "Charlie Zq"}
    assert names(q="brav") == ["Bravo Zq"]
    assert names(status="won") == ["Charlie Zq"]
    assert names(type="upsell") == ["Bravo Zq"]
    assert set(names(owner=sales_org["ae1"].pk)) == {"Alpha Zq", "Charlie Zq"}
    assert names(order="-amount") == ["Alpha Zq", "Charlie Zq", "Bravo Zq"]
    assert names(order="name") == ["Alpha Zq", "Bravo Zq", "Charlie Zq"]
    assert names(stage=stage(sales_org["pipeline"], "Closed won").pk) == ["Charlie Zq"]
    response = client.get(url("opportunities"), {"q": "zq"})
    assert "3 opportunities" in response.content.decode()
    assert {a.pk, b.pk} <= {o.pk for o in response.context["page"].object_list}


def test_list_pages_and_shows_the_total(client, sales_org):
    for _ in range(53):
        Opportunity.objects.create(
            owner_position=sales_org["ae1"],
            name="Bulk",
            pipeline=sales_org["pipeline"],
            stage=stage(sales_org["pipeline"], "Prospecting"),
        )
    client = as_user(client, sales_org["ae1"])
    response = client.get(url("opportunities"))
    assert len(response.context["page"].object_list) == 50
    assert (
        "53 opportunities" in response.content.decode()
        and "Page 1 of 2" in response.content.decode()
    )
    response = client.get(url("opportunities"), {"page": 2})
    assert len(response.context["page"].object_list) == 3


def test_list_partial_for_htmx(client, sales_org):
    make_opportunity(sales_org["ae1"])
    response = as_user(client, sales_org["ae1"]).get(
        url("opportunities"), {"q": "deal"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "<html" not in response.content.decode()


def test_list_query_count_is_constant(client, sales_org):
    client = as_user(client, sales_org["m1"])
    for i in range(3):
        make_opportunity(
            sales_org["ae1" if i % 2 else "ae2"], account=make_account(sales_org["ae1"])
        )
    client.get(url("opportunities"))
    with CaptureQueriesContext(connection) as few:
        client.get(url("opportunities"))
    for i in range(10):
        make_opportunity(
            sales_org["ae1" if i % 2 else "ae2"], account=make_account(sales_org["ae2"])
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url("opportunities"))
    assert len(response.context["page"].object_list) == 13
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_csv_export_has_exactly_the_visible_rows(client, sales_org):
    for key in ("ae1", "ae1", "ae2", "ae3", "ae4"):
        make_opportunity(sales_org[key], name=f"Deal of {key}")
    client = as_user(client, sales_org["m1"])
    response = client.get(url("opportunities_export"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = export_rows(response)
    visible = client.get(url("opportunities")).context["page"].paginator.count
    assert len(rows) == visible == 3
    assert {r["Name"] for r in rows} == {"Deal of ae1", "Deal of ae2"}
    # filtered the same way as the list
    rows = export_rows(client.get(url("opportunities_export"), {"owner": sales_org["ae2"].pk}))
    assert [r["Name"] for r in rows] == ["Deal of ae2"]
    assert rows[0]["Owner position"] == "AE 1b" and rows[0]["Stage"] == "Prospecting"
    # a peer exports only their own
    client.force_login(sales_org["ae3"].holder)
    rows = export_rows(client.get(url("opportunities_export")))
    assert [r["Name"] for r in rows] == ["Deal of ae3"]


# --- create and edit ----------------------------------------------------------------------------


def test_create_an_opportunity(client, sales_org):
    account = make_account(sales_org["ae1"], name="Globex")
    client = as_user(client, sales_org["ae1"])
    response = client.get(url("opportunity_new"), {"account": account.pk, "type": "upsell"})
    assert response.status_code == 200
    assert response.context["form"].initial["name"] == "Globex — Upsell"
    response = client.post(
        url("opportunity_new"),
        {
            "name": "Globex expansion",
            "account": account.pk,
            "type": "upsell",
            "owner_position": sales_org["ae1"].pk,
            "pipeline": sales_org["pipeline"].pk,
            "stage": "",
            "amount": "5000",
            "currency": "usd",
            "close_date": "2030-03-31",
        },
    )
    opp = Opportunity.objects.get(name="Globex expansion")
    assert response.status_code == 302 and response["Location"] == url("opportunity_detail", opp.pk)
    assert opp.account == account and opp.type == "upsell" and opp.stage.name == "Prospecting"
    assert opp.currency == "USD" and opp.amount == Decimal("5000")


def test_create_refuses_an_owner_outside_the_users_reach(client, sales_org):
    client = as_user(client, sales_org["ae1"])
    response = client.post(
        url("opportunity_new"),
        {
            "name": "Sneaky",
            "type": "new_business",
            "owner_position": sales_org["ae3"].pk,
            "pipeline": sales_org["pipeline"].pk,
            "currency": "USD",
        },
    )
    assert response.status_code == 400 and "owner_position" in response.context["form"].errors
    assert not Opportunity.objects.filter(name="Sneaky").exists()


def test_edit_an_opportunity(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    client = as_user(client, sales_org["ae1"])
    form = client.get(url("opportunity_edit", opp.pk)).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(name="Renamed deal", amount="7500", next_step="Send the deck")
    response = client.post(url("opportunity_edit", opp.pk), data)
    assert response.status_code == 302, response.context["form"].errors
    opp.refresh_from_db()
    assert opp.name == "Renamed deal" and opp.amount == Decimal("7500")
    assert opp.next_step == "Send the deck"


# --- the page and its actions ------------------------------------------------------------------


def test_detail_page_shows_the_stage_path_and_timeline(client, sales_org):
    opp = make_opportunity(sales_org["ae1"], name="Timeline deal")
    services.opportunity_move_stage(
        opportunity=opp, stage=stage(sales_org["pipeline"], "Discovery"), by=None
    )
    services.objection_record(opportunity=opp, by=None, category="price", text="Too dear")
    response = as_user(client, sales_org["ae1"]).get(url("opportunity_detail", opp.pk))
    html = response.content.decode()
    assert "pl-path" in html and "Closed lost" in html
    assert "Moved from Prospecting to Discovery" in html
    assert "Amount then $1,000" in html
    assert "Too dear" in html
    assert 'name="target_kind"' in html  # the CRM's log-activity form


def test_stage_path_move_and_refusal_on_the_page(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    client = as_user(client, sales_org["ae1"])
    demo = stage(sales_org["pipeline"], "Demo")
    response = client.post(url("opportunity_move", opp.pk), {"stage": demo.pk, "return": "detail"})
    assert response.status_code == 302 and response["Location"] == url("opportunity_detail", opp.pk)
    lost = stage(sales_org["pipeline"], "Closed lost")
    response = client.post(url("opportunity_move", opp.pk), {"stage": lost.pk, "return": "detail"})
    assert response.status_code == 400
    assert "needs a loss reason" in response.content.decode()
    opp.refresh_from_db()
    assert opp.stage == demo


def test_close_lost_needs_a_reason(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    client = as_user(client, sales_org["ae1"])
    response = client.post(url("opportunity_close", opp.pk), {"outcome": "lost"})
    assert response.status_code == 400
    assert "Say why the deal was lost." in response.content.decode()
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.OPEN
    response = client.post(
        url("opportunity_close", opp.pk),
        {"outcome": "lost", "loss_reason": "competitor", "loss_note": "Went elsewhere"},
    )
    assert response.status_code == 302
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.LOST and opp.loss_reason == "competitor"


def test_close_won_opens_the_renewal(client, sales_org):
    opp = make_opportunity(sales_org["ae1"], term_months=12, close_date=dt.date(2030, 1, 1))
    client = as_user(client, sales_org["ae1"])
    assert client.post(url("opportunity_close", opp.pk), {"outcome": "won"}).status_code == 302
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.WON
    renewal = opp.renewals.get()
    html = client.get(url("opportunity_detail", opp.pk)).content.decode()
    assert renewal.name in html
    html = client.get(url("opportunity_detail", renewal.pk)).content.decode()
    assert f'href="{url("opportunity_detail", opp.pk)}"' in html


def test_objections_next_step_and_competitors(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    client = as_user(client, sales_org["ae1"])
    response = client.post(
        url("objection_add", opp.pk),
        {"category": "timing", "text": "Not this quarter", "response": "Offered Q3 start"},
    )
    assert response.status_code == 302
    objection = Objection.objects.get(opportunity=opp)
    assert objection.category == "timing" and not objection.resolved
    client.post(url("objection_update", objection.pk), {"resolved": "on"})
    objection.refresh_from_db()
    assert objection.resolved
    assert client.post(url("objection_add", opp.pk), {"category": "price"}).status_code == 400

    client.post(
        url("opportunity_next_step", opp.pk),
        {"next_step": "Call CFO", "forecast_category": "commit"},
    )
    opp.refresh_from_db()
    assert opp.next_step == "Call CFO" and opp.forecast_category == "commit"

    client.post(url("opportunity_competitors", opp.pk), {"names": "Acme, Umbrella, acme"})
    assert sorted(opp.competitors.values_list("name", flat=True)) == ["Acme", "Umbrella"]
    client.post(
        url("opportunity_competitors", opp.pk), {"names": "Acme, Umbrella", "remove": "Acme"}
    )
    assert list(opp.competitors.values_list("name", flat=True)) == ["Umbrella"]


def test_competitor_win_loss(client, sales_org):
    won = make_opportunity(sales_org["ae1"])
    lost = make_opportunity(sales_org["ae1"])
    hidden = make_opportunity(sales_org["ae3"])
    for opp in (won, lost, hidden):
        services.competitor_set(opportunity=opp, names=["Acme"], by=None)
    services.opportunity_close(opportunity=won, won=True, by=None)
    services.opportunity_close(opportunity=lost, won=False, by=None, loss_reason="price")
    response = as_user(client, sales_org["ae1"]).get(url("competitors"))
    (row,) = response.context["rows"]
    assert (row["deals"], row["won"], row["lost"], row["win_rate"]) == (2, 1, 1, 50)


# --- renewals and cross-sell ---------------------------------------------------------------------


def test_renewals_page_lists_visible_renewals_due(client, sales_org):
    opp = make_opportunity(sales_org["ae1"], term_months=1)
    services.opportunity_close(opportunity=opp, won=True, by=None)
    peer = make_opportunity(sales_org["ae3"], term_months=1)
    services.opportunity_close(opportunity=peer, won=True, by=None)
    response = as_user(client, sales_org["ae1"]).get(url("renewals"), {"within": "90"})
    assert [o.renewal_of_id for o in response.context["page"].object_list] == [opp.pk]


def test_cross_sell_opens_a_deal_or_adds_a_prospect(client, sales_org, catalog):
    target = make_account(sales_org["ae1"], name="Target Co", sector="retail")
    peer = make_account(sales_org["ae1"], name="Peer Co", sector="retail")
    for account, product in (
        (target, catalog["seats"]),
        (peer, catalog["seats"]),
        (peer, catalog["support"]),
    ):
        opp = make_opportunity(sales_org["ae1"], account=account, product=product)
        services.opportunity_close(opportunity=opp, won=True, by=None)
    client = as_user(client, sales_org["ae1"])
    response = client.get(url("cross_sell"))
    rows = list(response.context["page"].object_list)
    assert [(r.account.name, r.product.name) for r in rows] == [("Target Co", "Support")]
    html = response.content.decode()
    assert f"account={target.pk}&amp;type=cross_sell&amp;product={catalog['support'].pk}" in html

    prospects = prospect_list_create(
        by=sales_org["ae1"].holder, name="Cross-sell Q1", owner_position=sales_org["ae1"]
    )
    response = client.post(url("cross_sell_prospect", target.pk), {"prospect_list": prospects.pk})
    assert response.status_code == 302
    lead = Lead.objects.get(account=target)
    assert lead.company == "Target Co" and prospects.members.filter(lead=lead).exists()
    # someone who cannot see the account gets 404
    client.force_login(sales_org["ae3"].holder)
    assert (
        client.post(
            url("cross_sell_prospect", target.pk), {"prospect_list": prospects.pk}
        ).status_code
        == 404
    )
