"""Scoring settings: Django settings ``REVLINE_SCORING_*`` win, then ``REVLINE_SCORING_*``
environment variables, then the defaults below (docs/scoring.md lists them)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # below either threshold the predictive model falls back to the frequency model
    "MIN_LEADS": 500,
    "MIN_CONVERSIONS": 50,
    # below these even the frequency model is not trained: the score is the fit score
    "MIN_LEADS_FREQUENCY": 20,
    "MIN_CONVERSIONS_FREQUENCY": 5,
    # a field whose cross-validated AUC alone reaches this is flagged as a likely leak
    "LEAKAGE_AUC": 0.97,
    "FOLDS": 5,
    # LightGBM threads: OpenMP threads spin when the cores are shared with web processes and
    # other workers, which costs far more than it gains (docs/scoring.md); raise it on a
    # dedicated worker machine
    "THREADS": 1,
    # the nightly retrain runs when this many outcomes are new since the last training
    "RETRAIN_MIN_NEW_OUTCOMES": 50,
    "RETRAIN_HOUR": 2,
    # how often the scoring clock rescores leads that changed (seconds)
    "CLOCK_SECONDS": 600,
    "FACTORS": 3,
}


def get(name: str) -> Any:
    default = DEFAULTS[name]
    full = f"REVLINE_SCORING_{name}"
    if hasattr(settings, full):
        return getattr(settings, full)
    raw = os.environ.get(full)
    if raw is None or raw == "":
        return default
    return type(default)(raw)
