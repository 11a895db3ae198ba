"""A period's predicted bookings as of a moment: won to date, plus each open deal's probability
of being won by the period's end times its amount, plus what deals not open yet have brought in
over windows of the same length before.

``forecast(history, start=..., end=..., as_of=..., model=...)`` does it from a ``History`` (no
database access), so the live forecast, the stored runs and the backtest are one computation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revline.forecasting.features import feature_frame
from revline.forecasting.history import History, as_timestamp, open_at
from revline.forecasting.model import WinModel, month_start
from revline.forecasting.simulation import Range, bookings_range

NEW_DEAL_WINDOWS = 3  # how many past windows the "not open yet" term averages


@dataclass
class Forecast:
    as_of: pd.Timestamp
    start: pd.Timestamp  # the period's first day (local midnight)
    until: pd.Timestamp  # the day after the period's last day
    won: pd.DataFrame  # the closes won in the period before ``as_of``
    new_by_owner: pd.Series  # expected from deals not open at ``as_of``, by owner (0: none)
    deals: pd.DataFrame  # open deals: amount, probability, stage_id, owner_position_id, ...
    model: WinModel | None

    @property
    def won_to_date(self) -> float:
        return float(self.won["amount"].sum())

    @property
    def new_deals(self) -> float:
        return float(self.new_by_owner.sum())

    @property
    def open_expected(self) -> float:
        return float((self.deals["probability"] * self.deals["amount"]).sum())

    @property
    def expected(self) -> float:
        return self.won_to_date + self.open_expected + self.new_deals

    @property
    def stage_weighted(self) -> float:
        """The baseline: won to date plus the open amounts weighted by their stage's default
        probability (whenever they are expected to close)."""
        d = self.deals
        return self.won_to_date + float((d["stage_probability"] * d["amount"]).sum())

    def range(self, mask: np.ndarray | None = None, **kwargs) -> Range:
        """Expected value and P10/P50/P90 (``simulation.bookings_range``). ``mask`` keeps some
        of the open deals (a position's subtree); won-to-date and the "not open yet" term are
        then not added, as they belong to the whole organisation."""
        d = self.deals if mask is None else self.deals[mask]
        certain = self.won_to_date + self.new_deals if mask is None else 0.0
        return bookings_range(
            d["probability"].to_numpy(), d["amount"].to_numpy(), certain=certain, **kwargs
        )


def won_between(history: History, start: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    c = history.closes
    return c[c["won"] & (c["closed_at"] >= start) & (c["closed_at"] < until)]


def new_deal_bookings(
    history: History, as_of: pd.Timestamp, until: pd.Timestamp, *, windows: int = NEW_DEAL_WINDOWS
) -> pd.Series:
    """By owner (at the close): what deals not open at the start of a window were won in it,
    averaged over the windows as long as ``[as_of, until)`` ending at ``as_of``, a month
    before, two months before (only windows that start once closes are recorded)."""
    empty = pd.Series(dtype=float)
    span = until - as_of
    first = history.first_close
    if span <= pd.Timedelta(0) or first is None:
        return empty
    first = month_start(first)
    totals: list[pd.Series] = []
    for k in range(windows):
        end = as_of - pd.DateOffset(months=k)
        begin = end - span
        if begin < first:
            break
        won = won_between(history, begin, end)
        new = won[~won["opportunity_id"].isin(open_at(history, begin).index)]
        totals.append(
            new.groupby(new["owner_position_id"].fillna(0).astype("int64"))["amount"].sum()
        )
    if not totals:
        return empty
    return pd.concat(totals, axis=1).fillna(0.0).sum(axis=1) / len(totals)


def forecast(
    history: History,
    *,
    start: dt.date,
    end: dt.date,
    as_of: dt.date | dt.datetime | pd.Timestamp,
    model: WinModel | None,
) -> Forecast:
    """The forecast of bookings in ``[start, end]`` (dates, inclusive) as of ``as_of``.

    ``model=None`` gives the deals without probabilities (0): the baselines need only the
    open deals. For a period that starts after ``as_of`` a deal's probability is that of being
    won by the period's end less that of being won before it starts.
    """
    as_of = as_timestamp(as_of)
    start_ts = as_timestamp(start)
    until = as_timestamp(end + dt.timedelta(days=1))
    won = won_between(history, start_ts, min(max(as_of, start_ts), until))
    if as_of >= until:  # the period is over: nothing left to forecast
        deals = feature_frame(history, as_of, as_of).iloc[0:0].copy()
        deals["probability"] = np.zeros(0)
        return Forecast(as_of, start_ts, until, won, pd.Series(dtype=float), deals, model)
    deals = feature_frame(history, as_of, until)
    new = new_deal_bookings(history, as_of, until)
    if model is None:
        deals["probability"] = 0.0
    else:
        p = model.predict(deals)
        if as_of < start_ts:
            p = np.clip(p - model.predict(feature_frame(history, as_of, start_ts)), 0.0, 1.0)
            before = new_deal_bookings(history, as_of, start_ts)
            new = new.sub(before, fill_value=0.0).clip(lower=0.0)
        deals["probability"] = p
    return Forecast(as_of, start_ts, until, won, new, deals, model)
