"""Issue 3's 'Done when', as a new user would do it, in headless Chromium.

"A BDR adds prospects to a list; an SDR qualifies one and hands it to an AE; the AE sees the new
opportunity, logs a discovery call and a demo, records an objection, builds a quote with a
discount that goes to the manager for approval, moves the deal through the board and closes it
won; the renewal appears."

One test per part of that sentence, run in order over one story (``crm_helpers.Flow``): each step
starts from the database the step before left and signs nobody in twice. Every step is driven
through the screens only (clicks, typing, drag and drop on the board); the database is set up
before the first step (a small org of its own, the default pipeline, a subscription product in
the default price book) and read after each step to check what the screens did.

The org: a CSO, a VP below, a sales manager below the VP, and under the manager (all in one team,
which does not share records) two AEs, an SDR and a BDR.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.crm_helpers import (
    PRODUCT,
    Flow,
    build_org,
    card,
    column,
    drag_card,
    flash,
    full_name,
    position_label,
    sidebar_link,
    stage_id,
)
from tests.browser.snapshot import DatabaseSnapshot

pytestmark = pytest.mark.browser

LIST_NAME = "Freight forwarders, Q1"
LEAD = ("Lena", "Lindqvist")
COMPANY = "Nordfracht GmbH"
OTHER_LEAD = ("Omar", "Haddad")
DEAL = "Nordfracht: Revline Cloud"
BUDGET = Decimal("12000")
QUANTITY = 10
DISCOUNT = 15  # above the manager's 10 %, within the VP's 20 %


@pytest.fixture(scope="module")
def flow(browser):
    state = Flow(browser=browser)
    yield state
    state.close()


@pytest.fixture
def step(flow: Flow, live_server):
    """The story so far: the org on the first step, afterwards the database as the last step
    left it. After a step that finished, its database is kept for the next one."""
    flow.url = live_server.url
    if not flow.done:
        flow.ids.update(build_org())
    elif flow.snapshot is not None:
        flow.snapshot.restore(connection)
    else:
        pytest.skip("this database cannot be copied between steps")
    finished = len(flow.done)
    flow.script_errors.clear()
    yield flow
    if len(flow.done) > finished:
        if flow.snapshot is not None:
            flow.snapshot.close()
        flow.snapshot = DatabaseSnapshot.take(connection)
    assert not flow.script_errors, f"JavaScript errors on the page: {flow.script_errors}"


def lead_named(first: str, last: str):
    from revline.crm.models import Lead

    return Lead.objects.get(first_name=first, last_name=last)


def the_deal():
    from revline.pipeline.models import Opportunity

    return Opportunity.objects.select_related("stage").get(name=DEAL)


def opportunity_url(flow: Flow, pk: int) -> str:
    return flow.at(reverse("web:opportunity_detail", args=[pk]))


# --- the steps ------------------------------------------------------------------------------


def test_a_bdr_adds_prospects_to_a_list(step: Flow):
    from revline.crm.choices import LeadSource, LeadStatus
    from revline.crm.models import ProspectList

    page = step.page("bdr")
    sidebar_link(page, "Prospect lists").click()
    expect(page.get_by_role("heading", name="No prospect lists yet")).to_be_visible()

    new_list = page.locator("form.crm-form", has=page.get_by_role("heading", name="New list"))
    new_list.get_by_label("Name").fill(LIST_NAME)
    new_list.get_by_label("Description").fill("Mid-size forwarders moving to digital booking.")
    new_list.get_by_role("button", name="Create list").click()
    expect(page.locator("h1.page-title")).to_have_text(LIST_NAME)
    expect(flash(page)).to_contain_text(f"Created the list {LIST_NAME}")

    # Two prospects typed in: the first with "Add and add another", the second with "Add".
    page.locator(".page-actions").get_by_role("link", name="Add prospect").click()
    prospects = [
        (*LEAD, "lena.lindqvist@nordfracht.example", "Head of Logistics", COMPANY),
        (*OTHER_LEAD, "omar.haddad@cargolane.example", "COO", "Cargo Lane Ltd"),
    ]
    for i, (first, last, mail, title, company) in enumerate(prospects):
        form = page.locator("form.crm-form")
        form.get_by_label("First name").fill(first)
        form.get_by_label("Last name").fill(last)
        form.get_by_label("Email").fill(mail)
        form.get_by_label("Job title").fill(title)
        form.get_by_label("Company").fill(company)
        button = "Add and add another" if i == 0 else "Add prospect"
        form.get_by_role("button", name=button, exact=True).click()
        expect(flash(page)).to_contain_text(f"Added {first} {last} to {LIST_NAME}")
    expect(page.locator("h1.page-title")).to_have_text(LIST_NAME)
    expect(page.get_by_role("heading", name="2 prospects")).to_be_visible()
    rows = page.locator("table.crm-table tbody tr")
    expect(rows).to_have_count(2)
    for first, last, *_ in prospects:
        expect(rows.filter(has_text=f"{first} {last}")).to_contain_text("New")

    # The BDR passes Lena to the SDR of the team.
    rows.filter(has_text=" ".join(LEAD)).get_by_role("link", name=" ".join(LEAD)).click()
    expect(page.locator("h1.page-title")).to_contain_text(" ".join(LEAD))
    reassign = page.locator("section", has=page.get_by_role("heading", name="Reassign"))
    reassign.get_by_label("New owner").select_option(label=position_label("sdr"))
    # By name: the label "Note" points at the disqualify form's note, which has the same id.
    reassign.locator("input[name=note]").fill("Opened two e-mails, worth a call.")
    reassign.get_by_role("button", name="Reassign").click()
    expect(flash(page)).to_contain_text(f"{' '.join(LEAD)} now belongs to")

    plist = ProspectList.objects.get(name=LIST_NAME)
    assert plist.owner_position_id == step.ids["bdr"]
    members = {m.lead.name: m.lead for m in plist.members.select_related("lead")}
    assert set(members) == {" ".join(LEAD), " ".join(OTHER_LEAD)}
    for lead in members.values():
        assert lead.generated_by_id == step.ids["bdr"]
        assert lead.source == LeadSource.OUTBOUND
        assert lead.status == LeadStatus.NEW
    assert members[" ".join(LEAD)].owner_position_id == step.ids["sdr"]
    assert members[" ".join(OTHER_LEAD)].owner_position_id == step.ids["bdr"]
    step.finished("bdr")


def test_an_sdr_qualifies_one_and_hands_it_to_an_ae(step: Flow):
    from revline.crm.choices import LeadStatus
    from revline.pipeline.models import Opportunity

    step.after("bdr")
    name = " ".join(LEAD)
    timeline = timezone.localdate() + dt.timedelta(days=60)
    page = step.page("sdr")
    sidebar_link(page, "SDR lead queue").click()
    row = page.locator("table.crm-table tbody tr", has_text=name)
    expect(row).to_contain_text("untouched")
    expect(page.locator("table.crm-table tbody tr")).to_have_count(1)  # Omar stays with the BDR

    # First touch from the queue: a connected call makes the lead contacted.
    row.get_by_label("Call outcome").select_option(label="Connected")
    row.get_by_role("button", name="Log call").click()
    expect(flash(page)).to_contain_text("Logged “Call”")
    expect(row).to_contain_text("Contacted")

    # BANT on the lead page.
    row.get_by_role("link", name="Qualify").click()
    qualify = page.locator("#qualify")
    qualify.get_by_label("Budget").fill(str(BUDGET))
    qualify.get_by_label("Authority").select_option(label="Decision maker")
    qualify.get_by_label("Need").fill("Booking by phone and e-mail; wants one shared pipeline.")
    qualify.get_by_label("Timeline").fill(timeline.isoformat())
    qualify.get_by_role("button", name="Qualify").click()
    expect(page.locator(".page-subtitle")).to_contain_text("Sales-qualified")

    # The hand-off: the AE of the same unit receives it, with the subscription product.
    page.locator(".page-actions").get_by_role("link", name="Hand off to an AE").click()
    expect(page.locator("h1.page-title")).to_have_text("Hand off to an account executive")
    form = page.locator("form.crm-form")
    receivers = form.get_by_label("Receiving account executive").locator("option")
    expect(receivers.filter(has_text=position_label("ae"))).to_have_count(1)
    form.get_by_label("Receiving account executive").select_option(label=position_label("ae"))
    form.get_by_label("Opportunity name").fill(DEAL)
    form.get_by_label("Product").select_option(label=PRODUCT)
    form.get_by_role("button", name="Convert and hand off").click()

    # The SDR does not see the deal: back on the converted lead, with its whole trail.
    expect(flash(page)).to_contain_text(f"opened “{DEAL}” on the created account {COMPANY}")
    expect(page.locator(".page-subtitle")).to_contain_text("Converted")
    trail = page.locator(".crm-handoff")
    for key in ("bdr", "sdr", "ae"):
        expect(trail).to_contain_text(full_name(key))

    lead = lead_named(*LEAD)
    assert lead.status == LeadStatus.CONVERTED
    assert (lead.generated_by_id, lead.qualified_by_id, lead.received_by_id) == (
        step.ids["bdr"],
        step.ids["sdr"],
        step.ids["ae"],
    )
    assert lead.first_touch_at is not None
    deal = the_deal()
    assert deal.owner_position_id == step.ids["ae"]
    assert deal.stage.name == "Prospecting"
    assert (deal.amount, deal.close_date, deal.product_id) == (
        BUDGET,
        timeline,
        step.ids["product"],
    )
    assert deal.account.name == COMPANY and deal.contact.email.startswith("lena.")
    assert lead.converted_opportunity_id == deal.pk
    assert not Opportunity.objects.visible_to(lead.qualified_by.holder).filter(pk=deal.pk).exists()
    step.ids["deal"] = deal.pk
    step.finished("sdr")


def test_the_ae_sees_the_new_opportunity(step: Flow):
    step.after("sdr")
    deal = step.ids["deal"]
    page = step.page("ae")
    sidebar_link(page, "Board").click()
    prospecting = column(page, stage_id("Prospecting"))
    expect(prospecting.locator(f"#opp-{deal}")).to_be_visible()
    expect(card(page, deal)).to_contain_text(COMPANY)
    expect(card(page, deal)).to_contain_text(full_name("ae"))

    card(page, deal).get_by_role("link", name=DEAL).click()
    expect(page).to_have_url(opportunity_url(step, deal))
    expect(page.locator("h1.page-title")).to_have_text(DEAL)
    details = page.locator(".pl-kv")
    expect(details).to_contain_text(COMPANY)
    expect(details).to_contain_text(" ".join(LEAD))
    expect(details).to_contain_text(PRODUCT)
    expect(details).to_contain_text(full_name("ae"))
    expect(page.locator(".pl-timeline")).to_contain_text("Opened in Prospecting")
    step.finished("ae sees")


def test_the_ae_logs_a_discovery_call_and_a_demo(step: Flow):
    from revline.crm.choices import ActivityKind
    from revline.crm.models import Activity

    step.after("ae sees")
    deal = step.ids["deal"]
    page = step.page("ae")
    page.goto(opportunity_url(step, deal))
    for kind, subject, notes in (
        (
            "Discovery call",
            "Discovery with Lena",
            "Three depots, 40 dispatchers, renewals by hand.",
        ),
        ("Demo", "Demo for the dispatch leads", "Showed the board and the booking import."),
    ):
        section = page.locator("#log-activity")
        section.locator("summary", has_text="Log an activity").click()
        form = section.locator("form.crm-activity-form")
        form.get_by_label("Kind").select_option(label=kind)
        form.get_by_label("Subject").fill(subject)
        form.get_by_label("Notes").fill(notes)
        form.get_by_role("button", name="Log activity").click()
        expect(flash(page)).to_contain_text(f"Logged “{subject}”")
        expect(page.locator(".pl-timeline")).to_contain_text(f"{kind}: {subject}")

    logged = Activity.objects.filter(opportunity_id=deal).order_by("id")
    assert [(a.kind, a.created_by.email) for a in logged] == [
        (ActivityKind.DISCOVERY_CALL, "ae@flow.revline.test"),
        (ActivityKind.DEMO, "ae@flow.revline.test"),
    ]
    step.finished("activities")


def test_the_ae_records_an_objection(step: Flow):
    from revline.pipeline.models import Objection

    step.after("activities")
    deal = step.ids["deal"]
    page = step.page("ae")
    page.goto(opportunity_url(step, deal))
    section = page.locator("#objections")
    section.locator("summary", has_text="Record an objection").click()
    section.get_by_label("Category").select_option(label="Price")
    section.get_by_label("Objection:", exact=True).fill("Twice what they pay for the old tool.")
    section.get_by_label("How it was handled").fill("Priced ten seats, not forty.")
    section.get_by_role("button", name="Record", exact=True).click()

    expect(flash(page)).to_contain_text("Recorded the objection.")
    item = page.locator("#objections .pl-objection")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Price")
    expect(item).to_contain_text("Priced ten seats, not forty.")
    expect(page.locator(".pl-timeline")).to_contain_text(
        "Objection (Price): Twice what they pay for the old tool."
    )
    (objection,) = Objection.objects.filter(opportunity_id=deal)
    assert (objection.category, objection.resolved) == ("price", False)
    step.finished("objection")


def test_the_ae_builds_a_quote_whose_discount_goes_to_the_manager(step: Flow):
    from revline.pipeline.choices import ApprovalStatus, QuoteStatus
    from revline.pipeline.models import Quote

    step.after("objection")
    deal = step.ids["deal"]
    page = step.page("ae")
    page.goto(opportunity_url(step, deal))
    page.locator(".page-actions").get_by_role("link", name="New quote").click()
    expect(page.locator("h1.page-title")).to_have_text("New quote")

    builder = page.locator("form[data-quote-builder]")
    line = builder.locator("[data-lines] [data-line]").first
    expect(line.locator("[data-line-product] option:checked")).to_have_text(PRODUCT)
    line.locator("[data-line-quantity]").fill(str(QUANTITY))
    builder.get_by_label("Quote discount %").fill(str(DISCOUNT))
    builder.get_by_label("Terms").fill("Annual subscription, billed yearly in advance.")
    # The builder's live totals say who must approve before anything is saved.
    expect(builder.locator("[data-effective]")).to_have_text(f"{DISCOUNT}.00%")
    expect(builder.locator("[data-approval-hint]")).to_have_text("Needs the manager's approval.")
    builder.get_by_role("button", name="Create quote").click()

    expect(flash(page)).to_contain_text("Created the quote")
    expect(page.locator(".page-subtitle")).to_contain_text("Draft")
    send = page.locator(".page-actions").get_by_role("button", name="Mark as sent")
    expect(send).to_be_disabled()

    page.locator(".page-actions").get_by_role("button", name="Submit for approval").click()
    expect(flash(page)).to_contain_text("Submitted for approval.")
    expect(page.locator(".page-subtitle")).to_contain_text("Waiting for approval")
    steps = page.locator(".pl-steps .pl-step")
    expect(steps).to_have_count(1)
    expect(steps).to_contain_text("Owner's manager")
    expect(steps).to_contain_text("Waiting")
    expect(steps).to_contain_text(full_name("manager"))
    expect(send).to_be_disabled()
    expect(send).to_have_attribute("title", "Only an approved quote can be sent")

    # Even with the button forced on, the server refuses to send it.
    send.evaluate("b => { b.disabled = false; b.removeAttribute('aria-disabled'); }")
    send.click()
    expect(page.locator(".alert-danger")).to_be_visible()

    quote = Quote.objects.get(opportunity_id=deal)
    assert quote.status == QuoteStatus.PENDING_APPROVAL and quote.sent_at is None
    assert quote.effective_discount == Decimal(DISCOUNT)
    assert quote.total == QUANTITY * Decimal("1200") * (100 - DISCOUNT) / 100
    (approval,) = quote.approvals.all()
    assert (approval.approver_position_id, approval.status) == (
        step.ids["manager"],
        ApprovalStatus.PENDING,
    )
    step.ids["quote"] = quote.pk
    step.finished("quote")


def test_the_manager_approves_it_from_the_queue_and_the_ae_sends_it(step: Flow):
    from revline.pipeline.choices import ApprovalStatus, QuoteStatus
    from revline.pipeline.models import Quote

    step.after("quote")
    quote = Quote.objects.get(pk=step.ids["quote"])
    page = step.page("manager")
    sidebar_link(page, "Quotes and approvals").click()
    expect(page.get_by_role("heading", name="1 waiting for you")).to_be_visible()
    row = page.locator(".pl-approval", has_text=f"{quote.number} v1")
    expect(row).to_contain_text(DEAL)
    expect(row).to_contain_text(full_name("ae"))
    expect(row.locator(".pl-over-manager")).to_have_text(f"{DISCOUNT}.00%")
    row.get_by_label("Comment").fill("Fine for a twelve-month commitment.")
    row.get_by_role("button", name="Approve").click()
    expect(flash(page)).to_contain_text(f"Approved {quote.number} v1.")
    expect(page.get_by_role("heading", name="Nothing waiting for you")).to_be_visible()

    quote.refresh_from_db()
    (approval,) = quote.approvals.all()
    assert quote.status == QuoteStatus.APPROVED
    assert approval.status == ApprovalStatus.APPROVED
    assert approval.decided_by.email == "manager@flow.revline.test"

    # The AE may send it now.
    page = step.page("ae")
    page.goto(step.at(reverse("web:quote_detail", args=[quote.pk])))
    expect(page.locator(".page-subtitle")).to_contain_text("Approved")
    expect(page.locator(".pl-comment")).to_have_text("Fine for a twelve-month commitment.")
    send = page.locator(".page-actions").get_by_role("button", name="Mark as sent")
    expect(send).to_be_enabled()
    send.click()
    expect(flash(page)).to_contain_text("Marked as sent to the buyer.")
    expect(page.locator(".page-subtitle")).to_contain_text("Sent")
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SENT and quote.sent_at is not None
    step.finished("approved")


def test_the_ae_moves_the_deal_through_the_board(step: Flow):
    step.after("approved")
    deal = step.ids["deal"]
    page = step.page("ae")
    sidebar_link(page, "Board").click()
    expect(column(page, stage_id("Prospecting")).locator(f"#opp-{deal}")).to_be_visible()

    for name in ("Discovery", "Demo", "Proposal", "Negotiation"):
        drag_card(page, deal, stage_id(name))
        expect(page.locator(".pl-flash")).to_have_text(f"Moved {DEAL} to {name}.")
        expect(column(page, stage_id(name)).locator(f"#opp-{deal}")).to_be_visible()
        assert the_deal().stage.name == name

    # Dropped on "Closed lost" without a reason: refused, the card stays, the form asks for it.
    drag_card(page, deal, stage_id("Closed lost"))
    refusal = page.locator(".pl-flash[role=alert]")
    expect(refusal).to_contain_text(f"{DEAL} stays in Negotiation.")
    refused = column(page, stage_id("Negotiation")).locator(f"#opp-{deal}.is-refused")
    expect(refused).to_be_visible()
    reason = refused.get_by_label("Loss reason")
    expect(reason).to_be_visible()
    expect(refused.get_by_role("button", name="Move to Closed lost")).to_be_visible()

    deal_now = the_deal()
    assert (deal_now.stage.name, deal_now.status, deal_now.loss_reason) == (
        "Negotiation",
        "open",
        "",
    )
    history = list(deal_now.stage_changes.order_by("id").values_list("to_stage__name", flat=True))
    assert history == ["Prospecting", "Discovery", "Demo", "Proposal", "Negotiation"]
    step.finished("board")


def test_a_refused_drop_puts_the_focus_on_what_is_missing(step: Flow):
    """The board's script brings the refused card into view with its form field focused."""
    step.after("board")
    deal = step.ids["deal"]
    page = step.page("ae")
    sidebar_link(page, "Board").click()
    drag_card(page, deal, stage_id("Closed lost"))
    refused = column(page, stage_id("Negotiation")).locator(f"#opp-{deal}.is-refused")
    expect(refused.get_by_label("Loss reason")).to_be_visible()
    expect(refused.get_by_label("Loss reason")).to_be_focused(timeout=2_000)


def test_the_ae_closes_it_won_and_the_renewal_appears(step: Flow):
    from revline.crm.models import Account
    from revline.pipeline.choices import OpportunityStatus, OpportunityType

    step.after("board")
    deal = step.ids["deal"]
    page = step.page("ae")
    sidebar_link(page, "Board").click()
    drag_card(page, deal, stage_id("Closed won"))
    expect(page.locator(".pl-flash")).to_have_text(f"Moved {DEAL} to Closed won.")
    expect(card(page, deal)).to_have_count(0)  # the board shows open deals

    won = the_deal()
    assert won.status == OpportunityStatus.WON and won.closed_on == timezone.localdate()
    (renewal,) = won.renewals.all()
    assert renewal.type == OpportunityType.RENEWAL
    assert renewal.owner_position_id == step.ids["ae"]
    assert (renewal.amount, renewal.product_id) == (won.amount, step.ids["product"])
    assert renewal.close_date.replace(year=renewal.close_date.year - 1) == won.closed_on
    account = Account.objects.get(pk=won.account_id)
    assert (account.customer_status, account.customer_since) == ("customer", won.closed_on)

    # The deal's page: won, with its renewal.
    page.locator(".pl-flash").get_by_role("link", name=DEAL).click()
    expect(page.locator(".page-subtitle")).to_contain_text("Closed won")
    renewals = page.locator("section", has=page.get_by_role("heading", name="Renewals"))
    expect(renewals.get_by_role("link", name=renewal.name)).to_be_visible()
    expect(page.locator(".pl-timeline")).to_contain_text("Moved from Negotiation to Closed won")

    renewals.get_by_role("link", name=renewal.name).click()
    expect(page.locator("h1.page-title")).to_have_text(renewal.name)
    expect(page.locator(".page-subtitle")).to_contain_text("Renewal")
    expect(page.get_by_text(re.compile(r"^Renews"))).to_contain_text(DEAL)

    # ... and in the renewals list, a year ahead.
    page.goto(step.at(reverse("web:renewals")))
    page.get_by_role("link", name="Next a year").click()
    days = (renewal.close_date - timezone.localdate()).days
    row = page.locator("table tbody tr", has_text=renewal.name)
    expect(row, f"due in {days} days: outside 'a year' (366 days)?").to_be_visible()
    expect(row).to_contain_text(full_name("ae"))
    expect(row.get_by_role("link", name=DEAL)).to_be_visible()
    step.ids["renewal"] = renewal.pk
    step.finished("won")


def test_a_peer_ae_gets_the_404_page_for_the_deal(step: Flow):
    step.after("won")
    page = step.page("peer")
    for url in (
        opportunity_url(step, step.ids["deal"]),
        opportunity_url(step, step.ids["renewal"]),
        step.at(reverse("web:quote_detail", args=[step.ids["quote"]])),
    ):
        response = page.goto(url)
        assert response is not None and response.status == 404, url
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text(COMPANY)
    sidebar_link(page, "Board").click()
    expect(page.locator(".pl-card")).to_have_count(0)
    expect(page.locator("#board")).not_to_contain_text(COMPANY)
