"""The pipeline board: columns, cards, moving deals (drag and drop posts the card's form), the
requirements a stage checks, filters, permissions and query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revline.pipeline.choices import OpportunityStatus
from revline.pipeline.models import Opportunity, StageChange
from tests.web.pipeline_helpers import (
    as_user,
    make_account,
    make_opportunity,
    share_view,
    stage,
    url,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def move(client, opp, target, *, htmx=False, board="", **extra):
    data = {"stage": target.pk, "return": "board", "board": board, **extra}
    return client.post(url("opportunity_move", opp.pk), data, **(HTMX if htmx else {}))


def test_board_renders_columns_and_cards(client, sales_org):
    account = make_account(sales_org["ae1"], name="Initech")
    opp = make_opportunity(
        sales_org["ae1"], name="Initech seats", account=account, close_date=dt.date(2030, 1, 31)
    )
    response = as_user(client, sales_org["ae1"]).get(url("board"))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("Prospecting", "Discovery", "Demo", "Proposal", "Negotiation"):
        assert name in html
    assert f'id="opp-{opp.pk}"' in html and 'draggable="true"' in html
    assert "Initech seats" in html and "Initech" in html and "31 Jan 2030" in html
    assert "$1,000" in html  # column total and card amount
    assert "pipeline.js" in html  # drag and drop
    assert f'action="{url("opportunity_move", opp.pk)}"' in html  # no-JS "move to" form


def test_board_flags_stuck_deals(client, sales_org):
    opp = make_opportunity(
        sales_org["ae1"], name="Old deal", at=timezone.now() - dt.timedelta(days=45)
    )
    response = as_user(client, sales_org["ae1"]).get(url("board"))
    card = next(o for c in response.context["columns"] for o in c.opportunities if o.pk == opp.pk)
    assert card.is_stuck
    assert "Stuck" in response.content.decode()


def test_board_shows_only_visible_deals(client, sales_org):
    mine = make_opportunity(sales_org["ae1"], name="Mine Zq")
    peer = make_opportunity(sales_org["ae2"], name="Peer Zq")
    html = as_user(client, sales_org["ae1"]).get(url("board")).content.decode()
    assert f'id="opp-{mine.pk}"' in html and f'id="opp-{peer.pk}"' not in html
    html = as_user(client, sales_org["m1"]).get(url("board")).content.decode()
    assert f'id="opp-{mine.pk}"' in html and f'id="opp-{peer.pk}"' in html


def test_board_filters(client, sales_org):
    early = make_opportunity(sales_org["ae1"], name="Early", close_date=dt.date(2030, 1, 10))
    late = make_opportunity(
        sales_org["ae2"], name="Late", close_date=dt.date(2030, 6, 10), type="upsell"
    )
    client = as_user(client, sales_org["m1"])

    def ids(**params):
        response = client.get(url("board"), params)
        return {o.pk for c in response.context["columns"] for o in c.opportunities}

    assert ids() == {early.pk, late.pk}
    assert ids(close_from="2030-03-01") == {late.pk}
    assert ids(close_to="2030-03-01") == {early.pk}
    assert ids(type="upsell") == {late.pk}
    assert ids(owner=sales_org["ae1"].pk) == {early.pk}
    assert ids(q="Lat") == {late.pk}
    client.force_login(sales_org["ae1"].holder)
    assert ids(scope="mine") == {early.pk}


def test_board_partial_for_htmx(client, sales_org):
    make_opportunity(sales_org["ae1"])
    response = as_user(client, sales_org["ae1"]).get(url("board"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and "pl-board" in html


def test_board_query_count_is_constant(client, sales_org):
    client = as_user(client, sales_org["m1"])
    for i in range(3):
        make_opportunity(
            sales_org["ae1" if i % 2 else "ae2"], account=make_account(sales_org["ae1"])
        )
    client.get(url("board"))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url("board")).status_code == 200
    pipeline = sales_org["pipeline"]
    for i in range(10):
        opp = make_opportunity(
            sales_org["ae1" if i % 2 else "ae2"], account=make_account(sales_org["ae2"])
        )
        if i % 3 == 0:
            Opportunity.objects.filter(pk=opp.pk).update(stage=stage(pipeline, "Demo"))
    with CaptureQueriesContext(connection) as many:
        assert client.get(url("board")).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- moving -------------------------------------------------------------------------------------


def test_move_without_js_redirects_back_to_the_board(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    demo = stage(sales_org["pipeline"], "Demo")
    response = move(as_user(client, sales_org["ae1"]), opp, demo, board="type=new_business")
    assert response.status_code == 302
    assert (
        response["Location"].startswith(url("board"))
        and "type=new_business" in response["Location"]
    )
    opp.refresh_from_db()
    assert opp.stage == demo
    assert StageChange.objects.filter(opportunity=opp, to_stage=demo).exists()


def test_move_with_htmx_answers_the_board(client, sales_org):
    opp = make_opportunity(sales_org["ae1"], name="Dragged deal")
    discovery = stage(sales_org["pipeline"], "Discovery")
    response = move(as_user(client, sales_org["ae1"]), opp, discovery, htmx=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "Moved" in html and "Dragged deal" in html
    column = next(c for c in response.context["columns"] if c.stage == discovery)
    assert [o.pk for o in column.opportunities] == [opp.pk]


def test_refused_move_shows_the_error_and_what_is_missing(client, sales_org):
    opp = make_opportunity(sales_org["ae1"], name="To lose")
    lost = stage(sales_org["pipeline"], "Closed lost")
    client = as_user(client, sales_org["ae1"])
    response = move(client, opp, lost, htmx=True)
    assert response.status_code == 200  # htmx swaps the board back: the card is in its column
    html = response.content.decode()
    assert "needs a loss reason" in html
    assert 'name="loss_reason"' in html and "Lost to a competitor" in html
    assert response.context["refused"].missing == ["loss_reason"]
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.OPEN and opp.stage.name == "Prospecting"
    # without JavaScript: the whole board with the same form, status 400
    response = move(client, opp, lost)
    assert response.status_code == 400 and "needs a loss reason" in response.content.decode()
    # supplying the reason moves it
    response = move(client, opp, lost, htmx=True, loss_reason="price", loss_note="Too dear")
    assert response.status_code == 200
    opp.refresh_from_db()
    assert opp.status == OpportunityStatus.LOST and opp.loss_reason == "price"
    assert opp.loss_note == "Too dear"


def test_refused_move_to_negotiation_links_to_a_quote(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    negotiation = stage(sales_org["pipeline"], "Negotiation")
    response = move(as_user(client, sales_org["ae1"]), opp, negotiation, htmx=True)
    html = response.content.decode()
    assert "needs" in html and "a quote" in html
    assert url("quote_new", opp.pk) in html
    opp.refresh_from_db()
    assert opp.stage.name == "Prospecting"


def test_missing_amount_can_be_supplied_with_the_move(client, sales_org):
    opp = make_opportunity(sales_org["ae1"], amount=None)
    proposal = stage(sales_org["pipeline"], "Proposal")
    client = as_user(client, sales_org["ae1"])
    response = move(client, opp, proposal, htmx=True)
    assert response.context["refused"].inline == {"amount", "close_date"}
    assert 'name="amount"' in response.content.decode()
    move(client, opp, proposal, htmx=True, amount="2500", close_date="2030-05-01")
    opp.refresh_from_db()
    assert opp.stage == proposal and opp.amount == Decimal("2500")


def test_move_permissions(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    demo = stage(sales_org["pipeline"], "Demo")
    assert move(as_user(client, sales_org["ae2"]), opp, demo).status_code == 404  # peer
    assert move(as_user(client, sales_org["m2"]), opp, demo).status_code == 404  # other manager
    share_view(opp, sales_org["ae3"])
    assert move(as_user(client, sales_org["ae3"]), opp, demo).status_code == 403  # view share
    client.logout()
    response = move(client, opp, demo)
    assert response.status_code == 302 and url("login") in response["Location"]
    opp.refresh_from_db()
    assert opp.stage.name == "Prospecting"
    assert move(as_user(client, sales_org["m1"]), opp, demo).status_code == 302  # the manager


def test_read_only_viewer_gets_no_drag_handles(client, sales_org):
    opp = make_opportunity(sales_org["ae1"])
    share_view(opp, sales_org["ae3"])
    html = as_user(client, sales_org["ae3"]).get(url("board")).content.decode()
    assert f'id="opp-{opp.pk}"' in html
    assert 'draggable="true"' not in html and url("opportunity_move", opp.pk) not in html


def test_board_requires_login(client, sales_org):
    response = client.get(url("board"))
    assert response.status_code == 302 and url("login") in response["Location"]


def test_sidebar_links_to_opportunities_and_board(client, sales_org):
    html = as_user(client, sales_org["ae1"]).get(url("home")).content.decode()
    sidebar = html[html.index('<aside class="sidebar"') : html.index("</aside>")]
    assert f'href="{url("opportunities")}"' in sidebar and ">Board</span>" in sidebar
