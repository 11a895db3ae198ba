"""Helpers of the CRM flow in the browser (``test_crm_flow.py``): a small sales org of its own,
one signed-in browser per person, the state each step hands to the next, and drag and drop on
the pipeline board.

The steps run in order over one story. Every browser test runs on pytest-django's
transactional database, which is emptied after each test; so at the end of a step that passed
the rows are copied aside (``snapshot.py``, as the ``demo`` fixture does), and the next step puts
them back before it starts. Sessions are rows too, so each person stays signed in from one step
to the next. A step whose predecessor did not finish is skipped, saying which one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.helpers import Demo, login
from tests.browser.snapshot import DatabaseSnapshot

PASSWORD = "flow-browser-password-7"
DOMAIN = "flow.revline.test"

# key: (full name, role, position title, reports to)
PEOPLE: dict[str, tuple[str, str, str, str | None]] = {
    "cso": ("Cora Chiefly", "cso", "Chief Sales Officer", None),
    "vp": ("Vic Vantage", "vp_sales", "VP Sales North", "cso"),
    "manager": ("Mona Mentor", "sales_manager", "Sales Manager North", "vp"),
    "ae": ("Ada Closer", "ae", "Account Executive North 1", "manager"),
    "peer": ("Perry Peerson", "ae", "Account Executive North 2", "manager"),
    "sdr": ("Sid Dialwell", "sdr", "SDR North", "manager"),
    "bdr": ("Bea Hunter", "bdr", "BDR North", "manager"),
}
TEAM = "North new business"  # the manager and everyone below; records are not shared

PRODUCT = "Revline Cloud"
LIST_PRICE = Decimal("1200.00")
PRICE_BOOK = "Standard 2027"


def email(key: str) -> str:
    return f"{key}@{DOMAIN}"


def full_name(key: str) -> str:
    return PEOPLE[key][0]


def position_label(key: str) -> str:
    """How a position is offered in the owner and hand-off selects."""
    return f"{PEOPLE[key][2]} — {PEOPLE[key][0]}"


def build_org() -> dict[str, int]:
    """The sales org, its role templates (so the sidebar shows each role's screens), the default
    pipeline and a subscription product priced in the default price book. Returns the ids the
    steps look things up by."""
    from revline.org import services as org
    from revline.org.demo import role_templates_install
    from revline.pipeline.models import PriceBook, PriceBookEntry, Product
    from revline.pipeline.services import pipeline_ensure_default

    role_templates_install()
    team = org.team_create(name=TEAM, by=None)
    ids: dict[str, int] = {}
    positions: dict[str, Any] = {}
    for key, (name, role, title, reports_to) in PEOPLE.items():
        user = org.user_create(email=email(key), full_name=name, by=None, password=PASSWORD)
        positions[key] = org.position_create(
            title=title,
            role=role,
            by=None,
            reports_to=positions[reports_to] if reports_to else None,
            holder=user,
            team=team if key not in ("cso", "vp") else None,
        )
        ids[key] = positions[key].pk
    pipeline = pipeline_ensure_default()
    ids["pipeline"] = pipeline.pk
    product = Product.objects.create(
        name=PRODUCT,
        code="RL-CLOUD",
        list_price=LIST_PRICE,
        is_subscription=True,
        term_months=12,
    )
    book = PriceBook.objects.create(name=PRICE_BOOK, is_default=True)
    PriceBookEntry.objects.create(price_book=book, product=product, unit_price=LIST_PRICE)
    ids["product"] = product.pk
    return ids


def stage_id(name: str) -> int:
    from revline.pipeline.models import Stage

    return Stage.objects.get(pipeline__is_default=True, name=name).pk


@dataclass
class Flow:
    """What the steps share: the database as the last step left it, the record ids it made,
    and a signed-in browser page per person."""

    browser: Browser
    snapshot: DatabaseSnapshot | None = None
    done: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    url: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    script_errors: list[str] = field(default_factory=list)

    # --- order of the steps ---

    def after(self, step: str) -> None:
        """Skip this step unless ``step`` finished."""
        if step not in self.done:
            pytest.skip(f"needs the step {step!r}, which did not finish")

    def finished(self, step: str) -> None:
        """Call at the end of a step: the database is copied aside for the next one."""
        self.done.append(step)

    # --- the people ---

    @property
    def demo(self) -> Demo:
        return Demo(url=self.url, password=PASSWORD)

    def at(self, path: str) -> str:
        return self.url + path

    def page(self, key: str) -> Page:
        """``key``'s browser page, signed in through the login form the first time."""
        if key not in self.pages:
            context = self.browser.new_context(viewport={"width": 1366, "height": 900})
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda error: self.script_errors.append(f"{key}: {error}"))
            login(page, self.demo, email(key))
            self.pages[key] = page
        return self.pages[key]

    def close(self) -> None:
        for page in self.pages.values():
            page.context.close()
        self.pages.clear()
        if self.snapshot is not None:
            self.snapshot.close()
            self.snapshot = None


def sidebar_link(page: Page, label: str) -> Locator:
    return page.locator("aside.sidebar").get_by_role("link", name=label, exact=True)


def flash(page: Page) -> Locator:
    """The messages shown after a redirect."""
    return page.locator(".messages")


# --- the board ---------------------------------------------------------------------------------


def card(page: Page, opportunity_id: int) -> Locator:
    return page.locator(f"#opp-{opportunity_id}")


def column(page: Page, stage_pk: int) -> Locator:
    return page.locator(f'[data-stage-column="{stage_pk}"]')


def drag_card(page: Page, opportunity_id: int, stage_pk: int) -> None:
    """Drag a card with the mouse and drop it on a stage's drop zone (a column, or one of the
    closing zones that appear at the bottom while a card is dragged).

    Mouse moves rather than ``drag_to``: the closing zones take no pointer events until the drag
    has started, so the target cannot be checked before the button goes down."""
    zone = page.locator(f'[data-drop-zone="{stage_pk}"]')
    source = card(page, opportunity_id).locator(".pl-card-top")
    zone.scroll_into_view_if_needed()  # the board scrolls sideways when its columns are wide
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 12, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] / 2 + 10, steps=4)  # starts the drag
    expect(page.locator("[data-board].pl-dragging")).to_have_count(1)
    target = zone.bounding_box()
    assert target is not None, f"no drop zone for stage {stage_pk}"
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert 0 <= target["x"] < width, f"the drop zone of stage {stage_pk} is out of view"
    x, y = target["x"] + target["width"] / 2, target["y"] + min(target["height"] / 2, 60)
    page.mouse.move(x, y, steps=8)
    page.mouse.up()
