"""A run made from a history in the database (services and the task), and the API's shape."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from revline.forecasting import selectors
from revline.forecasting.models import BacktestRun, DealPrediction, ForecastRun
from revline.forecasting.services import backtest_run_create, default_as_of, forecast_run_create
from revline.planning.calendar import FiscalYearRule
from tests.api.conftest import ApiClient, assert_error, token_for
from tests.crm.factories import make_opportunity
from tests.forecasting.factories import PERIOD, history_in_db
from tests.forecasting.helpers import synthetic

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
APRIL = timezone.make_aware(dt.datetime(2025, 4, 1))


@pytest.fixture
def history(sales_org):
    history_in_db(sales_org)
    # Opened after the cut-off: no run as of April 1 may hold it.
    late = make_opportunity(sales_org["ae1"], at=timezone.make_aware(dt.datetime(2025, 4, 10)))
    return {"org": sales_org, "late": late}


def test_a_run_predicts_the_deals_open_at_its_moment(history):
    run = forecast_run_create(period=PERIOD, as_of=APRIL, by=history["org"]["revops"].holder)
    assert run.status == "done", run.message
    rows = DealPrediction.objects.filter(run=run)
    assert rows.count() == run.open_deals == 10  # deals 30-39 of the history
    assert not rows.filter(opportunity=history["late"]).exists()
    assert all(0.0 <= p <= 1.0 for p in rows.values_list("probability", flat=True))
    assert run.won_to_date == 0  # nothing of Q2 won by April 1
    assert run.p10 <= run.p50 <= run.p90
    assert run.expected == pytest.approx(
        run.won_to_date + run.open_expected + run.new_deals, abs=Decimal("0.05")
    )
    assert run.trained_through == APRIL and run.snapshots >= 2 and run.positives > 0
    # Audited like every write.
    from revline.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="forecast.run", object_id=run.pk).exists()


def test_too_little_history_is_a_failed_run_with_a_reason(sales_org):
    run = forecast_run_create(period=PERIOD, as_of=APRIL, by=None)
    assert run.status == "failed" and "closed" in run.message
    got = selectors.predicted(user=sales_org["cro"].holder, period=PERIOD)
    assert got.status == "failed" and got.range is None


def test_default_moment_replays_a_past_period_from_its_start():
    rule = FiscalYearRule()
    past = rule.parse("2017-Q3")
    assert default_as_of(past).date() == dt.date(2017, 7, 1)
    now = timezone.now()
    current = rule.period_of(timezone.localdate(now), "quarter")
    assert default_as_of(current, now) == now


def test_api_predicted_shape(history):
    org = history["org"]
    forecast_run_create(period=PERIOD, as_of=APRIL, by=None)
    api = ApiClient(token_for(org["vp"].holder))
    r = api.get(
        "/forecasting/predicted", {"period": "2025-Q2", "position": org["vp"].pk, "limit": 3}
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "done" and body["period"] == "2025-Q2"
    assert body["start"] == "2025-04-01" and body["end"] == "2025-06-30"
    for key in (
        "expected",
        "p10",
        "p50",
        "p90",
        "won_to_date",
        "open_expected",
        "new_deals",
        "stage_weighted",
    ):
        assert isinstance(body[key], float), key
    assert body["p10"] <= body["p50"] <= body["p90"]
    assert body["position"]["id"] == org["vp"].pk
    assert {c["position"]["title"] for c in body["children"]} >= {"Manager 1", "Manager 2"}
    assert len(body["items"]) == 3
    item = body["items"][0]
    assert set(item) == {"opportunity_id", "name", "owner_position_id", "owner", "stage", "won", "amount", "probability", "expected", "stage_probability"}  # fmt: skip
    assert item["expected"] == pytest.approx(item["amount"] * item["probability"])
    assert body["model"]["method"] == "lightgbm" and body["model"]["examples"] > 0
    # A period without a run, and a bad one.
    none = api.get("/forecasting/predicted", {"period": "2031-Q1"}).json()
    assert none["status"] == "none" and none["expected"] is None and none["items"] == []
    assert_error(api.get("/forecasting/predicted", {"period": "2025-Q7"}), 422, "validation_error")
    assert_error(api.get("/forecasting/predicted", {"limit": 5000}), 422, "validation_error")


def test_api_queues_runs_and_backtests(history, settings, django_capture_on_commit_callbacks):
    settings.TASKS = IMMEDIATE
    org = history["org"]
    cro = ApiClient(token_for(org["cro"].holder))
    with django_capture_on_commit_callbacks(execute=True):  # queued once the request commits
        r = cro.post("/forecasting/runs", {"period": "2025-Q2", "as_of": "2025-04-01"})
    assert r.status_code == 202, r.content
    assert r.json()["status"] == "queued" and r.json()["period"] == "2025-Q2"
    run = ForecastRun.objects.get()
    assert run.status == "done" and run.as_of == APRIL and run.created_by == org["cro"].holder
    listed = cro.get("/forecasting/runs").json()
    assert [x["id"] for x in listed] == [run.pk]
    assert_error(cro.post("/forecasting/runs", {"period": "soon"}), 422, "validation_error")


def test_api_backtest_shape(sales_org):
    api = ApiClient(token_for(sales_org["cro"].holder))
    assert api.get("/forecasting/backtest").json()["status"] == "none"
    run = backtest_run_create(
        by=None,
        history=synthetic(n=250, months=8, seed=3),
        methods=("predicted", "stage_weighted", "run_rate"),
        include_submitted=False,
    )
    assert run.status == "done" and run.points
    body = api.get("/forecasting/backtest").json()
    assert body["status"] == "done" and body["run_id"] == run.pk
    assert body["methods"]["stage_weighted"] == "Stage-weighted pipeline"
    views = {(s["view"], s["method"]) for s in body["scores"]}
    assert ("month", "predicted") in views and ("quarter", "run_rate") in views
    score = next(s for s in body["scores"] if s["view"] == "month" and s["method"] == "predicted")
    points = [p for p in body["points"] if p["view"] == "month" and p["actual"] > 0]
    errors = [(p["forecasts"]["predicted"] - p["actual"]) / p["actual"] for p in points]
    assert score["n"] == len(points)
    # (the stored forecasts are rounded to cents)
    assert score["mape"] == pytest.approx(sum(abs(e) for e in errors) / len(errors), rel=1e-5)
    assert score["bias"] == pytest.approx(sum(errors) / len(errors), rel=1e-5)
    # The page shows the table to an org-wide viewer.
    c = Client()
    c.force_login(sales_org["cro"].holder)
    html = c.get(reverse("web:forecasting")).content.decode()
    assert 'id="fc-bt-table"' in html and "Stage-weighted pipeline" in html
    assert "<svg" in html
    assert BacktestRun.objects.count() == 1


def test_web_refresh_queues_a_run(history, settings, django_capture_on_commit_callbacks):
    settings.TASKS = IMMEDIATE
    c = Client()
    c.force_login(history["org"]["cro"].holder)
    with django_capture_on_commit_callbacks(execute=True):  # queued once the request commits
        r = c.post(reverse("web:forecasting_refresh"), {"period": "2025-Q2", "as_of": "2025-04-01"})
    assert r.status_code == 302
    run = ForecastRun.objects.get()
    assert run.status == "done"
    page = c.get(reverse("web:forecasting"), {"period": "2025-Q2"})
    html = page.content.decode()
    assert 'id="fc-range"' in html and 'data-figure="expected"' in html
    assert "Predicted bookings" in html  # the range chart's title
