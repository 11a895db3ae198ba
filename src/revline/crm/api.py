"""``/api/v1/accounts``, ``/contacts``, ``/leads``, ``/activities`` and the CRM's other lists.

Reads go through ``revline.crm.selectors`` (so through ``visible_to``); writes through
``revline.crm.services``. A record outside the caller's view answers 404; one they see but may
not change answers 403. Ids in a body (owner position, account, contact, campaign, product...)
are loaded through the caller's visibility too: an unknown or invisible one is a 422 on that
field.

Owners: a record may be given to a position whose records the caller may edit: their own
positions and every position below them (RevOps: any; superusers: any). Without ``owner`` a new
record belongs to the caller's position (leads: the routing rules decide first).

Lists answer ``{"items", "next", "total"}`` in the order the web list uses (``?order=``), cut on
that order plus the id, so a deep page costs what the first one does (``SortedKeysetPagination``).

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations.)
"""

import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import paginate

from revline.api.errors import Forbidden
from revline.api.pagination import KeysetPagination, decode_cursor, encode_cursor
from revline.api.schemas import with_errors
from revline.crm import selectors, services
from revline.crm.models import Account, Activity, Contact, Lead, ProspectList
from revline.crm.schemas import (
    AccountFilters,
    AccountIn,
    AccountOut,
    AccountPatch,
    ActivityCompleteIn,
    ActivityFilters,
    ActivityIn,
    ActivityOut,
    CampaignFilters,
    CampaignOut,
    ComplaintFilters,
    ComplaintOut,
    ContactFilters,
    ContactIn,
    ContactOut,
    ContactPatch,
    LeadConvertIn,
    LeadConvertOut,
    LeadFilters,
    LeadIn,
    LeadOut,
    LeadPatch,
    LeadQualifyIn,
    LeadStatusChangeOut,
    LeadStatusIn,
    ProspectListIn,
    ProspectListOut,
    ProspectMemberOut,
    ProspectMembersIn,
    ProspectMembersOut,
    SurveyFilters,
    SurveyOut,
)
from revline.org import selectors as org_selectors
from revline.org.models import Position
from revline.org.visibility import visible_link

router = Router(tags=["crm"])

T = TypeVar("T")


# --- lists: keyset pages in the list's own order ------------------------------------------------


def _nullable(model: type[Model], name: str) -> bool:
    try:
        return model._meta.get_field(name).null
    except Exception:  # an annotation or a related path: assume it may be null
        return True


def _value(row: Any, name: str) -> Any:
    for part in name.split("__"):
        row = getattr(row, part, None) if row is not None else None
    return row


def _after(name: str, desc: bool, nullable: bool, value: Any, last_id: int) -> Q:
    """Rows after ``(value, last_id)`` in ``name`` order (nulls last), then id."""
    beyond, from_here = ("lt", "lte") if desc else ("gt", "gte")
    if value is None:
        return Q(**{f"{name}__isnull": True, f"id__{beyond}": last_id})
    # "from here on, and past this row": the first part bounds an index range scan on
    # (name, id), which the plain "name > v OR (name = v AND id > i)" would not.
    q = Q(**{f"{name}__{from_here}": value}) & (
        Q(**{f"{name}__{beyond}": value}) | Q(**{f"id__{beyond}": last_id})
    )
    if nullable:
        q |= Q(**{f"{name}__isnull": True})
    return q


def _sort_key(queryset: QuerySet) -> tuple[str, bool]:
    """The field a list is sorted on (its first ``order_by`` field) and whether descending."""
    ordering = [o for o in queryset.query.order_by if isinstance(o, str)]
    first = ordering[0] if ordering else "id"
    name = first.lstrip("-")
    return ("id" if name == "pk" else name), first.startswith("-")


def cursor_after(queryset: QuerySet, row: Any) -> str:
    """The cursor of the page that follows ``row`` in ``queryset``'s order."""
    name, _ = _sort_key(queryset)
    if name == "id":
        return encode_cursor(row.pk)
    return encode_cursor(json.dumps([_value(row, name), row.pk], default=str))


def sorted_keyset_page(queryset: QuerySet, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of ``queryset`` in its own ``order_by`` (first field, then id; nulls last).

    Like ``revline.api.pagination.keyset_page`` but for lists sorted on something else than
    the id (names, dates, amounts): the cursor carries the last row's sort value and id, so a
    page deep down costs what the first one does. Raises ``ValueError`` for a cursor that does
    not fit. Answers ``{"items", "next"}``; the caller counts the total.
    """
    name, desc = _sort_key(queryset)
    try:
        if name == "id":  # the primary key's index gives the order: one query
            qs = queryset.order_by("-id" if desc else "id")
            if cursor:
                after = int(decode_cursor(cursor))
                qs = qs.filter(**{"id__lt" if desc else "id__gt": after})
            rows = list(qs[: limit + 1])
            more = len(rows) > limit
            rows = rows[:limit]
            return {"items": rows, "next": cursor_after(queryset, rows[-1]) if more else None}
        nullable = _nullable(queryset.model, name)
        if nullable:
            expr = F(name).desc(nulls_last=True) if desc else F(name).asc(nulls_last=True)
        else:
            expr = F(name).desc() if desc else F(name).asc()
        qs = queryset.order_by(expr, "-id" if desc else "id")
        if cursor:
            value, last_id = json.loads(decode_cursor(cursor))
            qs = qs.filter(_after(name, desc, nullable, value, int(last_id)))
        # The page's ids first, without the joins the rows carry (owner, holder, account...),
        # so the database sorts narrow rows; then those rows, by id.
        keys = list(qs.select_related(None).values_list("pk", flat=True)[: limit + 1])
    except (TypeError, ValueError, ValidationError) as exc:
        raise ValueError("Invalid cursor.") from exc
    more = len(keys) > limit
    keys = keys[:limit]
    # Sliced, so that PostgreSQL tests the few rows against hashed visibility sets (see
    # ``org.visibility.InSubqueryPaged``) instead of scanning arrays of ids for each.
    by_pk = {row.pk: row for row in queryset.filter(pk__in=keys)[: len(keys)]} if keys else {}
    rows = [by_pk[pk] for pk in keys if pk in by_pk]
    return {"items": rows, "next": cursor_after(queryset, rows[-1]) if more and rows else None}


class SortedKeysetPagination(KeysetPagination):
    """Revline's list shape over a ``QuerySet``, in the queryset's order."""

    def paginate_queryset(
        self, queryset: Any, pagination: Any, request: Any, **params: Any
    ) -> dict[str, Any]:
        try:
            page = sorted_keyset_page(queryset, limit=pagination.limit, cursor=pagination.cursor)
        except ValueError as exc:
            raise NinjaValidationError(
                [{"loc": ("query", "cursor"), "msg": str(exc), "type": "value_error"}]
            ) from exc
        page["total"] = queryset.count()
        return page


def listed(func: Callable) -> Callable:
    """``@listed`` on a list handler: ``SortedKeysetPagination``."""
    return paginate(SortedKeysetPagination)(func)


def query_filters(request: HttpRequest, filters: Schema, *, skip: tuple[str, ...] = ()) -> dict:
    """The filter dict a selector takes: the schema's values plus any ``cf_<key>`` parameter."""
    values = {
        k: ("true" if v is True else "false" if v is False else v)
        for k, v in filters.model_dump().items()
        if k not in {"q", "order", *skip} and v not in (None, "")
    }
    values.update(
        {k: v for k, v in request.GET.items() if k.startswith("cf_") and v not in (None, "")}
    )
    return values


def with_account_visible(queryset: QuerySet, user: Any) -> QuerySet:
    """Rows annotated with ``account_visible``: the schemas name an account only when the caller
    sees it (a contact, a complaint or an answer may point to one outside their view)."""
    return queryset.annotate(account_visible=visible_link(user, Account, "account_id"))


def contact_out(request: HttpRequest, pk: int) -> Contact:
    """One contact as the caller sees it (``selectors.contact_get``, with ``account_visible``)."""
    return with_account_visible(selectors.contacts_visible(user=request.auth), request.auth).get(
        pk=pk
    )


# --- references: who may, and what the ids in a body point to -----------------------------------


def ref(field: str, value: Any, load: Callable[[Any], T]) -> T | None:
    """Load what a body field points to; an unknown or invisible reference is a 422 there."""
    if value is None:
        return None
    try:
        return load(value)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise ValidationError({field: f"Unknown {field} {value!r}."}) from None


def to_change(request: HttpRequest, get: Callable[..., T], pk: int) -> T:
    """The record if the caller may change it: 404 if they cannot see it, else 403."""
    try:
        return get(user=request.auth, pk=pk, action="change")
    except ObjectDoesNotExist:
        get(user=request.auth, pk=pk)  # 404 when invisible
        raise Forbidden("You may see this record but not change it.") from None


def assignable_positions(user: Any, model: type[Model]) -> QuerySet[Position]:
    """The positions ``user`` may give a ``model`` record to (``org.selectors.record_owners``)."""
    domain = getattr(model, "visibility_domain", "")
    return org_selectors.record_owners(user=user, domain=domain)


def owner_ref(request: HttpRequest, model: type[Model], pk: int | None, field: str = "owner"):
    return ref(field, pk, lambda v: assignable_positions(request.auth, model).get(pk=v))


def lead_owner_ref(request: HttpRequest, model: type[Model], pk: int, field: str = "owner"):
    """A position the caller may hand a lead to (``selectors.lead_assign_targets``)."""
    return ref(field, pk, lambda v: selectors.lead_assign_targets(user=request.auth).get(pk=v))


def default_owner(request: HttpRequest, field: str = "owner") -> Position:
    position = services.actor_position(request.auth)
    if position is None:
        raise ValidationError({field: "You hold no position: name the owner position."})
    return position


def handoff_position(request: HttpRequest, pk: int, field: str = "ae_position") -> Position:
    """A position the caller may hand a lead to (``selectors.handoff_targets``)."""
    return ref(field, pk, lambda v: selectors.handoff_targets(user=request.auth).get(pk=v))


def region_ref(request: HttpRequest, code: str | None, field: str = "region"):
    return ref(field, code, lambda v: org_selectors.regions_list(user=request.auth).get(code=v))


def account_ref(request: HttpRequest, pk: int | None, field: str = "account") -> Account | None:
    return ref(field, pk, lambda v: selectors.account_get(user=request.auth, pk=v))


def contact_ref(request: HttpRequest, pk: int | None, field: str = "contact") -> Contact | None:
    return ref(field, pk, lambda v: selectors.contact_get(user=request.auth, pk=v))


def campaign_ref(request: HttpRequest, pk: int | None, field: str = "campaign"):
    return ref(field, pk, lambda v: selectors.campaign_get(user=request.auth, pk=v))


def product_ref(request: HttpRequest, pk: int | None, field: str = "product"):
    from revline.pipeline.models import Product

    return ref(field, pk, lambda v: Product.objects.get(pk=v, active=True))


def _changes(
    payload: Schema,
    request: HttpRequest,
    model: type[Model],
    refs: dict,
    owner: Callable = owner_ref,
) -> dict:
    """The fields a PATCH sent, with references loaded (``refs``: field -> loader; ``owner``
    loads the new owner, by default a position the caller may give ``model`` records to)."""
    sent = payload.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for field, value in sent.items():
        if field == "owner":
            if value is None:
                raise ValidationError({"owner": "A record always has an owner."})
            changes["owner_position"] = owner(request, model, value)
        elif field in refs:
            changes[field] = refs[field](request, value)
        elif value is None and field not in NULLABLE:
            raise ValidationError({field: "This field cannot be null."})
        else:
            changes[field] = value
    return changes


# Scalar fields a PATCH may clear with null (the others are text, cleared with "").
NULLABLE = frozenset(
    {
        "employees",
        "annual_revenue",
        "year_established",
        "customer_since",
        "size",
        "amount",
        "close_date",
        "term_months",
        "engaged_on",
    }
)


def _size(value: Any) -> Any:
    return "" if value is None else value


# --- accounts ----------------------------------------------------------------------------------


@router.get(
    "/accounts",
    response=with_errors({200: list[AccountOut]}),
    tags=["accounts"],
    summary="The accounts you may see",
)
@listed
def accounts_list(request: HttpRequest, filters: Query[AccountFilters]):
    f = query_filters(request, filters)
    return selectors.accounts_list(
        user=request.auth, q=filters.q.strip(), filters=f, order=filters.order
    )


@router.post(
    "/accounts",
    response=with_errors({201: AccountOut}),
    tags=["accounts"],
    summary="Create an account",
)
def account_create(request: HttpRequest, payload: AccountIn):
    data = payload.model_dump()
    owner = owner_ref(request, Account, data.pop("owner")) or default_owner(request)
    data["parent"] = account_ref(request, data["parent"], "parent")
    data["region"] = region_ref(request, data["region"])
    if data["size"] is None:
        data.pop("size")
    account = services.account_create(by=request.auth, owner_position=owner, **data)
    return Status(201, selectors.account_get(user=request.auth, pk=account.pk))


@router.get(
    "/accounts/{int:account_id}",
    response=with_errors({200: AccountOut}, 404),
    tags=["accounts"],
    summary="One account",
)
def account_detail(request: HttpRequest, account_id: int):
    return selectors.account_get(user=request.auth, pk=account_id)


@router.patch(
    "/accounts/{int:account_id}",
    response=with_errors({200: AccountOut}, 403, 404),
    tags=["accounts"],
    summary="Change an account",
)
def account_update(request: HttpRequest, account_id: int, payload: AccountPatch):
    account = to_change(request, selectors.account_get, account_id)
    changes = _changes(
        payload,
        request,
        Account,
        {
            "parent": lambda r, v: account_ref(r, v, "parent"),
            "region": lambda r, v: region_ref(r, v),
            "size": lambda r, v: _size(v),
        },
    )
    services.account_update(account=account, by=request.auth, **changes)
    return selectors.account_get(user=request.auth, pk=account.pk)


# --- contacts ----------------------------------------------------------------------------------


@router.get(
    "/contacts",
    response=with_errors({200: list[ContactOut]}),
    tags=["contacts"],
    summary="The contacts you may see",
)
@listed
def contacts_list(request: HttpRequest, filters: Query[ContactFilters]):
    f = query_filters(request, filters)
    return with_account_visible(
        selectors.contacts_list(
            user=request.auth, q=filters.q.strip(), filters=f, order=filters.order
        ),
        request.auth,
    )


@router.post(
    "/contacts",
    response=with_errors({201: ContactOut}),
    tags=["contacts"],
    summary="Create a contact",
)
def contact_create(request: HttpRequest, payload: ContactIn):
    data = payload.model_dump()
    owner = owner_ref(request, Contact, data.pop("owner")) or default_owner(request)
    data["account"] = account_ref(request, data["account"])
    contact = services.contact_create(by=request.auth, owner_position=owner, **data)
    return Status(201, contact_out(request, contact.pk))


@router.get(
    "/contacts/{int:contact_id}",
    response=with_errors({200: ContactOut}, 404),
    tags=["contacts"],
    summary="One contact",
)
def contact_detail(request: HttpRequest, contact_id: int):
    return contact_out(request, contact_id)


@router.patch(
    "/contacts/{int:contact_id}",
    response=with_errors({200: ContactOut}, 403, 404),
    tags=["contacts"],
    summary="Change a contact",
)
def contact_update(request: HttpRequest, contact_id: int, payload: ContactPatch):
    contact = to_change(request, selectors.contact_get, contact_id)
    changes = _changes(payload, request, Contact, {"account": account_ref})
    services.contact_update(contact=contact, by=request.auth, **changes)
    return contact_out(request, contact.pk)


# --- leads -------------------------------------------------------------------------------------


@router.get(
    "/leads",
    response=with_errors({200: list[LeadOut]}),
    tags=["leads"],
    summary="The leads you may see",
)
@listed
def leads_list(request: HttpRequest, filters: Query[LeadFilters]):
    f = query_filters(request, filters)
    return selectors.leads_list(
        user=request.auth, q=filters.q.strip(), filters=f, order=filters.order
    )


@router.post(
    "/leads",
    response=with_errors({201: LeadOut}),
    tags=["leads"],
    summary="Create a lead (routed when no owner is named)",
)
def lead_create(request: HttpRequest, payload: LeadIn):
    data = payload.model_dump()
    owner = owner_ref(request, Lead, data.pop("owner"))
    data["account"] = account_ref(request, data["account"])
    data["campaign"] = campaign_ref(request, data["campaign"])
    data["region"] = region_ref(request, data["region"])
    lead = services.lead_create(by=request.auth, owner_position=owner, **data)
    return Status(201, _lead_out(request, lead))


def _lead_out(request: HttpRequest, lead: Lead) -> Lead:
    """The lead as the caller now sees it; a lead routed to someone the caller does not see
    is answered from the saved row (they created it, so its existence is theirs to know)."""
    try:
        return selectors.lead_get(user=request.auth, pk=lead.pk)
    except Lead.DoesNotExist:
        lead.refresh_from_db()
        return lead


@router.get(
    "/leads/{int:lead_id}",
    response=with_errors({200: LeadOut}, 404),
    tags=["leads"],
    summary="One lead",
)
def lead_detail(request: HttpRequest, lead_id: int):
    return selectors.lead_get(user=request.auth, pk=lead_id)


@router.patch(
    "/leads/{int:lead_id}",
    response=with_errors({200: LeadOut}, 403, 404),
    tags=["leads"],
    summary="Change a lead",
)
def lead_update(request: HttpRequest, lead_id: int, payload: LeadPatch):
    lead = to_change(request, selectors.lead_get, lead_id)
    if "owner" in payload.model_fields_set and payload.owner == lead.owner_position_id:
        payload.model_fields_set.discard("owner")  # the owner it has: nothing to hand over
    changes = _changes(
        payload,
        request,
        Lead,
        {"account": account_ref, "campaign": campaign_ref, "region": region_ref},
        owner=lead_owner_ref,
    )
    owner = changes.pop("owner_position", None)
    with transaction.atomic():
        if changes:
            services.lead_update(lead=lead, by=request.auth, **changes)
        if owner is not None:  # a hand-over, kept in the lead's history
            services.lead_assign(lead=lead, to_position=owner, by=request.auth)
    return _lead_out(request, lead)


@router.get(
    "/leads/{int:lead_id}/history",
    response=with_errors({200: list[LeadStatusChangeOut]}, 404),
    tags=["leads"],
    summary="A lead's status changes, oldest first",
)
@listed
def lead_history(request: HttpRequest, lead_id: int):
    lead = selectors.lead_get(user=request.auth, pk=lead_id)
    return selectors.lead_history(user=request.auth, lead=lead).order_by("id")


@router.post(
    "/leads/{int:lead_id}/status",
    response=with_errors({200: LeadOut}, 403, 404),
    tags=["leads"],
    summary="Move a lead along its life (disqualifying needs a reason)",
)
def lead_set_status(request: HttpRequest, lead_id: int, payload: LeadStatusIn):
    lead = to_change(request, selectors.lead_get, lead_id)
    services.lead_set_status(
        lead=lead,
        status=payload.status.value,
        by=request.auth,
        reason=payload.reason.value if payload.reason else "",
        note=payload.note,
    )
    return _lead_out(request, lead)


@router.post(
    "/leads/{int:lead_id}/qualify",
    response=with_errors({200: LeadOut}, 403, 404),
    tags=["leads"],
    summary="Record BANT and make the lead sales-qualified",
)
def lead_qualify(request: HttpRequest, lead_id: int, payload: LeadQualifyIn):
    lead = to_change(request, selectors.lead_get, lead_id)
    services.lead_qualify(
        lead=lead,
        by=request.auth,
        budget=payload.budget,
        authority=payload.authority.value if payload.authority else "",
        need=payload.need,
        timeline=payload.timeline,
    )
    return _lead_out(request, lead)


@router.post(
    "/leads/{int:lead_id}/convert",
    response=with_errors({200: LeadConvertOut}, 403, 404),
    tags=["leads"],
    summary="Hand a sales-qualified lead to an AE: account, contact and opportunity",
)
def lead_convert(request: HttpRequest, lead_id: int, payload: LeadConvertIn):
    lead = to_change(request, selectors.lead_get, lead_id)
    result = services.lead_convert(
        lead=lead,
        by=request.auth,
        ae_position=handoff_position(request, payload.ae_position),
        account=account_ref(request, payload.account),
        contact=contact_ref(request, payload.contact),
        opportunity_name=payload.opportunity_name,
        amount=payload.amount,
        close_date=payload.close_date,
        product=product_ref(request, payload.product),
    )
    return {
        "account": result.account.pk,
        "contact": result.contact.pk if result.contact else None,
        "opportunity": result.opportunity.pk,
        "account_matched": result.account_matched,
        "contact_matched": result.contact_matched,
    }


# --- activities --------------------------------------------------------------------------------


def may_change(request: HttpRequest, get: Callable[..., Any], pk: int) -> bool:
    try:
        get(user=request.auth, pk=pk, action="change")
    except ObjectDoesNotExist:
        return False
    return True


def activity_targets(request: HttpRequest, payload: Any, *, change_first: bool) -> dict[str, Any]:
    """The records an activity is logged on (``opportunity``, ``lead``, ``contact``,
    ``account`` of ``payload``), loaded through visibility: an invisible one is a 422. With
    ``change_first`` the caller must also be allowed to edit the first of them (else 403)."""
    from revline.pipeline import selectors as pipeline_selectors

    getters: dict[str, Callable[..., Any]] = {
        "opportunity": pipeline_selectors.opportunity_get,
        "lead": selectors.lead_get,
        "contact": selectors.contact_get,
        "account": selectors.account_get,
    }
    targets: dict[str, Any] = {}
    for field, get in getters.items():
        pk = getattr(payload, field)
        if pk is None:
            continue
        record = ref(field, pk, lambda v, g=get: g(user=request.auth, pk=v))
        if change_first and not targets and not may_change(request, get, pk):
            raise Forbidden(f"You may see this {field} but not log activities on it.")
        targets[field] = record
    return targets


@router.get(
    "/activities",
    response=with_errors({200: list[ActivityOut]}, 404),
    tags=["activities"],
    summary="Activities you may see, newest first",
)
@listed
def activities_list(request: HttpRequest, filters: Query[ActivityFilters]):
    targets = activity_targets(request, filters, change_first=False)
    f = query_filters(request, filters, skip=("lead", "contact", "account", "opportunity"))
    if "open" in f:
        f["open"] = "1" if f["open"] == "true" else ""
    return selectors.activities_for(user=request.auth, filters=f, **targets)


@router.post(
    "/activities",
    response=with_errors({201: ActivityOut}, 403),
    tags=["activities"],
    summary="Log an activity (or plan a task) on a record you may edit",
)
def activity_create(request: HttpRequest, payload: ActivityIn):
    targets = activity_targets(request, payload, change_first=True)
    activity = services.activity_log(
        by=request.auth,
        kind=payload.kind.value,
        subject=payload.subject,
        owner_position=owner_ref(request, Activity, payload.owner),
        occurred_at=payload.occurred_at,
        due_at=payload.due_at,
        body=payload.body,
        outcome=payload.outcome.value,
        done=payload.done,
        **targets,
    )
    return Status(201, activity)


@router.post(
    "/activities/{int:activity_id}/complete",
    response=with_errors({200: ActivityOut}, 403, 404),
    tags=["activities"],
    summary="Mark a task (or planned activity) done",
)
def activity_complete(request: HttpRequest, activity_id: int, payload: ActivityCompleteIn):
    activity = to_change(request, selectors.activity_get, activity_id)
    return services.activity_complete(
        activity=activity, by=request.auth, outcome=payload.outcome.value
    )


# --- campaigns, prospect lists, complaints, surveys ----------------------------------------------


@router.get(
    "/campaigns",
    response=with_errors({200: list[CampaignOut]}),
    tags=["campaigns"],
    summary="Campaigns you may see",
)
@listed
def campaigns_list(request: HttpRequest, filters: Query[CampaignFilters]):
    return selectors.campaigns_list(
        user=request.auth, q=filters.q.strip(), filters=query_filters(request, filters)
    ).select_related("owner_position__holder")


@router.get(
    "/campaigns/{int:campaign_id}",
    response=with_errors({200: CampaignOut}, 404),
    tags=["campaigns"],
    summary="One campaign",
)
def campaign_detail(request: HttpRequest, campaign_id: int):
    return (
        selectors.campaigns_list(user=request.auth)
        .select_related("owner_position__holder")
        .get(pk=campaign_id)
    )


@router.get(
    "/prospect-lists",
    response=with_errors({200: list[ProspectListOut]}),
    tags=["prospect lists"],
    summary="Prospect lists you may see",
)
@listed
def prospect_lists(request: HttpRequest):
    return selectors.prospect_lists(user=request.auth)


@router.post(
    "/prospect-lists",
    response=with_errors({201: ProspectListOut}),
    tags=["prospect lists"],
    summary="Create a prospect list",
)
def prospect_list_create(request: HttpRequest, payload: ProspectListIn):
    prospect_list = services.prospect_list_create(
        by=request.auth,
        name=payload.name,
        owner_position=owner_ref(request, ProspectList, payload.owner),
        description=payload.description,
        rule=payload.rule,
    )
    return Status(201, selectors.prospect_lists(user=request.auth).get(pk=prospect_list.pk))


@router.get(
    "/prospect-lists/{int:list_id}",
    response=with_errors({200: ProspectListOut}, 404),
    tags=["prospect lists"],
    summary="One prospect list",
)
def prospect_list_detail(request: HttpRequest, list_id: int):
    return selectors.prospect_lists(user=request.auth).get(pk=list_id)


@router.get(
    "/prospect-lists/{int:list_id}/members",
    response=with_errors({200: list[ProspectMemberOut]}, 404),
    tags=["prospect lists"],
    summary="The list's members whose lead you may see, newest first",
)
@listed
def prospect_list_members(request: HttpRequest, list_id: int):
    prospect_list = selectors.prospect_list_get(user=request.auth, pk=list_id)
    return selectors.prospect_list_members(
        user=request.auth, prospect_list=prospect_list
    ).select_related("lead__owner_position__holder", "lead__region")


@router.post(
    "/prospect-lists/{int:list_id}/members",
    response=with_errors({200: ProspectMembersOut}, 403, 404),
    tags=["prospect lists"],
    summary="Add leads you may see to a list you may edit",
)
def prospect_list_add(request: HttpRequest, list_id: int, payload: ProspectMembersIn):
    prospect_list = to_change(request, selectors.prospect_list_get, list_id)
    wanted = set(payload.leads)
    found = set(
        selectors.leads_visible(user=request.auth)
        .filter(pk__in=wanted)
        .values_list("id", flat=True)
    )
    if missing := sorted(wanted - found):
        raise ValidationError({"leads": f"Unknown lead(s): {', '.join(map(str, missing))}."})
    added = services.prospect_list_add(
        prospect_list=prospect_list, leads=sorted(found), by=request.auth
    )
    total = selectors.prospect_list_members(user=request.auth, prospect_list=prospect_list)
    return {"added": added, "total": total.count()}


@router.post(
    "/prospect-lists/{int:list_id}/refresh",
    response=with_errors({200: ProspectMembersOut}, 403, 404),
    tags=["prospect lists"],
    summary="Add the leads the list's rule matches",
)
def prospect_list_refresh(request: HttpRequest, list_id: int):
    prospect_list = to_change(request, selectors.prospect_list_get, list_id)
    added = services.prospect_list_refresh(prospect_list=prospect_list, by=request.auth)
    total = selectors.prospect_list_members(user=request.auth, prospect_list=prospect_list)
    return {"added": added, "total": total.count()}


@router.get(
    "/complaints",
    response=with_errors({200: list[ComplaintOut]}),
    tags=["service"],
    summary="Customer complaints you may see, newest first",
)
@listed
def complaints_list(request: HttpRequest, filters: Query[ComplaintFilters]):
    f = query_filters(request, filters)
    if "open" in f:
        f["open"] = "1" if f["open"] == "true" else ""
    return with_account_visible(
        selectors.complaints_list(user=request.auth, q=filters.q.strip(), filters=f), request.auth
    )


@router.get(
    "/complaints/{int:complaint_id}",
    response=with_errors({200: ComplaintOut}, 404),
    tags=["service"],
    summary="One complaint",
)
def complaint_detail(request: HttpRequest, complaint_id: int):
    return with_account_visible(selectors.complaints_list(user=request.auth), request.auth).get(
        pk=complaint_id
    )


@router.get(
    "/surveys",
    response=with_errors({200: list[SurveyOut]}),
    tags=["service"],
    summary="Satisfaction answers (CSAT, NPS) you may see, newest first",
)
@listed
def surveys_list(request: HttpRequest, filters: Query[SurveyFilters]):
    return with_account_visible(
        selectors.surveys_list(user=request.auth, filters=query_filters(request, filters)),
        request.auth,
    )
