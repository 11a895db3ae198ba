"""Who sees which predictions: a rep their own deals, a manager their team's with a roll-up per
rep, a peer nothing of another's, the org-wide roles everything; an invisible position is a
404, an anonymous caller is turned away, the backtest is for org-wide viewers only."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from revline.forecasting import selectors
from revline.forecasting.models import BacktestRun
from revline.org.models import Position, RecordShare
from tests.api.conftest import ApiClient, assert_error, token_for
from tests.crm.factories import make_opportunity
from tests.forecasting.factories import PERIOD, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(sales_org):
    o = sales_org
    deals = {
        "a1": make_opportunity(o["ae1"], amount=1000),
        "a1b": make_opportunity(o["ae1"], amount=3000),
        "a2": make_opportunity(o["ae2"], amount=2000),
        "a3": make_opportunity(o["ae3"], amount=4000),
        "a4": make_opportunity(o["ae4"], amount=5000),
    }
    won = make_opportunity(o["ae2"], amount=700)
    run = make_run(
        [(deals["a1"], 0.5), (deals["a1b"], 0.1), (deals["a2"], 0.25), (deals["a3"], 0.8), (deals["a4"], 0.2)],
        won=[won],
        new={o["ae1"].pk: 100.0, o["ae3"].pk: 300.0},
    )  # fmt: skip
    return {"run": run, "deals": deals, "won": won}


def ids(result) -> set[int]:
    return {item.opportunity_id for item in result.items}


def test_a_rep_sees_only_their_own_deals(sales_org, run):
    ae1 = sales_org["ae1"].holder
    got = selectors.predicted(user=ae1, period=PERIOD)
    assert ids(got) == {run["deals"]["a1"].pk, run["deals"]["a1b"].pk}
    assert got.open_expected == pytest.approx(1000 * 0.5 + 3000 * 0.1)
    assert got.won_to_date == 0 and got.new_deals == 100.0
    assert got.range.expected == pytest.approx(800 + 100)
    assert got.range.p10 <= got.range.p50 <= got.range.p90


def test_a_manager_sees_the_team_with_a_rollup_per_rep(sales_org, run):
    m1 = sales_org["m1"]
    got = selectors.predicted(user=m1.holder, period=PERIOD, position=m1)
    d = run["deals"]
    assert ids(got) == {d["a1"].pk, d["a1b"].pk, d["a2"].pk, run["won"].pk}
    assert got.won_to_date == 700 and got.won_deals == 1 and got.open_deals == 3
    children = {c.position.pk: c for c in got.children}
    assert set(children) == {
        sales_org["ae1"].pk,
        sales_org["ae2"].pk,
        sales_org["bdr"].pk,
        sales_org["sdr"].pk,
    }
    assert children[sales_org["ae1"].pk].range.expected == pytest.approx(800 + 100)
    assert children[sales_org["ae2"].pk].range.expected == pytest.approx(700 + 500)
    assert children[sales_org["bdr"].pk].deals == 0
    # The team's expected value is the sum of the reps'; its range is simulated from the deals.
    assert got.range.expected == pytest.approx(900 + 1200)  # fmt: skip


def test_a_vp_rolls_up_both_teams_and_the_org_wide_roles_see_everything(sales_org, run):
    vp = sales_org["vp"]
    got = selectors.predicted(user=vp.holder, period=PERIOD, position=vp)
    assert {c.position.title for c in got.children} >= {"Manager 1", "Manager 2"}
    assert got.open_deals == 5 and got.won_deals == 1
    for role in ("cro", "cso", "ceo", "revops"):
        everything = selectors.predicted(user=sales_org[role].holder, period=PERIOD)
        assert everything.open_deals == 5 and everything.new_deals == 400.0
        # The whole run: its stored totals.
        assert everything.range.expected == float(run["run"].expected)


def test_a_peer_sees_nothing_of_another_rep(sales_org, run):
    ae2 = sales_org["ae2"].holder
    mine = selectors.predicted(user=ae2, period=PERIOD)
    assert ids(mine) == {run["deals"]["a2"].pk, run["won"].pk}
    # A peer's position: outside the org chart they see, so 404 (DoesNotExist).
    with pytest.raises(Position.DoesNotExist):
        selectors.scope_position(user=ae2, pk=sales_org["ae1"].pk)
    # Their manager's position is visible (above them), but it shows only what they may see.
    up = selectors.predicted(user=ae2, period=PERIOD, position=sales_org["m1"])
    assert ids(up) == ids(mine)
    assert up.new_deals == 0.0  # AE 1a's "not open yet" share is not theirs to see


def test_a_shared_deal_joins_the_scope(sales_org, run):
    from django.contrib.contenttypes.models import ContentType

    from revline.pipeline.models import Opportunity

    ae2 = sales_org["ae2"]
    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Opportunity),
        object_id=run["deals"]["a3"].pk,
        position=ae2,
    )
    got = selectors.predicted(user=ae2.holder, period=PERIOD)
    assert run["deals"]["a3"].pk in ids(got)


def test_an_inactive_or_anonymous_user_sees_nothing(sales_org, run):
    from django.contrib.auth.models import AnonymousUser

    assert selectors.predicted(user=AnonymousUser(), period=PERIOD).items == []
    ae1 = sales_org["ae1"].holder
    ae1.is_active = False
    ae1.save()
    assert selectors.predicted(user=ae1, period=PERIOD).deal_count == 0


def test_api_scopes_and_refuses(sales_org, run):
    ae1 = ApiClient(token_for(sales_org["ae1"].holder))
    r = ae1.get("/forecasting/predicted", {"period": PERIOD.key})
    assert r.status_code == 200
    assert {i["opportunity_id"] for i in r.json()["items"]} == ids(
        selectors.predicted(user=sales_org["ae1"].holder, period=PERIOD)
    )
    # a peer's position, and one that does not exist: 404
    assert_error(
        ae1.get("/forecasting/predicted", {"period": PERIOD.key, "position": sales_org["ae3"].pk}),
        404,
        "not_found",
    )
    assert_error(
        ae1.get("/forecasting/predicted", {"period": PERIOD.key, "position": 999999}),
        404,
        "not_found",
    )
    # the backtest and the runs: organisation-wide figures
    assert_error(ae1.get("/forecasting/backtest"), 403, "forbidden")
    assert_error(ae1.get("/forecasting/runs"), 403, "forbidden")
    assert_error(ae1.post("/forecasting/runs", {"period": PERIOD.key}), 403, "forbidden")
    assert_error(ae1.post("/forecasting/backtest"), 403, "forbidden")
    # anonymous, and a bad token
    assert_error(ApiClient().get("/forecasting/predicted"), 401, "unauthorized")
    assert_error(ApiClient("nope").get("/forecasting/backtest"), 401, "unauthorized")  # fmt: skip


def test_backtest_is_for_org_wide_viewers(sales_org):
    BacktestRun.objects.create(methods=["predicted"], points=[], scores=[])
    with pytest.raises(PermissionDenied):
        selectors.backtest_latest(user=sales_org["m1"].holder)
    assert selectors.backtest_latest(user=sales_org["cro"].holder).run is not None


def test_web_page_scopes_and_refuses(sales_org, run):
    c = Client()
    assert c.get(reverse("web:forecasting")).status_code == 302  # to the login page
    c.force_login(sales_org["m1"].holder)
    r = c.get(reverse("web:forecasting"), {"period": PERIOD.key})
    assert r.status_code == 200
    html = r.content.decode()
    assert run["deals"]["a1"].name in html and run["deals"]["a3"].name not in html
    assert 'id="fc-rollup"' in html and 'id="backtest"' not in html  # no org-wide figures
    assert c.get(reverse("web:forecasting"), {"period": PERIOD.key, "position": sales_org["ae3"].pk}).status_code == 404  # fmt: skip
    assert c.post(reverse("web:forecasting_refresh"), {"period": PERIOD.key}).status_code == 403
    assert c.post(reverse("web:forecasting_backtest")).status_code == 403


def test_predicted_reads_in_a_fixed_number_of_queries(sales_org, run):
    """The same queries for 5 deals as for 25: no query per deal, rep or roll-up (after a
    first call has warmed the content-type and role caches)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    m1 = sales_org["m1"]

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            selectors.predicted(user=m1.holder, period=PERIOD, position=m1)
        return len(ctx.captured_queries)

    count()
    before = count()
    extra = [
        make_opportunity(sales_org[ae], amount=500) for ae in ("ae1", "ae2") for _ in range(10)
    ]
    from revline.forecasting.models import DealPrediction

    DealPrediction.objects.bulk_create(
        DealPrediction(
            run=run["run"],
            opportunity=o,
            owner_position_id=o.owner_position_id,
            stage_id=o.stage_id,
            amount=o.amount,
            probability=0.3,
        )
        for o in extra
    )
    assert count() == before
    assert before <= 12
