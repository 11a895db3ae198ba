"""The organisation's deal history as it stood at any moment, rebuilt from the stage history.

``history_load()`` reads, in a handful of queries, what the forecasts need: every deal's
stage changes (``pipeline.StageChange``: which stage, since when, the amount and owner then),
the stages (kind, default probability, place in the pipeline), the deals' fixed attributes
(product, account, type), the accounts' sector and size and the activity log's dates. Everything
else is computed in memory with pandas, for any cut-off:

- ``open_at(history, at)``: the deals open at ``at`` (created before it, their latest change
  before it into an open stage), with their stage, since when, the amount and the owner then;
- ``closes(history)``: every close (the last change of a deal into a won or lost stage), which
  gives the labels (won within a horizon) and the actual bookings of any period.

Times are the site's local wall-clock time (``TIME_ZONE``), naive, so that "the start of a
month" means local midnight, as the fiscal calendar does.

No current-state field that an outcome rewrites is read as of the past: a deal's ``close_date``,
``probability``, ``forecast_category``, its status and the account's customer status all change
when the deal closes, so they never enter a feature. The amount is the one recorded with each
stage change (an amount edited inside a stage without a move is seen from the next move on).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection

from revline.pipeline.choices import StageKind
from revline.planning.calendar import FiscalYearRule, fiscal_rule

__all__ = ["History", "closes", "history_load", "local_naive", "open_at"]


@dataclass
class History:
    """The frames the forecasts read. ``changes`` is sorted by deal and time and carries
    ``until`` (the next change of the same deal, NaT for the latest)."""

    deals: pd.DataFrame  # index: opportunity id
    changes: pd.DataFrame
    stages: pd.DataFrame  # index: stage id
    accounts: pd.DataFrame  # index: account id
    activities: pd.DataFrame  # opportunity_id, occurred_at
    rule: FiscalYearRule = field(default_factory=FiscalYearRule)  # quarters for the features
    # Horizon-free features per cut-off (``features.snapshot_features``).
    snapshot_cache: dict = field(default_factory=dict, repr=False)

    @cached_property
    def closes(self) -> pd.DataFrame:
        """Every deal's final close (``closes``), computed once."""
        return closes(self)

    @property
    def first_close(self) -> pd.Timestamp | None:
        """When the first deal was closed (won or lost): the start of the closed history."""
        c = self.closes
        return None if c.empty else c["closed_at"].min()

    @property
    def last_event(self) -> pd.Timestamp | None:
        if self.changes.empty:
            return None
        return self.changes["changed_at"].max()


def local_naive(values: pd.Series) -> pd.Series:
    """Aware (or UTC-naive, as SQLite returns them) datetimes -> naive local wall-clock time."""
    s = pd.to_datetime(values, utc=True)
    return s.dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None).astype("datetime64[ns]")


def _frame(sql: str, columns: list[str], params: list | None = None) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def history_load() -> History:
    """Read the whole history of deals (a few plain queries, no model instances)."""
    from revline.crm.models import Account, Activity
    from revline.pipeline.models import Opportunity, Stage, StageChange

    stages = _frame(
        f"SELECT id, pipeline_id, kind, probability, {connection.ops.quote_name('order')} "  # noqa: S608
        f"FROM {_table(Stage)}",
        ["id", "pipeline_id", "kind", "probability", "order"],
    )
    stages = stages_frame(stages)

    deals = _frame(
        "SELECT id, owner_position_id, account_id, product_id, type, pipeline_id, amount, "  # noqa: S608
        f"created_at, status FROM {_table(Opportunity)}",
        [
            "id",
            "owner_position_id",
            "account_id",
            "product_id",
            "type",
            "pipeline_id",
            "amount",
            "created_at",
            "status",
        ],
    )
    deals["amount"] = pd.to_numeric(deals["amount"], errors="coerce").astype(float)
    deals["created_at"] = local_naive(deals["created_at"])
    deals = deals.set_index("id").sort_index()

    changes = _frame(
        "SELECT id, opportunity_id, to_stage_id, changed_at, amount, owner_position_id "  # noqa: S608
        f"FROM {_table(StageChange)}",
        ["id", "opportunity_id", "to_stage_id", "changed_at", "amount", "owner_position_id"],
    )
    changes["changed_at"] = local_naive(changes["changed_at"])
    changes["amount"] = pd.to_numeric(changes["amount"], errors="coerce").astype(float)

    accounts = _frame(
        f"SELECT id, sector, employees FROM {_table(Account)}",  # noqa: S608
        ["id", "sector", "employees"],
    ).set_index("id")
    accounts["employees"] = pd.to_numeric(accounts["employees"], errors="coerce").astype(float)

    activities = _frame(
        f"SELECT opportunity_id, occurred_at FROM {_table(Activity)} "  # noqa: S608
        "WHERE opportunity_id IS NOT NULL",
        ["opportunity_id", "occurred_at"],
    )
    activities["occurred_at"] = local_naive(activities["occurred_at"])
    return history_build(
        deals=deals,
        changes=changes,
        stages=stages,
        accounts=accounts,
        activities=activities,
        rule=fiscal_rule(),
    )


def stages_frame(stages: pd.DataFrame) -> pd.DataFrame:
    """Stages by id with ``rank``: the place among its pipeline's open stages, 0 (first) to 1
    (last), so that features mean the same in pipelines of different lengths."""
    stages = stages.copy()
    stages["probability"] = stages["probability"].astype(float) / 100.0
    stages["rank"] = np.nan
    for _, group in stages[stages["kind"] == StageKind.OPEN].groupby("pipeline_id"):
        ordered = group.sort_values(["order", "id"])
        n = len(ordered)
        stages.loc[ordered.index, "rank"] = np.arange(n) / max(n - 1, 1)
    return stages.set_index("id")


def history_build(
    *,
    deals: pd.DataFrame,
    changes: pd.DataFrame,
    stages: pd.DataFrame,
    accounts: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
    rule: FiscalYearRule | None = None,
) -> History:
    """A ``History`` from frames (the loader's, or a test's): sorts the changes and adds
    ``until``, the stage kind, and each deal's amount where a change recorded none."""
    changes = changes.sort_values(["opportunity_id", "changed_at", "id"]).reset_index(drop=True)
    nxt = changes["changed_at"].shift(-1)
    same = changes["opportunity_id"].shift(-1) == changes["opportunity_id"]
    changes["until"] = nxt.where(same)
    changes["kind"] = changes["to_stage_id"].map(stages["kind"])
    # A move recorded without an amount counts 0 (the deal's amount now may be a later edit);
    # a close without one takes the deal's amount, the best record of what was booked.
    fallback = (
        changes["opportunity_id"].map(deals["amount"]).where(changes["kind"] == StageKind.WON)
    )
    changes["amount"] = changes["amount"].fillna(fallback).fillna(0.0)
    # The order of a change in its deal's history: 0 for the opening.
    changes["step"] = changes.groupby("opportunity_id").cumcount()
    if accounts is None:
        accounts = pd.DataFrame({"sector": pd.Series(dtype=object), "employees": []})
    if activities is None:
        activities = pd.DataFrame(
            {"opportunity_id": pd.Series(dtype="int64"), "occurred_at": pd.Series(dtype="M8[ns]")}
        )
    activities = activities.sort_values("occurred_at").reset_index(drop=True)
    return History(deals, changes, stages, accounts, activities, rule or FiscalYearRule())


def as_timestamp(value: dt.date | dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    """A date means its local midnight; aware datetimes are turned into local wall-clock time;
    text is read as ISO."""
    if isinstance(value, str):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return value.tz_convert(settings.TIME_ZONE).tz_localize(None) if value.tzinfo else value
    if isinstance(value, dt.datetime):
        ts = pd.Timestamp(value)
        return ts.tz_convert(settings.TIME_ZONE).tz_localize(None) if ts.tzinfo else ts
    return pd.Timestamp(dt.datetime.combine(value, dt.time.min))


def open_at(history: History, at: dt.date | dt.datetime | pd.Timestamp) -> pd.DataFrame:
    """The deals open at ``at`` as they stood then, one row per deal (indexed by its id):
    ``stage_id``, ``entered_at`` (the move into that stage), ``amount`` and
    ``owner_position_id`` recorded with that move, ``created_at`` (the first change) and
    ``moves`` (changes before ``at``, the opening excluded). Only changes strictly before
    ``at`` are read."""
    at = as_timestamp(at)
    c = history.changes
    current = c[(c["changed_at"] < at) & ~(c["until"] < at)]
    current = current[current["kind"] == StageKind.OPEN]
    opened = c[c["step"] == 0].set_index("opportunity_id")["changed_at"]
    out = pd.DataFrame(
        {
            "stage_id": current["to_stage_id"].to_numpy(),
            "entered_at": current["changed_at"].to_numpy(),
            "amount": current["amount"].to_numpy(),
            "owner_position_id": current["owner_position_id"].to_numpy(),
            "moves": current["step"].to_numpy(),
        },
        index=pd.Index(current["opportunity_id"].to_numpy(), name="opportunity_id"),
    )
    out["created_at"] = opened.reindex(out.index).to_numpy()
    return out


def closes(history: History) -> pd.DataFrame:
    """Every deal's final close, one row per closed deal: ``opportunity_id``, ``closed_at``,
    ``won`` (bool), ``amount`` (recorded with the close) and ``owner_position_id`` then. A deal
    reopened after a close counts by its latest close, if it closed again. ``stage_id`` is the
    closing stage."""
    c = history.changes
    final = c[c["until"].isna() & c["kind"].isin([StageKind.WON, StageKind.LOST])]
    return pd.DataFrame(
        {
            "opportunity_id": final["opportunity_id"].to_numpy(),
            "closed_at": final["changed_at"].to_numpy(),
            "won": (final["kind"] == StageKind.WON).to_numpy(),
            "amount": final["amount"].to_numpy(),
            "owner_position_id": final["owner_position_id"].to_numpy(),
            "stage_id": final["to_stage_id"].to_numpy(),
        }
    )
