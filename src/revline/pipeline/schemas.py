"""API schemas of the pipeline (``revline.pipeline.api``).

Output schemas read the querysets of ``revline.pipeline.selectors`` as they come (owner, account,
stage, pipeline and product selected along), so a list costs the same queries at any size.
References are ids; ``stage`` is the stage's name (``stage_id`` its id). Money is a JSON number.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from revline.crm.schemas import (
    AccountDrill,
    OwnedDrill,
    OwnedOut,
    OwnerMixin,
    day,
    visible_account_name,
)
from revline.pipeline.choices import (
    ForecastCategory,
    LossReason,
    ObjectionCategory,
    OpportunityStatus,
    OpportunityType,
)

AMOUNT = {"max_digits": 14, "decimal_places": 2, "ge": 0}
PERCENT = {"max_digits": 5, "decimal_places": 2, "ge": 0, "le": 100}


# --- opportunities -----------------------------------------------------------------------------


class OpportunityOut(OwnedOut):
    name: str
    type: OpportunityType
    stage: str = Field(..., description="The stage's name.")
    stage_id: int
    pipeline: int = Field(..., description="Pipeline id.")
    status: OpportunityStatus
    amount: float | None
    currency: str
    close_date: dt.date | None
    probability: int
    forecast_category: str
    next_step: str
    account: int | None = Field(None, description="Account id.")
    account_name: str | None = Field(None, description="Null when outside your view.")
    contact: int | None = Field(None, description="Contact id.")
    product: int | None = Field(None, description="Main product id.")
    loss_reason: str
    loss_note: str
    engaged_on: dt.date | None
    closed_on: dt.date | None
    stage_entered_at: dt.datetime | None
    days_in_stage: int | None = None
    is_stuck: bool = Field(False, description="Longer in its stage than the stage allows.")
    term_months: int | None
    renewal_of: int | None = Field(None, description="The deal this one renews.")
    lead: int | None = Field(None, description="The lead it was converted from.")
    campaign: int | None = None
    custom: dict[str, Any]

    @staticmethod
    def resolve_stage(obj: Any) -> str:
        return obj.stage.name

    @staticmethod
    def resolve_pipeline(obj: Any) -> int:
        return obj.pipeline_id

    @staticmethod
    def resolve_account(obj: Any) -> int | None:
        return obj.account_id

    @staticmethod
    def resolve_account_name(obj: Any) -> str | None:
        return visible_account_name(obj)

    @staticmethod
    def resolve_contact(obj: Any) -> int | None:
        return obj.contact_id

    @staticmethod
    def resolve_product(obj: Any) -> int | None:
        return obj.product_id

    @staticmethod
    def resolve_days_in_stage(obj: Any) -> int | None:
        from revline.pipeline.selectors import days_in_stage

        return days_in_stage(obj)

    @staticmethod
    def resolve_is_stuck(obj: Any) -> bool:
        from revline.pipeline.selectors import is_stuck

        return is_stuck(obj)

    @staticmethod
    def resolve_renewal_of(obj: Any) -> int | None:
        return obj.renewal_of_id

    @staticmethod
    def resolve_lead(obj: Any) -> int | None:
        return obj.lead_id

    @staticmethod
    def resolve_campaign(obj: Any) -> int | None:
        return obj.campaign_id


class OpportunityFilters(Schema):
    """Query parameters of ``GET /opportunities`` (the web list's filters); all optional."""

    q: str = Field("", description="Text in the name, the account's name or the external id.")
    status: OpportunityStatus | None = None
    type: OpportunityType | None = None
    stage: str = Field("", description="Stage id, or a stage name (in `pipeline` or the default).")
    pipeline: int | None = Field(None, description="Pipeline id.")
    owner: int | None = Field(None, description="Owner position id.")
    account: int | None = Field(None, description="Account id.")
    product: int | None = None
    campaign: int | None = None
    external_id: str = Field("", description="Exact external id.")
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    stuck: bool | None = Field(None, description="true: open deals stuck in their stage.")
    closed_from: dt.date | None = Field(None, description="Closed (won or lost) on or after.")
    closed_to: dt.date | None = Field(None, description="Closed (won or lost) on or before.")
    under: int | None = Field(None, description="Owner at or below this position id.")
    region: int | None = Field(None, description="The owner's region id.")
    team: int | None = Field(None, description="The owner's team id.")
    sector: str = Field("", description="The account's sector.")
    size: str = Field("", description="The account's size band (e.g. 51-200).")
    competitor: int | None = Field(None, description="Competitor id named on the deal.")
    has_competitor: bool | None = Field(None, description="true: a competitor is named.")
    last_stage: int | None = Field(
        None, description="Stage id the deal is in (open) or was won or lost from (closed)."
    )
    entered_from: dt.date | None = Field(
        None, description="Entered an open stage on or after (the stage history)."
    )
    entered_to: dt.date | None = Field(None, description="Entered an open stage on or before.")
    entered_stage: int | None = Field(
        None, description="With entered_from/entered_to: entries into this stage id only."
    )
    order: str = Field(
        "",
        description="-id (default: newest first), name, amount, close_date, created_at or stage; "
        "prefix - for descending.",
    )


class OpportunityIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    owner: int | None = Field(None, description="Owner position id; default: your position.")
    account: int | None = Field(None, description="Account id.")
    contact: int | None = Field(None, description="Contact id.")
    pipeline: int | None = Field(None, description="Pipeline id; default: the default pipeline.")
    stage: int | str | None = Field(
        None, description="Open stage id or name; default: the pipeline's first stage."
    )
    type: OpportunityType = OpportunityType.NEW_BUSINESS
    external_id: str = Field("", max_length=100)
    amount: Decimal | None = Field(None, **AMOUNT)
    currency: str = Field("USD", min_length=3, max_length=3)
    close_date: dt.date | None = None
    next_step: str = Field("", max_length=255)
    product: int | None = Field(None, description="Main product id.")
    engaged_on: dt.date | None = None
    term_months: int | None = Field(None, ge=1, le=120)
    campaign: int | None = Field(None, description="Campaign id.")
    custom: dict[str, Any] = Field(default_factory=dict)


class OpportunityPatch(Schema):
    """Only the fields sent change. The stage changes through ``POST .../stage`` and ``/close``."""

    name: str | None = Field(None, min_length=1, max_length=200)
    owner: int | None = None
    account: int | None = None
    contact: int | None = None
    type: OpportunityType | None = None
    amount: Decimal | None = Field(None, **AMOUNT)
    currency: str | None = Field(None, min_length=3, max_length=3)
    close_date: dt.date | None = None
    probability: int | None = Field(None, ge=0, le=100)
    forecast_category: ForecastCategory | None = None
    next_step: str | None = Field(None, max_length=255)
    product: int | None = None
    engaged_on: dt.date | None = None
    term_months: int | None = Field(None, ge=1, le=120)
    campaign: int | None = None
    loss_note: str | None = Field(None, max_length=255)
    custom: dict[str, Any] | None = None


class StageMoveIn(Schema):
    stage: int | str = Field(..., description="Stage id or name, in the deal's pipeline.")
    loss_reason: LossReason | None = Field(None, description="Needed to enter a lost stage.")
    loss_note: str = Field("", max_length=255)


class CloseIn(Schema):
    won: bool
    loss_reason: LossReason | None = Field(None, description="Needed when lost.")
    loss_note: str = Field("", max_length=255)


class StageChangeOut(Schema):
    id: int
    from_stage: str | None
    from_stage_id: int | None
    to_stage: str
    to_stage_id: int
    changed_at: dt.datetime
    changed_by: int | None = Field(None, description="User id.")
    amount: float | None
    probability: int
    owner: int | None = Field(None, description="Owner position id then.")

    @staticmethod
    def resolve_from_stage(obj: Any) -> str | None:
        return obj.from_stage.name if obj.from_stage_id else None

    @staticmethod
    def resolve_to_stage(obj: Any) -> str:
        return obj.to_stage.name

    @staticmethod
    def resolve_changed_by(obj: Any) -> int | None:
        return obj.changed_by_id

    @staticmethod
    def resolve_owner(obj: Any) -> int | None:
        return obj.owner_position_id


class TimelineEntryOut(Schema):
    kind: str = Field(..., description="activity, stage, objection, quote, approval or audit.")
    at: dt.datetime
    actor: int | None = Field(None, description="User id.")
    actor_name: str | None = None
    text: str


class TimelinePage(Schema):
    items: list[TimelineEntryOut]
    next: str | None = None
    total: int


class ObjectionOut(Schema):
    id: int
    category: ObjectionCategory
    text: str
    response: str
    resolved: bool
    raised_at: dt.datetime
    raised_by: int | None = Field(None, description="User id.")

    @staticmethod
    def resolve_raised_by(obj: Any) -> int | None:
        return obj.raised_by_id


class ObjectionIn(Schema):
    category: ObjectionCategory
    text: str = Field(..., min_length=1)
    response: str = ""
    resolved: bool = False


class ObjectionPatch(Schema):
    category: ObjectionCategory | None = None
    text: str | None = Field(None, min_length=1)
    response: str | None = None
    resolved: bool | None = None


class CompetitorsIn(Schema):
    names: list[str] = Field(..., max_length=50, description="Competitor names; [] clears.")


class CompetitorsOut(Schema):
    names: list[str]


# --- configuration -----------------------------------------------------------------------------


class StageOut(Schema):
    id: int
    name: str
    order: int
    kind: str = Field(..., description="open, won or lost.")
    probability: int
    forecast_category: str
    required_fields: list[str] = Field(..., description="What a deal needs to enter the stage.")
    max_days: int | None


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    order: int
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj: Any) -> list[Any]:
        return list(obj.stages.all())


class ProductOut(Schema):
    id: int
    name: str
    code: str
    series: str
    description: str
    list_price: float
    currency: str
    is_subscription: bool
    term_months: int
    active: bool
    external_id: str


class ProductFilters(Schema):
    q: str = Field("", description="Text in the name, code or series.")
    active: bool | None = Field(True, description="Default: active products only.")


class PriceEntryOut(Schema):
    product: int
    product_name: str
    unit_price: float

    @staticmethod
    def resolve_product(obj: Any) -> int:
        return obj.product_id

    @staticmethod
    def resolve_product_name(obj: Any) -> str:
        return obj.product.name


class PriceBookOut(Schema):
    id: int
    name: str
    currency: str
    is_default: bool
    active: bool
    valid_from: dt.date | None
    valid_until: dt.date | None
    entries: list[PriceEntryOut]

    @staticmethod
    def resolve_entries(obj: Any) -> list[Any]:
        return list(obj.entries.all())


# --- quotes and approvals ----------------------------------------------------------------------


class QuoteLineIn(Schema):
    product: int = Field(..., description="Product id.")
    quantity: Decimal = Field(Decimal(1), gt=0, max_digits=12, decimal_places=2)
    discount_percent: Decimal = Field(Decimal(0), **PERCENT)
    unit_price: Decimal | None = Field(None, description="Default: the price book's price.")
    description: str = Field("", max_length=255)


class QuoteIn(Schema):
    lines: list[QuoteLineIn] = Field(..., min_length=1, max_length=200)
    price_book: int | None = Field(None, description="Price book id; default: the default book.")
    discount_percent: Decimal = Field(Decimal(0), **PERCENT)
    valid_until: dt.date | None = None
    terms: str = ""


class QuoteReviseIn(Schema):
    """Only what is sent changes. A draft changes in place; a quote that is waiting, approved,
    sent or declined gets a new version (returned), and the old one is superseded."""

    lines: list[QuoteLineIn] | None = Field(None, min_length=1, max_length=200)
    discount_percent: Decimal | None = Field(None, **PERCENT)
    valid_until: dt.date | None = None
    terms: str | None = None


class QuoteOut(OwnerMixin):
    id: int
    number: str
    version: int
    status: str
    opportunity: int
    opportunity_name: str
    price_book: int
    currency: str
    discount_percent: float
    subtotal: float
    total: float
    effective_discount: float = Field(..., description="Total discount against list prices, %.")
    valid_until: dt.date | None
    sent_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_opportunity(obj: Any) -> int:
        return obj.opportunity_id

    @staticmethod
    def resolve_opportunity_name(obj: Any) -> str:
        return obj.opportunity.name

    @staticmethod
    def resolve_price_book(obj: Any) -> int:
        return obj.price_book_id


class QuoteLineOut(Schema):
    id: int
    product: int
    product_name: str
    description: str
    quantity: float
    list_price: float
    unit_price: float
    discount_percent: float
    line_total: float

    @staticmethod
    def resolve_product(obj: Any) -> int:
        return obj.product_id

    @staticmethod
    def resolve_product_name(obj: Any) -> str:
        return obj.product.name


class ApprovalStepOut(Schema):
    id: int
    level: str
    step: int
    approver_position: int
    approver_name: str | None
    status: str
    discount_percent: float
    decided_by: int | None
    decided_at: dt.datetime | None
    comment: str

    @staticmethod
    def resolve_approver_position(obj: Any) -> int:
        return obj.approver_position_id

    @staticmethod
    def resolve_approver_name(obj: Any) -> str | None:
        holder = obj.approver_position.holder
        return holder.get_full_name() if holder else None

    @staticmethod
    def resolve_decided_by(obj: Any) -> int | None:
        return obj.decided_by_id


class QuoteDetailOut(QuoteOut):
    terms: str
    lines: list[QuoteLineOut]
    approvals: list[ApprovalStepOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())

    @staticmethod
    def resolve_approvals(obj: Any) -> list[Any]:
        return list(obj.approvals.all())


class QuoteFilters(OwnedDrill, AccountDrill):
    q: str = Field("", description="Text in the number, the deal's or the account's name.")
    status: str = Field("", description="draft, pending_approval, approved, sent, ...")
    opportunity: int | None = None
    owner: int | None = Field(None, description="Owner position id.")
    account: int | None = None
    number: str = ""
    latest: bool | None = Field(None, description="true: hide superseded versions.")
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    # The KPI drill-down's (discounts; pipeline.selectors._quote_analytics_filter): the web
    # quote list's ``QUOTE_FILTERS``. A day that does not parse matches nothing.
    # (the owner's and the deal's account's: OwnedDrill, AccountDrill)
    sent_from: str = day("Sent on or after")
    sent_to: str = day("Sent on or before")
    product: str = Field("", description="The deal's product id.")
    type: str = Field("", description="The deal's type: new_business, renewal, ...")
    order: str = Field(
        "",
        description="-created_at (default), number, total, created_at, status or "
        "effective_discount; prefix - for descending.",
    )


class ApprovalOut(Schema):
    """A discount approval waiting for you (the current step of its quote)."""

    id: int
    quote: int
    quote_number: str
    quote_version: int
    quote_status: str
    opportunity: int
    opportunity_name: str
    account_name: str | None = Field(None, description="Null when outside your view.")
    owner: int = Field(..., description="Position id of the quote's owner.")
    owner_name: str | None
    level: str
    step: int
    approver_position: int
    status: str
    discount_percent: float
    total: float
    currency: str
    comment: str
    decided_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_quote(obj: Any) -> int:
        return obj.quote_id

    @staticmethod
    def resolve_quote_number(obj: Any) -> str:
        return obj.quote.number

    @staticmethod
    def resolve_quote_version(obj: Any) -> int:
        return obj.quote.version

    @staticmethod
    def resolve_quote_status(obj: Any) -> str:
        return obj.quote.status

    @staticmethod
    def resolve_opportunity(obj: Any) -> int:
        return obj.quote.opportunity_id

    @staticmethod
    def resolve_opportunity_name(obj: Any) -> str:
        return obj.quote.opportunity.name

    @staticmethod
    def resolve_account_name(obj: Any) -> str | None:
        return visible_account_name(obj, obj.quote.opportunity.account)

    @staticmethod
    def resolve_owner(obj: Any) -> int:
        return obj.quote.owner_position_id

    @staticmethod
    def resolve_owner_name(obj: Any) -> str | None:
        holder = obj.quote.owner_position.holder
        return holder.get_full_name() if holder else None

    @staticmethod
    def resolve_approver_position(obj: Any) -> int:
        return obj.approver_position_id

    @staticmethod
    def resolve_total(obj: Any) -> Any:
        return obj.quote.total

    @staticmethod
    def resolve_currency(obj: Any) -> str:
        return obj.quote.currency


class DecisionIn(Schema):
    approve: bool
    comment: str = ""


# --- renewals and cross-sell -------------------------------------------------------------------


class RenewalFilters(Schema):
    within_days: int = Field(120, ge=0, le=3650, description="Closing within this many days.")


class CrossSellOut(Schema):
    account: int
    account_name: str
    owner: int = Field(..., description="Position id of the account's owner.")
    product: int
    product_name: str
    similar_count: int = Field(..., description="Similar customers who bought the product.")
    similar_customers: int = Field(..., description="Similar customers in all.")
    share: float
    reasons: list[str]


class CrossSellPage(Schema):
    items: list[CrossSellOut]
    next: str | None = None
    total: int


class CrossSellFilters(Schema):
    account: int | None = Field(None, description="Only this account.")
    limit: int = Field(50, ge=1, le=200)
    min_similar: int = Field(1, ge=1)
