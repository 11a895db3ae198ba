"""Writes for the CRM: accounts, contacts, leads and their hand-off, activities, prospect lists,
campaigns, referrals, complaints and satisfaction surveys.

Every function is keyword-only, runs in one transaction and writes its audit event. The lead
flow (DESIGN.md §2) is kept as history: each status change is a ``LeadStatusChange`` row with
who, when and the owner after the change, so speed to lead and conversion rates are computed
from what happened, never from a snapshot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from rapidfuzz import fuzz, process

from revline.core.services import actor_or_none, audit_event_record, diff_fields
from revline.crm.choices import (
    LEAD_TRANSITIONS,
    TOUCH_KINDS,
    ActivityKind,
    ActivityOutcome,
    Authority,
    CompanySize,
    ComplaintStatus,
    CustomerStatus,
    DisqualifyReason,
    LeadSource,
    LeadStatus,
    ProspectSource,
    ReferralOutcome,
    RoutingMethod,
    SurveyKind,
)
from revline.crm.custom_fields import custom_values_clean
from revline.crm.models import (
    Account,
    Activity,
    Campaign,
    Complaint,
    Contact,
    Lead,
    LeadStatusChange,
    ProspectList,
    ProspectListMember,
    Referral,
    RoutingRule,
    SatisfactionResponse,
)
from revline.crm.names import block_key, normalize_company, normalize_email
from revline.org.choices import RoleType
from revline.org.models import Position, Region

# Roles that may receive a sales-qualified lead and own the opportunity it opens.
SELLING_ROLES = frozenset(
    {RoleType.AE, RoleType.TEAM_LEAD, RoleType.SALES_MANAGER, RoleType.VP_SALES, RoleType.CSO}
)
# Fuzzy company-name similarity (0-100) above which two accounts are taken as one.
ACCOUNT_MATCH_SCORE = 90

ACCOUNT_FIELDS = frozenset(
    {
        "name",
        "external_id",
        "parent",
        "sector",
        "employees",
        "size",
        "annual_revenue",
        "region",
        "country",
        "website",
        "year_established",
        "customer_status",
        "customer_since",
        "custom",
        "owner_position",
        "is_generated",
    }
)
CONTACT_FIELDS = frozenset(
    {
        "account",
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "external_id",
        "custom",
        "owner_position",
        "is_generated",
    }
)
LEAD_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "company",
        "sector",
        "employees",
        "annual_revenue",
        "region",
        "country",
        "account",
        "source",
        "source_name",
        "campaign",
        "generated_by",
        "bant_budget",
        "bant_authority",
        "bant_need",
        "bant_timeline",
        "outcome",
        "external_id",
        "custom",
        "is_generated",
    }
)


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


def _only(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Unknown {what} field(s): {', '.join(sorted(unknown))}.")


def _clean(instance: Any, exclude: list[str]) -> None:
    instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)


def actor_position(user: Any, *, roles: frozenset[str] | set[str] | None = None) -> Position | None:
    """The position ``user`` acts from: their first (by seniority of creation) position, or the
    first of one of ``roles``."""
    if not getattr(user, "pk", None):
        return None
    qs = Position.objects.filter(holder_id=user.pk)
    if roles:
        qs = qs.filter(role__in=list(roles))
    return qs.order_by("id").first()


def _require_position(position: Any, field: str = "owner_position") -> Position:
    if not isinstance(position, Position):
        raise ValidationError({field: "Choose the position that owns this record."})
    return position


# --- accounts and contacts ---------------------------------------------------------------------


def _account_values(fields: dict[str, Any], *, partial: bool, current: dict | None = None) -> dict:
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise ValidationError({"name": "An account needs a name."})
        fields["normalized_name"] = normalize_company(fields["name"])
    if "employees" in fields and "size" not in fields:
        fields["size"] = CompanySize.for_employees(fields["employees"])
    if "custom" in fields:
        merged = {**(current or {}), **(fields["custom"] or {})} if partial else fields["custom"]
        fields["custom"] = custom_values_clean(entity="account", values=merged or {})
    return fields


@transaction.atomic
def account_create(*, by: Any, owner_position: Position, name: str, **fields: Any) -> Account:
    _only(fields, ACCOUNT_FIELDS, "account")
    _require_position(owner_position)
    values = _account_values(
        {"name": name, "custom": fields.pop("custom", {}), **fields}, partial=False
    )
    account = Account(owner_position=owner_position, **values)
    _clean(account, ["owner_position", "custom", "normalized_name"])
    account.save()
    audit_event_record(actor=by, action="account.create", instance=account)
    return account


@transaction.atomic
def account_update(*, account: Account, by: Any, **fields: Any) -> Account:
    _only(fields, ACCOUNT_FIELDS, "account")
    if fields.get("parent") is not None:
        parent = fields["parent"]
        seen = {account.pk}
        while parent is not None:
            if parent.pk in seen:
                raise ValidationError({"parent": "An account cannot be its own parent."})
            seen.add(parent.pk)
            parent = parent.parent
    values = _account_values(dict(fields), partial=True, current=account.custom)
    account = Account.objects.select_for_update().get(pk=account.pk)
    changes = diff_fields(account, values)
    changes.pop("normalized_name", None)
    if changes:
        _clean(account, ["owner_position", "custom", "normalized_name"])
        account.save()
        audit_event_record(actor=by, action="account.update", instance=account, changes=changes)
    return account


def account_match(*, name: str) -> Account | None:
    """An existing account that is the company called ``name``: the same normalised name, else
    the closest fuzzy match above ``ACCOUNT_MATCH_SCORE`` among names sharing its first letters.
    Matches across the whole organisation (a duplicate is a duplicate, whoever owns it)."""
    normalized = normalize_company(name)
    if not normalized:
        return None
    live = Account.objects.filter(merged_into__isnull=True)
    exact = live.filter(normalized_name=normalized).order_by("id").first()
    if exact is not None:
        return exact
    candidates = dict(
        live.filter(normalized_name__startswith=block_key(normalized)[:1])
        .exclude(normalized_name="")
        .values_list("id", "normalized_name")[:5000]
    )
    if not candidates:
        return None
    best = process.extractOne(
        normalized, candidates, scorer=fuzz.token_sort_ratio, score_cutoff=ACCOUNT_MATCH_SCORE
    )
    return live.get(pk=best[2]) if best else None


def _contact_values(fields: dict[str, Any], *, partial: bool, current: dict | None = None) -> dict:
    for key in ("first_name", "last_name", "phone", "title"):
        if key in fields:
            fields[key] = (fields[key] or "").strip()
    if "last_name" in fields and not fields["last_name"]:
        raise ValidationError({"last_name": "A contact needs a last name."})
    if "email" in fields:
        fields["email"] = normalize_email(fields["email"])
    if "custom" in fields:
        merged = {**(current or {}), **(fields["custom"] or {})} if partial else fields["custom"]
        fields["custom"] = custom_values_clean(entity="contact", values=merged or {})
    return fields


@transaction.atomic
def contact_create(
    *,
    by: Any,
    owner_position: Position,
    last_name: str,
    account: Account | None = None,
    **fields: Any,
) -> Contact:
    _only(fields, CONTACT_FIELDS, "contact")
    _require_position(owner_position)
    values = _contact_values(
        {"last_name": last_name, "custom": fields.pop("custom", {}), **fields}, partial=False
    )
    contact = Contact(owner_position=owner_position, account=account, **values)
    _clean(contact, ["owner_position", "custom"])
    contact.save()
    audit_event_record(actor=by, action="contact.create", instance=contact)
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, by: Any, **fields: Any) -> Contact:
    _only(fields, CONTACT_FIELDS, "contact")
    values = _contact_values(dict(fields), partial=True, current=contact.custom)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    changes = diff_fields(contact, values)
    if changes:
        _clean(contact, ["owner_position", "custom"])
        contact.save()
        audit_event_record(actor=by, action="contact.update", instance=contact, changes=changes)
    return contact


def contact_match(*, email: str, account: Account | None = None) -> Contact | None:
    """An existing contact with this e-mail address (in ``account`` first)."""
    email = normalize_email(email)
    if not email:
        return None
    live = Contact.objects.filter(merged_into__isnull=True, email=email)
    if account is not None:
        found = live.filter(account=account).order_by("id").first()
        if found is not None:
            return found
    return live.order_by("id").first()


# --- leads -------------------------------------------------------------------------------------


def _status_change(
    lead: Lead, *, from_status: str, to_status: str, by: Any, at: dt.datetime, note: str = ""
) -> LeadStatusChange:
    return LeadStatusChange.objects.create(
        lead=lead,
        from_status=from_status,
        to_status=to_status,
        at=at,
        by=actor_or_none(by),
        owner_position_id=lead.owner_position_id,
        note=note[:255],
    )


# Lead links the hand-off and merges set, never a lead edit (no database constraint either).
LEAD_FLOW_LINKS = (
    "qualified_by",
    "received_by",
    "converted_account",
    "converted_contact",
    "converted_opportunity",
    "merged_into",
)


def _rescore(*lead_ids: int) -> None:
    """The leads' scored inputs changed: lead scoring rescores them in the background once
    the transaction commits."""
    from revline.scoring.changes import leads_changed  # scoring reads the CRM: imported late

    leads_changed(lead_ids=lead_ids)


def _lead_values(fields: dict[str, Any], *, partial: bool, current: dict | None = None) -> dict:
    for key in ("first_name", "last_name", "phone", "title", "company", "sector", "country"):
        if key in fields:
            fields[key] = (fields[key] or "").strip()
    if "email" in fields:
        fields["email"] = normalize_email(fields["email"])
    if "source" in fields and fields["source"] not in LeadSource.values:
        raise ValidationError({"source": f"Unknown lead source {fields['source']!r}."})
    if fields.get("bant_authority") and fields["bant_authority"] not in Authority.values:
        raise ValidationError(
            {"bant_authority": f"Unknown authority {fields['bant_authority']!r}."}
        )
    if "custom" in fields:
        merged = {**(current or {}), **(fields["custom"] or {})} if partial else fields["custom"]
        fields["custom"] = custom_values_clean(entity="lead", values=merged or {})
    return fields


@transaction.atomic
def lead_create(
    *,
    by: Any,
    owner_position: Position | None = None,
    route: bool = True,
    at: dt.datetime | None = None,
    **fields: Any,
) -> Lead:
    """A new lead. Without an owner, the routing rules pick one (``lead_route``), else the
    creator's own position. A BDR creating a lead is recorded as the one who generated it."""
    _only(fields, LEAD_FIELDS, "lead")
    values = _lead_values({"custom": fields.pop("custom", {}), **fields}, partial=False)
    if not (values.get("last_name") or values.get("email") or values.get("company")):
        raise ValidationError("A lead needs at least a name, an e-mail address or a company.")
    if "generated_by" not in values:
        values["generated_by"] = actor_position(by, roles={RoleType.BDR})
    lead = Lead(**values)
    if owner_position is None and route:
        owner_position = lead_route(lead=lead)
    if owner_position is None:
        owner_position = actor_position(by)
    lead.owner_position = _require_position(owner_position)
    _clean(lead, ["owner_position", "custom", "converted_opportunity"])
    now = _now(at)
    lead.save()
    if at is not None:
        Lead.objects.filter(pk=lead.pk).update(created_at=at)
        lead.created_at = at
    _status_change(lead, from_status="", to_status=LeadStatus.NEW, by=by, at=now)
    audit_event_record(actor=by, action="lead.create", instance=lead)
    _rescore(lead.pk)
    return lead


@transaction.atomic
def lead_update(*, lead: Lead, by: Any, **fields: Any) -> Lead:
    _only(fields, LEAD_FIELDS | {"owner_position"}, "lead")
    if "owner_position" in fields:
        _require_position(fields["owner_position"])
    values = _lead_values(dict(fields), partial=True, current=lead.custom)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    changes = diff_fields(lead, values)
    if changes:
        # the links set by the flow (and kept without a database constraint) are not this
        # edit's to check: a link to a since-deleted row must not make the lead uneditable
        _clean(lead, ["owner_position", "custom", *LEAD_FLOW_LINKS])
        lead.save()
        audit_event_record(actor=by, action="lead.update", instance=lead, changes=changes)
        _rescore(lead.pk)
    return lead


@transaction.atomic
def lead_assign(*, lead: Lead, to_position: Position, by: Any, note: str = "") -> Lead:
    """Hand a lead to another position (a BDR passing it to an SDR, a manager re-routing)."""
    _require_position(to_position, "to_position")
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status == LeadStatus.CONVERTED:
        raise ValidationError("A converted lead is closed; work its opportunity instead.")
    if lead.owner_position_id == to_position.pk:
        return lead
    before = lead.owner_position
    lead.owner_position = to_position
    lead.save(update_fields=["owner_position", "updated_at"])
    _status_change(
        lead,
        from_status=lead.status,
        to_status=lead.status,
        by=by,
        at=timezone.now(),
        note=note or f"Assigned to {to_position}",
    )
    audit_event_record(
        actor=by, action="lead.assign", instance=lead, changes={"owner": (before, to_position)}
    )
    return lead


@transaction.atomic
def lead_set_status(
    *,
    lead: Lead,
    status: str,
    by: Any,
    reason: str = "",
    note: str = "",
    at: dt.datetime | None = None,
) -> Lead:
    """Move a lead along its life (``LEAD_TRANSITIONS``). Disqualifying needs a reason;
    converting goes through ``lead_convert`` and qualifying may go through ``lead_qualify``."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if status not in LeadStatus.values:
        raise ValidationError({"status": f"Unknown lead status {status!r}."})
    if status == lead.status:
        return lead
    if status == LeadStatus.CONVERTED:
        raise ValidationError({"status": "Convert a sales-qualified lead with the hand-off."})
    if status not in LEAD_TRANSITIONS[lead.status]:
        raise ValidationError(
            {
                "status": f"A {LeadStatus(lead.status).label.lower()} lead cannot become "
                f"{LeadStatus(status).label.lower()}."
            }
        )
    now = _now(at)
    changes: dict[str, tuple[Any, Any]] = {"status": (lead.status, status)}
    if status == LeadStatus.DISQUALIFIED:
        if reason not in DisqualifyReason.values:
            raise ValidationError({"reason": "Say why the lead is disqualified."})
        lead.disqualify_reason = reason
        lead.disqualify_note = note[:255]
        changes["disqualify_reason"] = ("", reason)
    if status == LeadStatus.SALES_QUALIFIED:
        lead.qualified_by = lead.qualified_by or actor_position(by) or lead.owner_position
        lead.qualified_at = now
    previous = lead.status
    lead.status = status
    lead.save()
    _status_change(lead, from_status=previous, to_status=status, by=by, at=now, note=note)
    audit_event_record(actor=by, action="lead.status", instance=lead, changes=changes)
    _rescore(lead.pk)
    return lead


@transaction.atomic
def lead_qualify(
    *,
    lead: Lead,
    by: Any,
    budget: Decimal | None = None,
    authority: str = "",
    need: str = "",
    timeline: dt.date | None = None,
    at: dt.datetime | None = None,
) -> Lead:
    """Record the BANT qualification and make the lead sales-qualified. ``need`` is required:
    a lead without a stated need is not sales-ready."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED):
        raise ValidationError(
            f"A {LeadStatus(lead.status).label.lower()} lead cannot be qualified; recycle it first."
        )
    if not (need or lead.bant_need).strip():
        raise ValidationError({"need": "Describe the need the buyer has."})
    if authority and authority not in Authority.values:
        raise ValidationError({"authority": f"Unknown authority {authority!r}."})
    if budget is not None and Decimal(budget) < 0:
        raise ValidationError({"budget": "A budget cannot be negative."})
    now = _now(at)
    values = {
        "bant_budget": budget if budget is not None else lead.bant_budget,
        "bant_authority": authority or lead.bant_authority,
        "bant_need": (need or lead.bant_need).strip(),
        "bant_timeline": timeline or lead.bant_timeline,
        "status": LeadStatus.SALES_QUALIFIED,
        "qualified_by": actor_position(by, roles={RoleType.SDR})
        or actor_position(by)
        or lead.owner_position,
        "qualified_at": now,
    }
    previous = lead.status
    changes = diff_fields(lead, values)
    lead.save()
    if previous != LeadStatus.SALES_QUALIFIED:
        _status_change(
            lead, from_status=previous, to_status=LeadStatus.SALES_QUALIFIED, by=by, at=now
        )
    audit_event_record(actor=by, action="lead.qualify", instance=lead, changes=changes)
    _rescore(lead.pk)
    return lead


@dataclass
class ConvertResult:
    account: Account
    contact: Contact | None
    opportunity: Any
    account_matched: bool
    contact_matched: bool


@transaction.atomic
def lead_convert(
    *,
    lead: Lead,
    by: Any,
    ae_position: Position,
    account: Account | None = None,
    contact: Contact | None = None,
    opportunity_name: str = "",
    amount: Decimal | None = None,
    close_date: dt.date | None = None,
    product: Any = None,
    at: dt.datetime | None = None,
) -> ConvertResult:
    """The SDR -> AE hand-off, in one transaction: match the lead's company to an existing
    account (or create one owned by the AE), match its person to a contact by e-mail (or create
    one), open a new-business opportunity owned by ``ae_position`` in the default pipeline's
    first stage, and close the lead as converted with who received it."""
    from revline.pipeline.choices import OpportunityType
    from revline.pipeline.services import opportunity_create

    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    if lead.status != LeadStatus.SALES_QUALIFIED:
        raise ValidationError(
            "Only a sales-qualified lead can be handed to an AE; qualify it first."
        )
    _require_position(ae_position, "ae_position")
    if ae_position.role not in SELLING_ROLES:
        raise ValidationError({"ae_position": "Hand the lead to an account executive's position."})
    now = _now(at)

    account_matched = account is not None
    if account is None and lead.account_id:
        account, account_matched = lead.account, True
    if account is None and lead.company:
        account = account_match(name=lead.company)
        account_matched = account is not None
    if account is None:
        account = account_create(
            by=by,
            owner_position=ae_position,
            name=lead.company or lead.name,
            sector=lead.sector,
            employees=lead.employees,
            annual_revenue=lead.annual_revenue,
            region=lead.region,
            country=lead.country,
        )

    contact_matched = contact is not None
    if contact is None and lead.email:
        contact = contact_match(email=lead.email, account=account)
        contact_matched = contact is not None
    if contact is None and (lead.last_name or lead.first_name):
        contact = contact_create(
            by=by,
            owner_position=ae_position,
            account=account,
            first_name=lead.first_name,
            last_name=lead.last_name or lead.first_name,
            email=lead.email,
            phone=lead.phone,
            title=lead.title,
        )
    elif contact is not None and contact.account_id is None:
        contact_update(contact=contact, by=by, account=account)

    opportunity = opportunity_create(
        by=by,
        owner_position=ae_position,
        name=opportunity_name.strip() or f"{account.name}: new business",
        account=account,
        contact=contact,
        type=OpportunityType.NEW_BUSINESS,
        amount=amount if amount is not None else lead.bant_budget,
        close_date=close_date or lead.bant_timeline,
        product=product,
        campaign=lead.campaign,
        lead=lead,
        engaged_on=timezone.localdate(now) if timezone.is_aware(now) else now.date(),
        at=at,
    )

    previous = lead.status
    lead.status = LeadStatus.CONVERTED
    lead.received_by = ae_position
    lead.handed_over_at = now
    lead.converted_at = now
    lead.converted_account = account
    lead.converted_contact = contact
    lead.converted_opportunity = opportunity
    if lead.qualified_by_id is None:
        lead.qualified_by = actor_position(by) or lead.owner_position
    lead.save()
    _status_change(
        lead,
        from_status=previous,
        to_status=LeadStatus.CONVERTED,
        by=by,
        at=now,
        note=f"Handed to {ae_position}",
    )
    Referral.objects.filter(lead=lead, outcome=ReferralOutcome.PENDING).update(
        outcome=ReferralOutcome.QUALIFIED
    )
    audit_event_record(
        actor=by,
        action="lead.convert",
        instance=lead,
        changes={
            "status": (previous, LeadStatus.CONVERTED),
            "received_by": (None, ae_position),
            "account": (None, account),
            "contact": (None, contact),
            "opportunity": (None, opportunity),
        },
    )
    _rescore(lead.pk)
    return ConvertResult(account, contact, opportunity, account_matched, contact_matched)


# --- routing -----------------------------------------------------------------------------------


def _region_matches(rule_region_id: int | None, lead_region: Region | None) -> bool:
    if rule_region_id is None:
        return True
    region = lead_region
    while region is not None:
        if region.pk == rule_region_id:
            return True
        region = region.parent
    return False


def _rule_candidates(rule: RoutingRule) -> list[tuple[Position, int]]:
    """(position, capacity) of the rule's members who have not opted out, in a stable order;
    a rule with a team and no members routes to the team's SDRs."""
    members = [
        (m.position, m.capacity)
        for m in rule.members.select_related("position", "position__region").order_by("id")
        if not m.opted_out
    ]
    if not members and rule.team_id and not rule.members.exists():
        members = [
            (p, 100)
            for p in Position.objects.filter(team_id=rule.team_id, role=RoleType.SDR)
            .select_related("region")
            .order_by("id")
        ]
    return members


def _next_in_turn(rule: RoutingRule, positions: list[Position]) -> Position:
    ids = [p.pk for p in positions]
    if rule.last_assigned_id in ids:
        return positions[(ids.index(rule.last_assigned_id) + 1) % len(positions)]
    if rule.last_assigned_id is not None:
        later = [p for p in positions if p.pk > rule.last_assigned_id]
        if later:
            return later[0]
    return positions[0]


def lead_route(*, lead: Lead) -> Position | None:
    """The position a new lead goes to: the first active rule (by priority) that matches the
    lead's region and source and has someone available. Round-robin takes turns; territory
    keeps to members whose position covers the lead's region; capacity picks the member with
    the most room left under their cap over the rule's window. Members who opted out are
    skipped. None when no rule applies (the caller decides)."""
    rules = RoutingRule.objects.select_for_update().filter(active=True).order_by("priority", "id")
    for rule in rules:
        if rule.source and rule.source != lead.source:
            continue
        if not _region_matches(rule.region_id, lead.region):
            continue
        candidates = _rule_candidates(rule)
        if rule.method == RoutingMethod.TERRITORY:
            candidates = [
                (p, c)
                for p, c in candidates
                if p.region_id is not None and _region_matches(p.region_id, lead.region)
            ]
        if not candidates:
            continue
        if rule.method == RoutingMethod.CAPACITY:
            since = timezone.now() - dt.timedelta(days=rule.window_days)
            received = dict(
                LeadStatusChange.objects.filter(
                    at__gte=since,
                    owner_position_id__in=[p.pk for p, _ in candidates],
                    to_status=LeadStatus.NEW,
                    from_status="",
                )
                .values("owner_position_id")
                .annotate(n=Count("id"))
                .values_list("owner_position_id", "n")
            )
            room = [
                (cap - received.get(p.pk, 0), -received.get(p.pk, 0), -p.pk, p)
                for p, cap in candidates
            ]
            room = [r for r in room if r[0] > 0]
            if not room:
                continue
            chosen = max(room, key=lambda r: r[:3])[3]
        else:
            chosen = _next_in_turn(rule, [p for p, _ in candidates])
        rule.last_assigned = chosen
        rule.save(update_fields=["last_assigned", "updated_at"])
        return chosen
    return None


# --- activities --------------------------------------------------------------------------------


@transaction.atomic
def activity_log(
    *,
    by: Any,
    kind: str,
    subject: str,
    owner_position: Position | None = None,
    lead: Lead | None = None,
    contact: Contact | None = None,
    account: Account | None = None,
    opportunity: Any = None,
    occurred_at: dt.datetime | None = None,
    due_at: dt.datetime | None = None,
    body: str = "",
    outcome: str = "",
    done: bool | None = None,
    is_generated: bool = False,
) -> Activity:
    """Log a call, e-mail, meeting, discovery call, demo or note, or plan a task. A touch on a
    lead records its first touch (speed to lead) and moves a new lead to contacted."""
    if kind not in ActivityKind.values:
        raise ValidationError({"kind": f"Unknown activity kind {kind!r}."})
    if outcome and outcome not in ActivityOutcome.values:
        raise ValidationError({"outcome": f"Unknown outcome {outcome!r}."})
    subject = (subject or "").strip() or ActivityKind(kind).label
    if not any((lead, contact, account, opportunity)):
        raise ValidationError(
            "Log the activity on a lead, a contact, an account or an opportunity."
        )
    if kind == ActivityKind.TASK and due_at is None:
        raise ValidationError({"due_at": "A task needs a due date."})
    if opportunity is not None and account is None:
        account = opportunity.account
    if contact is not None and account is None:
        account = contact.account
    target_owner = next(
        (t.owner_position for t in (opportunity, lead, contact, account) if t is not None), None
    )
    owner_position = owner_position or actor_position(by) or target_owner
    now = timezone.now()
    occurred_at = occurred_at or now
    if done is None:
        done = kind != ActivityKind.TASK
    activity = Activity.objects.create(
        owner_position=_require_position(owner_position),
        kind=kind,
        subject=subject[:200],
        body=body,
        occurred_at=occurred_at,
        due_at=due_at,
        done_at=occurred_at if done else None,
        outcome=outcome,
        lead=lead,
        contact=contact,
        account=account,
        opportunity=opportunity,
        created_by=actor_or_none(by),
        is_generated=is_generated,
    )
    rescored = False
    if lead is not None and kind in TOUCH_KINDS and done:
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.first_touch_at is None or occurred_at < lead.first_touch_at:
            lead.first_touch_at = occurred_at
            lead.save(update_fields=["first_touch_at", "updated_at"])
        if lead.status == LeadStatus.NEW:
            lead_set_status(lead=lead, status=LeadStatus.CONTACTED, by=by, at=occurred_at)
            rescored = True  # the status change queued the lead's rescore
    audit_event_record(actor=by, action="activity.create", instance=activity)
    if lead is not None and not rescored:
        _rescore(lead.pk)
    return activity


@transaction.atomic
def activity_complete(*, activity: Activity, by: Any, outcome: str = "") -> Activity:
    if outcome and outcome not in ActivityOutcome.values:
        raise ValidationError({"outcome": f"Unknown outcome {outcome!r}."})
    if activity.done_at is not None:
        return activity
    activity.done_at = timezone.now()
    activity.outcome = outcome or activity.outcome or ActivityOutcome.COMPLETED
    activity.save(update_fields=["done_at", "outcome", "updated_at"])
    audit_event_record(
        actor=by,
        action="activity.complete",
        instance=activity,
        changes={"done_at": (None, activity.done_at), "outcome": ("", activity.outcome)},
    )
    return activity


# --- prospect lists ----------------------------------------------------------------------------


@transaction.atomic
def prospect_list_create(
    *,
    by: Any,
    name: str,
    owner_position: Position | None = None,
    description: str = "",
    rule: dict | None = None,
) -> ProspectList:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A list needs a name."})
    prospect_list = ProspectList.objects.create(
        owner_position=_require_position(owner_position or actor_position(by)),
        name=name,
        description=description,
        rule=_clean_rule(rule),
    )
    audit_event_record(actor=by, action="prospect_list.create", instance=prospect_list)
    return prospect_list


def _clean_rule(rule: dict | None) -> dict:
    from revline.crm.selectors import LEAD_FILTER_KEYS

    rule = {k: v for k, v in (rule or {}).items() if v not in (None, "", [])}
    unknown = [k for k in rule if k not in LEAD_FILTER_KEYS and not k.startswith("cf_")]
    if unknown:
        raise ValidationError({"rule": f"Unknown filter(s): {', '.join(sorted(unknown))}."})
    return rule


@transaction.atomic
def prospect_list_update(
    *,
    prospect_list: ProspectList,
    by: Any,
    name: str | None = None,
    description: str | None = None,
    rule: dict | None = None,
) -> ProspectList:
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": "A list needs a name."})
        values["name"] = name.strip()
    if description is not None:
        values["description"] = description
    if rule is not None:
        values["rule"] = _clean_rule(rule)
    changes = diff_fields(prospect_list, values)
    if changes:
        prospect_list.save()
        audit_event_record(
            actor=by, action="prospect_list.update", instance=prospect_list, changes=changes
        )
    return prospect_list


@transaction.atomic
def prospect_list_add(
    *, prospect_list: ProspectList, leads: Any, by: Any, how: str = ProspectSource.MANUAL
) -> int:
    """Add leads to a list (those already on it are skipped); returns how many were added."""
    if how not in ProspectSource.values:
        raise ValidationError({"how": f"Unknown way of adding {how!r}."})
    lead_ids = {lead.pk if isinstance(lead, Lead) else int(lead) for lead in leads}
    present = set(
        prospect_list.members.filter(lead_id__in=lead_ids).values_list("lead_id", flat=True)
    )
    new = sorted(lead_ids - present)
    ProspectListMember.objects.bulk_create(
        ProspectListMember(
            prospect_list=prospect_list, lead_id=i, added_by=actor_or_none(by), how=how
        )
        for i in new
    )
    if new:
        audit_event_record(
            actor=by,
            action="prospect_list.add",
            instance=prospect_list,
            changes={"added": (None, len(new)), "how": (None, how)},
        )
    return len(new)


@transaction.atomic
def prospect_list_remove(*, prospect_list: ProspectList, leads: Any, by: Any) -> int:
    lead_ids = {lead.pk if isinstance(lead, Lead) else int(lead) for lead in leads}
    removed, _ = prospect_list.members.filter(lead_id__in=lead_ids).delete()
    if removed:
        audit_event_record(
            actor=by,
            action="prospect_list.remove",
            instance=prospect_list,
            changes={"removed": (None, removed)},
        )
    return removed


@transaction.atomic
def prospect_add(*, prospect_list: ProspectList, by: Any, **lead_fields: Any) -> Lead:
    """A BDR adds a new prospect: an outbound lead owned by the list's owner, on the list."""
    lead_fields.setdefault("source", LeadSource.OUTBOUND)
    lead = lead_create(
        by=by, owner_position=prospect_list.owner_position, route=False, **lead_fields
    )
    prospect_list_add(prospect_list=prospect_list, leads=[lead], by=by, how=ProspectSource.MANUAL)
    return lead


@transaction.atomic
def prospect_list_refresh(*, prospect_list: ProspectList, by: Any) -> int:
    """Add every lead the list's rule matches that ``by`` may see; returns how many were added."""
    from revline.crm.selectors import leads_list

    if not prospect_list.rule:
        return 0
    ids = leads_list(user=by, filters=prospect_list.rule).values_list("id", flat=True)[:10000]
    return prospect_list_add(
        prospect_list=prospect_list, leads=list(ids), by=by, how=ProspectSource.RULE
    )


# --- campaigns and referrals -------------------------------------------------------------------


@transaction.atomic
def campaign_create(*, by: Any, owner_position: Position, name: str, **fields: Any) -> Campaign:
    allowed = {
        "kind",
        "status",
        "start_date",
        "end_date",
        "cost",
        "currency",
        "external_id",
        "is_generated",
    }
    _only(fields, frozenset(allowed), "campaign")
    if not (name or "").strip():
        raise ValidationError({"name": "A campaign needs a name."})
    if fields.get("cost") is not None and Decimal(fields["cost"]) < 0:
        raise ValidationError({"cost": "A cost cannot be negative."})
    if (
        fields.get("start_date")
        and fields.get("end_date")
        and fields["end_date"] < fields["start_date"]
    ):
        raise ValidationError({"end_date": "The campaign ends before it starts."})
    campaign = Campaign(
        owner_position=_require_position(owner_position), name=name.strip(), **fields
    )
    _clean(campaign, ["owner_position"])
    campaign.save()
    audit_event_record(actor=by, action="campaign.create", instance=campaign)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, by: Any, **fields: Any) -> Campaign:
    allowed = {
        "name",
        "kind",
        "status",
        "start_date",
        "end_date",
        "cost",
        "currency",
        "external_id",
    }
    _only(fields, frozenset(allowed), "campaign")
    changes = diff_fields(campaign, fields)
    if changes:
        _clean(campaign, ["owner_position"])
        campaign.save()
        audit_event_record(actor=by, action="campaign.update", instance=campaign, changes=changes)
        if {"name", "kind"} & set(changes):  # features of its leads' scores
            _rescore(*campaign.leads.values_list("id", flat=True))
    return campaign


@transaction.atomic
def referral_create(
    *,
    by: Any,
    owner_position: Position,
    lead: Lead | None = None,
    referrer_contact: Contact | None = None,
    referrer_account: Account | None = None,
    referrer_name: str = "",
    **fields: Any,
) -> Referral:
    """Who referred whom. The referred lead's source becomes "referral"."""
    _only(fields, frozenset({"reward", "note", "outcome", "is_generated"}), "referral")
    if referrer_contact is None and referrer_account is None and not referrer_name.strip():
        raise ValidationError({"referrer_name": "Say who made the referral."})
    if referrer_contact is not None and referrer_account is None:
        referrer_account = referrer_contact.account
    referral = Referral.objects.create(
        owner_position=_require_position(owner_position),
        lead=lead,
        referrer_contact=referrer_contact,
        referrer_account=referrer_account,
        referrer_name=referrer_name.strip(),
        **fields,
    )
    if lead is not None and lead.source != LeadSource.REFERRAL:
        Lead.objects.filter(pk=lead.pk).update(source=LeadSource.REFERRAL)
    audit_event_record(actor=by, action="referral.create", instance=referral)
    if lead is not None:
        _rescore(lead.pk)
    return referral


@transaction.atomic
def referral_set_outcome(
    *, referral: Referral, by: Any, outcome: str, reward: str | None = None
) -> Referral:
    if outcome not in ReferralOutcome.values:
        raise ValidationError({"outcome": f"Unknown outcome {outcome!r}."})
    values: dict[str, Any] = {"outcome": outcome}
    if reward is not None:
        values["reward"] = reward
    changes = diff_fields(referral, values)
    if changes:
        referral.save()
        audit_event_record(actor=by, action="referral.outcome", instance=referral, changes=changes)
    return referral


# --- complaints and satisfaction ---------------------------------------------------------------

COMPLAINT_OWNER_ROLES = frozenset(
    {RoleType.SALES_MANAGER, RoleType.CUSTOMER_SUCCESS, RoleType.VP_SALES, RoleType.REVOPS}
)


@transaction.atomic
def complaint_create(
    *,
    by: Any,
    owner_position: Position,
    account: Account,
    subject: str,
    raised_at: dt.datetime | None = None,
    **fields: Any,
) -> Complaint:
    """A customer's complaint, owned by a Sales Manager or Customer Success."""
    _only(
        fields,
        frozenset({"contact", "opportunity", "description", "severity", "is_generated"}),
        "complaint",
    )
    _require_position(owner_position)
    if owner_position.role not in COMPLAINT_OWNER_ROLES:
        raise ValidationError(
            {"owner_position": "A complaint is owned by a sales manager or customer success."}
        )
    if not (subject or "").strip():
        raise ValidationError({"subject": "Summarise the complaint."})
    complaint = Complaint(
        owner_position=owner_position,
        account=account,
        subject=subject.strip(),
        raised_at=raised_at or timezone.now(),
        **fields,
    )
    _clean(complaint, ["owner_position"])
    complaint.save()
    audit_event_record(actor=by, action="complaint.create", instance=complaint)
    return complaint


@transaction.atomic
def complaint_set_status(*, complaint: Complaint, by: Any, status: str) -> Complaint:
    if status not in ComplaintStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    if status == ComplaintStatus.RESOLVED:
        raise ValidationError({"status": "Resolve a complaint with its resolution."})
    changes = diff_fields(complaint, {"status": status, "resolved_at": None})
    if changes:
        complaint.save()
        audit_event_record(actor=by, action="complaint.status", instance=complaint, changes=changes)
    return complaint


@transaction.atomic
def complaint_resolve(
    *, complaint: Complaint, by: Any, resolution: str, at: dt.datetime | None = None
) -> Complaint:
    if not (resolution or "").strip():
        raise ValidationError({"resolution": "Say how the complaint was resolved."})
    changes = diff_fields(
        complaint,
        {
            "status": ComplaintStatus.RESOLVED,
            "resolution": resolution.strip(),
            "resolved_at": _now(at),
        },
    )
    complaint.save()
    audit_event_record(actor=by, action="complaint.resolve", instance=complaint, changes=changes)
    return complaint


@transaction.atomic
def survey_record(
    *,
    by: Any,
    owner_position: Position,
    account: Account,
    kind: str,
    score: int,
    contact: Contact | None = None,
    comment: str = "",
    responded_at: dt.datetime | None = None,
    is_generated: bool = False,
) -> SatisfactionResponse:
    """One CSAT (1-5) or NPS (0-10) answer."""
    if kind not in SurveyKind.values:
        raise ValidationError({"kind": f"Unknown survey kind {kind!r}."})
    low, high = (1, 5) if kind == SurveyKind.CSAT else (0, 10)
    if not isinstance(score, int) or not low <= score <= high:
        raise ValidationError({"score": f"A {kind.upper()} score is between {low} and {high}."})
    response = SatisfactionResponse.objects.create(
        owner_position=_require_position(owner_position),
        account=account,
        contact=contact,
        kind=kind,
        score=score,
        comment=comment,
        responded_at=responded_at or timezone.now(),
        is_generated=is_generated,
    )
    audit_event_record(actor=by, action="survey.record", instance=response)
    return response


def customer_status_refresh(*, account: Account) -> str:
    """Customer when the account has a won deal; used after merges and imports."""
    from revline.pipeline.choices import OpportunityStatus

    won = account.opportunities.filter(status=OpportunityStatus.WON)
    status = CustomerStatus.CUSTOMER if won.exists() else account.customer_status
    if status != account.customer_status:
        Account.objects.filter(pk=account.pk).update(customer_status=status)
    return status
