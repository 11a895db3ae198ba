"""Pydantic schemas of the planning API (``/api/v1/planning/...``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from revline.api.schemas import PersonRef, person_ref

PeriodKey = str


class PeriodOut(Schema):
    key: str
    label: str
    kind: str
    start: dt.date
    end: dt.date
    fiscal_year: int
    number: int


def period_out(period: Any) -> dict[str, Any]:
    return {
        "key": period.key,
        "label": period.label,
        "kind": period.kind,
        "start": period.start,
        "end": period.end,
        "fiscal_year": period.fiscal_year,
        "number": period.number,
    }


class CalendarOut(Schema):
    start_month: int
    year_named_by_end: bool
    current_year: PeriodOut
    current_quarter: PeriodOut
    current_month: PeriodOut


class CalendarIn(Schema):
    start_month: int = Field(..., ge=1, le=12, description="The month the fiscal year starts in.")
    year_named_by_end: bool = True


class PositionRef(Schema):
    id: int
    title: str
    role: str
    holder: PersonRef | None = None


def position_ref(position: Any) -> dict[str, Any] | None:
    if position is None:
        return None
    return {
        "id": position.pk,
        "title": position.title,
        "role": position.role,
        "holder": person_ref(position.holder) if position.holder_id else None,
    }


class _PeriodRow(Schema):
    period: str = Field(..., description="The period key as set (2027-Q2).")
    period_kind: str
    period_start: dt.date
    period_end: dt.date

    @staticmethod
    def resolve_period(obj: Any) -> str:
        return obj.period_key


class _OwnedRow(_PeriodRow):
    """A row whose ``position`` is its ``owner_position``."""

    @staticmethod
    def resolve_position(obj: Any) -> dict[str, Any] | None:
        return position_ref(obj.owner_position)


class _SetByRow(_PeriodRow):
    """A quota, target or budget: ``set_by`` is who set it last."""

    @staticmethod
    def resolve_set_by(obj: Any) -> dict[str, Any] | None:
        return person_ref(obj.set_by)


# --- quotas ------------------------------------------------------------------------------------


class QuotaOut(_OwnedRow, _SetByRow):
    id: int
    position: PositionRef
    opportunity_type: str = Field(..., description="Blank: every type.")
    amount: Decimal
    deal_count: int | None
    note: str
    set_by: PersonRef | None
    updated_at: dt.datetime
    is_generated: bool


class QuotaIn(Schema):
    position: int = Field(..., description="The position the quota is for (below yours).")
    period: PeriodKey = Field(..., description="2027, 2027-Q2 or 2027-M05.")
    amount: Decimal = Field(..., ge=0)
    deal_count: int | None = Field(None, ge=0)
    opportunity_type: str = Field(
        "", description="new_business, renewal, upsell, cross_sell or blank."
    )
    note: str = ""


class QuotaFilters(Schema):
    position: int | None = None
    period: str | None = None
    kind: Literal["month", "quarter", "year"] | None = None
    type: str | None = Field(None, description="An opportunity type; blank for all-type quotas.")


class AttainmentLine(Schema):
    position: PositionRef | None
    quota: Decimal | None
    deals_quota: Decimal | None
    quota_is_own: bool = Field(..., description="False: the sum of the reports' quotas.")
    reports_quota: Decimal | None = Field(..., description="The sum of the reports' quotas.")
    gap: Decimal | None = Field(..., description="Own quota minus the reports' sum.")
    bookings: Decimal
    deals_won: int
    attainment: float | None
    pace: Decimal | None = Field(..., description="Quota x the share of the period gone.")
    on_pace: bool | None
    may_set: bool


def attainment_line(line: Any) -> dict[str, Any]:
    return {
        "position": position_ref(line.position),
        "quota": line.quota,
        "deals_quota": line.deals_quota,
        "quota_is_own": line.is_own,
        "reports_quota": line.reports_sum,
        "gap": line.gap,
        "bookings": line.bookings,
        "deals_won": line.deals_won,
        "attainment": line.attainment,
        "pace": line.pace,
        "on_pace": line.on_pace,
        "may_set": line.may_set,
    }


class AttainmentOut(Schema):
    period: PeriodOut
    elapsed: float
    opportunity_type: str
    position: AttainmentLine
    reports: list[AttainmentLine]


class QuotaAmountOut(Schema):
    amount: Decimal
    start: dt.date
    end: dt.date
    position: int | None
    opportunity_type: str | None


# --- targets and budgets -----------------------------------------------------------------------


class ScopeRef(Schema):
    kind: Literal["team", "region"]
    id: int
    name: str


def scope_ref(obj: Any) -> dict[str, Any]:
    return {"kind": obj.scope_kind, "id": obj.scope.pk, "name": obj.scope.name}


class _ScopedRow(_SetByRow):
    """A target or budget: ``scope`` is its team or region."""

    @staticmethod
    def resolve_scope(obj: Any) -> dict[str, Any]:
        return scope_ref(obj)


class TargetOut(_ScopedRow):
    id: int
    scope: ScopeRef
    opportunity_type: str
    amount: Decimal
    deal_count: int | None
    note: str
    set_by: PersonRef | None
    updated_at: dt.datetime
    is_generated: bool


class ScopedIn(Schema):
    team: int | None = Field(None, description="A team id (or give a region).")
    region: int | None = Field(None, description="A region id (or give a team).")
    period: PeriodKey


class TargetIn(ScopedIn):
    amount: Decimal = Field(..., ge=0)
    deal_count: int | None = Field(None, ge=0)
    opportunity_type: str = ""
    note: str = ""


class ScopedFilters(Schema):
    period: str | None = None
    team: int | None = None
    region: int | None = None


class TargetFilters(ScopedFilters):
    type: str | None = None


class TargetProgressLine(Schema):
    scope: ScopeRef
    depth: int
    target: Decimal | None
    bookings: Decimal
    deals_won: int
    attainment: float | None
    pace: Decimal | None
    on_pace: bool | None
    budget: Decimal
    spent: Decimal
    may_set: bool


def progress_line(line: Any) -> dict[str, Any]:
    return {
        "scope": {"kind": line.kind, "id": line.scope.pk, "name": line.scope.name},
        "depth": line.depth,
        "target": line.amount,
        "bookings": line.bookings,
        "deals_won": line.deals_won,
        "attainment": line.attainment,
        "pace": line.pace,
        "on_pace": line.on_pace,
        "budget": line.budget,
        "spent": line.spent,
        "may_set": line.may_set,
    }


class TargetProgressOut(Schema):
    period: PeriodOut
    items: list[TargetProgressLine]


class BudgetOut(_ScopedRow):
    id: int
    scope: ScopeRef
    category: str
    amount: Decimal
    spent: Decimal
    left: Decimal
    note: str
    set_by: PersonRef | None
    updated_at: dt.datetime
    is_generated: bool


class BudgetIn(ScopedIn):
    category: str = Field(
        ..., description="campaigns, promotions, incentives, tools, travel, other"
    )
    amount: Decimal = Field(..., ge=0)
    note: str = ""


class BudgetFilters(ScopedFilters):
    category: str | None = None


class CampaignRef(Schema):
    id: int
    name: str


class SpendOut(Schema):
    id: int
    budget: int
    amount: Decimal
    spent_on: dt.date
    note: str
    campaign: CampaignRef | None
    recorded_by: PersonRef | None
    created_at: dt.datetime
    is_generated: bool

    @staticmethod
    def resolve_budget(obj: Any) -> int:
        return obj.budget_id

    @staticmethod
    def resolve_campaign(obj: Any) -> dict[str, Any] | None:
        if not obj.campaign_id or not getattr(obj, "campaign_visible", False):
            return None
        return {"id": obj.campaign_id, "name": obj.campaign.name}

    @staticmethod
    def resolve_recorded_by(obj: Any) -> dict[str, Any] | None:
        return person_ref(obj.recorded_by)


class SpendIn(Schema):
    amount: Decimal = Field(..., gt=0)
    spent_on: dt.date
    note: str = ""
    campaign: int | None = None


class SpendFilters(Schema):
    budget: int | None = None
    period: str | None = None


# --- forecasts ---------------------------------------------------------------------------------


class Figures(Schema):
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal


class SubmissionOut(_OwnedRow):
    id: int
    position: PositionRef
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    closed: Decimal = Field(..., description="Won in the period when submitted.")
    prefill: Figures = Field(..., description="What the deals said when submitted.")
    note: str
    submitted_by: PersonRef | None
    submitted_at: dt.datetime
    is_generated: bool

    @staticmethod
    def resolve_prefill(obj: Any) -> dict[str, Any]:
        return {
            "commit": obj.prefill_commit,
            "best_case": obj.prefill_best_case,
            "pipeline": obj.prefill_pipeline,
        }

    @staticmethod
    def resolve_submitted_by(obj: Any) -> dict[str, Any] | None:
        return person_ref(obj.submitted_by)


class SubmitIn(Schema):
    period: PeriodKey
    position: int | None = Field(None, description="Your position (default: the one you hold).")
    commit: Decimal | None = Field(None, ge=0, description="Default: what your deals say.")
    best_case: Decimal | None = Field(None, ge=0)
    pipeline: Decimal | None = Field(None, ge=0)
    note: str = ""


class PrefillOut(Schema):
    position: PositionRef
    period: PeriodOut
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    closed: Decimal
    deals: dict[str, int]


class AdjustmentOut(_PeriodRow):
    id: int
    position: PositionRef = Field(..., description="The adjusted position.")
    author: PositionRef = Field(..., description="The adjusting manager's position.")
    figure: str
    amount: Decimal
    previous: Decimal
    note: str
    adjusted_by: PersonRef | None
    adjusted_at: dt.datetime

    @staticmethod
    def resolve_position(obj: Any) -> dict[str, Any] | None:
        return position_ref(obj.position)

    @staticmethod
    def resolve_author(obj: Any) -> dict[str, Any] | None:
        return position_ref(obj.owner_position)

    @staticmethod
    def resolve_adjusted_by(obj: Any) -> dict[str, Any] | None:
        return person_ref(obj.adjusted_by)


class AdjustIn(Schema):
    period: PeriodKey
    position: int
    figure: Literal["commit", "best_case", "pipeline"]
    amount: Decimal = Field(..., ge=0)
    note: str = ""


class ForecastFilters(Schema):
    period: str | None = None
    position: int | None = None


class RollupAdjustment(Schema):
    figure: str
    amount: Decimal
    previous: Decimal
    author: PositionRef
    adjusted_by: PersonRef | None
    adjusted_at: dt.datetime
    note: str


class RollupNode(Schema):
    position: PositionRef
    submitted: bool
    own: Figures
    submitted_total: Figures = Field(..., description="Subtree submissions before adjustments.")
    total: Figures = Field(..., description="Own + the reports' figures as adjusted.")
    figures: Figures = Field(..., description="The total with this position's adjustment.")
    adjustments: list[RollupAdjustment]
    closed: Decimal
    forecast: Decimal = Field(..., description="closed + commit")
    quota: Decimal | None
    submitters: int
    members: int
    may_adjust: bool
    reports: list[RollupNode]


def rollup_node(node: Any, depth: int | None = None) -> dict[str, Any]:
    return {
        "position": position_ref(node.position),
        "submitted": node.submission is not None,
        "own": node.own,
        "submitted_total": node.submitted,
        "total": node.total,
        "figures": node.effective,
        "adjustments": [
            {
                "figure": adj.figure,
                "amount": adj.amount,
                "previous": adj.previous,
                "author": position_ref(adj.owner_position),
                "adjusted_by": person_ref(adj.adjusted_by),
                "adjusted_at": adj.adjusted_at,
                "note": adj.note,
            }
            for adj in node.adjustments.values()
        ],
        "closed": node.closed,
        "forecast": node.forecast,
        "quota": node.quota,
        "submitters": node.submitters,
        "members": node.members,
        "may_adjust": node.may_adjust,
        "reports": []
        if depth == 0
        else [rollup_node(c, None if depth is None else depth - 1) for c in node.children],
    }


class RollupOut(Schema):
    period: PeriodOut
    viewer: PositionRef | None
    rollup: RollupNode


class SnapshotOut(_OwnedRow):
    id: int
    position: PositionRef
    week_start: dt.date
    taken_at: dt.datetime
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    closed: Decimal
    submitted_commit: Decimal
    submitted_best_case: Decimal
    submitted_pipeline: Decimal
    quota: Decimal | None
    submissions: int


RollupNode.model_rebuild()
