"""Issue 4's cockpit stories, as a new user would live them, in headless Chromium on the demo
organisation (its Maven history ends in 2017, so each cockpit opens on Q4 FY2017 and says why):

- the CRO sees the forecast roll-up beside the predicted range;
- the CSO opens the conversion funnel for a region and drills into the lost deals of one stage.

(The planning stories, VP targets and budgets, manager quotas, agent forecasts and the
manager's adjustment, are in tests/planning.)
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import login, position_of, user

pytestmark = pytest.mark.browser

CRO = "robin.placeholder@demo.revline.test"
CSO = "sam.sample@demo.revline.test"
QUARTER = "2017-Q4"


def money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d.]", "", text))


def test_the_cro_sees_the_rollup_beside_the_predicted_range(page, demo):
    from django.db.models import Q

    from revline.forecasting.services import forecast_run_create
    from revline.org.choices import RoleType
    from revline.org.models import Position, PositionClosure
    from revline.planning import services as planning
    from revline.planning.calendar import fiscal_rule

    quarter = fiscal_rule().parse(QUARTER)
    cro = position_of(CRO)
    below = PositionClosure.objects.filter(ancestor=cro).values("descendant_id")
    agents = list(
        Position.objects.filter(Q(pk__in=below), role=RoleType.AE, holder__isnull=False)
        .select_related("holder")
        .order_by("id")[:2]
    )
    for agent, commit in zip(agents, ("41000", "27500"), strict=True):
        planning.forecast_submit(
            by=agent.holder,
            position=agent,
            period=quarter,
            commit=commit,
            best_case="5000",
            pipeline="12000",
        )
    run = forecast_run_create(period=quarter, by=user(CRO))  # trained on the demo history
    assert run.status == "done", run.message

    login(page, demo, CRO)
    expect(page.locator(".cockpit-toolbar select[name=period]")).to_have_value(QUARTER)
    panel = page.locator("#cockpit-forecast")
    expect(panel.get_by_role("heading", name="Forecast for Q4 FY2017")).to_be_visible()
    submitted = panel.locator('[data-side="submitted"]')
    predicted = panel.locator('[data-side="predicted"]')
    expect(submitted).to_contain_text("Commit")
    expect(submitted).to_contain_text("$68,500")  # 41,000 + 27,500, rolled up to the CRO
    expect(submitted).to_contain_text("2 of")
    for label, value in (("P10", run.p10), ("P50", run.p50), ("P90", run.p90)):
        expect(predicted).to_contain_text(label)
        expect(predicted).to_contain_text(f"${value:,.0f}")
    # Side by side, and drawn together against the quota.
    left, right = submitted.bounding_box(), predicted.bounding_box()
    assert left and right and left["x"] + left["width"] <= right["x"] + 1
    assert abs(left["y"] - right["y"]) < 5
    chart = panel.locator("svg.chart-bar-chart desc")
    expect(chart).to_contain_text("Forecast (closed + commit)")
    expect(chart).to_contain_text("Predicted P50")
    # The forecast page behind it shows the same roll-up.
    panel.get_by_role("link", name="Forecast page").click()
    expect(page).to_have_url(re.compile(r"/planning/forecast/\?period=2017-Q4$"))


def test_the_cso_opens_a_regions_funnel_and_drills_into_one_stages_lost_deals(page, demo):
    from revline.org.models import Region
    from revline.pipeline.models import Opportunity, Stage, StageChange

    login(page, demo, CSO)
    cockpit = page.locator("#cockpit")
    expect(cockpit.locator(".alert-info")).to_contain_text("showing Q4 FY2017")
    funnel = page.locator("#cockpit-funnel")
    expect(funnel.get_by_role("heading", name="Conversion funnel: all regions")).to_be_visible()

    east = Region.objects.get(name="East")
    funnel.locator(".funnel-regions").get_by_role("link", name="East").click()
    expect(funnel.get_by_role("heading", name="Conversion funnel: East")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"[?&]region={east.pk}(&|$)"))
    expect(page.locator(".cockpit-scope")).to_have_text("East region")

    demo_stage = Stage.objects.get(pipeline__is_default=True, name="Demo")
    row = funnel.locator(f'tr[data-stage="{demo_stage.pk}"]')
    lost_link = row.locator("a.funnel-lost")
    shown = int(re.match(r"\d+", lost_link.inner_text()).group())
    expected = (
        Opportunity.objects.filter(
            status="lost",
            closed_on__range=("2017-10-01", "2017-12-31"),
        )
        .filter(owner_position__region=east)
        .filter(
            pk__in=StageChange.objects.filter(from_stage=demo_stage, to_stage__kind="lost").values(
                "opportunity_id"
            )
        )
        .count()
    )
    assert shown == expected > 0

    lost_link.click()
    expect(page).to_have_url(re.compile(r"/pipeline/opportunities/\?"))
    params = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
    assert params == {
        "status": "lost",
        "last_stage": str(demo_stage.pk),
        "closed_from": "2017-10-01",
        "closed_to": "2017-12-31",
        "region": str(east.pk),
    }
    listing = page.locator("#opportunity-list")
    expect(listing.locator(".card-title")).to_have_text(
        f"{expected} opportunit{'y' if expected == 1 else 'ies'}"
    )
    expect(listing.locator(".card-subtitle")).to_contain_text("last stage Demo")
    expect(listing.locator(".card-subtitle")).to_contain_text("region East")
    rows = listing.locator("table tbody tr")
    expect(rows).to_have_count(min(expected, 50))  # the first page
    expect(listing.locator("table tbody tr .badge-danger")).to_have_count(min(expected, 50))
