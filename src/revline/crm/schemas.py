"""API schemas of the CRM (``revline.crm.api``).

Output schemas read the querysets of ``revline.crm.selectors`` as they come: references to other
records are ids read from the row itself (``owner`` is the owner position's id, ``account`` the
account's id), and names shown beside them come from relations the selectors already select, so
a list costs the same queries at any size. Money is a JSON number, dates are ISO 8601.

Input schemas name records by id (positions, accounts, contacts, campaigns) and regions by code.
Every reference is loaded through the caller's visibility; an unknown or invisible one is a 422
on that field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from revline.crm.choices import (
    ActivityKind,
    ActivityOutcome,
    Authority,
    CompanySize,
    CustomerStatus,
    DisqualifyReason,
    LeadSource,
    LeadStatus,
)

MONEY = {"max_digits": 16, "decimal_places": 2, "ge": 0}


def day(what: str) -> Any:
    """An optional ISO day filter of a KPI drill-down (one that does not parse matches nothing)."""
    return Field("", description=f"{what} (YYYY-MM-DD).")


class OwnedDrill(Schema):
    """The KPI drill-down filters on a record's owner (``crm.selectors.owned_q``, the web lists'
    ``drill.OWNED``)."""

    under: str = Field("", description="Owned at or below this position id.")
    team: str = Field("", description="The owner's team id(s).")
    region: str = Field("", description="The owner's region id (its sub-regions included).")


class AccountDrill(Schema):
    """The KPI drill-down filters on a record's account (``crm.selectors.account_q``)."""

    sector: str = Field("", description="The account's sector.")
    size: str = Field("", description="The account's employee band(s), e.g. 51-200.")


def _holder_name(position: Any) -> str | None:
    holder = getattr(position, "holder", None) if position is not None else None
    return holder.get_full_name() if holder is not None else None


def visible_account_name(obj: Any, account: Any = None) -> str | None:
    """The name of ``obj``'s account when the caller sees it: the handlers annotate rows with
    ``account_visible`` (a record may point to an account outside its viewer's view)."""
    account = account if account is not None else getattr(obj, "account", None)
    if account is None or not getattr(obj, "account_visible", False):
        return None
    return account.name


class OwnerMixin(Schema):
    """``owner`` is the owning position's id; ``owner_name`` who holds it (null if vacant)."""

    owner: int = Field(..., description="Id of the position that owns the record.")
    owner_name: str | None = Field(None, description="Who holds that position (null if vacant).")

    @staticmethod
    def resolve_owner(obj: Any) -> int:
        return obj.owner_position_id

    @staticmethod
    def resolve_owner_name(obj: Any) -> str | None:
        return _holder_name(obj.owner_position)


class OwnedOut(Schema):
    """What every owned business record shows."""

    id: int
    external_id: str = Field(..., description="The record's id in the system it came from.")
    owner: int = Field(..., description="Id of the position that owns the record.")
    owner_name: str | None = Field(None, description="Who holds that position (null if vacant).")
    created_at: dt.datetime
    updated_at: dt.datetime

    resolve_owner = staticmethod(OwnerMixin.resolve_owner)
    resolve_owner_name = staticmethod(OwnerMixin.resolve_owner_name)


# --- accounts ----------------------------------------------------------------------------------


class AccountOut(OwnedOut):
    name: str
    parent: int | None = Field(None, description="Parent account id.")
    sector: str
    employees: int | None
    size: str
    annual_revenue: float | None
    region: str | None = Field(None, description="Region code.")
    country: str
    website: str
    year_established: int | None
    customer_status: CustomerStatus
    customer_since: dt.date | None
    custom: dict[str, Any]

    @staticmethod
    def resolve_parent(obj: Any) -> int | None:
        return obj.parent_id

    @staticmethod
    def resolve_region(obj: Any) -> str | None:
        return obj.region.code if obj.region_id else None


class AccountFilters(Schema):
    """Query parameters of ``GET /accounts`` (the web list's filters); all optional. Several
    values of one filter are separated by commas. ``cf_<key>`` filters on a custom field."""

    q: str = Field("", description="Text in the name or website, or the exact external id.")
    owner: str = Field("", description="Owner position id(s).")
    sector: str = ""
    region: str = Field("", description="Region code(s).")
    customer_status: str = Field("", description="prospect, customer, former, partner.")
    size: str = Field("", description="Employee band(s), e.g. 51-200.")
    parent: str = Field("", description="Parent account id(s).")
    country: str = ""
    external_id: str = Field("", description="Exact external id.")
    # The KPI drill-down's (net revenue retention): accounts with a recurring deal won in the
    # range, narrowed by the deal's filters (crm.selectors.RECURRING_KEYS, DEAL_KEYS).
    recurring_won_from: str = day("With a recurring deal you see won on or after")
    recurring_won_to: str = day("With a recurring deal you see won on or before")
    deal_under: str = Field("", description="That deal owned at or below this position id.")
    deal_owner: str = Field("", description="That deal's owner position id(s).")
    deal_team: str = Field("", description="That deal's owner's team id(s).")
    deal_region: str = Field("", description="That deal's owner's region.")
    deal_product: str = Field("", description="That deal's product id(s).")
    deal_type: str = Field("", description="That deal's type(s): new_business, renewal, ...")
    deal_sector: str = Field("", description="That deal's account's sector.")
    deal_size: str = Field("", description="That deal's account's employee band(s).")
    order: str = Field(
        "",
        description="name (default), sector, annual_revenue, employees, created_at or id; "
        "prefix - for descending.",
    )


class AccountIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    owner: int | None = Field(None, description="Owner position id; default: your position.")
    external_id: str = Field("", max_length=100)
    parent: int | None = Field(None, description="Parent account id.")
    sector: str = Field("", max_length=100)
    employees: int | None = Field(None, ge=0)
    size: CompanySize | None = Field(None, description="Default: from employees.")
    annual_revenue: Decimal | None = Field(None, **MONEY)
    region: str | None = Field(None, description="Region code.")
    country: str = Field("", max_length=100)
    website: str = Field("", max_length=200)
    year_established: int | None = Field(None, ge=0, le=9999)
    customer_status: CustomerStatus = CustomerStatus.PROSPECT
    customer_since: dt.date | None = None
    custom: dict[str, Any] = Field(default_factory=dict, description="Custom field values.")


class AccountPatch(Schema):
    """Only the fields sent change; null clears an optional reference or number."""

    name: str | None = Field(None, min_length=1, max_length=200)
    owner: int | None = Field(None, description="Owner position id.")
    external_id: str | None = Field(None, max_length=100)
    parent: int | None = None
    sector: str | None = Field(None, max_length=100)
    employees: int | None = Field(None, ge=0)
    size: CompanySize | None = None
    annual_revenue: Decimal | None = Field(None, **MONEY)
    region: str | None = None
    country: str | None = Field(None, max_length=100)
    website: str | None = Field(None, max_length=200)
    year_established: int | None = Field(None, ge=0, le=9999)
    customer_status: CustomerStatus | None = None
    customer_since: dt.date | None = None
    custom: dict[str, Any] | None = Field(None, description="Merged into the current values.")


# --- contacts ----------------------------------------------------------------------------------


class ContactOut(OwnedOut):
    name: str
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    account: int | None = Field(None, description="Account id.")
    account_name: str | None = Field(None, description="Null when outside your view.")
    custom: dict[str, Any]

    @staticmethod
    def resolve_account(obj: Any) -> int | None:
        return obj.account_id

    @staticmethod
    def resolve_account_name(obj: Any) -> str | None:
        return visible_account_name(obj)


class ContactFilters(Schema):
    q: str = Field("", description="Text in the name, e-mail or account name.")
    owner: str = Field("", description="Owner position id(s).")
    account: str = Field("", description="Account id(s).")
    email: str = Field("", description="Exact e-mail address.")
    external_id: str = Field("", description="Exact external id.")
    order: str = Field(
        "",
        description="last_name (default), first_name, email, created_at or id; prefix - for "
        "descending.",
    )


class ContactIn(Schema):
    last_name: str = Field(..., min_length=1, max_length=100)
    first_name: str = Field("", max_length=100)
    owner: int | None = Field(None, description="Owner position id; default: your position.")
    account: int | None = Field(None, description="Account id.")
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=50)
    title: str = Field("", max_length=150)
    external_id: str = Field("", max_length=100)
    custom: dict[str, Any] = Field(default_factory=dict)


class ContactPatch(Schema):
    last_name: str | None = Field(None, min_length=1, max_length=100)
    first_name: str | None = Field(None, max_length=100)
    owner: int | None = None
    account: int | None = None
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=50)
    title: str | None = Field(None, max_length=150)
    external_id: str | None = Field(None, max_length=100)
    custom: dict[str, Any] | None = None


# --- leads -------------------------------------------------------------------------------------


class LeadOut(OwnedOut):
    name: str
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    company: str
    sector: str
    employees: int | None
    annual_revenue: float | None
    region: str | None = Field(None, description="Region code.")
    country: str
    account: int | None = Field(None, description="Known account the lead works at.")
    status: LeadStatus
    disqualify_reason: str
    disqualify_note: str
    source: LeadSource
    source_name: str
    campaign: int | None = Field(None, description="Campaign id.")
    generated_by: int | None = Field(None, description="Position id of the BDR who found it.")
    qualified_by: int | None = Field(None, description="Position id of the SDR who qualified it.")
    received_by: int | None = Field(None, description="Position id of the AE who received it.")
    bant_budget: float | None
    bant_authority: str
    bant_need: str
    bant_timeline: dt.date | None
    first_touch_at: dt.datetime | None
    qualified_at: dt.datetime | None
    handed_over_at: dt.datetime | None
    converted_at: dt.datetime | None
    converted_account: int | None = None
    converted_contact: int | None = None
    converted_opportunity: int | None = None
    custom: dict[str, Any]

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return obj.name or ""

    @staticmethod
    def resolve_region(obj: Any) -> str | None:
        return obj.region.code if obj.region_id else None

    @staticmethod
    def resolve_account(obj: Any) -> int | None:
        return obj.account_id

    @staticmethod
    def resolve_campaign(obj: Any) -> int | None:
        return obj.campaign_id

    @staticmethod
    def resolve_generated_by(obj: Any) -> int | None:
        return obj.generated_by_id

    @staticmethod
    def resolve_qualified_by(obj: Any) -> int | None:
        return obj.qualified_by_id

    @staticmethod
    def resolve_received_by(obj: Any) -> int | None:
        return obj.received_by_id

    @staticmethod
    def resolve_converted_account(obj: Any) -> int | None:
        return obj.converted_account_id

    @staticmethod
    def resolve_converted_contact(obj: Any) -> int | None:
        return obj.converted_contact_id

    @staticmethod
    def resolve_converted_opportunity(obj: Any) -> int | None:
        return obj.converted_opportunity_id


class LeadFilters(Schema):
    q: str = Field("", description="Text in the name, e-mail or company, or the exact external id.")
    status: str = Field("", description="Status(es): new, contacted, qualifying, ...")
    source: str = Field("", description="Source(s): outbound, web, campaign, ...")
    owner: str = Field("", description="Owner position id(s).")
    region: str = Field("", description="Region code(s).")
    campaign: str = Field("", description="Campaign id(s).")
    external_id: str = Field("", description="Exact external id.")
    source_name: str = Field("", description="The import or data set it came from.")
    created_from: str = Field("", description="Created on or after (YYYY-MM-DD).")
    created_to: str = Field("", description="Created on or before (YYYY-MM-DD).")
    generated_by: str = Field("", description="BDR position id(s).")
    qualified_by: str = Field("", description="SDR position id(s).")
    received_by: str = Field("", description="AE position id(s).")
    sector: str = ""
    company: str = Field("", description="Text in the company name.")
    email: str = Field("", description="Exact e-mail address.")
    untouched: bool | None = Field(None, description="true: nobody has contacted it yet.")
    under: str = Field(
        "", description="Owner, BDR, SDR or receiving AE at or below this position id."
    )
    sql_from: str = Field("", description="Became sales-qualified on or after (YYYY-MM-DD).")
    sql_to: str = Field("", description="Became sales-qualified on or before (YYYY-MM-DD).")
    touched_from: str = Field("", description="First touched on or after (YYYY-MM-DD).")
    touched_to: str = Field("", description="First touched on or before (YYYY-MM-DD).")
    converted: bool | None = Field(None, description="true: became an opportunity.")
    generated: bool | None = Field(None, description="true: generated by a BDR.")
    sales_qualified: bool | None = Field(
        None, description="true: became sales-qualified (or was converted)."
    )
    won: bool | None = Field(None, description="true: converted into a deal that was won.")
    order: str = Field(
        "",
        description="-id (default: newest first), last_name, company, status, created_at, "
        "first_touch_at or id; prefix - for descending.",
    )


class LeadIn(Schema):
    """A lead needs at least a last name, an e-mail address or a company. Without ``owner`` the
    routing rules pick one, else it is yours."""

    owner: int | None = Field(None, description="Owner position id; default: routing, then you.")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=50)
    title: str = Field("", max_length=150)
    company: str = Field("", max_length=200)
    sector: str = Field("", max_length=100)
    employees: int | None = Field(None, ge=0)
    annual_revenue: Decimal | None = Field(None, **MONEY)
    region: str | None = Field(None, description="Region code.")
    country: str = Field("", max_length=100)
    account: int | None = Field(None, description="Account id, when the lead works at one.")
    source: LeadSource = LeadSource.OTHER
    source_name: str = Field("", max_length=100)
    campaign: int | None = Field(None, description="Campaign id.")
    external_id: str = Field("", max_length=100)
    custom: dict[str, Any] = Field(default_factory=dict)


class LeadPatch(Schema):
    """Only the fields sent change. The status changes through ``POST /leads/{id}/status``,
    ``/qualify`` and ``/convert``."""

    owner: int | None = None
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=50)
    title: str | None = Field(None, max_length=150)
    company: str | None = Field(None, max_length=200)
    sector: str | None = Field(None, max_length=100)
    employees: int | None = Field(None, ge=0)
    annual_revenue: Decimal | None = Field(None, **MONEY)
    region: str | None = None
    country: str | None = Field(None, max_length=100)
    account: int | None = None
    source: LeadSource | None = None
    source_name: str | None = Field(None, max_length=100)
    campaign: int | None = None
    external_id: str | None = Field(None, max_length=100)
    custom: dict[str, Any] | None = None


class LeadStatusIn(Schema):
    status: LeadStatus
    reason: DisqualifyReason | None = Field(None, description="Required to disqualify.")
    note: str = Field("", max_length=255)


class LeadQualifyIn(Schema):
    """BANT: the lead becomes sales-qualified. ``need`` is required (here or already known)."""

    budget: Decimal | None = Field(None, **MONEY)
    authority: Authority | None = None
    need: str = ""
    timeline: dt.date | None = Field(None, description="When the buyer means to buy.")


class LeadConvertIn(Schema):
    """The hand-off to an AE: see ``POST /leads/{id}/convert`` in docs/api.md."""

    ae_position: int = Field(..., description="Position id of the AE who receives the lead.")
    account: int | None = Field(None, description="Use this account instead of matching one.")
    contact: int | None = Field(None, description="Use this contact instead of matching one.")
    opportunity_name: str = Field("", max_length=200)
    amount: Decimal | None = Field(None, max_digits=14, decimal_places=2, ge=0)
    close_date: dt.date | None = None
    product: int | None = Field(None, description="Product id.")


class LeadConvertOut(Schema):
    account: int = Field(..., description="Account id (matched or created).")
    contact: int | None = Field(..., description="Contact id (matched or created).")
    opportunity: int = Field(..., description="The new opportunity's id.")
    account_matched: bool
    contact_matched: bool


class LeadStatusChangeOut(Schema):
    id: int
    from_status: str
    to_status: LeadStatus
    at: dt.datetime
    by: int | None = Field(None, description="User id.")
    owner: int | None = Field(None, description="Owner position id after the change.")
    note: str

    @staticmethod
    def resolve_by(obj: Any) -> int | None:
        return obj.by_id

    @staticmethod
    def resolve_owner(obj: Any) -> int | None:
        return obj.owner_position_id


# --- activities --------------------------------------------------------------------------------


class ActivityOut(Schema):
    id: int
    kind: ActivityKind
    subject: str
    body: str
    occurred_at: dt.datetime
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    outcome: str
    owner: int
    lead: int | None = None
    contact: int | None = None
    account: int | None = None
    opportunity: int | None = None
    created_by: int | None = Field(None, description="User id.")
    created_at: dt.datetime

    @staticmethod
    def resolve_owner(obj: Any) -> int:
        return obj.owner_position_id

    @staticmethod
    def resolve_lead(obj: Any) -> int | None:
        return obj.lead_id

    @staticmethod
    def resolve_contact(obj: Any) -> int | None:
        return obj.contact_id

    @staticmethod
    def resolve_account(obj: Any) -> int | None:
        return obj.account_id

    @staticmethod
    def resolve_opportunity(obj: Any) -> int | None:
        return obj.opportunity_id

    @staticmethod
    def resolve_created_by(obj: Any) -> int | None:
        return obj.created_by_id


class ActivityFilters(OwnedDrill):
    kind: str = Field("", description="Kind(s): call, email, meeting, ...")
    owner: str = Field("", description="Owner position id(s).")
    open: bool | None = Field(None, description="true: not done yet (open tasks).")
    outcome: str = Field("", description="Outcome(s): connected, meeting_booked, ...")
    occurred_from: str = day("Happened on or after")
    occurred_to: str = day("Happened on or before")
    due_from: str = day("Due on or after")
    due_to: str = day("Due on or before")
    overdue_on: str = day("Overdue at the end of this day (or now, if sooner)")
    lead: int | None = Field(None, description="Only this lead's activities.")
    contact: int | None = None
    account: int | None = None
    opportunity: int | None = None


class ActivityLogIn(Schema):
    """Log an activity, or plan a task: a task needs ``due_at``; other kinds are done when
    logged unless ``done`` is false."""

    kind: ActivityKind
    subject: str = Field("", max_length=200, description="Default: the kind's name.")
    body: str = ""
    outcome: ActivityOutcome = ActivityOutcome.NONE
    occurred_at: dt.datetime | None = Field(None, description="Default: now.")
    due_at: dt.datetime | None = None
    done: bool | None = None
    owner: int | None = Field(None, description="Owner position id; default: your position.")


class ActivityIn(ActivityLogIn):
    """An activity on a lead, contact, account or opportunity (at least one of them)."""

    lead: int | None = None
    contact: int | None = None
    account: int | None = None
    opportunity: int | None = None


class ActivityCompleteIn(Schema):
    outcome: ActivityOutcome = ActivityOutcome.NONE


# --- campaigns, prospect lists, complaints, surveys ----------------------------------------------


class CampaignOut(OwnedOut):
    name: str
    kind: str
    status: str
    start_date: dt.date | None
    end_date: dt.date | None
    cost: float
    currency: str
    lead_count: int = Field(0, description="Leads attributed to the campaign.")


class CampaignFilters(Schema):
    q: str = ""
    status: str = Field("", description="planned, active, completed, aborted.")
    kind: str = ""
    external_id: str = ""
    id: str = Field("", description="Campaign id(s).")
    started_from: str = day("Started on or after")
    started_to: str = day("Started on or before")


class ProspectListOut(OwnerMixin):
    id: int
    name: str
    description: str
    rule: dict[str, Any]
    member_count: int = 0
    created_at: dt.datetime


class ProspectListIn(Schema):
    name: str = Field(..., min_length=1, max_length=150)
    description: str = ""
    owner: int | None = Field(None, description="Owner position id; default: your position.")
    rule: dict[str, Any] = Field(
        default_factory=dict, description="Lead filters (as GET /leads) that refresh adds."
    )


class ProspectMembersIn(Schema):
    leads: list[int] = Field(..., min_length=1, max_length=1000, description="Lead ids.")


class ProspectMembersOut(Schema):
    added: int
    total: int = Field(..., description="Members on the list now (that you may see).")


class ProspectMemberOut(Schema):
    lead: LeadOut
    added_at: dt.datetime
    how: str


class ComplaintOut(OwnerMixin):
    id: int
    subject: str
    description: str
    severity: str
    status: str
    account: int
    account_name: str | None = Field(None, description="Null when outside your view.")
    contact: int | None = None
    opportunity: int | None = None
    raised_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str

    @staticmethod
    def resolve_account(obj: Any) -> int:
        return obj.account_id

    @staticmethod
    def resolve_account_name(obj: Any) -> str | None:
        return visible_account_name(obj)

    @staticmethod
    def resolve_contact(obj: Any) -> int | None:
        return obj.contact_id

    @staticmethod
    def resolve_opportunity(obj: Any) -> int | None:
        return obj.opportunity_id


class ComplaintFilters(OwnedDrill, AccountDrill):
    q: str = ""
    status: str = Field("", description="open, in_progress, resolved.")
    open: bool | None = Field(None, description="true: not resolved.")
    severity: str = ""
    account: str = Field("", description="Account id(s).")
    owner: str = Field("", description="Owner position id(s).")
    raised_from: str = day("Raised on or after")
    raised_to: str = day("Raised on or before")
    open_on: str = day("Open at the end of this day (or now, if sooner), resolved since or not")


class SurveyOut(Schema):
    id: int
    kind: str
    score: int
    comment: str
    account: int
    account_name: str | None = Field(None, description="Null when outside your view.")
    contact: int | None = None
    owner: int
    responded_at: dt.datetime

    @staticmethod
    def resolve_account(obj: Any) -> int:
        return obj.account_id

    @staticmethod
    def resolve_account_name(obj: Any) -> str | None:
        return visible_account_name(obj)

    @staticmethod
    def resolve_contact(obj: Any) -> int | None:
        return obj.contact_id

    @staticmethod
    def resolve_owner(obj: Any) -> int:
        return obj.owner_position_id


class SurveyFilters(OwnedDrill, AccountDrill):
    kind: str = Field("", description="csat or nps.")
    account: str = Field("", description="Account id(s).")
    owner: str = Field("", description="Owner position id(s).")
    responded_from: str = day("Answered on or after")
    responded_to: str = day("Answered on or before")
