"""Issue 4's planning steps as a new user would take them, in headless Chromium on the demo org.

"The VP of a region sets the quarter's targets and a budget; a manager sets quotas for their
agents (and cannot for another manager's); an agent submits a forecast; the manager adjusts it."

Each test starts from the untouched demo (the ``demo`` fixture),
signs in through the login form, reaches the screen from the sidebar and the planning tabs, acts
only through the page (typing, choosing, clicking), then reads the database to check what the
screens did. The quarter is the current one of the fiscal calendar: what a new user plans.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from revline.planning.calendar import fiscal_rule
from revline.planning.selectors import today
from tests.browser.helpers import login, logout, position_of

pytestmark = pytest.mark.browser

VP = "vera.fictional@demo.revline.test"  # VP of Sales, Central
MANAGER = "dustin.brinkmann@demo.revline.test"  # Sales Manager, Central (Brinkmann's team)
AGENT = "anna.snelling@demo.revline.test"  # an agent of that manager
OTHER_AGENT = "jonathan.berthelot@demo.revline.test"  # an agent of Melvin Marxen (Central too)


def quarter():
    return fiscal_rule().period_of(today(), "quarter")


def sidebar(page: Page, label: str):
    return page.locator("aside.sidebar").get_by_role("link", name=label, exact=True)


def tab(page: Page, label: str):
    return page.locator("nav.pn-tabs").get_by_role("link", name=label, exact=True)


def flash(page: Page):
    return page.locator(".messages")


def test_vp_sets_the_quarters_targets_and_a_budget(page, demo):
    from revline.planning.models import Budget, BudgetSpend, Target

    vp = position_of(VP)
    region = vp.region
    team = vp.direct_reports.filter(team__isnull=False).first().team
    q = quarter()
    login(page, demo, VP)

    sidebar(page, "Targets").click()
    expect(page.locator("h1.page-title")).to_have_text("Targets")
    expect(page.locator("#pn-period")).to_have_value(q.key)
    # the region's line, then its teams; no target yet this quarter
    row = page.locator(f'#target-rows tr[data-scope="region:{region.pk}"]')
    expect(row).to_contain_text(region.name)
    expect(row.get_by_test_id("target")).to_have_text("—")
    # the form below: the region's quarter target
    form = page.locator("#set-target")
    form.get_by_label("Team or region").select_option(f"region:{region.pk}")
    form.get_by_label("Period").select_option(q.key)
    form.get_by_label("Bookings target").fill("1250000")
    form.get_by_role("button", name="Set target").click()
    expect(flash(page)).to_contain_text(f"Target for {region.name}, {q.label}")
    expect(row.get_by_test_id("target")).to_contain_text("$1,250,000")
    # a team's target from its line
    team_row = page.locator(f'#target-rows tr[data-scope="team:{team.pk}"]')
    team_row.get_by_text("Set target").click()
    team_row.get_by_label("Target").fill("420000")
    team_row.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text(f"Target for {team.name}")
    expect(team_row.get_by_test_id("target")).to_contain_text("$420,000")

    # a budget for the region
    tab(page, "Budgets").click()
    expect(page.locator("h1.page-title")).to_have_text("Budgets")
    form = page.locator("#set-budget")
    form.get_by_label("Team or region").select_option(f"region:{region.pk}")
    form.get_by_label("Period").select_option(q.key)
    form.get_by_label("Category").select_option("campaigns")
    form.get_by_label("Budget").fill("60000")
    form.get_by_label("Note").fill("Spring trade shows")
    form.get_by_role("button", name="Set budget").click()
    expect(flash(page)).to_contain_text("Campaigns budget for")
    budget_row = page.locator("#budget-rows tr").filter(has_text="Spring trade shows")
    expect(budget_row).to_contain_text("$60,000")
    # and spend against it
    budget_row.get_by_role("link", name=region.name).click()
    expect(page.locator("h1.page-title")).to_contain_text("Campaigns budget")
    spend = page.locator("#record-spend")
    spend.get_by_label("Amount").fill("7500")
    spend.get_by_label("Day").fill(q.start.isoformat())
    spend.get_by_label("What it was for").fill("Booth deposit")
    spend.get_by_role("button", name="Record spend").click()
    expect(flash(page)).to_contain_text("Spend of 7,500.00 recorded")
    expect(page.get_by_test_id("budget-left")).to_have_text("$52,500")

    targets = {
        (t.region_id, t.team_id): t.amount
        for t in Target.objects.filter(
            period_start=q.start, period_kind="quarter", is_generated=False
        )
    }
    assert targets == {(region.pk, None): Decimal("1250000"), (None, team.pk): Decimal("420000")}
    budget = Budget.objects.get(period_start=q.start, is_generated=False)
    assert (budget.region, budget.category, budget.amount, budget.set_by.email) == (
        region,
        "campaigns",
        Decimal("60000"),
        VP,
    )
    assert BudgetSpend.objects.get(budget=budget).amount == Decimal("7500")


def test_manager_sets_quotas_for_their_agents_not_another_managers(page, demo):
    from revline.planning.models import Quota

    manager = position_of(MANAGER)
    agent = position_of(AGENT)
    other = position_of(OTHER_AGENT)
    assert other.reports_to_id != manager.pk
    q = quarter()
    login(page, demo, MANAGER)

    sidebar(page, "Quotas").click()
    expect(page.locator("h1.page-title")).to_have_text("Quotas")
    row = page.locator(f'#quota-rows tr[data-position="{agent.pk}"]')
    expect(row).to_contain_text(agent.holder.get_full_name())
    expect(row.get_by_test_id("quota")).to_contain_text("—")
    row.get_by_text("Set quota").click()
    row.get_by_label("Quota").fill("95000")
    row.get_by_label("Deals").fill("6")
    row.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text(f"Quota for {agent.holder.get_full_name()}, {q.label}")
    expect(row.get_by_test_id("quota")).to_contain_text("$95,000")
    # a second agent through the form under the board
    second = manager.direct_reports.filter(role="ae").exclude(pk=agent.pk).order_by("id").first()
    form = page.locator("#set-quota")
    position_select = form.get_by_label("Position")
    # only the manager's own people are offered
    offered = position_select.locator("option").evaluate_all("os => os.map(o => Number(o.value))")
    assert agent.pk in offered and second.pk in offered and other.pk not in offered
    position_select.select_option(str(second.pk))
    form.get_by_label("Quota amount").fill("80000")
    form.get_by_role("button", name="Set quota").click()
    expect(
        page.locator(f'#quota-rows tr[data-position="{second.pk}"]').get_by_test_id("quota")
    ).to_contain_text("$80,000")
    expect(page.get_by_test_id("node-reports")).to_contain_text("$175,000")

    # another manager's agent: not reachable by the board, and a forged post is refused
    response = page.goto(demo.at(f"/planning/quotas/?position={other.pk}"))
    assert response is not None and response.status == 404
    page.goto(demo.at("/planning/quotas/"))
    forged = page.evaluate(
        """async ([pk, period]) => {
            const token = document.querySelector('#set-quota input[name=csrfmiddlewaretoken]').value;
            const body = new URLSearchParams({csrfmiddlewaretoken: token, position: pk, period, amount: '1'});
            const r = await fetch('/planning/quotas/set/', {method: 'POST', body, credentials: 'same-origin'});
            return r.status;
        }""",
        [str(other.pk), q.key],
    )
    assert forged == 404
    # nor the manager's own quota (visible, but not below them): 403
    forged_own = page.evaluate(
        """async ([pk, period]) => {
            const token = document.querySelector('#set-quota input[name=csrfmiddlewaretoken]').value;
            const body = new URLSearchParams({csrfmiddlewaretoken: token, position: pk, period, amount: '1'});
            const r = await fetch('/planning/quotas/set/', {method: 'POST', body, credentials: 'same-origin'});
            return r.status;
        }""",
        [str(manager.pk), q.key],
    )
    assert forged_own == 403

    # the period picker swaps the board for another quarter (htmx), where nothing is set yet
    previous = fiscal_rule().shift(q, -1)
    page.locator("#pn-period").select_option(previous.key)
    expect(page).to_have_url(re.compile(f"period={previous.key}"))
    expect(page.locator(".card-subtitle").first).to_contain_text(previous.label)
    expect(
        page.locator(f'#quota-rows tr[data-position="{agent.pk}"]').get_by_test_id("quota")
    ).to_contain_text("—")

    mine = {
        qt.owner_position_id: qt.amount
        for qt in Quota.objects.filter(
            period_start=q.start, period_kind="quarter", is_generated=False
        )
    }
    assert mine == {agent.pk: Decimal("95000"), second.pk: Decimal("80000")}
    assert Quota.objects.get(owner_position=agent, period_start=q.start).set_by.email == MANAGER


def test_agent_submits_a_forecast_and_the_manager_adjusts_it(page, demo):
    from revline.planning.models import ForecastAdjustment, ForecastSubmission

    agent = position_of(AGENT)
    q = quarter()
    login(page, demo, AGENT)
    page.goto(demo.at("/planning/quotas/"))
    tab(page, "Forecast").click()
    expect(page.locator("h1.page-title")).to_have_text("Forecast")
    form = page.locator("#forecast-form")
    form.get_by_label("Commit").fill("60000")
    form.get_by_label("Best case").fill("25000")
    form.get_by_label("Pipeline").fill("110000")
    form.get_by_label("Note to your manager").fill("Two renewals due in the last month.")
    form.get_by_role("button", name="Submit forecast").click()
    expect(flash(page)).to_contain_text(f"Forecast for {q.label} submitted")
    expect(page.get_by_test_id("commit")).to_have_text("$60,000")
    logout(page, demo)

    login(page, demo, MANAGER)
    sidebar(page, "Forecast").click()
    row = page.locator(f'#forecast-rows tr[data-position="{agent.pk}"]')
    expect(row).to_contain_text("Submitted")
    expect(row).to_contain_text("Two renewals due in the last month.")
    expect(row.locator('td[data-figure="commit"]')).to_contain_text("$60,000")
    row.get_by_text("Adjust", exact=True).click()
    row.get_by_label("Figure", exact=True).select_option("commit")
    row.get_by_label("Your figure").fill("45000")
    row.get_by_label("Why").fill("One renewal is at risk.")
    row.get_by_role("button", name="Save adjustment").click()
    expect(flash(page)).to_contain_text(f"Adjusted {agent.holder.get_full_name()}'s commit")
    expect(row.locator('td[data-figure="commit"]')).to_contain_text("$45,000")
    expect(row.locator('td[data-figure="commit"] .pn-adjusted')).to_have_text("$60,000")
    expect(page.locator(".pn-adjustments")).to_contain_text("One renewal is at risk.")
    expect(page.get_by_test_id("rollup-commit")).to_have_text("$45,000")
    logout(page, demo)

    # the agent's own figure is kept, and the agent does not see the manager's adjustment
    login(page, demo, AGENT)
    page.goto(demo.at(f"/planning/forecast/?period={q.key}"))
    expect(page.get_by_test_id("commit")).to_have_text("$60,000")
    expect(page.locator("body")).not_to_contain_text("One renewal is at risk.")

    submission = ForecastSubmission.objects.get(owner_position=agent, period_start=q.start)
    assert submission.commit == Decimal("60000") and submission.submitted_by.email == AGENT
    adjustment = ForecastAdjustment.objects.get(position=agent, period_start=q.start)
    assert (adjustment.amount, adjustment.previous, adjustment.figure) == (
        Decimal("45000"),
        Decimal("60000"),
        "commit",
    )
    assert adjustment.adjusted_by.email == MANAGER
    assert re.search("at risk", adjustment.note)
