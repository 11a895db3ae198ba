"""Backtest metrics on a small constructed history, and the model against the baseline on a
synthetic one. In memory: no database."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from revline.forecasting.backtest import (
    Point,
    backtest_run,
    cutoffs,
    months_between,
    run_rate,
    scores,
)
from revline.forecasting.model import train
from revline.forecasting.predict import forecast
from tests.forecasting.helpers import DEMO, LOST, NEGOTIATION, PROSPECT, WON, build, synthetic, ts


def test_mape_and_bias_are_computed_right():
    d = dt.date(2024, 1, 1)
    points = [
        Point(d, "month", "2024-M01", d, d, actual=100.0, forecasts={"a": 110.0, "b": 50.0}),
        Point(d, "month", "2024-M02", d, d, actual=200.0, forecasts={"a": 150.0, "b": 300.0}),
        Point(d, "month", "2024-M03", d, d, actual=0.0, forecasts={"a": 10.0, "b": 10.0}),
        Point(d, "quarter", "2024-Q1", d, d, actual=400.0, forecasts={"a": 500.0}),
    ]
    points[0].ranges["a"] = (90.0, 120.0)  # covers 100
    points[1].ranges["a"] = (160.0, 240.0)  # misses 150... and the actual 200 is inside
    got = {(s.view, s.method): s for s in scores(points, ["a", "b"])}
    a = got[("month", "a")]
    # errors +10% and -25%; the zero actual is left out
    assert a.n == 2
    assert a.mape == pytest.approx((0.10 + 0.25) / 2)
    assert a.bias == pytest.approx((0.10 - 0.25) / 2)
    assert a.coverage == 1.0  # both actuals inside their range
    b = got[("month", "b")]
    assert b.mape == pytest.approx((0.5 + 0.5) / 2) and b.bias == pytest.approx(0.0)
    assert b.coverage is None
    assert got[("quarter", "a")].mape == pytest.approx(0.25)
    assert got[("quarter", "b")].n == 0 and got[("quarter", "b")].mape is None


@pytest.fixture
def tiny():
    """Three months of history: closes in January and February, open deals at March 1."""
    return build(
        [
            {"id": 1, "owner": 1, "amount": 100, "steps": [(PROSPECT, "2024-01-02"), (WON, "2024-01-20")]},
            {"id": 2, "owner": 1, "amount": 300, "steps": [(PROSPECT, "2024-01-05"), (WON, "2024-02-10")]},
            {"id": 3, "owner": 2, "amount": 50, "steps": [(PROSPECT, "2024-01-07"), (LOST, "2024-02-11")]},
            {"id": 4, "owner": 2, "amount": 1000, "steps": [(PROSPECT, "2024-02-01"), (DEMO, "2024-02-20")]},
            {"id": 5, "owner": 1, "amount": 500, "steps": [(PROSPECT, "2024-02-03"), (NEGOTIATION, "2024-02-25"), (WON, "2024-03-05")]},
            {"id": 6, "owner": 2, "amount": 700, "steps": [(PROSPECT, "2024-03-10"), (WON, "2024-03-20")]},
        ]
    )  # fmt: skip


def test_baselines_by_hand(tiny):
    # Run rate at April 1: January 100, February 300, March 500 + 700 -> 1,600 / 3.
    assert run_rate(tiny, ts("2024-04-01")) == pytest.approx(1600 / 3)
    # At March 1, only January and February count (history starts in January).
    assert run_rate(tiny, ts("2024-03-01")) == pytest.approx(200.0)
    f = forecast(
        tiny, start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31), as_of="2024-03-01", model=None
    )
    # Open at March 1: deal 4 in demo (40%) and deal 5 in negotiation (80%).
    assert sorted(f.deals.index) == [4, 5]
    assert f.stage_weighted == pytest.approx(0.4 * 1000 + 0.8 * 500)
    assert f.won_to_date == 0.0
    # Mid-month the won-to-date counts: deal 5 won on March 5.
    g = forecast(
        tiny, start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31), as_of="2024-03-10", model=None
    )
    assert g.won_to_date == 500.0 and sorted(g.deals.index) == [4]
    assert months_between(ts("2024-03-01"), ts("2024-04-01")) == pytest.approx(1.0)
    assert months_between(ts("2024-03-16"), ts("2024-05-01")) == pytest.approx(1 + 16 / 31)
    # The "not open yet" term at March 1: windows of March's length (31 days) ending at
    # March 1 (Jan 30 - Mar 1: deal 2 won, but it was open on Jan 30: 0) and at February 1
    # (Jan 1 - Feb 1: deal 1, opened on Jan 2, won: 100); the next would start before the
    # first close's month. Mean: 50, by the owner at the close.
    assert f.new_deals == pytest.approx(50.0)
    assert f.new_by_owner.to_dict() == {1: 50.0}


def test_cutoffs_start_two_months_after_the_first_close_and_end_with_complete_quarters(tiny):
    assert cutoffs(tiny) == []  # the history ends in March: no complete quarter after March 1
    history = synthetic(n=300, months=12)
    found = cutoffs(history)
    first = history.first_close
    assert found[0] == pd.Timestamp(first.year, first.month, 1) + pd.DateOffset(months=2)
    last_day = history.last_event.normalize()
    assert all(
        pd.Timestamp(history.rule.period_of(c.date(), "quarter").end) <= last_day for c in found
    )


def test_the_model_beats_the_stage_baseline_on_a_history_with_signal():
    """On a synthetic history where owners and stages carry the signal, the backtest's
    predicted method forecasts the quarter far better than the stage-weighted pipeline, which
    ignores when deals close (a smoke test of the whole replay: every cut-off retrains on the
    past only). Cut-offs from the middle of the history, away from its edges."""
    history = synthetic(n=900, months=12, seed=2)
    at = cutoffs(history)[3:6]
    result = backtest_run(history, methods=("predicted", "stage_weighted", "run_rate"), at=at)
    quarter = {s.method: s for s in result.scores if s.view == "quarter"}
    assert quarter["predicted"].n == len(at)
    assert quarter["predicted"].mape < 0.2
    assert quarter["predicted"].mape < quarter["stage_weighted"].mape
    assert all(
        set(p.forecasts) == {"predicted", "stage_weighted", "run_rate"} for p in result.points
    )
    assert all("predicted" in p.ranges for p in result.points)


def test_model_probabilities_order_deals_by_stage_and_are_calibrated():
    history = synthetic(n=900, months=12, seed=4)
    cutoff = ts("2024-10-01")
    model = train(history, cutoff)
    f = forecast(
        history, start=dt.date(2024, 10, 1), end=dt.date(2024, 12, 31), as_of=cutoff, model=model
    )
    by_stage = f.deals.groupby("stage_id")["probability"].mean()
    assert by_stage[NEGOTIATION] > by_stage[PROSPECT]
    assert ((f.deals["probability"] >= 0) & (f.deals["probability"] <= 1)).all()
    # Calibration on the training snapshots themselves is loose but real: the mean predicted
    # probability is near the share of deals won.
    won = history.closes
    won = won[won["won"] & (won["closed_at"] >= cutoff)]["opportunity_id"]
    actual = f.deals.index.isin(won.to_numpy()).mean()
    assert abs(f.deals["probability"].mean() - actual) < 0.15
    assert np.isfinite(f.expected)
