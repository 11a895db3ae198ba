"""The KPI API: the contract, its errors, breakdowns and their CSV, the registry, and a fixed
number of queries per KPI whatever the amount of data."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from revline.analytics import kpis
from revline.analytics.registry import KPIS
from tests.analytics.helpers import deal, grow, token

pytestmark = pytest.mark.django_db

Q1 = {"from": "2026-01-01", "to": "2026-03-31"}


def api(who, path="/api/v1/analytics/kpis", **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token(who)}"} if who else {}
    return Client().get(f"{path}?{urlencode(params)}", **headers)


@pytest.fixture
def org(sales_org):
    o = sales_org
    deal(o["ae1"], amount=1000, created="2026-01-02", engaged="2026-01-05", closed="2026-01-15")
    deal(o["ae3"], amount=3000, created="2026-01-02", closed="2026-02-01")
    deal(o["ae3"], amount=300, created="2026-01-02", closed="2026-02-03", won=False)
    return o


def test_the_contract_keys_and_units(org):
    response = api(org["cso"].holder, keys="win_rate,avg_deal_size,sales_cycle_median_days,"
                   "bookings,deals_won,deals_lost", **Q1)  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    items = {i["key"]: i for i in body["items"]}
    assert list(items) == [
        "win_rate", "avg_deal_size", "sales_cycle_median_days", "bookings", "deals_won",
        "deals_lost",
    ]  # fmt: skip
    assert items["win_rate"]["value"] == pytest.approx(2 / 3)
    assert items["win_rate"]["unit"] == "ratio"
    assert items["avg_deal_size"]["value"] == 2000.0
    assert items["bookings"]["value"] == 4000.0 and items["bookings"]["unit"] == "money"
    assert items["deals_won"]["value"] == 2 and items["deals_lost"]["value"] == 1
    assert items["sales_cycle_median_days"]["value"] == pytest.approx(20)  # 10 and 30 days
    assert body["start"] == "2026-01-01" and body["end"] == "2026-03-31"
    assert items["deals_won"]["drilldown"] == {
        "status": "won", "closed_from": "2026-01-01", "closed_to": "2026-03-31"
    }  # fmt: skip
    listed = Client().get(
        items["deals_won"]["drilldown_url"], HTTP_AUTHORIZATION=f"Bearer {token(org['cso'].holder)}"
    )
    assert listed.status_code == 200 and listed.json()["total"] == 2


def test_position_period_and_default_keys(org):
    cso = org["cso"].holder
    response = api(cso, keys="deals_won", period="2026-Q1", position=org["m2"].pk)
    assert response.json()["items"][0]["value"] == 1
    response = api(cso, **Q1)
    keys = [i["key"] for i in response.json()["items"]]
    assert keys == kpis.measured_keys() and "win_rate" in keys
    response = api(cso, keys="target_vs_actual", **Q1)
    item = response.json()["items"][0]
    assert item["value"] is None and "planning" in item["note"]


@pytest.mark.parametrize(
    "params, status, code",
    [
        ({"keys": "win_rate,bogus"}, 400, "bad_request"),
        ({"keys": "win_rate", "from": "2026-13-01"}, 422, "validation_error"),
        ({"keys": "win_rate", "to": "yesterday"}, 422, "validation_error"),
        ({"keys": "win_rate", "from": "2026-03-01", "to": "2026-02-01"}, 422, "validation_error"),
        ({"keys": "win_rate", "period": "2026-Q9"}, 422, "validation_error"),
        ({"keys": "win_rate", "type": "barter"}, 422, "validation_error"),
        ({"keys": "win_rate", "region": "atlantis"}, 422, "validation_error"),
    ],
)
def test_errors(org, params, status, code):
    response = api(org["cso"].holder, **params)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    if status == 400:
        assert response.json()["reason"] == "unknown_kpi"
        assert response.json()["unknown"] == ["bogus"]


def test_positions_outside_the_view_are_not_found(org):
    ae1 = org["ae1"].holder
    for other in (org["ae2"], org["m1"], org["m2"], 999999):
        pk = other if isinstance(other, int) else other.pk
        response = api(ae1, keys="win_rate", position=pk, **Q1)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert api(ae1, keys="win_rate", owner=org["ae2"].pk, **Q1).status_code == 404
    m1 = org["m1"].holder
    assert api(m1, keys="win_rate", position=org["ae3"].pk, **Q1).status_code == 404
    assert api(m1, keys="win_rate", position=org["ae1"].pk, **Q1).status_code == 200
    assert api(None, keys="win_rate", **Q1).status_code == 401
    bad = Client().get("/api/v1/analytics/kpis", HTTP_AUTHORIZATION="Bearer stale-token")
    assert bad.status_code == 401


def test_each_caller_sees_only_their_numbers(org):
    def won(who):
        return api(who, keys="deals_won", **Q1).json()["items"][0]["value"]

    assert won(org["cso"].holder) == 2
    assert won(org["m1"].holder) == 1
    assert won(org["ae3"].holder) == 1
    assert won(org["ae2"].holder) == 0
    assert won(org["bdr"].holder) == 0


def test_breakdown_and_its_csv(org):
    cso = org["cso"].holder
    path = "/api/v1/analytics/kpis/breakdown"
    response = api(cso, path, key="win_rate", by="report", position=org["vp"].pk, **Q1)
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {r["group"]: r for r in body["items"]}
    assert rows[org["m1"].pk]["value"] == 1.0
    assert rows[org["m2"].pk]["value"] == 0.5
    assert rows[org["m2"].pk]["drilldown"]["under"] == org["m2"].pk
    assert body["total"]["value"] == pytest.approx(2 / 3)
    response = api(cso, path, key="win_rate", by="month", **Q1)
    assert [r["group"] for r in response.json()["items"]] == ["2026-M01", "2026-M02"]
    assert api(cso, path, key="win_rate", by="colour", **Q1).status_code == 422
    assert api(cso, path, key="nope", by="month", **Q1).status_code == 400
    response = api(cso, path + ".csv", key="bookings", by="position", **Q1)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][:3] == ["position", "label", "bookings"]
    assert lines[-1][0] == "total" and float(lines[-1][2]) == 4000.0
    assert {float(line[2]) for line in lines[1:-1]} == {1000.0, 3000.0}


def test_definitions(org):
    response = api(org["ae1"].holder, "/api/v1/analytics/kpis/definitions")
    items = {i["key"]: i for i in response.json()["items"]}
    assert set(items) == set(KPIS)
    assert items["win_rate"]["unit"] == "ratio"
    assert "ae" in items["win_rate"]["roles"]
    assert "quarter" in items["win_rate"]["breakdowns"]


def count_queries(who, path="/api/v1/analytics/kpis", **params):
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token(who)}"}
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"{path}?{urlencode(params)}", **headers)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize("key", kpis.measured_keys())
def test_a_fixed_number_of_queries_per_kpi(org, key):
    m1 = org["m1"].holder
    grow(org, 1)
    count_queries(m1, keys=key, **Q1)  # warm the content-type cache the predicate reads
    small = count_queries(m1, keys=key, **Q1)
    small_by = count_queries(
        m1, "/api/v1/analytics/kpis/breakdown", key=key,
        by=kpis.breakdown_dims(key)[0], **Q1,
    )  # fmt: skip
    grow(org, 4, day="2026-03-")
    assert count_queries(m1, keys=key, **Q1) == small
    assert count_queries(
        m1, "/api/v1/analytics/kpis/breakdown", key=key,
        by=kpis.breakdown_dims(key)[0], **Q1,
    ) == small_by  # fmt: skip
    assert small <= 14, small  # quota KPIs: 4 of them are planning.quota_amount's


def test_all_kpis_at_once_in_a_bounded_number_of_queries(org):
    grow(org, 2)
    n = count_queries(org["cso"].holder, **Q1)
    # auth, fiscal calendar and roles once; about one aggregate per KPI, shared where possible
    assert n <= len(kpis.measured_keys()) + 15, n


def test_the_openapi_document_names_the_parameters(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    names = [p["name"] for p in paths["/api/v1/analytics/kpis"]["get"]["parameters"]]
    assert {"keys", "from", "to", "position", "period"} <= set(names)
    assert "/api/v1/analytics/kpis/breakdown.csv" in paths
