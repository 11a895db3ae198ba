"""Features of the deals open at a cut-off, computed only from what was recorded before it.

For the deals open at ``at`` (``history.open_at``) and a horizon ending at ``until``:

- the deal: stage (default probability, place in the pipeline), days in the stage, days since
  it was opened, stage moves so far, amount (as recorded with its latest move), product,
  opportunity type, the activities logged on it (all, and in the last 30 days);
- the owner then: smoothed win rate over all their closes before ``at`` and over the last 90
  days, deals closed and bookings in those 90 days;
- the product: smoothed win rate before ``at``;
- the calendar: days from ``at`` to the end of its fiscal quarter, and how many quarter ends
  the horizon spans (deals bunch at quarter ends);
- the horizon: days from ``at`` to ``until``.

Account features (``ACCOUNT_FEATURES``: the account's smoothed win rate and average won amount
before ``at``, its sector and size) are computed too but left out of the default model: a
deal's account has no history in Revline, so the account a deal has *now* is all there is, and
where accounts get filled in as deals progress that is a leak. The demo data shows it plainly:
the Maven file names the account of every closed deal and of only a third of the open ones, so
"no account" at a past cut-off means "will still be open at the end". ``docs/forecasting.md``
gives the backtest with and without them.

Win rates are smoothed towards the whole organisation's win rate before ``at``
(``PRIOR_WEIGHT`` pseudo-deals), so a new owner starts at the average rather than at 0 or 1.
Counts that only grow with time (all-time deals won, say) are avoided: a model trained on early
snapshots would read them as a clock.

``labels`` says which deals were won between ``at`` and ``until``; it is the only function
here that reads after ``at``, and training calls it only for horizons that ended before the
training cut-off.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from revline.forecasting.history import History, as_timestamp, open_at

PRIOR_WEIGHT = 5.0
DAY = np.timedelta64(1, "D")

NUMERIC = [
    "stage_probability",
    "stage_rank",
    "days_in_stage",
    "deal_age",
    "moves",
    "log_amount",
    "activities",
    "activities_30d",
    "owner_win_rate",
    "owner_win_rate_90d",
    "owner_closed_90d",
    "owner_log_bookings_90d",
    "product_win_rate",
    "days_to_quarter_end",
    "quarter_ends_in_horizon",
    "horizon_days",
]
CATEGORICAL = ["product", "type"]
ACCOUNT_NUMERIC = ["account_win_rate", "account_log_won_amount", "account_log_employees"]
ACCOUNT_CATEGORICAL = ["sector"]
ACCOUNT_FEATURES = ACCOUNT_NUMERIC + ACCOUNT_CATEGORICAL
FEATURES = NUMERIC + CATEGORICAL


def feature_names(*, account: bool = False) -> tuple[list[str], list[str]]:
    """The (numeric, categorical) features of a model, with or without the account's."""
    if account:
        return NUMERIC + ACCOUNT_NUMERIC, CATEGORICAL + ACCOUNT_CATEGORICAL
    return list(NUMERIC), list(CATEGORICAL)


def _smoothed(won: pd.Series, lost: pd.Series, prior: float) -> pd.Series:
    return (won + PRIOR_WEIGHT * prior) / (won + lost + PRIOR_WEIGHT)


def _tally(past: pd.DataFrame, key: str, keys: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Won and lost counts and won amount among ``past`` closes grouped by ``key``, looked up
    for ``keys`` (one per row of ``index``; unknown keys: zeros)."""
    past = past.dropna(subset=[key])
    if past.empty:
        table = pd.DataFrame(columns=["won", "lost", "won_amount"], dtype=float)
    else:
        grouped = past.groupby(key)
        table = pd.DataFrame(
            {
                "won": grouped["won"].sum().astype(float),
                "lost": (~past["won"]).groupby(past[key]).sum().astype(float),
                "won_amount": past["amount"].where(past["won"], 0.0).groupby(past[key]).sum(),
            }
        )
    out = table.reindex(keys).fillna(0.0)
    out.index = index
    return out


def snapshot_features(history: History, at: dt.date | dt.datetime | pd.Timestamp) -> pd.DataFrame:
    """The horizon-free features of the deals open at ``at`` (computed once per ``at`` and
    kept on the history: they depend on nothing after ``at``). Callers get a copy."""
    at = as_timestamp(at)
    cached = history.snapshot_cache.get(at)
    if cached is None:
        cached = _snapshot_features(history, at)
        history.snapshot_cache[at] = cached
    return cached.copy()


def _snapshot_features(history: History, at: pd.Timestamp) -> pd.DataFrame:
    deals = open_at(history, at)
    out = pd.DataFrame(index=deals.index)
    stages = history.stages
    out["stage_id"] = deals["stage_id"]
    out["owner_position_id"] = deals["owner_position_id"]
    out["amount"] = deals["amount"].astype(float)
    out["stage_probability"] = deals["stage_id"].map(stages["probability"]).astype(float)
    out["stage_rank"] = deals["stage_id"].map(stages["rank"]).astype(float)
    out["days_in_stage"] = (at - deals["entered_at"]) / DAY
    out["deal_age"] = (at - deals["created_at"]) / DAY
    out["moves"] = deals["moves"].astype(float)
    out["log_amount"] = np.log1p(out["amount"].clip(lower=0))

    fixed = history.deals.reindex(deals.index)
    out["type"] = _text(fixed["type"])
    out["product"] = _text(fixed["product_id"])

    # Activities logged on the deal before the cut-off.
    acts = history.activities
    acts = acts[acts["occurred_at"] < at]
    recent_acts = acts[acts["occurred_at"] >= at - pd.Timedelta(days=30)]
    out["activities"] = acts.groupby("opportunity_id").size().reindex(out.index).fillna(0.0)
    out["activities_30d"] = (
        recent_acts.groupby("opportunity_id").size().reindex(out.index).fillna(0.0)
    )
    out["activities"] = out["activities"].astype(float)
    out["activities_30d"] = out["activities_30d"].astype(float)

    # Closes before the cut-off: the track records.
    past = history.closes
    past = past[past["closed_at"] < at]
    prior = float(past["won"].mean()) if len(past) else 0.5
    past = past.assign(
        account_id=past["opportunity_id"].map(history.deals["account_id"]),
        product_id=past["opportunity_id"].map(history.deals["product_id"]),
    )
    recent = past[past["closed_at"] >= at - pd.Timedelta(days=90)]
    owners = deals["owner_position_id"].to_numpy()

    own = _tally(past, "owner_position_id", owners, out.index)
    out["owner_win_rate"] = _smoothed(own["won"], own["lost"], prior)
    own90 = _tally(recent, "owner_position_id", owners, out.index)
    out["owner_win_rate_90d"] = _smoothed(own90["won"], own90["lost"], prior)
    out["owner_closed_90d"] = own90["won"] + own90["lost"]
    out["owner_log_bookings_90d"] = np.log1p(own90["won_amount"])

    prod = _tally(past, "product_id", fixed["product_id"].to_numpy(), out.index)
    out["product_win_rate"] = _smoothed(prod["won"], prod["lost"], prior)

    account_id = fixed["account_id"].to_numpy()
    acc = _tally(past, "account_id", account_id, out.index)
    out["account_win_rate"] = _smoothed(acc["won"], acc["lost"], prior)
    average_won = (acc["won_amount"] / acc["won"].where(acc["won"] > 0)).fillna(0.0)
    out["account_log_won_amount"] = np.log1p(average_won)
    attrs = history.accounts.reindex(account_id)
    out["sector"] = _text(pd.Series(attrs["sector"].to_numpy(dtype=object), index=out.index))
    out["account_log_employees"] = np.log1p(attrs["employees"].to_numpy(dtype=float))

    quarter_end = pd.Timestamp(history.rule.period_of(at.date(), "quarter").end)
    out["days_to_quarter_end"] = float((quarter_end - at) / DAY) + 1.0
    return out


def horizon_quarter_ends(history: History, at: pd.Timestamp, until: pd.Timestamp) -> float:
    """How many fiscal quarters end inside ``[at, until)``."""
    if until <= at:
        return 0.0
    last = (until - pd.Timedelta(days=1)).date()
    quarters = history.rule.periods_between(at.date(), last, "quarter")
    return float(sum(1 for q in quarters if at.date() <= q.end < until.date()))


def with_horizon(
    frame: pd.DataFrame, history: History, at: pd.Timestamp, until: pd.Timestamp
) -> pd.DataFrame:
    """``frame`` (snapshot features at ``at``) with the features of a horizon ending at
    ``until``."""
    frame["horizon_days"] = float((until - at) / DAY)
    frame["quarter_ends_in_horizon"] = horizon_quarter_ends(history, at, until)
    return frame


def feature_frame(
    history: History,
    at: dt.date | dt.datetime | pd.Timestamp,
    until: dt.date | dt.datetime | pd.Timestamp,
) -> pd.DataFrame:
    """One row per deal open at ``at`` (index: opportunity id) with every feature and the
    ``amount``, ``stage_id`` and ``owner_position_id`` recorded then. ``until`` is the horizon's
    exclusive end; only its distance from ``at`` is read."""
    at, until = as_timestamp(at), as_timestamp(until)
    return with_horizon(snapshot_features(history, at), history, at, until)


def _text(values: pd.Series) -> pd.Series:
    """Category values as text, "" for none (ids read as floats lose their ".0")."""

    def one(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return values.map(one).astype(object)


def labels(
    history: History,
    index: pd.Index,
    at: dt.date | dt.datetime | pd.Timestamp,
    until: dt.date | dt.datetime | pd.Timestamp,
) -> np.ndarray:
    """1 for each deal of ``index`` won in ``[at, until)``, else 0."""
    at, until = as_timestamp(at), as_timestamp(until)
    c = history.closes
    won = c[c["won"] & (c["closed_at"] >= at) & (c["closed_at"] < until)]["opportunity_id"]
    return index.isin(won.to_numpy()).astype(np.int8)
