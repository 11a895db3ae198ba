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
    # What deals not open at the start of each past window brought in, by owner (rows, 0: no
    # owner) and window (columns); the expectation is the windows' mean.
    new_windows: pd.DataFrame
    deals: pd.DataFrame  # open deals: amount, probability, stage_id, owner_position_id, ...
    model: WinModel | None

    @property
    def new_by_owner(self) -> pd.Series:
        if self.new_windows.empty:
            return pd.Series(dtype=float)
        return self.new_windows.mean(axis=1)

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

    def range(self, **kwargs) -> Range:
        """Expected value and P10/P50/P90 of the whole forecast (``simulation``): the open
        deals drawn with the model's shocks, the "not open yet" term drawn from its windows."""
        d = self.deals
        shocks = self.model.shocks if self.model is not None else None
        extra = self.new_windows.sum(axis=0).to_numpy() if not self.new_windows.empty else None
        return bookings_range(
            d["probability"].to_numpy(),
            d["amount"].to_numpy(),
            certain=self.won_to_date,
            shocks=shocks,
            extra=extra,
            **kwargs,
        )


def won_between(history: History, start: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    c = history.closes
    return c[c["won"] & (c["closed_at"] >= start) & (c["closed_at"] < until)]


def new_deal_bookings(
    history: History, as_of: pd.Timestamp, until: pd.Timestamp, *, windows: int = NEW_DEAL_WINDOWS
) -> pd.DataFrame:
    """By owner at the close (rows; 0 for none) and window (columns): what deals not open at
    the start of a window were won in it, for the windows as long as ``[as_of, until)`` ending
    at ``as_of``, a month before, two months before (only windows that start once closes are
    recorded; none: an empty frame)."""
    span = until - as_of
    first = history.first_close
    if span <= pd.Timedelta(0) or first is None:
        return pd.DataFrame()
    first = month_start(first)
    totals: list[pd.Series] = []
    for k in range(windows):
        end = as_of - pd.DateOffset(months=k)
        begin = end - span
        if begin < first:
            break
        won = won_between(history, begin, end)
        new = won[~won["opportunity_id"].isin(open_at(history, begin).index)]
        owner = new["owner_position_id"].fillna(0).astype("int64")
        totals.append(new.groupby(owner)["amount"].sum().rename(k))
    if not totals:
        return pd.DataFrame()
    return pd.concat(totals, axis=1).fillna(0.0)


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
        return Forecast(as_of, start_ts, until, won, pd.DataFrame(), deals, model)
    deals = feature_frame(history, as_of, until)
    new = new_deal_bookings(history, as_of, until)
    if model is None:
        deals["probability"] = 0.0
    else:
        p = model.predict(deals)
        if as_of < start_ts:
            p = np.clip(p - model.predict(feature_frame(history, as_of, start_ts)), 0.0, 1.0)
            before = new_deal_bookings(history, as_of, start_ts)
            if not before.empty and not new.empty:
                before = before.reindex(columns=new.columns)
                new = new.sub(before, fill_value=0.0).clip(lower=0.0)
        deals["probability"] = p
    return Forecast(as_of, start_ts, until, won, new, deals, model)
