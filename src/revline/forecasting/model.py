"""The win-probability model: trained on snapshots of the history, calibrated, then applied to
the deals open at a cut-off.

Training examples: the deals open at the start of each past month ``s`` (from the month of the
first recorded close), for horizons of 1, 2 and 3 months; the label says whether the deal was won
before ``s + horizon``. An example is used only when its horizon ended by the training cut-off,
so nothing after the cut-off is read, features included (``features.feature_frame`` reads only
before ``s``). The horizon's length is a feature, so one model answers for a month, a quarter or
the rest of either.

Two estimators, with fixed, generic settings (never tuned on the months a backtest scores):
- ``lightgbm`` (default): gradient-boosted trees, small and regularised;
- ``logistic``: logistic regression on standardised numbers and one-hot categories.
Both are calibrated with Platt scaling fitted on out-of-fold predictions (folds grouped by deal,
so the same deal never sits on both sides), then refitted on all examples.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from revline.forecasting.features import (
    FEATURES,
    feature_names,
    labels,
    snapshot_features,
    with_horizon,
)
from revline.forecasting.history import History, as_timestamp

HORIZONS = (1, 2, 3)  # months
FOLDS = 3
SEED = 20161001
LOOKBACK_MONTHS = 24  # the newest two years of snapshots train a model
MAX_EXAMPLES = 400_000  # beyond this, a fixed random sample of deals keeps training fast
METHODS = ("lightgbm", "logistic")

LIGHTGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "random_state": SEED,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}


class NotEnoughHistory(Exception):
    """Too little closed history before the cut-off to train a model."""


def month_start(ts: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(ts.year, ts.month, 1)


def snapshot_starts(history: History, cutoff: pd.Timestamp) -> list[pd.Timestamp]:
    """The month starts whose snapshots may train a model for ``cutoff``: from the month of the
    first close recorded before ``cutoff`` (earlier months have no closed history to learn from),
    at most ``LOOKBACK_MONTHS`` back, to the last month whose shortest horizon has ended."""
    c = history.closes
    before = c[c["closed_at"] < cutoff]
    if before.empty:
        return []
    first = month_start(before["closed_at"].min())
    first = max(first, month_start(cutoff) - pd.DateOffset(months=LOOKBACK_MONTHS))
    return [
        s
        for s in pd.date_range(first, cutoff, freq="MS")
        if s + pd.DateOffset(months=HORIZONS[0]) <= cutoff
    ]


@dataclass
class TrainingSet:
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray  # opportunity ids
    snapshots: list[pd.Timestamp] = field(default_factory=list)
    cohorts: np.ndarray | None = None  # the (snapshot, horizon) each example belongs to


def training_set(history: History, cutoff: dt.date | dt.datetime | pd.Timestamp) -> TrainingSet:
    """Every (snapshot, horizon) example whose outcome was known by ``cutoff``."""
    cutoff = as_timestamp(cutoff)
    frames: list[pd.DataFrame] = []
    ys: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    cohorts: list[np.ndarray] = []
    used: list[pd.Timestamp] = []
    for s in snapshot_starts(history, cutoff):
        base = snapshot_features(history, s)
        if base.empty:
            continue
        for h in HORIZONS:
            until = s + pd.DateOffset(months=h)
            if until > cutoff:
                break
            frame = with_horizon(base.copy(), history, s, until)
            frames.append(frame)
            ys.append(labels(history, frame.index, s, until))
            groups.append(frame.index.to_numpy())
            cohorts.append(np.full(len(frame), len(cohorts), dtype=np.int32))
        used.append(s)
    if not frames:
        raise NotEnoughHistory(
            f"No deal was closed in the {LOOKBACK_MONTHS} months before {cutoff:%Y-%m-%d} "
            "(a month at least before it): there is no closed history to learn from."
        )
    X = pd.concat(frames)
    y = np.concatenate(ys)
    g = np.concatenate(groups)
    k = np.concatenate(cohorts)
    if len(X) > MAX_EXAMPLES:
        deals = np.unique(g)
        rng = np.random.default_rng(SEED)
        keep_deals = rng.choice(deals, size=int(len(deals) * MAX_EXAMPLES / len(X)), replace=False)
        keep = np.isin(g, keep_deals)
        X, y, g, k = X[keep], y[keep], g[keep], k[keep]
    return TrainingSet(X, y, g, used, k)


def _categories(X: pd.DataFrame, categorical: list[str]) -> dict[str, list]:
    return {c: sorted({v for v in X[c] if v}) for c in categorical}


def _estimator(method: str, numeric: list[str], categorical: list[str]):
    if method == "lightgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(**LIGHTGBM_PARAMS)
    if method == "logistic":
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        cats = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="(none)"),
            OneHotEncoder(handle_unknown="ignore"),
        )
        return make_pipeline(
            ColumnTransformer([("num", numbers, numeric), ("cat", cats, categorical)]),
            LogisticRegression(C=1.0, max_iter=2000),
        )
    raise ValueError(f"Unknown method {method!r}; use one of {METHODS}.")


def _prepare(
    X: pd.DataFrame, method: str, numeric: list[str], categories: dict[str, list]
) -> pd.DataFrame:
    """The estimator's input: numbers as floats; categories as codes of the values known at
    training (others missing) for LightGBM, as text for the one-hot encoder."""
    out = X[numeric].astype(float).copy()
    for c, known in categories.items():
        if method == "lightgbm":
            values = X[c].astype(object)
            out[c] = pd.Categorical(values.where(values.isin(known)), categories=known)
        else:
            out[c] = X[c].map(lambda v: v or "(none)").astype(object)
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)).reshape(-1, 1)


@dataclass
class WinModel:
    """A fitted model, its Platt calibration, and what it was trained on.

    ``shocks``: for each training cohort (the deals open at one snapshot, one horizon), the
    amount won divided by the amount the out-of-fold probabilities expected. Deals of one
    period do not win independently (a good quarter lifts them all), so the simulation draws
    one of these ratios per simulated period and scales every probability by it
    (``simulation``); without them the P10-P90 range only holds the coin flips of the deals.
    """

    method: str
    estimator: Any
    calibrator: Any
    numeric: list[str]
    categories: dict[str, list]  # categorical feature -> the values seen in training
    trained_through: pd.Timestamp
    examples: int
    positives: int
    snapshots: int
    shocks: np.ndarray = field(default_factory=lambda: np.ones(1))

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            prepared = _prepare(X, self.method, self.numeric, self.categories)
            return self.estimator.predict_proba(prepared)[:, 1]

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(self.calibrator.predict_proba(_logit(raw))[:, 1], 0.0, 1.0)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The probability of each row's deal being won within its horizon."""
        if X.empty:
            return np.zeros(0)
        return self.calibrate(self._raw(X))


def train(
    history: History,
    cutoff: dt.date | dt.datetime | pd.Timestamp,
    *,
    method: str = "lightgbm",
    account: bool = False,
) -> WinModel:
    """A calibrated model from the examples whose outcome was known by ``cutoff``;
    ``account=True`` adds the account features (see ``features``).

    Calibration (Platt scaling) is fitted on out-of-fold scores: the examples are cut into
    ``FOLDS`` folds by deal, each fold scored by a model fitted on the others; the final model
    is then fitted on every example (scikit-learn's ``CalibratedClassifierCV`` with
    ``ensemble=False`` does the same; doing it here keeps the out-of-fold probabilities, which
    give the shocks)."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    cutoff = as_timestamp(cutoff)
    data = training_set(history, cutoff)
    positives = int(data.y.sum())
    if positives == 0 or positives == len(data.y):
        raise NotEnoughHistory(
            f"In the {LOOKBACK_MONTHS} months before {cutoff:%Y-%m-%d}, "
            + ("no open deal was won" if positives == 0 else "every open deal was won")
            + " within three months: the model needs both outcomes to learn from."
        )
    numeric, categorical = feature_names(account=account)
    categories = _categories(data.X, categorical)
    X = _prepare(data.X, method, numeric, categories)
    y = data.y
    base = _estimator(method, numeric, categorical)
    folds = min(FOLDS, len(np.unique(data.groups)))
    raw_oof = np.full(len(y), y.mean(), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for fit_rows, score_rows in GroupKFold(n_splits=folds).split(X, y, data.groups):
            if len(np.unique(y[fit_rows])) < 2:
                continue
            fold = clone(base).fit(X.iloc[fit_rows], y[fit_rows])
            raw_oof[score_rows] = fold.predict_proba(X.iloc[score_rows])[:, 1]
        estimator = clone(base).fit(X, y)
    calibrator = LogisticRegression(C=1e4).fit(_logit(raw_oof), y)
    model = WinModel(
        method=method,
        estimator=estimator,
        calibrator=calibrator,
        numeric=numeric,
        categories=categories,
        trained_through=cutoff,
        examples=len(y),
        positives=positives,
        snapshots=len(data.snapshots),
    )
    model.shocks = cohort_shocks(
        model.calibrate(raw_oof), y, data.X["amount"].to_numpy(dtype=float), data.cohorts
    )
    return model


def cohort_shocks(
    p: np.ndarray, y: np.ndarray, amount: np.ndarray, cohorts: np.ndarray | None
) -> np.ndarray:
    """Per cohort, amount won / amount expected (cohorts expecting nothing are skipped); [1]
    when there is none."""
    if cohorts is None or p.size == 0:
        return np.ones(1)
    expected = np.bincount(cohorts, weights=p * amount)
    won = np.bincount(cohorts, weights=y * amount, minlength=expected.size)
    keep = expected > 0
    ratios = won[keep] / expected[keep]
    return ratios if ratios.size else np.ones(1)


__all__ = [
    "FEATURES",
    "HORIZONS",
    "METHODS",
    "NotEnoughHistory",
    "WinModel",
    "train",
    "training_set",
]
