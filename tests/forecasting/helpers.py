"""Histories built in memory (no database) for the forecasting tests."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from revline.forecasting.history import History, history_build, stages_frame

# id, kind, probability (%), order
STAGES = [
    (1, "open", 10, 10),  # prospecting
    (2, "open", 40, 20),  # demo
    (3, "open", 80, 30),  # negotiation
    (4, "won", 100, 40),
    (5, "lost", 0, 50),
]
PROSPECT, DEMO, NEGOTIATION, WON, LOST = 1, 2, 3, 4, 5


def stages() -> pd.DataFrame:
    frame = pd.DataFrame(STAGES, columns=["id", "kind", "probability", "order"])
    frame["pipeline_id"] = 1
    return stages_frame(frame)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def build(deals: list[dict], activities: list[tuple[int, str]] = ()) -> History:
    """``deals``: dicts with ``id``, ``owner``, ``amount``, ``steps`` [(stage id, "YYYY-MM-DD
    HH:MM"), ...] and optionally ``product``, ``account``, ``type``."""
    ids = itertools.count(1)
    change_rows = []
    for d in deals:
        for stage, when in d["steps"]:
            change_rows.append(
                (next(ids), d["id"], stage, ts(when), float(d["amount"]), d["owner"])
            )
    changes = pd.DataFrame(
        change_rows,
        columns=[
            "id",
            "opportunity_id",
            "to_stage_id",
            "changed_at",
            "amount",
            "owner_position_id",
        ],
    )
    frame = pd.DataFrame(
        {
            "id": [d["id"] for d in deals],
            "owner_position_id": [d["owner"] for d in deals],
            "account_id": [d.get("account") for d in deals],
            "product_id": [d.get("product", 1) for d in deals],
            "type": [d.get("type", "new_business") for d in deals],
            "pipeline_id": 1,
            "amount": [float(d["amount"]) for d in deals],
            "created_at": [ts(d["steps"][0][1]) for d in deals],
            "status": ["open"] * len(deals),
        }
    ).set_index("id")
    acts = pd.DataFrame(
        [(pk, ts(when)) for pk, when in activities], columns=["opportunity_id", "occurred_at"]
    )
    if acts.empty:
        acts = None
    return history_build(deals=frame, changes=changes, stages=stages(), activities=acts)


def synthetic(
    *, n: int = 600, start: str = "2024-01-01", months: int = 12, seed: int = 1
) -> History:
    """A history with signal: deals opened over ``months``; each reaches demo, negotiation and
    a close after random delays; late-stage deals and good owners win more often; an
    activity or two on a share of the deals."""
    rng = np.random.default_rng(seed)
    base = ts(start)
    span_days = months * 30
    skill = {owner: 0.25 + 0.15 * owner for owner in range(1, 5)}
    deals, activities = [], []
    for pk in range(1, n + 1):
        owner = int(rng.integers(1, 5))
        opened = base + pd.Timedelta(days=float(rng.uniform(0, span_days - 30)))
        when = opened
        steps = [(PROSPECT, opened)]
        depth = int(rng.choice([0, 1, 2], p=[0.3, 0.35, 0.35]))
        for stage in (DEMO, NEGOTIATION)[:depth]:
            when = when + pd.Timedelta(days=float(rng.uniform(3, 25)))
            steps.append((stage, when))
        close = when + pd.Timedelta(days=float(rng.uniform(2, 40)))
        p_win = min(0.95, skill[owner] * (0.5 + depth * 0.6))
        if close < base + pd.Timedelta(days=span_days):
            steps.append((WON if rng.random() < p_win else LOST, close))
        if rng.random() < 0.3:
            activities.append((pk, str(opened + pd.Timedelta(days=1))))
        deals.append(
            {
                "id": pk,
                "owner": owner,
                "amount": float(rng.choice([1000, 2500, 5000])),
                "product": int(rng.integers(1, 4)),
                "steps": [(s, str(w)) for s, w in steps],
            }
        )
    return build(deals, activities)
