"""The history as it stood: open deals at a cut-off, closes, and features that read nothing
after the cut-off (no leakage). In memory: no database."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revline.forecasting.features import feature_frame, labels
from revline.forecasting.history import History, history_build, open_at
from revline.forecasting.model import training_set
from tests.forecasting.helpers import DEMO, LOST, NEGOTIATION, PROSPECT, WON, build, synthetic, ts


@pytest.fixture
def small() -> History:
    return build(
        [
            # opened in January, demo in February, won in March
            {"id": 1, "owner": 7, "amount": 100, "steps": [(PROSPECT, "2024-01-10"), (DEMO, "2024-02-05"), (WON, "2024-03-03")]},
            # opened in January, lost in February
            {"id": 2, "owner": 7, "amount": 200, "steps": [(PROSPECT, "2024-01-20"), (LOST, "2024-02-10")]},
            # opened in February, still open
            {"id": 3, "owner": 8, "amount": 300, "steps": [(PROSPECT, "2024-02-15"), (NEGOTIATION, "2024-03-20")]},
        ],
        activities=[(1, "2024-01-15"), (1, "2024-02-25"), (3, "2024-03-25")],
    )  # fmt: skip


def test_open_at_rebuilds_the_pipeline_as_it_stood(small):
    jan = open_at(small, "2024-02-01")
    assert sorted(jan.index) == [1, 2]
    assert jan.loc[1, "stage_id"] == PROSPECT
    assert jan.loc[1, "entered_at"] == ts("2024-01-10")
    mar = open_at(small, "2024-03-01")
    assert sorted(mar.index) == [1, 3]  # 2 was lost in February
    assert mar.loc[1, "stage_id"] == DEMO and mar.loc[1, "moves"] == 1
    assert sorted(open_at(small, "2024-04-01").index) == [3]
    # A change at the cut-off itself is not yet known.
    assert open_at(small, "2024-02-05").loc[1, "stage_id"] == PROSPECT


def test_closes_and_labels(small):
    closes = small.closes.set_index("opportunity_id")
    assert closes.loc[1, "won"] and not closes.loc[2, "won"]
    assert closes.loc[1, "amount"] == 100
    deals = open_at(small, "2024-02-01").index
    assert labels(small, deals, "2024-02-01", "2024-03-01").tolist() == [0, 0]  # lost != won
    assert labels(small, deals, "2024-02-01", "2024-04-01").tolist() == [1, 0]


def test_features_count_only_the_past(small):
    f = feature_frame(small, "2024-03-01", "2024-04-01").loc[1]
    assert f["days_in_stage"] == (ts("2024-03-01") - ts("2024-02-05")).days
    assert f["deal_age"] == (ts("2024-03-01") - ts("2024-01-10")).days
    assert f["activities"] == 2 and f["activities_30d"] == 1
    assert f["horizon_days"] == 31
    # Owner 7 lost deal 2 in February: their win rate is pulled below the prior (0 won of 1,
    # smoothed towards the organisation's 0 of 1).
    assert f["owner_win_rate"] == pytest.approx(0.0)
    assert f["quarter_ends_in_horizon"] == 1  # March 31 is in [Mar 1, Apr 1)


def _truncated(history: History, cutoff: pd.Timestamp, seed: int) -> History:
    """The same history with everything from ``cutoff`` on replaced by noise: other stage
    moves, other closes, other activities, and the deals' current amount and status changed."""
    rng = np.random.default_rng(seed)
    c = history.changes
    past = c[c["changed_at"] < cutoff][["id", "opportunity_id", "to_stage_id", "changed_at", "amount", "owner_position_id"]]  # fmt: skip
    later = c[c["changed_at"] >= cutoff][["id", "opportunity_id", "to_stage_id", "changed_at", "amount", "owner_position_id"]].copy()  # fmt: skip
    later["to_stage_id"] = rng.choice([DEMO, NEGOTIATION, WON, LOST], size=len(later))
    later["amount"] = rng.uniform(1, 10_000, size=len(later))
    later["owner_position_id"] = rng.integers(1, 5, size=len(later))
    deals = history.deals.copy()
    deals["amount"] = rng.uniform(1, 10_000, size=len(deals))
    deals["status"] = rng.choice(["open", "won", "lost"], size=len(deals))
    acts = history.activities
    noise = pd.DataFrame(
        {
            "opportunity_id": rng.choice(deals.index.to_numpy(), size=50),
            "occurred_at": cutoff + pd.to_timedelta(rng.uniform(0, 90, size=50), unit="D"),
        }
    )
    return history_build(
        deals=deals,
        changes=pd.concat([past, later]),
        stages=history.stages,
        activities=pd.concat([acts[acts["occurred_at"] < cutoff], noise]),
    )


@pytest.mark.parametrize("cutoff", ["2024-05-01", "2024-08-01"])
def test_no_leakage_features_and_training_read_nothing_after_the_cutoff(cutoff):
    history = synthetic(n=300, months=10)
    cutoff = ts(cutoff)
    other = _truncated(history, cutoff, seed=3)
    until = cutoff + pd.DateOffset(months=3)
    a = feature_frame(history, cutoff, until)
    b = feature_frame(other, cutoff, until)
    assert len(a) > 20
    pd.testing.assert_frame_equal(a, b)
    # Training for a model used at the cut-off: the same examples and the same labels.
    ta, tb = training_set(history, cutoff), training_set(other, cutoff)
    pd.testing.assert_frame_equal(ta.X, tb.X)
    assert np.array_equal(ta.y, tb.y) and ta.y.sum() > 0
    # ... whereas the labels of a horizon running past the cut-off do see the future.
    future = labels(history, a.index, cutoff, until)
    assert not np.array_equal(future, labels(other, a.index, cutoff, until))


def test_training_uses_only_horizons_ended_by_the_cutoff():
    history = synthetic(n=200, months=8)
    data = training_set(history, "2024-06-01")
    # Snapshots from the first month with a close, horizons of 1-3 months ending by June 1.
    assert all(s + pd.DateOffset(months=1) <= ts("2024-06-01") for s in data.snapshots)
    assert data.X["horizon_days"].max() <= (ts("2024-06-01") - data.snapshots[0]).days
