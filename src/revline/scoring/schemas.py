"""API schemas of the scoring app (``revline.scoring.api``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema


class Factor(Schema):
    field: str = Field(..., description="Feature key (``custom:<key>`` for a custom field).")
    label: str
    value: str = Field(..., description="The lead's value, in words.")
    effect: float = Field(..., description="Contribution in log-odds (rule weight for a fit).")


class Factors(Schema):
    positive: list[Factor] = []
    negative: list[Factor] = []


class OverrideOut(Schema):
    score: int | None
    tier: str
    reason: str
    by: int | None = Field(None, description="Id of the user who set it.")
    at: dt.datetime

    @staticmethod
    def resolve_by(obj: Any) -> int | None:
        return obj.by_id


class FitOut(Schema):
    score: int
    matched: list[dict[str, Any]]
    computed_at: dt.datetime


class LeadScoreOut(Schema):
    lead: int
    source_id: str
    score: int | None = Field(None, description="The automated score, 0-100.")
    probability: float | None = Field(None, description="Calibrated chance of converting.")
    tier: str | None
    kind: str | None = Field(None, description="lightgbm, frequency or fit.")
    model: int | None = Field(None, description="Id of the model version that scored it.")
    model_version: int | None = None
    scored_at: dt.datetime | None = None
    factors: Factors
    exact: bool = Field(False, description="Factors recomputed with TreeSHAP.")
    fit: FitOut | None = None
    override: OverrideOut | None = None
    effective_score: int | None = Field(None, description="The override's, else the automated.")
    effective_tier: str | None = None
    summary: str = Field(..., description="The score in plain words.")


class OverrideIn(Schema):
    score: int | None = Field(None, ge=0, le=100)
    tier: str | None = Field(None, pattern="^[ABCD]$")
    reason: str = Field(..., min_length=1, max_length=255)


class TrainIn(Schema):
    source: str = Field("", description="The leads' source name; blank: every lead.")
    exclude: list[str] | None = Field(
        None, description="Fields to leave out from now on (replaces the source's list)."
    )
    allow_flagged: bool = Field(False, description="Train with fields flagged as likely leaks.")
    wait: bool = Field(
        False, description="Train during the request (else a background job does it)."
    )


class TrainQueuedOut(Schema):
    queued: bool = True
    task_id: str | None = Field(
        None, description="The background job's id (queued once the request's changes commit)."
    )
    source: str


class ModelOut(Schema):
    id: int
    source_name: str
    version: int
    kind: str
    status: str
    validation: str
    trained_at: dt.datetime
    notes: str
    leakage_flags: list[dict[str, Any]]
    n: int | None = Field(None, description="Leads with an outcome (readers of every lead).")
    converted: int | None = None
    seconds: float | None = None
    metrics: dict[str, Any] | None = None
    baselines: dict[str, Any] | None = None


class IcpRuleIn(Schema):
    name: str
    field: str = Field(..., description="sector, employees, annual_revenue, region, country "
                       "or custom:<key>.")  # fmt: skip
    operator: str = Field(..., pattern="^(eq|in|range|contains)$")
    value: Any = Field(..., description='A value; a list for "in"; {"min", "max"} for "range".')
    weight: int = Field(10, ge=-100, le=100)
    applies_to: str = Field("both", pattern="^(both|leads|accounts)$")
    active: bool = True
    order: int = 0


class IcpRuleOut(Schema):
    id: int
    name: str
    field: str
    operator: str
    value: Any
    weight: int
    applies_to: str
    active: bool
    order: int
