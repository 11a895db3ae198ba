"""``/api/v1/planning/...``: shapes, permissions (peer, rep, anonymous, stale token), query counts."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from django.utils import timezone

from revline.org.models import ApiToken
from revline.planning import services
from revline.planning.models import Budget, FiscalCalendar, ForecastSubmission, Quota, Target
from tests.api.conftest import ApiClient, assert_error, token_for
from tests.planning.helpers import D, open_deal, period, won

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(plan_org):
    """``api("m1")``: a client with a fresh token of that position's holder."""

    def make(key: str) -> ApiClient:
        return ApiClient(token_for(plan_org[key].holder))

    return make


# --- anonymous and stale tokens ----------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/planning/quotas"),
        ("post", "/planning/quotas"),
        ("get", "/planning/calendar"),
        ("put", "/planning/calendar"),
        ("get", "/planning/targets"),
        ("post", "/planning/budgets"),
        ("get", "/planning/forecasts/rollup"),
        ("post", "/planning/forecasts"),
        ("post", "/planning/forecasts/adjustments"),
    ],
)
def test_anonymous_callers_get_401(plan_org, method, path):
    response = getattr(ApiClient(), method)(path, **({} if method == "get" else {"body": {}}))
    assert_error(response, 401, "unauthorized")


def test_expired_and_revoked_tokens_get_401(plan_org):
    raw = token_for(plan_org["m1"].holder)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = ApiClient(raw).post(
        "/planning/quotas", {"position": plan_org["ae1"].pk, "period": "2027-Q1", "amount": "5"}
    )
    assert_error(response, 401, "unauthorized")
    raw = token_for(plan_org["m1"].holder)
    ApiToken.objects.filter(expires_at__gt=timezone.now()).update(revoked_at=timezone.now())
    assert_error(ApiClient(raw).get("/planning/quotas"), 401, "unauthorized")
    assert not Quota.objects.exists()


# --- the calendar ------------------------------------------------------------------------------


def test_calendar_read_by_all_set_by_revops(plan_org, api):
    body = api("ae1").get("/planning/calendar").json()
    assert body["start_month"] == 1
    assert body["current_quarter"]["kind"] == "quarter"
    assert_error(api("cro").put("/planning/calendar", {"start_month": 2}), 403, "forbidden")
    response = api("revops").put(
        "/planning/calendar", {"start_month": 2, "year_named_by_end": True}
    )
    assert response.status_code == 200, response.content
    assert response.json()["start_month"] == 2
    assert FiscalCalendar.objects.get(pk=1).start_month == 2
    assert_error(
        api("revops").put("/planning/calendar", {"start_month": 13}), 422, "validation_error"
    )
    periods = api("ae1").get(
        "/planning/periods", {"kind": "quarter", "from": "2026-02-01", "to": "2027-01-31"}
    )
    assert [p["key"] for p in periods.json()] == ["2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4"]
    assert periods.json()[0]["start"] == "2026-02-01"


# --- quotas ------------------------------------------------------------------------------------


def test_manager_sets_quota_and_peer_is_refused(plan_org, api):
    o = plan_org
    response = api("m1").post(
        "/planning/quotas",
        {"position": o["ae1"].pk, "period": "2027-Q1", "amount": "125000", "deal_count": 4},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["position"]["id"] == o["ae1"].pk
    assert body["amount"] == "125000.00" or float(body["amount"]) == 125000
    assert body["period"] == "2027-Q1"
    again = api("m1").post(
        "/planning/quotas", {"position": o["ae1"].pk, "period": "2027-Q1", "amount": "130000"}
    )
    assert again.status_code == 200
    # another manager's rep: not in m2's view -> 422 on the field, nothing written
    response = api("m2").post(
        "/planning/quotas", {"position": o["ae1"].pk, "period": "2027-Q1", "amount": "1"}
    )
    body = assert_error(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "position"
    # a peer the caller sees (team share) but is not above: 403 with the stable reason
    o["one"].share_records = True
    o["one"].save()
    response = api("ae2").post(
        "/planning/quotas", {"position": o["ae1"].pk, "period": "2027-Q1", "amount": "1"}
    )
    body = assert_error(response, 403, "forbidden")
    assert body["reason"] == "quota_not_below"
    # a rep on themselves
    response = api("ae1").post(
        "/planning/quotas", {"position": o["ae1"].pk, "period": "2027-Q1", "amount": "1"}
    )
    assert assert_error(response, 403, "forbidden")["reason"] == "quota_not_below"
    assert Quota.objects.get().amount == D(130000)
    bad = api("m1").post(
        "/planning/quotas", {"position": o["ae1"].pk, "period": "Q9", "amount": "1"}
    )
    assert assert_error(bad, 422, "validation_error")["errors"][0]["field"] == "period"


def test_quota_list_detail_delete(plan_org, api):
    o = plan_org
    q1 = services.quota_set(
        by=o["m1"].holder, position=o["ae1"], period=period("2027-Q1"), amount=10
    )
    services.quota_set(by=o["m2"].holder, position=o["ae3"], period=period("2027-Q1"), amount=20)
    listed = api("m1").get("/planning/quotas").json()
    assert listed["total"] == 1 and listed["next"] is None
    assert [i["id"] for i in listed["items"]] == [q1.pk]
    assert api("cro").get("/planning/quotas").json()["total"] == 2
    assert api("m1").get("/planning/quotas", {"period": "2027-Q2"}).json()["total"] == 0
    assert_error(api("m2").get(f"/planning/quotas/{q1.pk}"), 404, "not_found")
    assert api("ae1").get(f"/planning/quotas/{q1.pk}").status_code == 200  # one's own quota
    assert_error(api("ae1").delete(f"/planning/quotas/{q1.pk}"), 403, "forbidden")
    assert api("vp").delete(f"/planning/quotas/{q1.pk}").status_code == 204
    assert Quota.objects.count() == 1


def test_attainment_and_amount(plan_org, api):
    o = plan_org
    services.quota_set(by=o["m1"].holder, position=o["ae1"], period=period("2027-Q1"), amount=1000)
    services.quota_set(by=o["m1"].holder, position=o["ae2"], period=period("2027-Q1"), amount=1000)
    won(o["ae1"], 500, dt.date(2027, 2, 1))
    body = api("m1").get("/planning/quotas/attainment", {"period": "2027-Q1"}).json()
    assert body["position"]["position"]["id"] == o["m1"].pk
    assert float(body["position"]["quota"]) == 2000
    assert body["position"]["quota_is_own"] is False
    assert float(body["position"]["bookings"]) == 500
    assert body["position"]["attainment"] == pytest.approx(0.25)
    ae1 = next(r for r in body["reports"] if r["position"]["id"] == o["ae1"].pk)
    assert ae1["may_set"] is True and ae1["on_pace"] is True  # the period is over
    assert_error(
        api("m2").get(
            "/planning/quotas/attainment", {"period": "2027-Q1", "position": o["ae1"].pk}
        ),
        404,
        "not_found",
    )
    amount = (
        api("vp")
        .get(
            "/planning/quotas/amount",
            {"from": "2027-01-01", "to": "2027-03-31", "position": o["m1"].pk},
        )
        .json()
    )
    assert float(amount["amount"]) == 2000
    mine = api("m1").get("/planning/quotas/amount", {"from": "2027-01-01", "to": "2027-03-31"})
    assert float(mine.json()["amount"]) == 2000
    assert_error(
        api("m2").get(
            "/planning/quotas/amount",
            {"from": "2027-01-01", "to": "2027-03-31", "position": o["m1"].pk},
        ),
        404,
        "not_found",
    )


# --- targets and budgets -----------------------------------------------------------------------


def test_targets_by_vp_refused_for_manager_and_other_region(plan_org, api):
    o = plan_org
    response = api("vp").post(
        "/planning/targets", {"region": o["east"].pk, "period": "2027-Q1", "amount": "900000"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["scope"] == {"kind": "region", "id": o["east"].pk, "name": "East"}
    assert (
        api("vp")
        .post("/planning/targets", {"team": o["one"].pk, "period": "2027-Q1", "amount": "400000"})
        .status_code
        == 201
    )
    # a manager sees their team's plans but may not set them
    response = api("m1").post(
        "/planning/targets", {"team": o["one"].pk, "period": "2027-Q1", "amount": "1"}
    )
    assert assert_error(response, 403, "forbidden")["reason"] == "scope_not_allowed"
    # the other region's VP does not even see East
    response = api("vp_w").post(
        "/planning/targets", {"region": o["east"].pk, "period": "2027-Q1", "amount": "1"}
    )
    assert assert_error(response, 422, "validation_error")["errors"][0]["field"] == "region"
    # the CRO plans everywhere
    assert (
        api("cro")
        .post("/planning/targets", {"region": o["west"].pk, "period": "2027-Q1", "amount": "5"})
        .status_code
        == 201
    )
    assert_error(
        api("vp").post("/planning/targets", {"period": "2027-Q1", "amount": "5"}),
        422,
        "validation_error",
    )
    assert Target.objects.count() == 3
    assert api("m1").get("/planning/targets").json()["total"] == 1  # their team's only
    assert api("vp").get("/planning/targets").json()["total"] == 2
    assert api("ae1").get("/planning/targets").json()["total"] == 0
    won(o["ae1"], 300000, dt.date(2027, 2, 1))
    progress = api("vp").get("/planning/targets/progress", {"period": "2027-Q1"}).json()
    lines = {(i["scope"]["kind"], i["scope"]["id"]): i for i in progress["items"]}
    assert float(lines[("region", o["east"].pk)]["bookings"]) == 300000
    assert float(lines[("team", o["one"].pk)]["target"]) == 400000
    assert lines[("team", o["one"].pk)]["attainment"] == pytest.approx(0.75)
    assert ("region", o["west"].pk) not in lines


def test_budgets_and_spend(plan_org, api):
    o = plan_org
    response = api("vp").post(
        "/planning/budgets",
        {"team": o["one"].pk, "period": "2027-Q1", "category": "travel", "amount": "10000"},
    )
    assert response.status_code == 201, response.content
    budget_id = response.json()["id"]
    assert_error(
        api("m1").post(
            "/planning/budgets",
            {"team": o["one"].pk, "period": "2027-Q1", "category": "travel", "amount": "1"},
        ),
        403,
        "forbidden",
    )
    # the team's manager records spend; the other team's manager does not see the budget
    spend = api("m1").post(
        f"/planning/budgets/{budget_id}/spend",
        {"amount": "1200.50", "spent_on": "2027-02-10", "note": "Customer visit"},
    )
    assert spend.status_code == 201, spend.content
    assert float(spend.json()["amount"]) == 1200.5
    assert_error(
        api("m2").post(
            f"/planning/budgets/{budget_id}/spend", {"amount": "1", "spent_on": "2027-02-10"}
        ),
        404,
        "not_found",
    )
    # a rep of the team neither sees nor records
    assert_error(
        api("ae1").post(
            f"/planning/budgets/{budget_id}/spend", {"amount": "1", "spent_on": "2027-02-10"}
        ),
        404,
        "not_found",
    )
    outside = api("m1").post(
        f"/planning/budgets/{budget_id}/spend", {"amount": "5", "spent_on": "2027-04-01"}
    )
    assert assert_error(outside, 422, "validation_error")["errors"][0]["field"] == "spent_on"
    detail = api("vp").get(f"/planning/budgets/{budget_id}").json()
    assert float(detail["spent"]) == 1200.5 and float(detail["left"]) == 8799.5
    assert api("vp").get("/planning/spend", {"budget": budget_id}).json()["total"] == 1
    # a budget with spend cannot go
    assert_error(api("vp").delete(f"/planning/budgets/{budget_id}"), 409, "conflict")
    assert Budget.objects.count() == 1


# --- forecasts ---------------------------------------------------------------------------------


def test_forecast_submit_adjust_rollup(plan_org, api):
    o = plan_org
    q = "2027-Q1"
    open_deal(o["ae1"], 1000, dt.date(2027, 2, 1), "commit")
    open_deal(o["ae1"], 500, dt.date(2027, 3, 1), "best_case")
    won(o["ae1"], 700, dt.date(2027, 1, 20))
    prefill = api("ae1").get("/planning/forecasts/prefill", {"period": q}).json()
    assert (float(prefill["commit"]), float(prefill["best_case"]), float(prefill["closed"])) == (
        1000,
        500,
        700,
    )
    # figures left out are taken from the deals
    response = api("ae1").post("/planning/forecasts", {"period": q, "commit": "1200"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert float(body["commit"]) == 1200 and float(body["best_case"]) == 500
    assert float(body["prefill"]["commit"]) == 1000 and float(body["closed"]) == 700
    # nobody submits for someone else
    refused = api("m1").post(
        "/planning/forecasts", {"period": q, "position": o["ae1"].pk, "commit": "1"}
    )
    assert assert_error(refused, 403, "forbidden")["reason"] == "not_holder"
    api("ae2").post(
        "/planning/forecasts", {"period": q, "commit": "300", "best_case": "0", "pipeline": "0"}
    )
    adjusted = api("m1").post(
        "/planning/forecasts/adjustments",
        {
            "period": q,
            "position": o["ae1"].pk,
            "figure": "commit",
            "amount": "900",
            "note": "Slip risk",
        },
    )
    assert adjusted.status_code == 201, adjusted.content
    assert float(adjusted.json()["previous"]) == 1200
    # a peer manager cannot adjust; a rep cannot adjust a peer
    assert_error(
        api("m2").post(
            "/planning/forecasts/adjustments",
            {"period": q, "position": o["ae1"].pk, "figure": "commit", "amount": "1"},
        ),
        422,
        "validation_error",
    )
    o["one"].share_records = True
    o["one"].save()
    peer = api("ae2").post(
        "/planning/forecasts/adjustments",
        {"period": q, "position": o["ae1"].pk, "figure": "commit", "amount": "1"},
    )
    assert assert_error(peer, 403, "forbidden")["reason"] == "not_above"
    rollup = api("m1").get("/planning/forecasts/rollup", {"period": q}).json()["rollup"]
    assert float(rollup["total"]["commit"]) == 1200  # 900 adjusted + 300
    assert float(rollup["submitted_total"]["commit"]) == 1500
    assert float(rollup["closed"]) == 700
    ae1 = next(r for r in rollup["reports"] if r["position"]["id"] == o["ae1"].pk)
    assert float(ae1["own"]["commit"]) == 1200  # the rep's own figure is kept
    assert float(ae1["figures"]["commit"]) == 900
    assert ae1["adjustments"][0]["note"] == "Slip risk"
    # the rep never sees the manager's adjustment
    mine = api("ae1").get("/planning/forecasts/rollup", {"period": q}).json()["rollup"]
    assert float(mine["figures"]["commit"]) == 1200 and mine["adjustments"] == []
    assert api("ae1").get("/planning/forecasts/adjustments").json()["total"] == 0
    # the VP sees the manager's adjustment in the roll-up
    vp = api("vp").get("/planning/forecasts/rollup", {"period": q}).json()["rollup"]
    assert float(vp["total"]["commit"]) == 1200
    assert ForecastSubmission.objects.count() == 2


# --- query counts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,maker",
    [
        ("/planning/quotas", "quotas"),
        ("/planning/targets", "targets"),
        ("/planning/budgets", "budgets"),
        ("/planning/spend", "spend"),
        ("/planning/forecasts", "forecasts"),
        ("/planning/forecasts/adjustments", "adjustments"),
    ],
)
def test_list_endpoints_query_count(plan_org, api, django_assert_max_num_queries, path, maker):
    from revline.org.choices import RoleType
    from tests.org.factories import make_position

    o = plan_org

    def build(n: int) -> None:
        reps = [make_position(RoleType.AE, reports_to=o["m1"], title=f"R{n}{i}") for i in range(3)]
        for i, rep in enumerate(reps):
            p = period(f"2027-Q{(n + i) % 4 + 1}")
            if maker == "quotas":
                services.quota_set(by=o["vp"].holder, position=rep, period=p, amount=10)
            elif maker in ("forecasts", "adjustments"):
                services.forecast_submit(
                    by=rep.holder, position=rep, period=p, commit=1, best_case=1, pipeline=1
                )
                if maker == "adjustments":
                    services.forecast_adjust(
                        by=o["m1"].holder, position=rep, period=p, figure="commit", amount=2
                    )
            elif maker == "targets":
                services.target_set(
                    by=o["cro"].holder,
                    team=o["one"] if i % 2 else o["two"],
                    period=period(f"{2020 + n}-Q{i + 1}"),
                    amount=5,
                )
            else:
                b = services.budget_set(
                    by=o["cro"].holder,
                    region=o["east"],
                    period=period(f"{2020 + n}-Q{i + 1}"),
                    category="tools",
                    amount=100,
                )
                if maker == "spend":
                    services.spend_record(
                        by=o["cro"].holder, budget=b, amount=1, spent_on=b.period_start
                    )

    client = api("cro")
    build(1)
    client.get(path)  # warm caches (content types, roles)
    with django_assert_max_num_queries(8) as small:
        first = client.get(path)
    build(2)
    build(3)
    with django_assert_max_num_queries(8) as large:
        second = client.get(path)
    assert first.status_code == second.status_code == 200
    assert second.json()["total"] > first.json()["total"] > 0
    assert len(large.captured_queries) == len(small.captured_queries)


# --- upserts and removals ----------------------------------------------------------------------


def test_upserts_answer_201_then_200_and_removals_204(plan_org, api):
    o = plan_org
    q = "2027-Q1"
    body = {"team": o["one"].pk, "period": q, "amount": "100"}
    first = api("vp").post("/planning/targets", body)
    assert first.status_code == 201, first.content
    assert first.json()["set_by"]["id"] == o["vp"].holder.pk
    again = api("vp").post("/planning/targets", {**body, "amount": "150"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert float(again.json()["amount"]) == 150
    budget_body = {"region": o["east"].pk, "period": q, "category": "tools", "amount": "10"}
    budget = api("vp").post("/planning/budgets", budget_body)
    assert budget.status_code == 201, budget.content
    assert budget.json()["scope"]["kind"] == "region"
    assert budget.json()["set_by"]["id"] == o["vp"].holder.pk
    assert api("cro").post("/planning/budgets", budget_body).status_code == 200
    quota = api("m1").post(
        "/planning/quotas", {"position": o["ae1"].pk, "period": q, "amount": "5"}
    )
    assert quota.json()["set_by"]["id"] == o["m1"].holder.pk

    # removals: outside the view 404, seen but not theirs 403, theirs 204
    target_id, budget_id, quota_id = first.json()["id"], budget.json()["id"], quota.json()["id"]
    assert_error(api("vp_w").delete(f"/planning/targets/{target_id}"), 404, "not_found")
    refused = api("m1").delete(f"/planning/targets/{target_id}")
    assert assert_error(refused, 403, "forbidden")["reason"] == "scope_not_allowed"
    assert api("vp").delete(f"/planning/targets/{target_id}").status_code == 204
    assert_error(api("m2").delete(f"/planning/quotas/{quota_id}"), 404, "not_found")
    refused = api("ae1").delete(f"/planning/quotas/{quota_id}")
    assert assert_error(refused, 403, "forbidden")["reason"] == "quota_not_below"
    assert api("m1").delete(f"/planning/quotas/{quota_id}").status_code == 204
    assert api("vp").delete(f"/planning/budgets/{budget_id}").status_code == 204
    assert not (Target.objects.exists() or Quota.objects.exists() or Budget.objects.exists())


def test_adjustment_again_answers_200_and_only_its_author_withdraws_it(plan_org, api):
    o = plan_org
    q = "2027-Q1"
    api("ae1").post("/planning/forecasts", {"period": q, "commit": "100", "best_case": "0"})
    again = api("ae1").post("/planning/forecasts", {"period": q, "commit": "120"})
    assert again.status_code == 200, again.content
    assert again.json()["position"]["id"] == o["ae1"].pk
    body = {"period": q, "position": o["ae1"].pk, "figure": "commit", "amount": "90"}
    first = api("m1").post("/planning/forecasts/adjustments", body)
    assert first.status_code == 201, first.content
    second = api("m1").post("/planning/forecasts/adjustments", {**body, "amount": "80"})
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert second.json()["author"]["id"] == o["m1"].pk
    path = f"/planning/forecasts/adjustments/{first.json()['id']}"
    assert_error(api("ae1").delete(path), 404, "not_found")  # the adjusted rep never sees it
    assert_error(api("m2").delete(path), 404, "not_found")  # a peer manager does not either
    refused = api("vp").delete(path)  # the VP sees it, but did not make it
    assert assert_error(refused, 403, "forbidden")["reason"] == "not_above"
    assert api("m1").delete(path).status_code == 204
    assert api("m1").get("/planning/forecasts/adjustments").json()["total"] == 0
