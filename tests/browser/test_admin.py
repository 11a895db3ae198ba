"""The organisation admin screens in the browser, as the RevOps admin: move a position, vacate one.

Every test gets a freshly loaded demo org (the ``demo`` fixture), so the changes made here do not
leak into other tests.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from revline.org.models import Position
from tests.browser.helpers import login, logout, position_of, user

pytestmark = pytest.mark.browser

ADMIN = "admin@demo.revline.test"
AE = "anna.snelling@demo.revline.test"  # reports to Dustin Brinkmann
OLD_MANAGER = "dustin.brinkmann@demo.revline.test"
NEW_MANAGER = "melvin.marxen@demo.revline.test"
OTHER_AE = "jonathan.berthelot@demo.revline.test"  # reports to Melvin Marxen


def sees(email: str, position: Position) -> bool:
    return Position.objects.visible_to(user(email)).filter(pk=position.pk).exists()


def label(position: Position) -> str:
    """How the admin forms list a position."""
    return f"{position.title} — {position.holder.get_full_name()}"


def open_admin_row(page, demo, query: str) -> None:
    """Organisation admin from the sidebar, then filter the position list (htmx)."""
    page.locator("aside.sidebar").get_by_role("link", name="Organisation admin").click()
    expect(page).to_have_url(demo.at(reverse("web:org_admin")))
    with page.expect_response(lambda r: f"q={query}" in r.url):
        page.get_by_role("searchbox").press_sequentially(query, delay=20)
    expect(page.locator("#org-admin-list tbody tr")).to_have_count(1)


def test_move_an_ae_to_another_manager(page, demo):
    anna, dustin, melvin = position_of(AE), position_of(OLD_MANAGER), position_of(NEW_MANAGER)
    assert anna.reports_to_id == dustin.pk and sees(OLD_MANAGER, anna)
    assert not sees(NEW_MANAGER, anna)

    login(page, demo, ADMIN)
    open_admin_row(page, demo, "Snelling")
    page.locator("#org-admin-list tbody tr").get_by_role("link", name="Move").click()
    expect(page).to_have_url(demo.at(reverse("web:position_move", args=[anna.pk])))
    expect(page.locator(".org-lead")).to_contain_text("Dustin Brinkmann")

    page.locator("select[name=reports_to]").select_option(label=label(melvin))
    page.get_by_role("button", name=re.compile("^Move")).click()

    # Back on her position page: the message, the new chain, the history of lines.
    expect(page).to_have_url(demo.at(reverse("web:position_detail", args=[anna.pk])))
    expect(page.locator(".messages")).to_contain_text(f"Moved {anna.title}")
    chain = page.locator(".org-chain")
    expect(chain).to_contain_text("Melvin Marxen")
    expect(chain).not_to_contain_text("Dustin Brinkmann")
    history = page.locator(
        "section", has=page.get_by_role("heading", name="Reporting-line history")
    )
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history.locator("tbody tr", has_text="Melvin Marxen")).to_contain_text("current")
    expect(history.locator("tbody tr", has_text="Dustin Brinkmann")).not_to_contain_text("current")

    anna.refresh_from_db()
    assert anna.reports_to_id == melvin.pk
    # The move form's "also move it into the new manager's team" is ticked by default.
    assert anna.team_id == melvin.team_id
    assert not sees(OLD_MANAGER, anna)  # the old manager has lost sight of her
    assert sees(NEW_MANAGER, anna)  # above her now
    assert sees(OTHER_AE, anna)  # her new team-mates see her

    # The chart shows her in Melvin's team.
    page.goto(demo.at(reverse("web:org_chart") + f"?root={melvin.pk}"))
    expect(page.locator(f"#pos-{anna.pk}")).to_have_count(1)
    page.goto(demo.at(reverse("web:org_chart") + f"?root={dustin.pk}"))
    expect(page.locator(f"#pos-{anna.pk}")).to_have_count(0)

    # And Dustin, in his own browser session, gets the 404 page for her position.
    logout(page, demo)
    login(page, demo, OLD_MANAGER)
    response = page.goto(demo.at(reverse("web:position_detail", args=[anna.pk])))
    assert response is not None and response.status == 404
    page.goto(demo.at(reverse("web:org_chart")))
    expect(page.locator(f"#pos-{anna.pk}")).to_have_count(0)
    expect(page.locator(".org-tree")).not_to_contain_text("Anna Snelling")


def test_vacate_a_position(page, demo):
    jonathan = position_of(OTHER_AE)
    login(page, demo, ADMIN)
    open_admin_row(page, demo, "Berthelot")
    page.locator("#org-admin-list tbody tr").get_by_role("link", name="Holder").click()
    expect(page).to_have_url(demo.at(reverse("web:position_holder", args=[jonathan.pk])))

    page.get_by_label("Person").select_option(label="— vacate the position —")
    page.get_by_role("button", name="Save holder").click()

    expect(page).to_have_url(demo.at(reverse("web:position_detail", args=[jonathan.pk])))
    expect(page.get_by_text(f"{jonathan.title} is now vacant.")).to_be_visible()
    expect(page.locator("h1.page-title")).to_contain_text("Vacant position")
    expect(page.locator(".page-subtitle .badge", has_text="Vacant")).to_be_visible()
    holders = page.locator("section", has=page.get_by_role("heading", name="Holders"))
    expect(holders.locator("tbody tr", has_text="Jonathan Berthelot")).not_to_contain_text(
        "current"
    )

    jonathan.refresh_from_db()
    assert jonathan.holder_id is None

    # The chart shows the seat as vacant, under the same manager.
    page.goto(demo.at(reverse("web:org_chart") + f"?root={jonathan.reports_to_id}"))
    node = page.locator(f"#pos-{jonathan.pk}")
    expect(node.locator(".org-name .badge")).to_have_text("Vacant")
    expect(page.locator(".org-tree")).not_to_contain_text("Jonathan Berthelot")

    # Jonathan holds no position any more: he sees no position, and says so on his cockpit.
    assert not Position.objects.visible_to(user(OTHER_AE)).exists()
    logout(page, demo)
    login(page, demo, OTHER_AE)
    expect(page.get_by_role("heading", name="You do not hold a position yet")).to_be_visible()


def test_admin_screens_answer_404_to_a_manager(page, demo):
    """The forbidden path: a manager may not reorganise, not even his own team."""
    anna = position_of(AE)
    login(page, demo, OLD_MANAGER)
    for name in ("web:position_move", "web:position_holder", "web:position_edit"):
        response = page.goto(demo.at(reverse(name, args=[anna.pk])))
        assert response is not None and response.status == 404, name
    page.goto(demo.at(reverse("web:position_detail", args=[anna.pk])))
    expect(page.locator(".page-actions").get_by_role("link", name="Move")).to_have_count(0)
