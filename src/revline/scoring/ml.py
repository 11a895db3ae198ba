"""The models behind the lead score, their honest evaluation, and per-lead explanations.

Pure numerical code (no database): ``services`` reads leads (``features``) and stores what
``train`` returns.

- Validation: a time split when the leads' creation dates spread over more than a week
  (expanding window: train on the older half, test on each following block of the newer
  half with everything before it), stratified k-fold cross-validation otherwise. Every figure is computed on out-of-fold predictions, and the two
  baselines are evaluated on exactly the same folds.
- The model: LightGBM (categories as native categorical features, those with many values
  target-encoded with cross-fitting, missing values left missing), early stopping on a slice
  of each fold's training part; the final model is trained on every lead with the median
  number of rounds the folds chose.
- Calibration: on the out-of-fold scores, isotonic regression (read as a piecewise-linear
  curve through the centres of the isotonic blocks, so it keeps the model's ranking instead of
  tying leads) when it calibrates the held-out folds clearly better than Platt scaling, Platt
  scaling otherwise (and always under 200 outcomes of either kind). The figures come from cross-fitted calibration (each
  fold calibrated on the other folds).
- Baselines: a per-field frequency model (naive Bayes: each field's value frequency among
  converted and lost leads, numbers in quantile bins), and logistic regression on one-hot
  categories and scaled (log-compressed) numbers with missing indicators.
- Leakage guard: each feature alone, as a cross-validated per-value conversion rate; a feature
  reaching the ``LEAKAGE_AUC`` threshold is flagged and training stops unless it is allowed.
- Explanations: each lead's score decomposed into per-feature contributions in log-odds.
  LightGBM's exact ``pred_contrib`` (TreeSHAP) serves a single lead on request; bulk scoring
  sums, over the trees, the change of node value along the lead's path (the path attribution,
  also exactly additive), because on this machine TreeSHAP scores about a hundred leads a
  second and the path attribution tens of thousands.
"""

from __future__ import annotations

import io
import json
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    StandardScaler,
    TargetEncoder,
)

from revline.scoring.features import CATEGORICAL, NUMERIC, categorical_indices

EPS = 1e-4
DENSE_FEATURES = 32
TIME_SPLIT_MIN_DAYS = 7
LGB_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "min_data_per_group": 50,
    "cat_smooth": 10.0,
    "cat_l2": 10.0,
    "max_cat_threshold": 32,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "seed": 7,
    "deterministic": True,
    "force_row_wise": True,
}
MAX_ROUNDS = 1000
EARLY_STOPPING = 50
Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


# --- folds ---------------------------------------------------------------------------------------


def make_folds(
    y: np.ndarray, created: np.ndarray, k: int
) -> tuple[str, list[tuple[np.ndarray, np.ndarray]], str]:
    """(validation, folds, note): a time split when creation dates spread over more than a
    week and every block holds both outcomes, else stratified k-fold.

    The time split trains on the older half of the leads and tests on each following
    k-th of the newer half, with every lead before it in training (an expanding window)."""
    n = len(y)
    note = ""
    if n and np.quantile(created, 0.9) - np.quantile(created, 0.1) >= TIME_SPLIT_MIN_DAYS * 86400:
        order = np.argsort(created, kind="stable")
        half = len(order) // 2
        blocks = np.array_split(order[half:], k)
        folds = []
        for i, block in enumerate(blocks):
            folds.append((np.concatenate([order[:half], *blocks[:i]]), block))
        if all(len(np.unique(y[tr])) == 2 and len(np.unique(y[te])) == 2 for tr, te in folds):
            return "time_split", folds, note
        note = "time split impossible (a period without both outcomes): cross-validation used"
    minority = int(min(y.sum(), n - y.sum()))
    k = max(2, min(k, minority))
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    return "cv", list(skf.split(np.zeros(n), y)), note


def _oof_mask(n: int, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for _, te in folds:
        mask[te] = True
    return mask


# --- calibration ---------------------------------------------------------------------------------


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    """Raw model output (log-odds) -> calibrated probability."""

    method: str
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
        """``method``: "platt", "isotonic", or "auto" (Platt under 200 outcomes of either
        kind, isotonic otherwise)."""
        positives = int(y.sum())
        if method == "auto":
            method = "platt" if min(positives, len(y) - positives) < 200 else "isotonic"
        if method == "platt":
            lr = LogisticRegression(C=1e6, max_iter=1000)
            lr.fit(raw.reshape(-1, 1), y)
            return cls("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
        order = np.argsort(raw, kind="stable")
        xs, ys = raw[order], y[order].astype(float)
        fitted = IsotonicRegression(out_of_bounds="clip").fit_transform(xs, ys)
        # blocks of equal fitted value -> (centre of the block's scores, smoothed rate)
        starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
        ends = np.r_[starts[1:], len(xs)]
        centres = np.array([xs[s:e].mean() for s, e in zip(starts, ends, strict=True)])
        rates = np.array(
            [(ys[s:e].sum() + 0.5) / (e - s + 1.0) for s, e in zip(starts, ends, strict=True)]
        )
        rates = np.maximum.accumulate(rates)
        return cls("isotonic", x=centres.tolist(), y=rates.tolist())

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            p = _sigmoid(self.a * raw + self.b)
        elif self.method == "isotonic":
            p = np.interp(raw, self.x, self.y)
        else:
            p = _sigmoid(raw)
        return np.clip(p, EPS, 1 - EPS)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "x": self.x, "y": self.y, "a": self.a, "b": self.b}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibrator:
        return cls(data["method"], data.get("x", []), data.get("y", []), data["a"], data["b"])


def cross_calibrate(
    raw: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    method: str = "auto",
) -> np.ndarray:
    """Calibrated out-of-fold probabilities: each fold through a calibrator fitted on the
    out-of-fold scores of the other folds."""
    mask = _oof_mask(len(y), folds)
    out = np.full(len(y), np.nan)
    for _, te in folds:
        others = mask.copy()
        others[te] = False
        if len(np.unique(y[others])) < 2:
            out[te] = _sigmoid(raw[te])
            continue
        out[te] = Calibrator.fit(raw[others], y[others], method)(raw[te])
    return out


# --- the frequency model (naive Bayes) -----------------------------------------------------------


@dataclass
class FrequencyModel:
    """Per-field frequency model: the log-ratio of each value's share among converted and
    among lost leads, summed over the fields with the prior log-odds. Categories use the
    feature codes (other and missing as values of their own); numbers use up to ``bins``
    quantile bins plus a missing bin."""

    prior: float = 0.0
    edges: list[list[float] | None] = field(default_factory=list)
    tables: list[list[float]] = field(default_factory=list)

    @staticmethod
    def _bin_count(f: dict[str, Any], edges: list[float] | None) -> int:
        if f["type"] == CATEGORICAL:
            return len(f["categories"]) + 2  # categories, other, missing
        return len(edges or []) + 2  # between edges, missing

    def _bins(self, X: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
        B = np.empty(X.shape, dtype=np.int32)
        for j, f in enumerate(spec["features"]):
            col = X[:, j]
            missing = np.isnan(col)
            if f["type"] == CATEGORICAL:
                k = len(f["categories"])
                b = np.where(missing, k + 1, np.minimum(np.nan_to_num(col, nan=0), k))
            else:
                edges = np.asarray(self.edges[j] or [], dtype=float)
                b = np.where(missing, len(edges) + 1, np.searchsorted(edges, col, side="right"))
            B[:, j] = b.astype(np.int32)
        return B

    @classmethod
    def fit(
        cls, X: np.ndarray, y: np.ndarray, spec: dict[str, Any], bins: int = 10
    ) -> FrequencyModel:
        model = cls()
        pos, neg = float(y.sum()), float(len(y) - y.sum())
        model.prior = math.log((pos + 1) / (neg + 1))
        for j, f in enumerate(spec["features"]):
            if f["type"] == NUMERIC:
                col = X[:, j][~np.isnan(X[:, j])]
                qs = (
                    np.unique(np.quantile(col, np.linspace(0, 1, bins + 1)[1:-1]))
                    if len(col)
                    else []
                )
                model.edges.append([float(q) for q in qs])
            else:
                model.edges.append(None)
        B = model._bins(X, spec)
        for j, f in enumerate(spec["features"]):
            size = cls._bin_count(f, model.edges[j])
            p = np.bincount(B[y == 1, j], minlength=size).astype(float)
            q = np.bincount(B[y == 0, j], minlength=size).astype(float)
            table = np.log((p + 1) / (pos + size)) - np.log((q + 1) / (neg + size))
            model.tables.append(table.tolist())
        return model

    def contributions(self, X: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
        B = self._bins(X, spec)
        out = np.empty(X.shape, dtype=float)
        for j in range(X.shape[1]):
            out[:, j] = np.asarray(self.tables[j])[B[:, j]]
        return out

    def logit(self, X: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
        return self.prior + self.contributions(X, spec).sum(axis=1)

    def to_json(self) -> dict[str, Any]:
        return {"prior": self.prior, "edges": self.edges, "tables": self.tables}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FrequencyModel:
        return cls(data["prior"], data["edges"], data["tables"])


# --- logistic regression baseline ----------------------------------------------------------------


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _logistic(spec: dict[str, Any]) -> Pipeline:
    cats = categorical_indices(spec)
    nums = [i for i in range(len(spec["features"])) if i not in set(cats)]
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("log", FunctionTransformer(_signed_log)),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("fill", SimpleImputer(strategy="constant", fill_value=-1.0)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=5)),
        ]
    )
    columns = []
    if nums:
        columns.append(("num", numeric, nums))
    if cats:
        columns.append(("cat", categorical, cats))
    return Pipeline(
        [
            ("columns", ColumnTransformer(columns, sparse_threshold=1.0)),
            ("model", LogisticRegression(C=1.0, max_iter=2000)),
        ]
    )


# --- high-cardinality categories ------------------------------------------------------------------

HIGH_CARDINALITY = 30


def high_cardinality(spec: dict[str, Any]) -> list[int]:
    """Categorical features with many values: too many for trees to split on one by one with
    enough leads per value, so the model reads them target-encoded instead."""
    return [
        j
        for j, f in enumerate(spec["features"])
        if f["type"] == CATEGORICAL and len(f["categories"]) >= HIGH_CARDINALITY
    ]


@dataclass
class TargetEncoding:
    """Each value of a high-cardinality feature as the smoothed conversion rate of the leads
    holding it (scikit-learn's ``TargetEncoder``: empirical-Bayes shrinkage towards the overall
    rate). Training rows get cross-fitted values, so no lead sees its own outcome."""

    columns: list[int] = field(default_factory=list)
    tables: list[list[float]] = field(default_factory=list)  # by code + 1 (0: missing)
    default: float = 0.0

    @staticmethod
    def _codes(X: np.ndarray, columns: list[int]) -> np.ndarray:
        return np.nan_to_num(X[:, columns], nan=-1.0).astype(np.int64)

    @classmethod
    def fit_transform(
        cls, X: np.ndarray, y: np.ndarray, spec: dict[str, Any]
    ) -> tuple[TargetEncoding, np.ndarray]:
        """The encoding fitted on ``X`` and ``X`` with its columns cross-fitted."""
        columns = high_cardinality(spec)
        enc = cls(columns=columns)
        if not columns:
            return enc, X
        codes = cls._codes(X, columns)
        sk = TargetEncoder(
            target_type="binary", cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        )
        encoded = sk.fit_transform(codes, y)
        enc.default = float(sk.target_mean_)
        for i, j in enumerate(columns):
            size = len(spec["features"][j]["categories"]) + 2  # missing, categories, other
            table = np.full(size, enc.default)
            for code, value in zip(sk.categories_[i], sk.encodings_[i], strict=True):
                table[int(code) + 1] = value
            enc.tables.append(table.tolist())
        out = X.copy()
        out[:, columns] = encoded
        return enc, out

    def transform(self, X: np.ndarray) -> np.ndarray:
        if not self.columns:
            return X
        out = X.copy()
        codes = self._codes(X, self.columns) + 1
        for i, j in enumerate(self.columns):
            table = np.asarray(self.tables[i])
            out[:, j] = table[np.clip(codes[:, i], 0, len(table) - 1)]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "tables": self.tables, "default": self.default}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TargetEncoding:
        data = data or {}
        return cls(data.get("columns", []), data.get("tables", []), data.get("default", 0.0))


def tree_categoricals(spec: dict[str, Any]) -> list[int]:
    """The categorical features LightGBM splits on natively (the others are encoded)."""
    encoded = set(high_cardinality(spec))
    return [j for j in categorical_indices(spec) if j not in encoded]


# --- LightGBM ------------------------------------------------------------------------------------


def _dataset(X: np.ndarray, y: np.ndarray, cats: list[int], reference=None) -> lgb.Dataset:
    return lgb.Dataset(
        X,
        y,
        categorical_feature=cats or "auto",
        reference=reference,
        free_raw_data=True,
        params={"verbose": -1, "min_data_per_group": LGB_PARAMS["min_data_per_group"]},
    )


def _stopping_split(
    train: np.ndarray, y: np.ndarray, created: np.ndarray | None, share: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """A slice of a fold's training part for early stopping: its newest leads on a time
    split, a stratified random slice otherwise."""
    if created is not None:
        order = train[np.argsort(created[train], kind="stable")]
        cut = int(len(order) * (1 - share))
        return order[:cut], order[cut:]
    rng = np.random.default_rng(11)
    fit, stop = [], []
    for label in (0, 1):
        idx = train[y[train] == label]
        idx = rng.permutation(idx)
        cut = max(1, round(len(idx) * share))
        stop.append(idx[:cut])
        fit.append(idx[cut:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(stop))


def lightgbm_oof(
    X: np.ndarray,
    y: np.ndarray,
    spec: dict[str, Any],
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    created: np.ndarray | None,
    threads: int,
    progress: Progress = _quiet,
) -> tuple[np.ndarray, lgb.Booster, TargetEncoding, list[int]]:
    """Out-of-fold raw scores, the final model on every lead with its target encoding, and
    each fold's rounds."""
    cats = tree_categoricals(spec)
    params = {**LGB_PARAMS, "num_threads": threads}
    raw = np.full(len(y), np.nan)
    rounds: list[int] = []
    for i, (tr, te) in enumerate(folds, 1):
        progress(f"LightGBM fold {i}/{len(folds)}")
        encoding, Xtr = TargetEncoding.fit_transform(X[tr], y[tr], spec)
        Xte = encoding.transform(X[te])
        fit, stop = _stopping_split(
            np.arange(len(tr)), y[tr], None if created is None else created[tr]
        )
        dfit = _dataset(Xtr[fit], y[tr][fit], cats)
        dstop = _dataset(Xtr[stop], y[tr][stop], cats, reference=dfit)
        booster = lgb.train(
            params,
            dfit,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[dstop],
            callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)],
        )
        best = booster.best_iteration or booster.current_iteration()
        rounds.append(int(best))
        raw[te] = booster.predict(Xte, num_iteration=best, raw_score=True, num_threads=threads)
    progress("LightGBM final model")
    final_rounds = max(10, round(float(np.median(rounds))))
    encoding, Xall = TargetEncoding.fit_transform(X, y, spec)
    final = lgb.train(params, _dataset(Xall, y, cats), num_boost_round=final_rounds)
    return raw, final, encoding, rounds


# --- metrics -------------------------------------------------------------------------------------


def metrics(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> dict[str, Any]:
    """ROC AUC, PR AUC, Brier score, log loss, the reliability curve and the lift/gain table
    of probabilities ``p`` for outcomes ``y``."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    n, positives = len(y), int(y.sum())
    out: dict[str, Any] = {
        "n": n,
        "converted": positives,
        "base_rate": positives / n if n else None,
    }
    if n == 0 or positives in (0, n):
        out.update(auc=None, pr_auc=None, brier=None, log_loss=None, calibration=[], lift=[])
        return out
    out["auc"] = float(roc_auc_score(y, p))
    out["pr_auc"] = float(average_precision_score(y, p))
    out["brier"] = float(brier_score_loss(y, p))
    out["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    calibration = []
    for b in range(bins):
        m = which == b
        if m.any():
            calibration.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "n": int(m.sum()),
                    "predicted": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                }
            )
    out["calibration"] = calibration
    order = np.argsort(-p, kind="stable")
    lift = []
    captured = 0
    for d, chunk in enumerate(np.array_split(order, 10), 1):
        if not len(chunk):
            continue
        hits = int(y[chunk].sum())
        captured += hits
        rate = hits / len(chunk)
        lift.append(
            {
                "decile": d,
                "leads": len(chunk),
                "converted": hits,
                "conversion_rate": rate,
                "lift": rate / (positives / n),
                "cumulative_gain": captured / positives,
            }
        )
    out["lift"] = lift
    return out


def evaluation(
    y: np.ndarray, model: np.ndarray, naive_bayes: np.ndarray, logistic: np.ndarray
) -> dict[str, Any]:
    """The model's figures with both baselines' beside them, on the same leads."""
    out = metrics(y, model)
    out["baselines"] = {
        "naive_bayes": metrics(y, naive_bayes),
        "logistic_regression": metrics(y, logistic),
    }
    return out


# --- the leakage guard ---------------------------------------------------------------------------


def single_field_auc(
    X: np.ndarray,
    y: np.ndarray,
    spec: dict[str, Any],
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> dict[str, float]:
    """Each feature alone: the AUC of its per-value conversion rate, learned on the other
    folds (numbers in 20 quantile bins, missing as a value)."""
    mask = _oof_mask(len(y), folds)
    out: dict[str, float] = {}
    for j, f in enumerate(spec["features"]):
        col = X[:, j]
        missing = np.isnan(col)
        if f["type"] == CATEGORICAL:
            codes = np.where(missing, -1, col).astype(np.int64) + 1
        else:
            present = col[~missing]
            edges = (
                np.unique(np.quantile(present, np.linspace(0, 1, 21)[1:-1])) if len(present) else []
            )
            codes = np.where(missing, 0, np.searchsorted(edges, col, side="right") + 1)
        size = int(codes.max()) + 1
        rate = np.full(len(y), np.nan)
        for tr, te in folds:
            pos = np.bincount(codes[tr], weights=y[tr], minlength=size)
            cnt = np.bincount(codes[tr], minlength=size)
            prior = y[tr].mean()
            rate[te] = ((pos + prior * 2) / (cnt + 2))[codes[te]]
        if len(np.unique(y[mask])) < 2:
            continue
        out[f["key"]] = float(roc_auc_score(y[mask], rate[mask]))
    return out


# --- training ------------------------------------------------------------------------------------


@dataclass
class TrainOutput:
    kind: str
    validation: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    artifact: dict[str, Any] = field(default_factory=dict)
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    refused: bool = False


def train(
    X: np.ndarray,
    y: np.ndarray,
    created: np.ndarray,
    spec: dict[str, Any],
    *,
    kind: str,
    folds: int = 5,
    threads: int = 1,
    leakage_auc: float = 0.97,
    allowed: frozenset[str] = frozenset(),
    allow_flagged: bool = False,
    progress: Progress = _quiet,
) -> TrainOutput:
    """Validate, check for leaks, train ``kind`` ("lightgbm" or "frequency") and the
    baselines on the same folds, calibrate, and return the model with its figures."""
    started = time.perf_counter()
    validation, fold_list, note = make_folds(y, created, folds)
    out = TrainOutput(kind=kind, validation=validation)
    if note:
        out.notes.append(note)
    progress("Checking each field alone")
    alone = single_field_auc(X, y, spec, fold_list)
    labels = {f["key"]: f["label"] for f in spec["features"]}
    out.flags = [
        {"field": key, "label": labels[key], "auc": round(auc, 4)}
        for key, auc in sorted(alone.items(), key=lambda kv: -kv[1])
        if auc >= leakage_auc
    ]
    out.metrics["single_field_auc"] = {k: round(v, 4) for k, v in alone.items()}
    unreviewed = [f for f in out.flags if f["field"] not in allowed]
    if unreviewed and not allow_flagged:
        out.refused = True
        return out

    mask = _oof_mask(len(y), fold_list)
    progress("Baseline: per-field frequency model")
    nb_raw = np.full(len(y), np.nan)
    for tr, te in fold_list:
        nb_raw[te] = FrequencyModel.fit(X[tr], y[tr], spec).logit(X[te], spec)
    progress("Baseline: logistic regression")
    lr_p = np.full(len(y), np.nan)
    for tr, te in fold_list:
        lr = _logistic(spec).fit(X[tr], y[tr])
        lr_p[te] = lr.predict_proba(X[te])[:, 1]

    if kind == "lightgbm":
        raw, booster, encoding, rounds = lightgbm_oof(
            X,
            y,
            spec,
            fold_list,
            created=created if validation == "time_split" else None,
            threads=threads,
            progress=progress,
        )
        out.artifact["booster"] = booster.model_to_string()
        out.artifact["target_encoding"] = encoding.to_json()
        gains = booster.feature_importance(importance_type="gain")
        total = float(gains.sum()) or 1.0
        out.metrics["top_features"] = [
            {"field": spec["features"][j]["key"], "label": spec["features"][j]["label"],
             "importance": round(float(gains[j]) / total, 4)}
            for j in np.argsort(-gains)[:15]
            if gains[j] > 0
        ]  # fmt: skip
        out.metrics["rounds"] = {"folds": rounds, "final": booster.current_iteration()}
    else:
        raw = nb_raw
        final_nb = FrequencyModel.fit(X, y, spec)
        out.artifact["frequency"] = final_nb.to_json()
        spread = [(float(np.ptp(t)), j) for j, t in enumerate(final_nb.tables) if len(t)]
        out.metrics["top_features"] = [
            {"field": spec["features"][j]["key"], "label": spec["features"][j]["label"],
             "importance": round(s, 4)}
            for s, j in sorted(spread, reverse=True)[:15]
        ]  # fmt: skip

    progress("Calibrating")
    # Platt scaling, unless isotonic regression calibrates the held-out folds clearly better
    # (by more than 0.5% of log loss: the smooth two-parameter curve is the safer choice on
    # small or noisy histories, the free-form one pays off on large ones)
    method, calibrated = "platt", cross_calibrate(raw, y, fold_list, "platt")
    if Calibrator.fit(raw[mask], y[mask]).method == "isotonic":
        isotonic = cross_calibrate(raw, y, fold_list, "isotonic")
        if log_loss(y[mask], isotonic[mask]) < 0.995 * log_loss(y[mask], calibrated[mask]):
            method, calibrated = "isotonic", isotonic
    calibrator = Calibrator.fit(raw[mask], y[mask], method)
    out.artifact["calibrator"] = calibrator.to_json()
    out.metrics.update(evaluation(y[mask], calibrated[mask], _sigmoid(nb_raw[mask]), lr_p[mask]))
    out.metrics["calibration_method"] = calibrator.method
    out.metrics["validation"] = validation
    out.metrics["folds"] = len(fold_list)
    served = calibrator(raw[mask])
    out.metrics["tiers"] = {
        "A": float(np.quantile(served, 0.75)),
        "B": float(np.quantile(served, 0.5)),
        "C": float(np.quantile(served, 0.25)),
    }
    out.oof = {
        "row": np.flatnonzero(mask),
        "y": y[mask].astype(np.int8),
        "model": calibrated[mask].astype(np.float32),
        "naive_bayes": _sigmoid(nb_raw[mask]).astype(np.float32),
        "logistic_regression": lr_p[mask].astype(np.float32),
    }
    out.metrics["seconds"] = round(time.perf_counter() - started, 2)
    return out


# --- artifacts -----------------------------------------------------------------------------------


def pack(data: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)


def unpack(blob: bytes | memoryview) -> dict[str, Any]:
    return json.loads(zlib.decompress(bytes(blob)).decode()) if blob else {}


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack_arrays(blob: bytes | memoryview) -> dict[str, np.ndarray]:
    if not blob:
        return {}
    with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# --- scoring -------------------------------------------------------------------------------------


class PathAttribution:
    """Per-feature contributions of a LightGBM model, from the leaves a lead reaches: in
    every tree, each split on the lead's path adds (child value - node value) to the split's
    feature. The contributions and the trees' root values add up exactly to the raw score."""

    def __init__(self, booster: lgb.Booster, n_features: int):
        trees = booster.dump_model()["tree_info"]
        self.n_trees = len(trees)
        self.width = max(t["num_leaves"] for t in trees) if trees else 1
        self.bias = 0.0
        rows, cols, vals = [], [], []
        self.leaf_values = np.zeros(self.n_trees * self.width)
        for t, tree in enumerate(trees):
            root = tree["tree_structure"]
            base = t * self.width
            if "leaf_value" in root:
                self.bias += root["leaf_value"]
                self.leaf_values[base] = root["leaf_value"]
                continue
            self.bias += root["internal_value"]
            stack: list[tuple[dict, dict[int, float]]] = [(root, {})]
            while stack:
                node, path = stack.pop()
                for side in ("left_child", "right_child"):
                    child = node[side]
                    value = child.get("leaf_value", child.get("internal_value"))
                    step = dict(path)
                    feat = node["split_feature"]
                    step[feat] = step.get(feat, 0.0) + value - node["internal_value"]
                    if "leaf_index" in child:
                        leaf = base + child["leaf_index"]
                        self.leaf_values[leaf] = child["leaf_value"]
                        for feat_j, v in step.items():
                            rows.append(leaf)
                            cols.append(feat_j)
                            vals.append(v)
                    else:
                        stack.append((child, step))
        self.table = sparse.csr_matrix(
            (vals, (rows, cols)), shape=(self.n_trees * self.width, n_features)
        )
        self._dense: np.ndarray | None = None

    def __call__(self, leaves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw scores, contributions) for the leaf indices ``predict(pred_leaf=True)`` gives."""
        n, n_features = leaves.shape[0], self.table.shape[1]
        if self.n_trees == 0:
            return np.zeros(n), np.zeros((n, n_features))
        offsets = np.arange(self.n_trees, dtype=np.int64) * self.width
        index = leaves.astype(np.int64) + offsets
        if n_features <= DENSE_FEATURES:  # a row of the dense table per tree: fastest when narrow
            if self._dense is None:
                self._dense = self.table.toarray()
            contrib = np.zeros((n, n_features))
            raw = np.zeros(n)
            for t in range(self.n_trees):
                contrib += self._dense[index[:, t]]
                raw += self.leaf_values[index[:, t]]
            return raw, contrib
        hits = sparse.csr_matrix(
            (np.ones(index.size), index.ravel(), np.arange(0, n * self.n_trees + 1, self.n_trees)),
            shape=(n, self.n_trees * self.width),
        )
        return hits @ self.leaf_values, (hits @ self.table).toarray()


class Scorer:
    """A stored model ready to score: probabilities and per-feature contributions."""

    def __init__(self, kind: str, artifact: dict[str, Any], spec: dict[str, Any], threads: int = 1):
        self.kind = kind
        self.spec = spec
        self.threads = threads
        self.calibrator = Calibrator.from_json(artifact["calibrator"])
        self.booster: lgb.Booster | None = None
        self.frequency: FrequencyModel | None = None
        self.encoding = TargetEncoding.from_json(artifact.get("target_encoding"))
        if kind == "lightgbm":
            self.booster = lgb.Booster(model_str=artifact["booster"])
            self.paths = PathAttribution(self.booster, len(spec["features"]))
        else:
            self.frequency = FrequencyModel.from_json(artifact["frequency"])

    def score(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, contributions in log-odds) for the rows of ``X``."""
        if not len(X):
            return np.zeros(0), np.zeros((0, len(self.spec["features"])))
        if self.booster is not None:
            leaves = self.booster.predict(
                self.encoding.transform(X), pred_leaf=True, num_threads=self.threads
            )
            raw, contrib = self.paths(np.asarray(leaves).reshape(len(X), -1))
        else:
            assert self.frequency is not None
            contrib = self.frequency.contributions(X, self.spec)
            raw = self.frequency.prior + contrib.sum(axis=1)
        return self.calibrator(raw), contrib

    def exact_contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions (LightGBM ``pred_contrib``) without the bias column: slow,
        for one lead's page."""
        if self.booster is None:
            return self.score(X)[1]
        contrib = self.booster.predict(
            self.encoding.transform(X), pred_contrib=True, num_threads=self.threads
        )
        return np.asarray(contrib)[:, :-1]


def tier_of(probabilities: np.ndarray, cuts: dict[str, float]) -> np.ndarray:
    """A-D by the quartile cut points of the training leads' probabilities."""
    return np.where(
        probabilities >= cuts["A"],
        "A",
        np.where(probabilities >= cuts["B"], "B", np.where(probabilities >= cuts["C"], "C", "D")),
    )
