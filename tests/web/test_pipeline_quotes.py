"""Quotes through the web: the builder (with and without JavaScript), submitting for approval,
the approvals queue and decisions, sending (never unapproved), versions and the printable copy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from revline.pipeline import services
from revline.pipeline.choices import ApprovalStatus, QuoteStatus
from revline.pipeline.models import ApprovalRequest, Quote
from tests.web.pipeline_helpers import (
    as_user,
    build_catalog,
    make_opportunity,
    quote_post,
    url,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    return build_catalog()


@pytest.fixture
def deal(sales_org):
    return make_opportunity(sales_org["ae1"], name="Quoted deal")


def build(client, deal, product, **kwargs) -> Quote:
    response = client.post(url("quote_new", deal.pk), quote_post(product, **kwargs))
    assert response.status_code == 302, response.context and response.context["form"].errors
    return Quote.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])


def test_builder_creates_a_quote_from_the_price_book(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    response = client.get(url("quote_new", deal.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        'id="quote-prices"' in html
        and "data-line-template" in html
        and "lines-__prefix__-product" in html
    )
    quote = build(client, deal, catalog["seats"], quantity="10", discount="5")
    assert quote.status == QuoteStatus.DRAFT and quote.opportunity == deal
    (line,) = quote.lines.all()
    assert line.unit_price == Decimal("100") and line.line_total == Decimal("950.00")
    assert quote.total == Decimal("950.00") and quote.terms == "Net 30"


def test_builder_without_js_adds_a_line_and_recalculates(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    response = client.post(
        url("quote_new", deal.pk), quote_post(catalog["seats"], extra={"add_line": "1"})
    )
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 2
    assert not Quote.objects.exists()
    response = client.post(
        url("quote_new", deal.pk),
        quote_post(catalog["seats"], quantity="2", quote_discount="10", extra={"recalculate": "1"}),
    )
    assert response.status_code == 200 and not Quote.objects.exists()
    preview = response.context["preview"]
    assert preview["subtotal"] == Decimal("200.00") and preview["total"] == Decimal("180.00")
    assert preview["effective"] == Decimal("10.00")
    assert "Needs the manager" not in response.content.decode()


def test_builder_shows_errors(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    data = quote_post(catalog["seats"])
    data["lines-0-product"] = ""
    response = client.post(url("quote_new", deal.pk), data)
    assert (
        response.status_code == 400
        and "Add at least one product line." in response.content.decode()
    )
    data = quote_post(catalog["seats"], discount="150")
    assert client.post(url("quote_new", deal.pk), data).status_code == 400
    assert not Quote.objects.exists()


def test_quote_needing_no_approval_is_approved_on_submit_and_sent(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    quote = build(client, deal, catalog["seats"], discount="5")
    assert client.post(url("quote_submit", quote.pk)).status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED and not quote.approvals.exists()
    assert client.post(url("quote_send", quote.pk)).status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SENT and quote.sent_at is not None
    client.post(url("quote_outcome", quote.pk), {"outcome": "accepted"})
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED


def test_create_submit_approve_by_manager_then_send(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    quote = build(client, deal, catalog["seats"], discount="15")
    assert quote.effective_discount == Decimal("15.00")
    client.post(url("quote_submit", quote.pk))
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.PENDING_APPROVAL
    (approval,) = quote.approvals.all()
    assert approval.approver_position == sales_org["m1"]

    # an unapproved quote cannot be sent through the view
    response = client.post(url("quote_send", quote.pk))
    assert response.status_code == 400
    assert "Only an approved quote can be sent." in response.content.decode()
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.PENDING_APPROVAL and quote.sent_at is None
    page = client.get(url("quote_detail", quote.pk)).content.decode()
    assert 'disabled aria-disabled="true" title="Only an approved quote can be sent"' in page

    # the owner cannot approve their own discount
    response = client.post(url("approval_decide", approval.pk), {"decision": "approve"})
    assert response.status_code == 403

    # the manager approves from the queue
    client.force_login(sales_org["m1"].holder)
    queue = client.get(url("approvals"))
    assert [a.pk for a in queue.context["rows"]] == [approval.pk]
    html = queue.content.decode()
    assert "Q-" in html and "15.00%" in html and "manager 10" in html
    response = client.post(
        url("approval_decide", approval.pk), {"decision": "approve", "comment": "OK this once"}
    )
    assert response.status_code == 302 and response["Location"] == url("approvals")
    quote.refresh_from_db()
    approval.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED
    assert approval.status == ApprovalStatus.APPROVED and approval.comment == "OK this once"
    assert client.get(url("approvals")).context["rows"] == []

    client.force_login(sales_org["ae1"].holder)
    assert client.post(url("quote_send", quote.pk)).status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SENT


def test_large_discount_needs_manager_then_vp(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    quote = build(client, deal, catalog["seats"], discount="30")
    client.post(url("quote_submit", quote.pk))
    manager_step, vp_step = quote.approvals.order_by("step")
    assert vp_step.approver_position == sales_org["vp"]
    client.force_login(sales_org["vp"].holder)
    assert client.get(url("approvals")).context["rows"] == []  # not its turn yet
    client.force_login(sales_org["m1"].holder)
    client.post(url("approval_decide", manager_step.pk), {"decision": "approve"})
    client.force_login(sales_org["vp"].holder)
    assert [a.pk for a in client.get(url("approvals")).context["rows"]] == [vp_step.pk]
    client.post(url("approval_decide", vp_step.pk), {"decision": "approve"})
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.APPROVED


def test_approval_queue_shows_only_the_approvers_requests(client, sales_org, catalog):
    mine = make_opportunity(sales_org["ae1"])
    other = make_opportunity(sales_org["ae3"])
    q1 = services.quote_create(
        opportunity=mine, by=None, lines=[{"product": catalog["seats"], "discount_percent": 15}]
    )
    q2 = services.quote_create(
        opportunity=other, by=None, lines=[{"product": catalog["seats"], "discount_percent": 15}]
    )
    services.quote_submit(quote=q1, by=None)
    services.quote_submit(quote=q2, by=None)
    m1_rows = as_user(client, sales_org["m1"]).get(url("approvals")).context["rows"]
    assert [a.quote_id for a in m1_rows] == [q1.pk]
    m2_rows = as_user(client, sales_org["m2"]).get(url("approvals")).context["rows"]
    assert [a.quote_id for a in m2_rows] == [q2.pk]
    assert as_user(client, sales_org["ae1"]).get(url("approvals")).context["rows"] == []
    # another manager cannot decide m1's request: they do not even see the quote
    approval = ApprovalRequest.objects.get(quote=q1)
    client.force_login(sales_org["m2"].holder)
    assert (
        client.post(url("approval_decide", approval.pk), {"decision": "approve"}).status_code == 404
    )
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


def test_reject_needs_a_comment_and_revising_makes_a_new_draft(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    quote = build(client, deal, catalog["seats"], discount="15")
    client.post(url("quote_submit", quote.pk))
    approval = quote.approvals.get()
    client.force_login(sales_org["m1"].holder)
    client.post(url("approval_decide", approval.pk), {"decision": "reject"})
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING  # a rejection without a reason is refused
    client.post(url("approval_decide", approval.pk), {"decision": "reject", "comment": "Max 10%"})
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.REJECTED
    client.force_login(sales_org["ae1"].holder)
    page = client.get(url("quote_detail", quote.pk)).content.decode()
    assert "Max 10%" in page
    response = client.post(url("quote_edit", quote.pk), quote_post(catalog["seats"], discount="10"))
    assert response.status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT and quote.effective_discount == Decimal("10.00")


def test_new_version_of_a_sent_quote(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    quote = build(client, deal, catalog["seats"])
    client.post(url("quote_submit", quote.pk))
    client.post(url("quote_send", quote.pk))
    response = client.get(url("quote_edit", quote.pk))
    assert response.status_code == 200 and "Create version 2" in response.content.decode()
    response = client.post(url("quote_edit", quote.pk), quote_post(catalog["seats"], quantity="20"))
    new = Quote.objects.get(number=quote.number, version=2)
    assert response["Location"] == url("quote_detail", new.pk)
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SUPERSEDED and new.status == QuoteStatus.DRAFT
    html = client.get(url("quote_detail", new.pk)).content.decode()
    assert f'href="{url("quote_detail", quote.pk)}">v1</a>' in html


def test_print_page(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    quote = build(client, deal, catalog["seats"], quote_discount="10")
    response = client.get(url("quote_print", quote.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Save as PDF" in html and "pipeline.css" in html
    assert quote.number in html and "Seats" in html and "1,000.00" in html and "900.00" in html
    assert "−100.00" in html
    assert 'class="sidebar"' not in html  # a clean sheet, not the app shell
    assert "not a binding offer" in html  # a draft says so


def test_quote_detail_lets_the_approver_decide(client, sales_org, catalog, deal):
    client = as_user(client, sales_org["ae1"])
    quote = build(client, deal, catalog["seats"], discount="15")
    client.post(url("quote_submit", quote.pk))
    client.force_login(sales_org["m1"].holder)
    response = client.get(url("quote_detail", quote.pk))
    assert response.context["may_decide"]
    approval = quote.approvals.get()
    response = client.post(
        url("approval_decide", approval.pk),
        {"decision": "approve", "next": url("quote_detail", quote.pk)},
    )
    assert response["Location"] == url("quote_detail", quote.pk)
