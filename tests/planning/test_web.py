"""The planning screens: pages render, forms write through the services, refusals answer 403/404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from revline.planning import services
from revline.planning.models import (
    Budget,
    BudgetSpend,
    FiscalCalendar,
    ForecastAdjustment,
    ForecastSubmission,
    Quota,
    Target,
)
from tests.planning.helpers import D, open_deal, period, won

pytestmark = pytest.mark.django_db
Q = "2027-Q1"


def url(name, *args, **params):
    base = reverse(f"web:{name}", args=args)
    if params:
        from urllib.parse import urlencode

        base += "?" + urlencode(params)
    return base


@pytest.fixture
def as_(client, plan_org):
    def login(key):
        client.force_login(plan_org[key].holder)
        return client

    return login


def test_pages_need_a_login(client, plan_org):
    for name in (
        "planning_quotas",
        "planning_targets",
        "planning_budgets",
        "planning_forecast",
        "planning_calendar",
    ):
        response = client.get(url(name))
        assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.post(url("planning_quota_set"), {"position": plan_org["ae1"].pk})
    assert response.status_code == 302 and not Quota.objects.exists()


def test_quota_board_and_setting_a_quota(as_, plan_org):
    o = plan_org
    c = as_("m1")
    won(o["ae1"], 400, dt.date(2027, 2, 1))
    page = c.get(url("planning_quotas", period=Q))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Set a quota" in html and o["ae1"].holder.get_full_name() in html
    assert o["ae3"].holder.get_full_name() not in html  # another manager's rep is not offered
    response = c.post(
        url("planning_quota_set"),
        {
            "position": o["ae1"].pk,
            "period": Q,
            "amount": "1000",
            "deal_count": "3",
            "next": url("planning_quotas", period=Q),
        },
    )
    assert response.status_code == 302, response.content[:400]
    quota = Quota.objects.get()
    assert (quota.owner_position, quota.amount, quota.deal_count) == (o["ae1"], D(1000), 3)
    page = c.get(url("planning_quotas", period=Q)).content.decode()
    assert "40%" in page  # 400 of 1000
    # htmx asks for the board only
    partial = c.get(url("planning_quotas", period=Q), HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert b'id="pn-board"' in partial.content and b"<html" not in partial.content


def test_quota_refusals(as_, plan_org):
    o = plan_org
    c = as_("m2")
    # another manager's rep: outside the view -> 404
    response = c.post(
        url("planning_quota_set"), {"position": o["ae1"].pk, "period": Q, "amount": "5"}
    )
    assert response.status_code == 404
    # a visible position not below: the manager's own -> 403
    response = c.post(
        url("planning_quota_set"), {"position": o["m2"].pk, "period": Q, "amount": "5"}
    )
    assert response.status_code == 403
    c = as_("ae1")
    response = c.post(
        url("planning_quota_set"), {"position": o["ae1"].pk, "period": Q, "amount": "5"}
    )
    assert response.status_code == 403
    assert not Quota.objects.exists()
    # a board for an invisible position
    assert as_("m2").get(url("planning_quotas", position=o["ae1"].pk)).status_code == 404
    # bad input is shown on the form
    response = as_("m1").post(
        url("planning_quota_set"), {"position": o["ae1"].pk, "period": Q, "amount": "-3"}
    )
    assert response.status_code == 422
    assert not Quota.objects.exists()


def test_targets_budgets_and_spend_screens(as_, plan_org):
    o = plan_org
    c = as_("vp")
    page = c.get(url("planning_targets", period=Q))
    assert page.status_code == 200 and "Set a target" in page.content.decode()
    response = c.post(
        url("planning_target_set"),
        {"scope": f"region:{o['east'].pk}", "period": Q, "amount": "500000"},
    )
    assert response.status_code == 302
    assert Target.objects.get().region == o["east"]
    response = c.post(
        url("planning_budget_set"),
        {"scope": f"team:{o['one'].pk}", "period": Q, "category": "campaigns", "amount": "20000"},
    )
    assert response.status_code == 302
    budget = Budget.objects.get()
    page = c.get(url("planning_budgets", period=Q)).content.decode()
    assert "East: One" in page and "Campaigns" in page
    # the team's manager records spend from the budget page
    m1 = as_("m1")
    assert "Record spend" in m1.get(url("planning_budget", budget.pk)).content.decode()
    response = m1.post(
        url("planning_spend_record", budget.pk),
        {"amount": "2500", "spent_on": "2027-02-02", "note": "Trade fair"},
    )
    assert response.status_code == 302
    assert BudgetSpend.objects.get().recorded_by == o["m1"].holder
    detail = m1.get(url("planning_budget", budget.pk)).content.decode()
    assert "Trade fair" in detail and "$17,500" in detail
    # the manager may not set targets or budgets: 403 on a team they see
    response = m1.post(
        url("planning_target_set"), {"scope": f"team:{o['one'].pk}", "period": Q, "amount": "1"}
    )
    assert response.status_code in (403, 422)
    assert Target.objects.count() == 1
    # the other team's manager does not see the budget at all
    assert as_("m2").get(url("planning_budget", budget.pk)).status_code == 404
    assert (
        as_("m2")
        .post(url("planning_spend_record", budget.pk), {"amount": "1", "spent_on": "2027-02-02"})
        .status_code
        == 404
    )
    # the other region's VP cannot post a target for East
    response = as_("vp_w").post(
        url("planning_target_set"), {"scope": f"region:{o['east'].pk}", "period": Q, "amount": "1"}
    )
    assert response.status_code in (404, 422)
    assert Target.objects.count() == 1


def test_spend_campaign_and_removals_follow_the_users_view(as_, plan_org):
    from revline.crm.models import Campaign

    o = plan_org
    hidden = Campaign.objects.create(owner_position=o["mkt"], name="Hidden webinar")
    budget = services.budget_set(
        by=o["vp"].holder, period=period(Q), category="campaigns", amount=100, team=o["one"]
    )
    target = services.target_set(by=o["vp"].holder, period=period(Q), amount=5, team=o["one"])
    quota = services.quota_set(by=o["m1"].holder, position=o["ae1"], period=period(Q), amount=9)
    m1 = as_("m1")
    response = m1.post(
        url("planning_spend_record", budget.pk),
        {"amount": "10", "spent_on": "2027-02-02", "campaign": hidden.pk},
    )
    assert not Campaign.objects.visible_to(o["m1"].holder).filter(pk=hidden.pk).exists()
    assert response.status_code == 422
    assert "Unknown campaign." in response.content.decode()
    assert not BudgetSpend.objects.exists()
    response = m1.post(
        url("planning_spend_record", budget.pk), {"amount": "10", "spent_on": "2027-02-02"}
    )
    assert response.status_code == 302
    spend = BudgetSpend.objects.get()
    # outside the view: 404 and nothing removed (``as_`` logs the one test client in again)
    assert as_("m2").post(url("planning_spend_delete", spend.pk)).status_code == 404
    assert as_("m2").post(url("planning_quota_delete", quota.pk)).status_code == 404
    assert as_("vp_w").post(url("planning_target_delete", target.pk)).status_code == 404
    assert BudgetSpend.objects.exists() and Quota.objects.exists() and Target.objects.exists()
    # theirs: removed, back to the period's page
    response = as_("m1").post(url("planning_quota_delete", quota.pk))
    assert response.status_code == 302 and "period=2027-Q1" in response["Location"]
    assert as_("m1").post(url("planning_spend_delete", spend.pk)).status_code == 302
    assert as_("vp").post(url("planning_target_delete", target.pk)).status_code == 302
    assert not (BudgetSpend.objects.exists() or Quota.objects.exists() or Target.objects.exists())


def test_forecast_submit_and_adjust_screens(as_, plan_org):
    o = plan_org
    open_deal(o["ae1"], 1000, dt.date(2027, 2, 1), "commit")
    c = as_("ae1")
    page = c.get(url("planning_forecast", period=Q)).content.decode()
    assert "Your forecast" in page and 'value="1000.00"' in page  # prefilled from the deal
    response = c.post(
        url("planning_forecast_submit"),
        {
            "position": o["ae1"].pk,
            "period": Q,
            "commit": "800",
            "best_case": "0",
            "pipeline": "0",
            "note": "Cautious",
        },
    )
    assert response.status_code == 302
    sub = ForecastSubmission.objects.get()
    assert (sub.commit, sub.prefill_commit) == (D(800), D(1000))
    # the manager sees it and adjusts
    m1 = as_("m1")
    page = m1.get(url("planning_forecast", period=Q)).content.decode()
    assert "Cautious" in page and "Adjust" in page
    response = m1.post(
        url("planning_forecast_adjust"),
        {
            "position": o["ae1"].pk,
            "period": Q,
            "figure": "commit",
            "amount": "950",
            "note": "Will close",
        },
    )
    assert response.status_code == 302
    adj = ForecastAdjustment.objects.get()
    assert (adj.amount, adj.previous, adj.owner_position) == (D(950), D(800), o["m1"])
    page = m1.get(url("planning_forecast", period=Q)).content.decode()
    assert "Will close" in page and "$950" in page
    # another manager cannot: ae1 is outside their view
    response = as_("m2").post(
        url("planning_forecast_adjust"),
        {"position": o["ae1"].pk, "period": Q, "figure": "commit", "amount": "1"},
    )
    assert response.status_code == 404
    # a rep cannot submit for a peer nor adjust themselves
    assert (
        as_("ae1")
        .post(
            url("planning_forecast_adjust"),
            {"position": o["ae1"].pk, "period": Q, "figure": "commit", "amount": "1"},
        )
        .status_code
        == 403
    )
    # the rep's page does not show the manager's adjustment
    assert "Will close" not in as_("ae1").get(url("planning_forecast", period=Q)).content.decode()
    # withdraw (the rep cannot: not theirs to see)
    assert as_("ae1").post(url("planning_adjustment_remove", adj.pk)).status_code == 404
    response = as_("m1").post(url("planning_adjustment_remove", adj.pk))
    assert response.status_code == 302 and not ForecastAdjustment.objects.exists()


def test_calendar_screen_is_for_revops(as_, plan_org):
    assert as_("cro").get(url("planning_calendar")).status_code == 404
    c = as_("revops")
    page = c.get(url("planning_calendar"))
    assert page.status_code == 200
    html = page.content.decode()
    sidebar = html[html.index("<aside") : html.index("</aside>")]
    assert f'href="{url("planning_calendar")}"' in sidebar  # in the admin section
    response = c.post(url("planning_calendar"), {"start_month": "4", "year_named_by_end": "on"})
    assert response.status_code == 302
    assert FiscalCalendar.objects.get(pk=1).start_month == 4
    page = c.get(url("planning_calendar")).content.decode()
    assert "1 Apr" in page
    # every period now counts from April
    assert as_("m1").get(url("planning_quotas", period="2027-Q1")).status_code == 200


def test_capabilities_link_the_planning_screens(plan_org):
    from revline.core.catalog import CAPABILITIES

    for key, name in (
        ("planning.quotas", "planning_quotas"),
        ("planning.targets", "planning_targets"),
        ("planning.budgets", "planning_budgets"),
        ("planning.forecast", "planning_forecast"),
    ):
        assert CAPABILITIES[key].url == f"web:{name}"
        reverse(CAPABILITIES[key].url)


@pytest.mark.parametrize(
    "name", ["planning_quotas", "planning_forecast", "planning_targets", "planning_budgets"]
)
def test_page_query_counts_do_not_grow(as_, plan_org, django_assert_max_num_queries, name):
    from revline.org.choices import RoleType
    from tests.org.factories import make_position

    o = plan_org
    c = as_("vp")

    def grow(n):
        for i in range(n):
            rep = make_position(
                RoleType.AE,
                reports_to=o["m1"],
                title=f"Grow {n}-{i}",
                team=o["one"],
                region=o["east"],
            )
            services.quota_set(by=o["vp"].holder, position=rep, period=period(Q), amount=100)
            services.forecast_submit(
                by=rep.holder, position=rep, period=period(Q), commit=1, best_case=1, pipeline=1
            )
            won(rep, 5, dt.date(2027, 1, 3))

    grow(1)
    c.get(url(name, period=Q))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert c.get(url(name, period=Q)).status_code == 200
    grow(4)
    with CaptureQueriesContext(connection) as large:
        assert c.get(url(name, period=Q)).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


@pytest.mark.parametrize(
    "name", ["planning_quotas", "planning_forecast", "planning_targets", "planning_budgets"]
)
def test_htmx_gets_the_board_alone(as_, plan_org, name):
    c = as_("vp")
    full = c.get(url(name, period=Q))
    partial = c.get(url(name, period=Q), HTTP_HX_REQUEST="true")
    assert full.status_code == partial.status_code == 200
    assert b"<html" in full.content and b"<html" not in partial.content
    assert partial.content.lstrip().startswith(b"{#") is False
    assert b'id="pn-board"' in partial.content
    assert partial["Vary"] and "HX-Request" in partial["Vary"]
