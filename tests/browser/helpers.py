"""Helpers shared by the browser tests: signing in and out, and the demo people they use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Page, expect

DEMO_PASSWORD = "browser-test-password"  # set as REVLINE_DEMO_PASSWORD before `revline demo`


@dataclass(frozen=True)
class Demo:
    """The live server's address and the demo users' password."""

    url: str
    password: str

    def at(self, path: str) -> str:
        return self.url + path


def login(page: Page, demo: Demo, email: str, password: str | None = None) -> None:
    """Sign in through the real form and wait for the cockpit."""
    page.goto(demo.at("/login/"))
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password or demo.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(demo.at("/"))
    expect(page.locator("#cockpit")).to_be_visible()


def logout(page: Page, demo: Demo) -> None:
    """Sign out with the top-bar button and land on the login page."""
    page.locator("header.topbar").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile("^" + re.escape(demo.at("/login/"))))
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def user(email: str):
    from revline.org.models import User

    return User.objects.get(email=email)


def position_of(email: str):
    """The one position a demo user holds."""
    from revline.org.models import Position

    return Position.objects.select_related("holder").get(holder__email=email)


def chart_position_ids(page: Page) -> set[int]:
    """The ids of every position card in the org chart, open or folded away."""
    ids = page.locator(".org-tree .org-card").evaluate_all("cards => cards.map(c => c.id)")
    return {int(i.removeprefix("pos-")) for i in ids}
