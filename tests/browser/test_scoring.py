"""Issue 5, "Where SDRs work", in headless Chromium: an SDR opens the lead queue sorted by score,
opens the best lead, reads why it scored as it did, and overrides the score; the override
stands after the leads are rescored.

The org and its scored history are the web tests' (``tests.scoring.test_web.build_world``):
two SDRs under different managers, 40 past leads each, a model trained on them, ICP rules and
a few open leads.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.crm_helpers import flash, sidebar_link
from tests.browser.helpers import Demo, login
from tests.org.factories import PASSWORD
from tests.scoring.test_web import build_world

pytestmark = pytest.mark.browser


@pytest.fixture
def scored(browser, live_server, transactional_db, sales_org, settings):
    from revline.org.demo import role_templates_install

    settings.REVLINE_SCORING_FOLDS = 3
    role_templates_install()  # so that the sidebar shows each role's screens
    return build_world(sales_org)


def test_an_sdr_works_the_queue_by_score_and_overrides_a_score(page, live_server, scored):
    from revline.scoring import services
    from revline.scoring.models import LeadScore, ScoreOverride

    hot, cold = scored["hot"], scored["cold"]
    hot_score = LeadScore.objects.get(lead=hot)
    cold_score = LeadScore.objects.get(lead=cold)
    demo = Demo(url=live_server.url, password=PASSWORD)
    login(page, demo, scored["sdr"].holder.email)

    # The sidebar links the scoring overview; the SDR sees it, not the model page.
    expect(sidebar_link(page, "Lead scoring")).to_be_visible()

    # The queue, best score first, with tier and factors.
    page.goto(demo.at(reverse("web:lead_queue")))
    rows = page.locator("table.crm-table tbody tr")
    expect(rows).to_have_count(2)  # the peer's lead is not here
    expect(rows.nth(0)).to_contain_text("Hana Hot")
    expect(rows.nth(1)).to_contain_text("Carl Cold")
    expect(rows.nth(0).locator(".score-number")).to_have_text(str(hot_score.score))
    expect(rows.nth(0)).to_contain_text(f"Tier {hot_score.tier}")
    top = hot_score.factors["positive"][0]
    expect(rows.nth(0).locator(".score-factors")).to_contain_text(f"{top['label']}: {top['value']}")
    expect(page.get_by_label("Order")).to_have_value("score")

    # The lead page explains the score in plain words.
    rows.nth(0).get_by_role("link", name="Hana Hot").click()
    expect(page.locator("h1.page-title")).to_contain_text("Hana Hot")
    card = page.locator("#score")
    expect(card.locator("#score-explanation")).to_contain_text(
        f"Scored {hot_score.score}/100 (tier {hot_score.tier}) by model v1"
    )
    expect(card.locator("#score-explanation")).to_contain_text("most positive:")
    expect(card.locator("#score-fit")).to_contain_text("Software companies")
    expect(card.locator("#score-model")).to_contain_text("v1")

    # The SDR knows better: the buyer signed with a competitor.
    card.locator("summary", has_text="Override the score").click()
    form = card.locator("#score-override-form form").first
    form.get_by_label("Score").fill("3")
    form.get_by_label("Tier").select_option("D")
    form.get_by_label("Reason").fill("Signed with a competitor last week")
    form.get_by_role("button", name="Save override").click()
    expect(flash(page)).to_contain_text("overridden")
    expect(page.locator("#score-override")).to_contain_text("Manual override: 3/100, tier D")
    expect(page.locator("[data-effective-score]")).to_have_text("3")
    assert ScoreOverride.objects.get(lead=hot).reason == "Signed with a competitor last week"

    # Automation rescoring every lead (and a retrain) leaves the override alone.
    services.leads_score()
    services.scoring_model_train(by=None)
    assert LeadScore.objects.get(lead=hot).model.version == 2
    page.reload()
    expect(page.locator("#score-override")).to_contain_text("Manual override: 3/100, tier D")
    expect(page.locator("#score-explanation")).to_contain_text("by model v2")

    # Back in the queue the override counts: the cold lead now comes first.
    page.goto(demo.at(reverse("web:lead_queue")))
    expect(rows.nth(0)).to_contain_text("Carl Cold")
    expect(rows.nth(1)).to_contain_text("Hana Hot")
    expect(rows.nth(1)).to_contain_text("manual")
    expect(rows.nth(0).locator(".score-number")).to_have_text(
        str(LeadScore.objects.get(lead=cold).score)
    )
    assert cold_score.lead_id == cold.pk

    # The model page is not the SDR's.
    response = page.goto(demo.at(reverse("web:scoring_models")))
    assert response is not None and response.status == 403
    page.goto(demo.at(reverse("web:scoring")))
    expect(page.locator("h1.page-title")).to_have_text("Lead scoring")
    expect(page.locator("[data-figure=scored]")).to_have_text("42")
    expect(page).to_have_url(re.compile(r"/scoring/$"))
