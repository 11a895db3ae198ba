"""The org chart in the browser: who sees which positions, expand/collapse, search, sign-in errors.

The issue's 'Done when' scenario: the CSO, a Maven manager (Dustin Brinkmann), one of his agents
(Anna Snelling) and an agent of another manager (Jonathan Berthelot) each see the positions the
visibility rules allow, and nothing else. The expected set comes from the one predicate,
``Position.objects.visible_to(user)``; docs/permissions.md's examples are asserted on top.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from revline.org.models import Position
from tests.browser.helpers import chart_position_ids, login, position_of, user

pytestmark = pytest.mark.browser

CSO = "sam.sample@demo.revline.test"
MANAGER = "dustin.brinkmann@demo.revline.test"
AE = "anna.snelling@demo.revline.test"
OTHER_AE = "jonathan.berthelot@demo.revline.test"  # reports to Melvin Marxen
CEO = "casey.example@demo.revline.test"
VP = "vera.fictional@demo.revline.test"
CRO = "robin.placeholder@demo.revline.test"


def chart_url(demo, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return demo.at(reverse("web:org_chart") + (f"?{query}" if query else ""))


def position_url(demo, position: Position) -> str:
    return demo.at(reverse("web:position_detail", args=[position.pk]))


def card(page, position: Position):
    return page.locator(f"#pos-{position.pk}")


@pytest.mark.parametrize("email", [CSO, MANAGER, AE, OTHER_AE])
def test_chart_shows_exactly_the_visible_positions(page, demo, email):
    visible = list(Position.objects.visible_to(user(email)).select_related("holder"))
    expected_names = sorted(p.holder.get_full_name() if p.holder else "Vacant" for p in visible)

    login(page, demo, email)
    page.locator("aside.sidebar").get_by_role("link", name="Org chart").click()
    expect(page).to_have_url(chart_url(demo))
    expect(page.locator("#org-chart .org-tree")).to_be_visible()

    assert chart_position_ids(page) == {p.pk for p in visible}
    names = page.locator(".org-tree .org-card .org-name").all_text_contents()  # folded ones too
    assert sorted(n.strip() for n in names) == expected_names
    expect(page.locator("#org-chart .card-subtitle")).to_contain_text(f"{len(visible)} positions")

    # Nothing outside the view is named anywhere on the page, dotted-line notes included.
    body = page.locator("body").inner_text()
    hidden = Position.objects.exclude(pk__in=[p.pk for p in visible]).filter(holder__isnull=False)
    for position in hidden.select_related("holder"):
        assert position.holder.get_full_name() not in body, position


def test_the_rules_by_example(demo):
    """docs/permissions.md's examples, checked on the DB predicate the chart test relies on."""
    anna, jonathan = position_of(AE), position_of(OTHER_AE)

    def sees(email: str, position: Position) -> bool:
        return Position.objects.visible_to(user(email)).filter(pk=position.pk).exists()

    # Anna: her chain of managers up to the CEO (solid and dotted) and her team-mates.
    chain = [position_of(e) for e in (MANAGER, VP, CSO, CEO, CRO)]
    assert all(sees(AE, p) for p in chain)
    team_mates = Position.objects.filter(team=anna.team).exclude(pk=anna.pk)
    assert team_mates.count() >= 3
    assert all(sees(AE, p) for p in team_mates)
    assert not sees(AE, jonathan)
    assert not sees(OTHER_AE, anna)
    assert sees(MANAGER, anna) and not sees(MANAGER, jonathan)
    assert Position.objects.visible_to(user(CSO)).count() == Position.objects.count()


def test_anna_sees_her_chain_and_team_and_not_jonathan(page, demo):
    anna, jonathan = position_of(AE), position_of(OTHER_AE)
    login(page, demo, AE)

    # Her own position page: the chain of managers up to the CEO.
    page.goto(position_url(demo, anna))
    chain = page.locator(".org-chain li")
    expect(chain).to_have_count(5)  # CEO, CSO, VP Central, Dustin, herself
    for name in ("Casey Example", "Sam Sample", "Vera Fictional", "Dustin Brinkmann"):
        expect(page.locator(".org-chain")).to_contain_text(name)
    expect(chain.last).to_contain_text("Anna Snelling")

    # In the chart, Jonathan Berthelot does not exist for her ...
    page.goto(chart_url(demo))
    expect(card(page, anna)).to_have_count(1)
    expect(card(page, jonathan)).to_have_count(0)
    expect(page.locator(".org-tree")).not_to_contain_text("Jonathan Berthelot")

    # ... and neither does his page: the 404 page, not a 403 that would confirm he exists.
    response = page.goto(position_url(demo, jonathan))
    assert response is not None and response.status == 404
    expect(page.locator(".error-code")).to_have_text("404")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Jonathan")


def test_jonathan_gets_404_for_annas_position(page, demo):
    anna = position_of(AE)
    login(page, demo, OTHER_AE)
    response = page.goto(position_url(demo, anna))
    assert response is not None and response.status == 404
    expect(page.locator(".error-code")).to_have_text("404")
    # The "team of" view of a position outside his view is a 404 as well.
    response = page.goto(chart_url(demo, root=str(anna.pk)))
    assert response is not None and response.status == 404


def test_expand_and_collapse(page, demo):
    vp, manager, anna = position_of(VP), position_of(MANAGER), position_of(AE)
    login(page, demo, CSO)
    page.goto(chart_url(demo))

    # The first two levels start open: the VPs (third level) are visible but folded.
    vp_branch = card(page, vp).locator("xpath=ancestor::details[1]")
    expect(card(page, vp)).to_be_visible()
    expect(vp_branch).not_to_have_attribute("open", re.compile(".*"))
    expect(card(page, manager)).to_be_hidden()

    # Clicking the summary (its caret, not the name link) opens the branch ...
    vp_branch.locator("> summary .org-caret").click()
    expect(vp_branch).to_have_attribute("open", "")
    expect(card(page, manager)).to_be_visible()
    expect(card(page, anna)).to_be_hidden()  # Dustin's own branch is still folded
    # ... and a second click folds it again.
    vp_branch.locator("> summary .org-caret").click()
    expect(card(page, manager)).to_be_hidden()
    expect(page).to_have_url(chart_url(demo))  # no navigation happened

    # Expand all / Collapse all.
    page.get_by_role("button", name="Expand all").click()
    expect(card(page, anna)).to_be_visible()
    expect(page.locator(".org-tree details:not([open])")).to_have_count(0)
    page.get_by_role("button", name="Collapse all").click()
    expect(card(page, anna)).to_be_hidden()
    expect(card(page, position_of(CSO))).to_be_hidden()  # even the top is folded
    expect(card(page, position_of(CEO))).to_be_visible()


def test_search_updates_the_chart_in_place_and_highlights_the_match(page, demo):
    anna = position_of(AE)
    login(page, demo, CSO)
    page.goto(chart_url(demo))
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    box = page.get_by_role("searchbox")
    with page.expect_response(lambda r: "q=Snelling" in r.url) as info:
        box.press_sequentially("Snelling", delay=20)
    response = info.value
    assert response.request.headers.get("hx-request") == "true"
    assert response.status == 200

    match = card(page, anna)
    expect(match).to_have_class(re.compile(r"\bis-match\b"))
    expect(match).to_be_visible()  # the branches above it were opened
    expect(page.locator(".org-tree .org-card.is-match")).to_have_count(1)
    expect(page.locator(".org-matches")).to_contain_text("Anna Snelling")
    expect(page.locator("#org-chart .card-subtitle")).to_contain_text("1 match")
    expect(page).to_have_url(re.compile(r"[?&]q=Snelling"))  # the search is in the address
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped, no reload
    # Branches away from the match stay folded.
    expect(card(page, position_of(OTHER_AE))).to_be_hidden()

    # Clearing the box brings back the whole chart, nothing highlighted.
    with page.expect_response(lambda r: r.url.endswith("q=") or "q=&" in r.url):
        box.fill("")
        box.press("Backspace")
    expect(page.locator(".org-tree .org-card.is-match")).to_have_count(0)
    expect(page.locator(".org-matches")).to_have_count(0)


def test_search_finds_nothing_outside_the_view(page, demo):
    login(page, demo, AE)
    page.goto(chart_url(demo))
    with page.expect_response(lambda r: "q=Berthelot" in r.url):
        page.get_by_role("searchbox").press_sequentially("Berthelot", delay=20)
    expect(page.get_by_role("heading", name="No position matches")).to_be_visible()
    expect(page.locator(".org-tree .org-card.is-match")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Jonathan")


def test_search_works_without_javascript(browser, demo):
    """The search form is a plain GET form underneath: it works with JavaScript switched off."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        login(page, demo, CSO)
        page.goto(chart_url(demo))
        page.get_by_role("searchbox").fill("Snelling")
        page.get_by_role("button", name="Search").click()
        expect(page).to_have_url(re.compile(r"[?&]q=Snelling"))
        expect(card(page, position_of(AE))).to_have_class(re.compile(r"\bis-match\b"))
        expect(card(page, position_of(AE))).to_be_visible()
    finally:
        context.close()


def test_wrong_password_shows_the_error_and_stays_on_the_login_page(page, demo):
    page.goto(demo.at("/login/"))
    page.locator("input[name=email]").fill(AE)
    page.locator("input[name=password]").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(demo.at("/login/"))
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an active account."
    )
    expect(page.locator("input[name=email]")).to_have_value(AE)  # kept for the retry
    expect(page.locator("input[name=password]")).to_have_value("")  # never echoed back
    expect(page.locator("#cockpit")).to_have_count(0)

    # Not signed in: the org chart sends us back to the form.
    page.goto(chart_url(demo))
    expect(page).to_have_url(re.compile(re.escape(demo.at("/login/?next="))))

    # The right password still works afterwards.
    login(page, demo, AE)
