"""Replay the history at the start of each past month and score each forecasting method
against what was actually won.

At each cut-off ``c`` (the first day of a month, local midnight):
- *month*: the forecast of the bookings of ``c``'s month;
- *quarter*: the forecast of the bookings of ``c``'s fiscal quarter (what was won in it before
  ``c`` is known, the rest forecast), so each quarter is forecast at the start of each of its
  months.

Methods:
- ``predicted``: the model (``model.train``) trained only on what was known at ``c``, applied to
  the deals open at ``c``, plus won-to-date, plus the "not open yet" term (``predict``);
- ``predicted_open``: the same without the "not open yet" term (the deals open at ``c`` only);
- ``logistic``: ``predicted`` with the logistic-regression estimator;
- ``predicted_account``: ``predicted`` with the account features, which the default model
  leaves out (``features`` says why); not run unless asked for;
- ``stage_weighted``: won-to-date plus the open amounts weighted by their stage's default
  probability;
- ``run_rate``: won-to-date plus the average monthly bookings of the last three full months
  before ``c`` (months since the first close), times the months left;
- ``submitted``: the submitted forecast roll-up as it stood at ``c``, where there is one.

Cut-offs: every month start from two months after the month of the first close (so every
model learns from two monthly snapshots at least) whose month and quarter ended by the end of
the history. Error per method: MAPE, the mean of ``|forecast - actual| / actual``, and bias,
the mean of ``(forecast - actual) / actual`` (positive: over-forecast), over the cut-offs whose
actual is above zero; and, for the model methods, coverage: how often the actual fell inside
the simulated P10-P90 range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from revline.forecasting.history import History
from revline.forecasting.model import NotEnoughHistory, WinModel, month_start, train
from revline.forecasting.predict import Forecast, forecast, won_between

METHODS: dict[str, str] = {
    "predicted": "Predicted (LightGBM model)",
    "predicted_open": "Predicted, open deals only",
    "logistic": "Predicted (logistic regression)",
    "predicted_account": "Predicted with account features",
    "stage_weighted": "Stage-weighted pipeline",
    "run_rate": "Run rate (last 3 months)",
    "submitted": "Submitted forecast",
}
DEFAULT_METHODS = ("predicted", "predicted_open", "logistic", "stage_weighted", "run_rate")
VIEWS = ("month", "quarter")
# method -> (estimator, account features) of the model it trains at each cut-off
MODELS = (
    ("predicted", "lightgbm", False),
    ("logistic", "logistic", False),
    ("predicted_account", "lightgbm", True),
)
MIN_HISTORY_MONTHS = 2
RUN_RATE_MONTHS = 3

# (period start, period end, cut-off) -> the submitted forecast then, or None.
SubmittedSource = Callable[[dt.date, dt.date, dt.date], float | None]


@dataclass
class Point:
    cutoff: dt.date
    view: str
    period: str  # the period's key
    start: dt.date
    end: dt.date
    actual: float
    forecasts: dict[str, float] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # method -> P10, P90


@dataclass
class Score:
    view: str
    method: str
    mape: float | None
    bias: float | None
    n: int
    coverage: float | None = None  # share of actuals inside the P10-P90 range, where simulated

    @property
    def label(self) -> str:
        return METHODS.get(self.method, self.method)


@dataclass
class Backtest:
    points: list[Point]
    scores: list[Score]
    methods: list[str]

    def score(self, view: str, method: str) -> Score | None:
        return next((s for s in self.scores if s.view == view and s.method == method), None)


def months_between(a: pd.Timestamp, b: pd.Timestamp) -> float:
    """Calendar months in ``[a, b)``, a partial month counting its share of days."""
    if b <= a:
        return 0.0
    total = 0.0
    cursor = a
    while cursor < b:
        m0 = month_start(cursor)
        m1 = m0 + pd.DateOffset(months=1)
        stop = min(b, m1)
        total += (stop - cursor) / (m1 - m0)
        cursor = stop
    return float(total)


def run_rate(history: History, as_of: pd.Timestamp) -> float:
    """Average monthly bookings over the last ``RUN_RATE_MONTHS`` full months before
    ``as_of`` (only months from the first close on; 0 without any)."""
    first = history.first_close
    if first is None:
        return 0.0
    first = month_start(first)
    last_full = month_start(as_of)
    months = [
        m
        for m in pd.date_range(end=last_full, periods=RUN_RATE_MONTHS + 1, freq="MS")[:-1]
        if m >= first
    ]
    if not months:
        return 0.0
    total = float(won_between(history, months[0], last_full)["amount"].sum())
    return total / len(months)


def cutoffs(history: History, *, today: dt.date | None = None) -> list[pd.Timestamp]:
    """The month starts to replay (see the module docstring)."""
    first = history.first_close
    last = history.last_event
    if first is None or last is None:
        return []
    end = pd.Timestamp(last.date()) + pd.Timedelta(days=1)  # the day after the last event
    if today is not None:
        end = min(end, pd.Timestamp(today))
    begin = month_start(first) + pd.DateOffset(months=MIN_HISTORY_MONTHS)
    out = []
    for c in pd.date_range(begin, end, freq="MS"):
        quarter = history.rule.period_of(c.date(), "quarter")
        if pd.Timestamp(quarter.end) + pd.Timedelta(days=1) <= end:
            out.append(c)
    return out


def _period(history: History, c: pd.Timestamp, view: str):
    return history.rule.period_of(c.date(), view)  # type: ignore[arg-type]


def backtest_run(
    history: History,
    *,
    methods: Iterable[str] = DEFAULT_METHODS,
    at: Iterable[pd.Timestamp] | None = None,
    submitted: SubmittedSource | None = None,
    today: dt.date | None = None,
    progress: Callable[[pd.Timestamp], None] | None = None,
) -> Backtest:
    """Replay every cut-off (``at``, or ``cutoffs``) with ``methods``."""
    methods = [m for m in methods if m in METHODS]
    if submitted is None and "submitted" in methods:
        methods.remove("submitted")
    points: list[Point] = []
    for c in at if at is not None else cutoffs(history, today=today):
        if progress is not None:
            progress(c)
        models: dict[str, WinModel | None] = {}
        for name, estimator, account in MODELS:
            wanted = {"predicted", "predicted_open"} if name == "predicted" else {name}
            if wanted & set(methods):
                try:
                    models[name] = train(history, c, method=estimator, account=account)
                except NotEnoughHistory:
                    models[name] = None
        rate = run_rate(history, c)
        for view in VIEWS:
            period = _period(history, c, view)
            until = pd.Timestamp(period.end) + pd.Timedelta(days=1)
            actual = float(won_between(history, pd.Timestamp(period.start), until)["amount"].sum())
            point = Point(c.date(), view, period.key, period.start, period.end, actual)
            base: Forecast | None = None
            for name, model in models.items():
                if model is None:
                    continue
                f = forecast(history, start=period.start, end=period.end, as_of=c, model=model)
                base = base or f
                if name == "predicted" and "predicted_open" in methods:
                    point.forecasts["predicted_open"] = f.won_to_date + f.open_expected
                if name in methods:
                    point.forecasts[name] = f.expected
                    span = f.range()
                    point.ranges[name] = (span.p10, span.p90)
            if base is None:
                base = forecast(history, start=period.start, end=period.end, as_of=c, model=None)
            if "stage_weighted" in methods:
                point.forecasts["stage_weighted"] = base.stage_weighted
            if "run_rate" in methods:
                point.forecasts["run_rate"] = base.won_to_date + rate * months_between(c, until)
            if "submitted" in methods and submitted is not None:
                value = submitted(period.start, period.end, c.date())
                if value is not None:
                    point.forecasts["submitted"] = float(value)
            points.append(point)
    return Backtest(points, scores(points, methods), methods)


def scores(points: list[Point], methods: Iterable[str]) -> list[Score]:
    """MAPE and bias per view and method, over the points with a positive actual that the
    method forecast."""
    out = []
    for view in VIEWS:
        for method in methods:
            scored = [
                p for p in points if p.view == view and p.actual > 0 and method in p.forecasts
            ]
            if not scored:
                out.append(Score(view, method, None, None, 0))
                continue
            errors = np.array([(p.forecasts[method] - p.actual) / p.actual for p in scored])
            ranged = [p for p in scored if method in p.ranges]
            coverage = (
                sum(1 for p in ranged if p.ranges[method][0] <= p.actual <= p.ranges[method][1])
                / len(ranged)
                if ranged
                else None
            )
            out.append(
                Score(
                    view,
                    method,
                    float(np.abs(errors).mean()),
                    float(errors.mean()),
                    errors.size,
                    coverage,
                )
            )
    return out
