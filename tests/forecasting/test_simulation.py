"""The Monte Carlo range on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from revline.forecasting.simulation import bookings_range, draws_for, simulate_totals


def test_certain_deals_need_no_draw():
    r = bookings_range(np.array([1.0, 0.0, 1.0]), np.array([100.0, 50.0, 30.0]), certain=20)
    assert (r.expected, r.p10, r.p50, r.p90) == (150.0, 150.0, 150.0, 150.0)


def test_one_coin_flip():
    r = bookings_range(np.array([0.5]), np.array([100.0]))
    assert r.expected == 50.0
    assert r.p10 == 0.0 and r.p90 == 100.0


def test_many_identical_deals_follow_the_binomial():
    """100 deals of 1 at p = 0.3: the total is Binomial(100, 0.3); its 10th, 50th and 90th
    percentiles are 24, 30 and 36."""
    r = bookings_range(np.full(100, 0.3), np.ones(100))
    assert r.expected == pytest.approx(30.0)
    expected = stats.binom.ppf([0.1, 0.5, 0.9], 100, 0.3)
    assert [r.p10, r.p50, r.p90] == pytest.approx(list(expected), abs=1.0)


def test_mixed_amounts_mean_and_spread():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, 400)
    a = rng.choice([1_000.0, 5_000.0, 20_000.0], 400)
    totals = simulate_totals(p, a, draws=10_000)
    assert totals.mean() == pytest.approx((p * a).sum(), rel=0.01)
    assert totals.std() == pytest.approx(np.sqrt((p * (1 - p) * a * a).sum()), rel=0.05)
    # Same seed, same range.
    assert np.array_equal(totals, simulate_totals(p, a, draws=10_000))


def test_large_scopes_draw_less():
    assert draws_for(100) == 10_000
    assert draws_for(100_000) == 2_000
    with pytest.raises(ValueError):
        simulate_totals(np.array([0.5]), np.array([1.0, 2.0]))
