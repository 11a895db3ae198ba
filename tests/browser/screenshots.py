"""The README's screenshots, taken from the demo organisation in headless Chromium.

Not part of the test suite (the name does not start with ``test_``, so pytest does not collect
it); run it when the screens change:

    .venv/bin/python tests/browser/screenshots.py
    # or: .venv/bin/pytest tests/browser/screenshots.py

It writes ``docs/img/org-chart.png`` (the org chart as the CSO) and ``docs/img/cockpit.png`` (the
CSO's cockpit), 1400x900 each; and for docs/crm.md ``docs/img/board.png`` (the pipeline board as
a sales manager), ``docs/img/opportunity.png`` (a deal's page down to its timeline, as its AE),
``docs/img/quote.png`` (a quote waiting for the manager's approval, as the manager) and
``docs/img/lead-queue.png`` (an SDR's lead queue).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "img"
CSO = "sam.sample@demo.revline.test"
SIZE = {"width": 1400, "height": 900}


@pytest.mark.browser
def test_readme_screenshots(browser, demo):
    from tests.browser.helpers import login, position_of  # here: the script runs from anywhere

    OUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=SIZE, device_scale_factor=1, color_scheme="light")
    try:
        page = context.new_page()
        login(page, demo, CSO)
        page.mouse.move(0, 0)  # no hover effects in the pictures
        page.screenshot(path=OUT / "cockpit.png", animations="disabled")

        # The chart with the sales line in view: the CRO's branch folded, the CSO's open down to
        # one region's managers and one manager's agents.
        page.goto(demo.at(reverse("web:org_chart")))

        def branch(email: str):
            card = page.locator(f"#pos-{position_of(email).pk}")
            return card.locator("xpath=ancestor::details[1]")

        branch("robin.placeholder@demo.revline.test").evaluate("d => { d.open = false; }")
        for email in ("vera.fictional@demo.revline.test", "dustin.brinkmann@demo.revline.test"):
            branch(email).evaluate("d => { d.open = true; }")
        anna = position_of("anna.snelling@demo.revline.test")
        expect(page.locator(f"#pos-{anna.pk}")).to_be_visible()
        page.evaluate("window.scrollTo(0, 0)")
        page.mouse.move(0, 0)
        page.screenshot(path=OUT / "org-chart.png", animations="disabled")
    finally:
        context.close()


MANAGER = "dustin.brinkmann@demo.revline.test"
SDR = "sid.qualifier@demo.revline.test"


@pytest.mark.browser
def test_crm_screenshots(browser, demo):
    from django.db.models import Count, F

    from revline.pipeline.choices import ApprovalStatus
    from revline.pipeline.models import ApprovalRequest, Opportunity
    from tests.browser.helpers import login, user

    OUT.mkdir(parents=True, exist_ok=True)
    manager = user(MANAGER)
    # The deal with the most activities that has a quote (at or below list), on an account its AE
    # owns: in the demo most deals sit on accounts owned by other agents, which their AE does not
    # see (the page would say "outside your view").
    deal = (
        Opportunity.objects.filter(
            quotes__effective_discount__gte=0, account__owner_position=F("owner_position")
        )
        .annotate(
            renewal_count=Count("renewals", distinct=True),
            activity_count=Count("activities", distinct=True),
        )
        .order_by("-activity_count", "-renewal_count", "id")
        .select_related("owner_position__holder")
        .first()
    )
    waiting = (
        ApprovalRequest.objects.filter(
            status=ApprovalStatus.PENDING, approver_position__holder=manager
        )
        .order_by("id")
        .first()
    )
    assert deal is not None and waiting is not None, "the demo has no quoted deal or approval"

    def shoot(email: str, path: str, name: str, *, full_page: bool = False) -> None:
        context = browser.new_context(viewport=SIZE, device_scale_factor=1, color_scheme="light")
        try:
            page = context.new_page()
            login(page, demo, email)
            page.goto(demo.at(path))
            page.mouse.move(0, 0)  # no hover effects in the pictures
            page.screenshot(path=OUT / name, animations="disabled", full_page=full_page)
        finally:
            context.close()

    shoot(MANAGER, reverse("web:board"), "board.png")
    shoot(
        deal.owner_position.holder.email,
        reverse("web:opportunity_detail", args=[deal.pk]),
        "opportunity.png",
        full_page=True,
    )
    shoot(MANAGER, reverse("web:quote_detail", args=[waiting.quote_id]), "quote.png")
    shoot(SDR, reverse("web:lead_queue"), "lead-queue.png")


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
