"""A KPI's ``drilldown_url`` is an API list that takes every filter of its drill-down: followed
with an API token, its ``total`` is the number of records the KPI counts (activities, quotes,
complaints, satisfaction answers, campaigns, accounts), for several roles and scopes; a peer who
follows someone else's link sees only what they may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from tests.analytics.helpers import deal, grow, quotes_complaints_and_a_task
from tests.api.conftest import ApiClient, assert_error, token_for
from tests.crm.factories import make_account

pytestmark = pytest.mark.django_db

PERIOD = {"from": "2026-02-01", "to": "2026-02-28"}

# Each KPI whose drill-down is an API list, and how many records its value counts.
COUNTED: dict[str, Any] = {
    "activity_volume": lambda v: v["value"],
    "meetings_booked": lambda v: v["value"],
    "task_completion": lambda v: v["parts"]["due"],
    "overdue_tasks": lambda v: v["value"],
    "discounts": lambda v: v["parts"]["quotes"],
    "open_complaints": lambda v: v["value"],
    "csat": lambda v: v["count"],
    "nps": lambda v: v["count"],
    "csat_nps": lambda v: v["parts"]["csat_answers"] + v["parts"]["nps_answers"],
    "campaign_roi": lambda v: v["parts"].get("campaigns", 0),  # none seen: no parts
    "net_revenue_retention": lambda v: v["count"],
}
LISTS = {
    "activities": "/api/v1/activities",
    "quotes": "/api/v1/quotes",
    "complaints": "/api/v1/complaints",
    "surveys": "/api/v1/surveys",
    "campaigns": "/api/v1/campaigns",
    "accounts": "/api/v1/accounts",
}


@pytest.fixture
def world(sales_org):
    """``grow``'s February 2026 records; quotes sent in and out of February and a draft;
    complaints resolved during and after February and one raised after it; a task done in time;
    recurring deals won in the base year of net revenue retention."""
    org = sales_org
    grow(org, 3)
    quotes_complaints_and_a_task(org)
    for ae, n in ((org["ae1"], 2), (org["ae3"], 1)):
        for i in range(n):
            customer = make_account(ae, name=f"Customer {ae.pk} {i}")
            deal(ae, created="2024-05-01", closed=f"2024-06-1{i}", account=customer,
                 term_months=12)  # fmt: skip
            deal(ae, created="2025-05-01", closed="2025-06-10", account=customer, term_months=12)
    return org


def kpi_items(api: ApiClient, path: str = "/analytics/kpis", **params: Any) -> list[dict]:
    response = api.get(path, {**PERIOD, **params})
    assert response.status_code == 200, response.content
    return response.json()["items"]


def follow(api: ApiClient, url: str) -> dict[str, Any]:
    response = api.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return response.json()


@pytest.mark.parametrize("who, scope", [("cso", None), ("vp", "vp"), ("m1", "m1"), ("ae1", "ae1")])
def test_each_api_drilldown_totals_the_kpi(world, who, scope):
    api = ApiClient(token_for(world[who].holder))
    params = {"position": world[scope].pk} if scope else {}
    items = kpi_items(api, keys=",".join(COUNTED), **params)
    assert {i["key"] for i in items} == set(COUNTED)
    for item in items:
        url = item["drilldown_url"]
        assert urlparse(url).path == LISTS[item["drilldown_list"]], item["key"]
        want = COUNTED[item["key"]](item)
        assert follow(api, url)["total"] == want, (who, item["key"], url)
    if who == "cso":  # the data is there: the equalities above are not all zeros
        counts = {i["key"]: COUNTED[i["key"]](i) for i in items}
        assert counts["discounts"] == 3 and counts["open_complaints"] == 4
        assert counts["activity_volume"] == 3 and counts["net_revenue_retention"] == 3


@pytest.mark.parametrize(
    "key, by",
    [
        ("activity_volume", "position"),
        ("discounts", "position"),
        ("open_complaints", "severity"),
        ("csat_nps", "position"),
        ("net_revenue_retention", "position"),
        ("campaign_roi", "campaign"),
    ],
)
def test_breakdown_rows_drill_to_their_records(world, key, by):
    who = "mkt" if key == "campaign_roi" else "cso"  # marketing's campaigns
    api = ApiClient(token_for(world[who].holder))
    response = api.get("/analytics/kpis/breakdown", {**PERIOD, "key": key, "by": by})
    assert response.status_code == 200, response.content
    rows = [r for r in response.json()["items"] if r["drilldown_url"]]
    assert rows, key
    for row in rows:
        assert follow(api, row["drilldown_url"])["total"] == COUNTED[key](row), (key, row["group"])


def test_a_peer_following_the_link_sees_only_their_own(world):
    ae1 = ApiClient(token_for(world["ae1"].holder))
    ae3 = ApiClient(token_for(world["ae3"].holder))
    cso = ApiClient(token_for(world["cso"].holder))
    keys = "task_completion,discounts,csat,nps"
    mine = {i["key"]: i for i in kpi_items(ae1, keys=keys, position=world["ae1"].pk)}
    everyone = {i["key"]: i for i in kpi_items(cso, keys=keys)}
    for key, item in mine.items():
        url = item["drilldown_url"]
        assert parse_qs(urlparse(url).query)["under"] == [str(world["ae1"].pk)]
        assert follow(ae1, url)["total"] == COUNTED[key](item) > 0, key
        # AE 2a, a peer, follows AE 1a's link: none of AE 1a's records.
        assert follow(ae3, url) == {"items": [], "next": None, "total": 0}, key
        # ... and the CSO's link (the whole company) gives them only their own records.
        theirs = follow(ae3, everyone[key]["drilldown_url"])
        assert theirs["items"] and all(r["owner"] == world["ae3"].pk for r in theirs["items"])
        assert theirs["total"] < COUNTED[key](everyone[key]), key
    assert_error(ApiClient().get(mine["discounts"]["drilldown_url"]), 401, "unauthorized")


def test_prospects_added_still_drills_to_the_web_list(world):
    api = ApiClient(token_for(world["cso"].holder))
    (item,) = kpi_items(api, keys="prospects_added")
    assert item["drilldown_url"].startswith("/crm/prospects-added/?")


def test_the_new_filters_are_in_the_openapi_document(world):
    spec = ApiClient().get("/openapi.json").json()
    params = {
        path: {p["name"] for p in spec["paths"][f"/api/v1{path}"]["get"]["parameters"]}
        for path in ("/activities", "/quotes", "/complaints", "/surveys", "/campaigns", "/accounts")
    }
    assert {"under", "team", "region", "outcome", "occurred_from", "overdue_on"} <= params[
        "/activities"
    ]
    assert {"sent_from", "under", "product", "type", "sector", "size"} <= params["/quotes"]
    assert {"raised_from", "open_on", "under", "sector"} <= params["/complaints"]
    assert {"responded_from", "responded_to", "owner", "size"} <= params["/surveys"]
    assert {"started_from", "started_to", "id"} <= params["/campaigns"]
    assert {"recurring_won_from", "deal_under", "deal_size"} <= params["/accounts"]


def test_a_day_that_does_not_parse_matches_nothing(world):
    api = ApiClient(token_for(world["cso"].holder))
    assert follow(api, "/api/v1/activities?occurred_from=2026-02-31")["total"] == 0
    assert follow(api, "/api/v1/complaints?open_on=soon")["total"] == 0
    assert follow(api, "/api/v1/activities?occurred_from=2026-02-01")["total"] > 0


@pytest.mark.parametrize(
    "path, one_day, month",
    [
        ("/activities", {"occurred_from": "2026-02-10", "occurred_to": "2026-02-10"},
         {"occurred_from": "2026-02-01", "occurred_to": "2026-02-28"}),
        ("/quotes", {"sent_from": "2026-02-03", "sent_to": "2026-02-03"},
         {"sent_from": "2026-02-01", "sent_to": "2026-02-28"}),
        ("/complaints", {"raised_from": "2026-02-10", "raised_to": "2026-02-10"},
         {"open_on": "2026-02-28"}),
        ("/surveys", {"responded_from": "2026-02-10", "responded_to": "2026-02-10"},
         {"responded_from": "2026-02-01", "responded_to": "2026-02-28"}),
    ],
)  # fmt: skip
def test_the_filtered_lists_cost_the_same_queries_whatever_the_rows(world, path, one_day, month):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = ApiClient(token_for(world["vp"].holder))
    api.get(path, one_day)  # warm up (the token's first use)
    counts = []
    for params in (one_day, month):
        with CaptureQueriesContext(connection) as ctx:
            body = follow(api, f"/api/v1{path}?{urlencode(params)}")
        counts.append((len(ctx.captured_queries), body["total"]))
    (few_queries, few), (many_queries, many) = counts
    assert 0 < few < many, path
    assert few_queries == many_queries, path
