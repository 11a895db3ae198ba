"""Web views: the CRM screens (accounts, contacts, leads and their hand-off, activities, the SDR
lead queue, BDR prospect lists, complaints, surveys, campaigns, referrals, and the RevOps
configuration of custom fields and lead routing).

Every read goes through ``revline.crm.selectors`` (which start from ``visible_to``): a record
outside the user's view answers 404; one the user sees but may not change answers 403 to a
write. Every write parses a form and calls one service. Forms work without JavaScript; htmx
makes the list search live, loads more rows in place and posts the activity form in place.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from revline.api.pagination import decode_cursor, encode_cursor
from revline.core.export import Column, dated_csv_response
from revline.core.selectors import audit_events_for
from revline.crm import forms as crm_forms
from revline.crm import routing, selectors, services
from revline.crm.choices import (
    LEAD_TRANSITIONS,
    ActivityKind,
    ActivityOutcome,
    ComplaintSeverity,
    ComplaintStatus,
    CustomFieldEntity,
    LeadStatus,
    ReferralOutcome,
    SurveyKind,
)
from revline.crm.custom_fields import custom_field_save
from revline.crm.forms import apply_service_error, custom_definitions
from revline.crm.models import (
    Account,
    Campaign,
    Contact,
    CustomFieldDefinition,
    Lead,
    ProspectList,
    RoutingMember,
    RoutingRule,
)
from revline.org import selectors as org_selectors
from revline.org.models import Position
from revline.org.visibility import can, visible_link
from revline.scoring import selectors as scoring_selectors
from revline.web.htmx import htmx_render, wants_partial
from revline.web.views import drill

PAGE_SIZE = 50
# Speed to lead: a lead untouched this long after it arrived is late (settings may change it).
SPEED_TO_LEAD_SLA_HOURS = getattr(settings, "REVLINE_SPEED_TO_LEAD_SLA_HOURS", 24)


# --- helpers ----------------------------------------------------------------------------------


def _get(getter: Callable[..., Any], request: HttpRequest, pk: Any, action: str = "view") -> Any:
    """One record through its selector: 404 when the user cannot see it, 403 when they see it
    but ``action`` is ``change`` and they may not change it."""
    try:
        return getter(user=request.user, pk=pk, action=action)
    except ObjectDoesNotExist:
        if action == "change":
            try:
                getter(user=request.user, pk=pk, action="view")
            except ObjectDoesNotExist:
                raise Http404("Not found.") from None
            raise PermissionDenied("You may not change this record.") from None
        raise Http404("Not found.") from None


def _opportunity_get(*, user: Any, pk: Any, action: str = "view") -> Any:
    from revline.pipeline.models import Opportunity

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Opportunity.DoesNotExist from None
    return (
        Opportunity.objects.visible_to(user, action)
        .select_related("account", "owner_position")
        .get(pk=pk)
    )


def optional_url(name: str, *args: Any) -> str | None:
    """The URL of a screen another part of the web app may or may not provide yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _done(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful write: redirect (htmx fragment requests get a client-side redirect,
    so the whole page reloads instead of landing inside the fragment)."""
    if wants_partial(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _invalid_status(request: HttpRequest) -> int:
    """Status of a page re-rendered with form errors: 400, but 200 for htmx (which does not
    swap error responses)."""
    return 200 if getattr(request, "htmx", False) else 400


def _posted(request: HttpRequest) -> QueryDict | None:
    """The POST data of a form submission (even an empty one), None on GET."""
    return request.POST if request.method == "POST" else None


def _ids(values: list[str]) -> list[int]:
    out = []
    for value in values:
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return out


def _custom_display(definitions: list[CustomFieldDefinition], values: dict) -> list[tuple]:
    """(label, shown value) of each custom field of a record."""
    rows = []
    for definition in definitions:
        value = (values or {}).get(definition.key)
        if isinstance(value, bool):
            value = "Yes" if value else "No"
        rows.append((definition.label, "—" if value in (None, "") else value))
    return rows


def _custom_cells(definitions: list[CustomFieldDefinition], values: dict) -> list[Any]:
    return [shown for _, shown in _custom_display(definitions, values)]


def _account_or_none(request: HttpRequest, pk: Any) -> Account | None:
    """A visible account named in the query string (to pre-fill a form), or None."""
    if not pk:
        return None
    try:
        return selectors.account_get(user=request.user, pk=pk)
    except Account.DoesNotExist:
        return None


def _actor(request: HttpRequest) -> Position | None:
    return services.actor_position(request.user)


def crm_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in and a RevOps administrator (or superuser), else 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not org_selectors.user_is_org_admin(user=request.user):
            raise Http404("Not found.")
        return view(request, *args, **kwargs)

    return wrapper


# --- keyset pages with a sort -------------------------------------------------------------------


@dataclass
class KeysetPage:
    items: list[Any]
    next: str | None
    total: int
    is_first: bool


def _encode(value: Any, pk: int) -> str:
    return encode_cursor(json.dumps([value, pk], default=str))


def _decode(cursor: str, model: Any, name: str) -> tuple[Any, int]:
    raw = decode_cursor(cursor)
    try:
        value, pk = json.loads(raw)
        pk = int(pk)
        if value is not None:
            value = model._meta.get_field(name).to_python(value)
    except (TypeError, ValueError, ValidationError) as exc:
        raise ValueError("Invalid cursor.") from exc
    return value, pk


def sorted_page(
    qs: QuerySet,
    *,
    order: str,
    allowed: set[str] | frozenset[str],
    default: str,
    cursor: str | None,
    limit: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of ``qs`` sorted by ``order`` (one of ``allowed``, ``-`` for descending; else
    ``default``) with the id as tie-break, cut on (value, id) so a page costs the same at any
    depth. Empty values sort last either way. Raises ``ValueError`` for a bad cursor."""
    key = order if order and order.lstrip("-") in allowed else default
    name, descending = key.lstrip("-"), key.startswith("-")
    total = qs.count()
    id_order = "-id" if descending else "id"
    nullable = name != "id" and qs.model._meta.get_field(name).null
    if name == "id":
        ordered = qs.order_by(id_order)
    elif nullable:
        expr = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
        ordered = qs.order_by(expr, id_order)
    else:
        ordered = qs.order_by(key, id_order)
    if cursor:
        value, last = _decode(cursor, qs.model, name)
        cmp = "lt" if descending else "gt"
        if name == "id":
            after = Q(**{f"id__{cmp}": last})
        elif value is None:
            after = Q(**{f"{name}__isnull": True, f"id__{cmp}": last})
        else:
            after = Q(**{f"{name}__{cmp}": value}) | Q(**{name: value, f"id__{cmp}": last})
            if nullable:
                after |= Q(**{f"{name}__isnull": True})
        ordered = ordered.filter(after)
    rows = list(ordered[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    following = _encode(getattr(rows[-1], name), rows[-1].pk) if more and rows else None
    return KeysetPage(items=rows, next=following, total=total, is_first=not cursor)


def _query(params: QueryDict, **changes: Any) -> str:
    """``params`` with ``changes`` applied (None removes a key), as ``?a=b`` or ``?``."""
    q = params.copy()
    for key, value in changes.items():
        q.pop(key, None)
        if value not in (None, ""):
            q[key] = value
    encoded = q.urlencode()
    return f"?{encoded}" if encoded else "?"


# --- list pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListSpec:
    entity: str
    title: str
    noun: str
    url_name: str
    export_name: str
    create_name: str
    detail_name: str
    selector: Callable[..., QuerySet]
    filter_form: type
    extra_filters: frozenset[str]
    order_allowed: frozenset[str]
    default_order: str
    columns: list[tuple[str, str | None, str]]
    rows_template: str
    csv_columns: list[Column]
    icon: str = "dot"
    intro: str = ""


def _owner_name(obj: Any) -> str:
    position = obj.owner_position
    if position is None:
        return ""
    return position.holder.get_full_name() if position.holder_id else f"{position.title} (vacant)"


ACCOUNTS = ListSpec(
    entity="account",
    title="Accounts",
    noun="account",
    url_name="web:accounts",
    export_name="web:accounts_export",
    create_name="web:account_create",
    detail_name="web:account_detail",
    selector=selectors.accounts_list,
    filter_form=crm_forms.AccountFilterForm,
    extra_filters=frozenset(
        {"parent", "external_id", *selectors.RECURRING_KEYS, *selectors.DEAL_KEYS}
    ),
    order_allowed=frozenset(selectors.ACCOUNT_ORDER),
    default_order="name",
    columns=[
        ("Account", "name", ""),
        ("Status", None, ""),
        ("Sector", "sector", ""),
        ("Region", None, ""),
        ("Employees", "employees", "num"),
        ("Revenue", "annual_revenue", "num"),
        ("Owner", None, ""),
        ("Created", "created_at", "nowrap"),
    ],
    rows_template="web/crm/_account_rows.html",
    csv_columns=[
        ("id", "id"),
        ("name", "name"),
        ("parent", lambda row: row.parent.name if row.parent_id and row.parent_visible else ""),
        ("sector", "sector"),
        ("employees", "employees"),
        ("size", "size"),
        ("annual_revenue", "annual_revenue"),
        ("region", "region.name"),
        ("country", "country"),
        ("website", "website"),
        ("year_established", "year_established"),
        ("customer_status", "customer_status"),
        ("customer_since", "customer_since"),
        ("owner_position", "owner_position.title"),
        ("owner", _owner_name),
        ("external_id", "external_id"),
        ("created_at", "created_at"),
    ],
    icon="briefcase",
    intro="Companies you sell to: prospects, customers and partners.",
)
CONTACTS = ListSpec(
    entity="contact",
    title="Contacts",
    noun="contact",
    url_name="web:contacts",
    export_name="web:contacts_export",
    create_name="web:contact_create",
    detail_name="web:contact_detail",
    selector=selectors.contacts_list,
    filter_form=crm_forms.ContactFilterForm,
    extra_filters=frozenset({"account", "external_id"}),
    order_allowed=frozenset(selectors.CONTACT_ORDER),
    default_order="last_name",
    columns=[
        ("Name", "last_name", ""),
        ("Account", None, ""),
        ("Job title", None, ""),
        ("E-mail", "email", ""),
        ("Phone", None, "nowrap"),
        ("Owner", None, ""),
        ("Created", "created_at", "nowrap"),
    ],
    rows_template="web/crm/_contact_rows.html",
    csv_columns=[
        ("id", "id"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("title", "title"),
        ("account", lambda row: row.account.name if row.account_visible else ""),
        ("owner_position", "owner_position.title"),
        ("owner", _owner_name),
        ("external_id", "external_id"),
        ("created_at", "created_at"),
    ],
    icon="user",
    intro="The people at your accounts.",
)
LEADS = ListSpec(
    entity="lead",
    title="Leads",
    noun="lead",
    url_name="web:leads",
    export_name="web:leads_export",
    create_name="web:lead_create",
    detail_name="web:lead_detail",
    selector=selectors.leads_list,
    filter_form=crm_forms.LeadFilterForm,
    extra_filters=frozenset(
        {
            "external_id",
            "generated_by",
            "qualified_by",
            "received_by",
            "sector",
            "company",
            "email",
            # a KPI drill-down's filters (revline.analytics; crm.selectors._lead_analytics_q)
            "under",
            "sql_from",
            "sql_to",
            "touched_from",
            "touched_to",
            "converted",
            "generated",
            "sales_qualified",
            "won",
        }
    ),
    order_allowed=frozenset(selectors.LEAD_ORDER),
    default_order="-id",
    columns=[
        ("Lead", "last_name", ""),
        ("Company", "company", ""),
        ("Status", "status", ""),
        ("Source", None, ""),
        ("Owner", None, ""),
        ("Created", "created_at", "nowrap"),
        ("First touch", "first_touch_at", "nowrap"),
    ],
    rows_template="web/crm/_lead_rows.html",
    csv_columns=[
        ("id", "id"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("title", "title"),
        ("company", "company"),
        ("sector", "sector"),
        ("employees", "employees"),
        ("annual_revenue", "annual_revenue"),
        ("region", "region.name"),
        ("country", "country"),
        ("status", "status"),
        ("disqualify_reason", "disqualify_reason"),
        ("source", "source"),
        ("source_name", "source_name"),
        ("campaign", lambda row: row.campaign.name if row.campaign_visible else ""),
        ("owner_position", "owner_position.title"),
        ("owner", _owner_name),
        ("created_at", "created_at"),
        ("first_touch_at", "first_touch_at"),
        ("qualified_at", "qualified_at"),
        ("converted_at", "converted_at"),
        ("external_id", "external_id"),
    ],
    icon="funnel",
    intro="People who may buy, before qualification.",
)
SPECS = {spec.entity: spec for spec in (ACCOUNTS, CONTACTS, LEADS)}

FILTER_LABELS = {
    "parent": "Parent account",
    "account": "Account",
    "owner": "Owner",
    "generated_by": "Generated by",
    "qualified_by": "Qualified by",
    "received_by": "Received by",
    "external_id": "External ID",
    "sector": "Sector",
    "company": "Company",
    "email": "E-mail",
    "under": "Owned at or below",
    "sql_from": "Sales-qualified from",
    "sql_to": "Sales-qualified to",
    "touched_from": "First touched from",
    "touched_to": "First touched to",
    "converted": "Converted",
    "generated": "Generated by a BDR",
    "sales_qualified": "Became sales-qualified",
    "won": "Won",
    "recurring_won_from": "Recurring deal won from",
    "recurring_won_to": "Recurring deal won to",
    "deal_under": "Deal owned at or below",
    "deal_owner": "Deal owner",
    "deal_team": "Deal owner's team",
    "deal_region": "Deal owner's region",
    "deal_product": "Deal product",
    "deal_type": "Deal type",
    "deal_sector": "Sector",
    "deal_size": "Company size",
}


@dataclass
class ListState:
    """What a list page, its CSV export and its htmx fragments share: the parsed query."""

    spec: ListSpec
    form: Any
    q: str
    filters: dict[str, str]
    sort: str
    custom: list[CustomFieldDefinition]
    extra: dict[str, str] = field(default_factory=dict)
    chips: list[tuple[str, str, str]] = field(default_factory=list)

    def queryset(self, user: Any) -> QuerySet:
        qs = self.spec.selector(user=user, q=self.q, filters=self.filters, order=self.sort)
        return with_link_visibility(self.spec.entity, qs, user)


def with_link_visibility(entity: str, qs: QuerySet, user: Any) -> QuerySet:
    """Annotate whether the user may see the record a row links to (an account's parent, a
    contact's account, a lead's campaign): a name outside their view is never shown."""
    if entity == "account":
        return qs.annotate(parent_visible=visible_link(user, Account, "parent_id"))
    if entity == "contact":
        return qs.annotate(account_visible=visible_link(user, Account, "account_id"))
    if entity == "lead":
        return qs.annotate(campaign_visible=visible_link(user, Campaign, "campaign_id"))
    return qs


def _with_account_visibility(qs: QuerySet, user: Any) -> QuerySet:
    return qs.annotate(account_visible=visible_link(user, Account, "account_id"))


def _filter_chips(request: HttpRequest, extra: dict[str, str]) -> list[tuple[str, str, str]]:
    """(label, value shown, URL without it) for each filter that has no box in the form."""
    chips = []
    for key, value in extra.items():
        shown = value
        ids = _ids(value.split(","))
        if key in ("account", "parent") and ids:
            names = selectors.accounts_visible(user=request.user).filter(pk__in=ids)
            shown = ", ".join(a.name for a in names) or value
        elif key in ("generated_by", "qualified_by", "received_by", "under", "deal_under") and ids:
            shown = (
                ", ".join(
                    str(p) for p in crm_forms.visible_positions(request.user).filter(pk__in=ids)
                )
                or value
            )
        chips.append(
            (FILTER_LABELS.get(key, key), shown, _query(request.GET, **{key: None, "cursor": None}))
        )
    return chips


def _list_state(request: HttpRequest, spec: ListSpec) -> ListState:
    custom = custom_definitions(spec.entity)
    form = spec.filter_form(request.GET, user=request.user, custom=custom)
    filters = form.filters()
    extra = {
        k: request.GET[k].strip()
        for k in sorted(spec.extra_filters)
        if k not in form.fields and request.GET.get(k, "").strip()
    }
    filters.update(extra)
    state = ListState(
        spec=spec,
        form=form,
        q=form.search(),
        filters=filters,
        sort=request.GET.get("sort", "").strip(),
        custom=custom,
        extra=extra,
    )
    state.chips = _filter_chips(request, extra)
    return state


def _header(request: HttpRequest, state: ListState) -> list[dict[str, Any]]:
    current = state.sort if state.sort.lstrip("-") in state.spec.order_allowed else ""
    current = current or state.spec.default_order
    cells = []
    for label, key, css in state.spec.columns:
        cell: dict[str, Any] = {"label": label, "css": css, "href": None, "state": ""}
        if key:
            if current == key:
                following, cell["state"] = f"-{key}", "asc"
            elif current == f"-{key}":
                following, cell["state"] = key, "desc"
            else:
                following = f"-{key}" if key in ("created_at", "first_touch_at") else key
            cell["href"] = _query(request.GET, sort=following, cursor=None)
        cells.append(cell)
    return cells


def _record_list(request: HttpRequest, spec: ListSpec) -> HttpResponse:
    state = _list_state(request, spec)
    qs = state.queryset(request.user)
    cursor = request.GET.get("cursor") or None
    try:
        page = sorted_page(
            qs,
            order=state.sort,
            allowed=spec.order_allowed,
            default=spec.default_order,
            cursor=cursor,
        )
    except ValueError:
        page = sorted_page(
            qs,
            order=state.sort,
            allowed=spec.order_allowed,
            default=spec.default_order,
            cursor=None,
        )
    shown_custom = state.custom[:4]
    for item in page.items:
        item.custom_cells = _custom_cells(shown_custom, item.custom)
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "spec": spec,
        "state": state,
        "form": state.form,
        "page": page,
        "header": _header(request, state),
        "shown_custom": shown_custom,
        "colspan": len(spec.columns) + len(shown_custom),
        "next_href": _query(request.GET, cursor=page.next) if page.next else None,
        "first_href": _query(request.GET, cursor=None),
        "export_href": reverse(spec.export_name) + _query(params),
        "filtered": bool(state.q or state.filters),
        "custom_open": any(k.startswith("cf_") for k in state.filters),
        "list_url": reverse(spec.url_name),
        "clear_href": reverse(spec.url_name),
        "import_url": optional_url("web:import_new"),
    }
    htmx = getattr(request, "htmx", None)
    if wants_partial(request) and htmx.target == "crm-more":
        return render(request, "web/crm/_list_more.html", context)
    return htmx_render(request, "web/crm/list.html", "web/crm/_list_results.html", context)


def _record_export(request: HttpRequest, spec: ListSpec) -> HttpResponse:
    state = _list_state(request, spec)
    columns = list(spec.csv_columns)
    for definition in state.custom:
        columns.append((f"cf_{definition.key}", _custom_getter(definition.key)))
    return dated_csv_response(state.queryset(request.user), columns, f"{spec.entity}s")


def _custom_getter(key: str) -> Callable[[Any], Any]:
    return lambda row: (row.custom or {}).get(key)


@login_required
@require_GET
def accounts(request: HttpRequest) -> HttpResponse:
    return _record_list(request, ACCOUNTS)


@login_required
@require_GET
def accounts_export(request: HttpRequest) -> HttpResponse:
    return _record_export(request, ACCOUNTS)


@login_required
@require_GET
def contacts(request: HttpRequest) -> HttpResponse:
    return _record_list(request, CONTACTS)


@login_required
@require_GET
def contacts_export(request: HttpRequest) -> HttpResponse:
    return _record_export(request, CONTACTS)


@login_required
@require_GET
def leads(request: HttpRequest) -> HttpResponse:
    return _record_list(request, LEADS)


@login_required
@require_GET
def leads_export(request: HttpRequest) -> HttpResponse:
    return _record_export(request, LEADS)


@login_required
@require_GET
def record_pick(request: HttpRequest, kind: str) -> HttpResponse:
    """Suggestions for a record picker's datalist: visible records matching what was typed."""
    if kind not in ("account", "contact", "lead"):
        raise Http404("Not found.")
    term = request.GET.get("q") or next((v for v in request.GET.values() if v), "")
    term = crm_forms.PICK_ID.sub("", term).strip()
    rows = list(crm_forms.pick_queryset(kind, request.user, q=term)[:12]) if term else []
    labels = [crm_forms.pick_label(row) for row in rows]
    return render(request, "web/crm/_pick_options.html", {"labels": labels})


# --- timelines and audit ------------------------------------------------------------------------

AUDIT_ACTIONS = {
    "create": "Created",
    "update": "Edited",
    "status": "Status changed",
    "qualify": "Qualified (BANT)",
    "convert": "Handed over to an AE",
    "assign": "Reassigned",
    "merge": "Merged",
    "resolve": "Resolved",
    "complete": "Completed",
}
POSITION_FIELDS = {
    "owner_position",
    "owner",
    "generated_by",
    "qualified_by",
    "received_by",
    "ae_position",
}
FIELD_LABELS = {
    "owner_position": "owner",
    "bant_budget": "budget",
    "bant_authority": "authority",
    "bant_need": "need",
    "bant_timeline": "timeline",
    "custom": "custom fields",
}


@dataclass
class TimelineEntry:
    at: dt.datetime
    kind: str  # activity | audit
    activity: Any = None
    action: str = ""
    actor: Any = None
    changes: list[tuple[str, str, str]] = field(default_factory=list)


def _audit_entries(user: Any, instance: Any) -> list[TimelineEntry]:
    """The record's audit trail in words. Positions and linked records are named only when
    ``user`` may see them."""
    from revline.pipeline.models import Opportunity

    events = list(audit_events_for(instance=instance, limit=100))
    ids: dict[str, set[int]] = {"position": set(), "account": set(), "contact": set(), "opp": set()}
    buckets = {
        **dict.fromkeys(POSITION_FIELDS, "position"),
        "account": "account",
        "parent": "account",
        "contact": "contact",
        "opportunity": "opp",
    }
    for event in events:
        for name, pair in (event.changes or {}).items():
            if name in buckets and isinstance(pair, list):
                ids[buckets[name]].update(v for v in pair if isinstance(v, int))
    names: dict[str, dict[int, str]] = {k: {} for k in ids}
    if ids["position"]:
        names["position"] = {
            p.pk: str(p) for p in crm_forms.visible_positions(user).filter(pk__in=ids["position"])
        }
    if ids["account"]:
        names["account"] = dict(
            selectors.accounts_visible(user=user)
            .filter(pk__in=ids["account"])
            .values_list("id", "name")
        )
    if ids["contact"]:
        names["contact"] = {
            c.pk: c.name
            for c in selectors.contacts_visible(user=user).filter(pk__in=ids["contact"])
        }
    if ids["opp"]:
        names["opp"] = dict(
            Opportunity.objects.visible_to(user).filter(pk__in=ids["opp"]).values_list("id", "name")
        )

    def show(name: str, value: Any) -> str:
        if value in (None, "", {}, []):
            return "—"
        bucket = buckets.get(name)
        if bucket and isinstance(value, int):
            return names[bucket].get(value, "a record you cannot see")
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    entries = []
    for event in events:
        verb = event.action.rsplit(".", 1)[-1]
        changes = [
            (FIELD_LABELS.get(name, name.replace("_", " ")), show(name, b), show(name, a))
            for name, pair in (event.changes or {}).items()
            if isinstance(pair, list) and len(pair) == 2
            for b, a in [pair]
        ]
        entries.append(
            TimelineEntry(
                at=event.at,
                kind="audit",
                action=AUDIT_ACTIONS.get(verb, verb.replace("_", " ").capitalize()),
                actor=event.actor,
                changes=changes,
            )
        )
    return entries


def _timeline(user: Any, instance: Any, activities: QuerySet, limit: int = 60) -> list:
    entries = [
        TimelineEntry(at=a.occurred_at, kind="activity", activity=a) for a in activities[:limit]
    ]
    entries += _audit_entries(user, instance)
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def _activity_context(kind: str, target: Any, next_url: str, form: Any = None) -> dict[str, Any]:
    return {
        "target_kind": kind,
        "target": target,
        "log_form": form,
        "next": next_url,
        "here": next_url,
        "now": timezone.now(),
    }


def _visible(qs: QuerySet, pk: int | None) -> bool:
    return bool(pk) and qs.filter(pk=pk).exists()


# --- accounts -----------------------------------------------------------------------------------


def _account_page(request: HttpRequest, account: Account) -> HttpResponse:
    from revline.pipeline.models import Opportunity

    user = request.user
    custom = custom_definitions("account")
    parent_visible = _visible(selectors.accounts_visible(user=user), account.parent_id)
    opportunities = (
        Opportunity.objects.visible_to(user)
        .filter(account=account)
        .select_related("stage", "owner_position", "owner_position__holder")
        .order_by(F("closed_on").desc(nulls_first=True), "-close_date", "-id")
    )
    here = reverse("web:account_detail", args=[account.pk])
    contacts_qs = selectors.contacts_list(user=user, filters={"account": account.pk})
    context = {
        "account": account,
        "can_change": can(user, "change", account),
        "custom": _custom_display(custom, account.custom),
        "parent_visible": parent_visible,
        "subsidiaries": list(
            selectors.accounts_list(user=user, filters={"parent": account.pk})[:50]
        ),
        "contacts": list(contacts_qs[:50]),
        "contact_count": contacts_qs.count(),
        "opportunities": list(opportunities[:50]),
        "opportunity_url": optional_url("web:opportunity_detail", 0) is not None,
        "complaints": list(
            selectors.complaints_list(user=user, filters={"account": account.pk})[:20]
        ),
        "surveys": list(selectors.surveys_list(user=user, filters={"account": account.pk})[:20]),
        "timeline": _timeline(user, account, selectors.activities_for(user=user, account=account)),
        **_activity_context("account", account, here),
    }
    return render(request, "web/crm/account_detail.html", context)


@login_required
@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_page(request, _get(selectors.account_get, request, pk))


def _record_form_page(
    request: HttpRequest,
    *,
    form: Any,
    heading: str,
    submit: str,
    cancel: str,
    crumbs: list[tuple[str, str | None]],
    intro: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "web/crm/form.html",
        {
            "form": form,
            "heading": heading,
            "submit": submit,
            "cancel": cancel,
            "crumbs": crumbs,
            "intro": intro,
        },
        status=status,
    )


@login_required
def account_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"owner_position": _actor(request)}
    if (found := _account_or_none(request, request.GET.get("parent"))) is not None:
        initial["parent"] = found
    form = crm_forms.AccountForm(
        _posted(request),
        user=request.user,
        custom=custom_definitions("account"),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        values = form.values()
        try:
            account = services.account_create(by=request.user, **values)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the account {account.name}.")
            return redirect("web:account_detail", pk=account.pk)
    return _record_form_page(
        request,
        form=form,
        heading="New account",
        submit="Create account",
        cancel=reverse("web:accounts"),
        crumbs=[("Accounts", reverse("web:accounts")), ("New", None)],
        status=200 if request.method == "GET" else _invalid_status(request),
    )


@login_required
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    account = _get(selectors.account_get, request, pk, "change")
    parent_visible = _visible(selectors.accounts_visible(user=request.user), account.parent_id)
    initial = {
        "name": account.name,
        "owner_position": account.owner_position,
        "parent": account.parent if parent_visible else None,
        "customer_status": account.customer_status,
        "customer_since": account.customer_since,
        "sector": account.sector,
        "employees": account.employees,
        "annual_revenue": account.annual_revenue,
        "region": account.region_id,
        "country": account.country,
        "website": account.website,
        "year_established": account.year_established,
        "external_id": account.external_id,
    }
    form = crm_forms.AccountForm(
        _posted(request),
        user=request.user,
        custom=custom_definitions("account"),
        custom_values=account.custom,
        initial=initial,
        account=account,
    )
    if not parent_visible and account.parent_id:
        # The link to a parent outside the user's view is kept, never shown or changed.
        del form.fields["parent"]
    if request.method == "POST" and form.is_valid():
        try:
            services.account_update(account=account, by=request.user, **form.values())
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved {account.name}.")
            return redirect("web:account_detail", pk=account.pk)
    return _record_form_page(
        request,
        form=form,
        heading=f"Edit {account.name}",
        submit="Save",
        cancel=reverse("web:account_detail", args=[account.pk]),
        crumbs=[
            ("Accounts", reverse("web:accounts")),
            (account.name, reverse("web:account_detail", args=[account.pk])),
            ("Edit", None),
        ],
        status=200 if request.method == "GET" else _invalid_status(request),
    )


# --- contacts -----------------------------------------------------------------------------------


def _contact_page(request: HttpRequest, contact: Contact) -> HttpResponse:
    from revline.pipeline.models import Opportunity

    user = request.user
    here = reverse("web:contact_detail", args=[contact.pk])
    opportunities = (
        Opportunity.objects.visible_to(user)
        .filter(contact=contact)
        .select_related("stage", "owner_position", "owner_position__holder")
        .order_by("-id")
    )
    context = {
        "contact": contact,
        "can_change": can(user, "change", contact),
        "custom": _custom_display(custom_definitions("contact"), contact.custom),
        "account_visible": _visible(selectors.accounts_visible(user=user), contact.account_id),
        "opportunities": list(opportunities[:50]),
        "opportunity_url": optional_url("web:opportunity_detail", 0) is not None,
        "timeline": _timeline(user, contact, selectors.activities_for(user=user, contact=contact)),
        **_activity_context("contact", contact, here),
    }
    return render(request, "web/crm/contact_detail.html", context)


@login_required
@require_GET
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _contact_page(request, _get(selectors.contact_get, request, pk))


@login_required
def contact_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"owner_position": _actor(request)}
    if (found := _account_or_none(request, request.GET.get("account"))) is not None:
        initial["account"] = found
    form = crm_forms.ContactForm(
        _posted(request),
        user=request.user,
        custom=custom_definitions("contact"),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(by=request.user, **form.values())
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the contact {contact.name}.")
            return redirect("web:contact_detail", pk=contact.pk)
    return _record_form_page(
        request,
        form=form,
        heading="New contact",
        submit="Create contact",
        cancel=reverse("web:contacts"),
        crumbs=[("Contacts", reverse("web:contacts")), ("New", None)],
        status=200 if request.method == "GET" else _invalid_status(request),
    )


@login_required
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _get(selectors.contact_get, request, pk, "change")
    account_visible = _visible(selectors.accounts_visible(user=request.user), contact.account_id)
    initial = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "account": contact.account if account_visible else None,
        "email": contact.email,
        "phone": contact.phone,
        "title": contact.title,
        "owner_position": contact.owner_position,
        "external_id": contact.external_id,
    }
    form = crm_forms.ContactForm(
        _posted(request),
        user=request.user,
        custom=custom_definitions("contact"),
        custom_values=contact.custom,
        initial=initial,
    )
    if not account_visible and contact.account_id:
        # The link to an account outside the user's view is kept, never shown or changed.
        del form.fields["account"]
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(contact=contact, by=request.user, **form.values())
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved {contact.name}.")
            return redirect("web:contact_detail", pk=contact.pk)
    return _record_form_page(
        request,
        form=form,
        heading=f"Edit {contact.name}",
        submit="Save",
        cancel=reverse("web:contact_detail", args=[contact.pk]),
        crumbs=[
            ("Contacts", reverse("web:contacts")),
            (contact.name, reverse("web:contact_detail", args=[contact.pk])),
            ("Edit", None),
        ],
        status=200 if request.method == "GET" else _invalid_status(request),
    )


# --- leads --------------------------------------------------------------------------------------


def _age(since: dt.datetime | None, until: dt.datetime | None = None) -> dt.timedelta | None:
    if since is None:
        return None
    return (until or timezone.now()) - since


def _hours(delta: dt.timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 3600, 1)


def speed_to_lead(lead: Lead) -> dict[str, Any]:
    """Time from creation to first touch, and whether it met the SLA (or is late already)."""
    sla = dt.timedelta(hours=SPEED_TO_LEAD_SLA_HOURS)
    if lead.first_touch_at is not None:
        delta = _age(lead.created_at, lead.first_touch_at)
        return {"hours": _hours(delta), "touched": True, "late": bool(delta and delta > sla)}
    waiting = _age(lead.created_at)
    open_ = lead.status not in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)
    return {
        "hours": _hours(waiting),
        "touched": False,
        "late": bool(open_ and waiting and waiting > sla),
    }


LEAD_PATH = (
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFYING,
    LeadStatus.SALES_QUALIFIED,
    LeadStatus.CONVERTED,
)


def lead_path(lead: Lead) -> tuple[list[tuple[str, str]], str]:
    """The steps of the lead's path as (label, done | current | ""), and the label of a status
    off the path (disqualified, recycled) or ""."""
    on_path = lead.status in LEAD_PATH
    index = LEAD_PATH.index(lead.status) if on_path else -1
    steps = []
    for i, status in enumerate(LEAD_PATH):
        state = "current" if i == index else "done" if i < index else ""
        steps.append((str(status.label), state))
    return steps, "" if on_path else str(lead.get_status_display())


STATUS_BUTTONS = {
    LeadStatus.CONTACTED: ("Mark contacted", "btn"),
    LeadStatus.QUALIFYING: ("Start qualifying", "btn"),
    LeadStatus.RECYCLED: ("Recycle", "btn btn-ghost"),
}


def _lead_page(
    request: HttpRequest,
    lead: Lead,
    *,
    forms: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    forms = forms or {}
    here = reverse("web:lead_detail", args=[lead.pk])
    allowed = LEAD_TRANSITIONS.get(lead.status, frozenset())
    buttons = [
        {"status": s, "label": STATUS_BUTTONS[s][0], "css": STATUS_BUTTONS[s][1]}
        for s in (LeadStatus.CONTACTED, LeadStatus.QUALIFYING, LeadStatus.RECYCLED)
        if s in allowed
    ]
    if LeadStatus.QUALIFYING in allowed and lead.status == LeadStatus.SALES_QUALIFIED:
        buttons = [b for b in buttons if b["status"] != LeadStatus.QUALIFYING] + [
            {"status": LeadStatus.QUALIFYING, "label": "Back to qualifying", "css": "btn btn-ghost"}
        ]
    open_lead = lead.status not in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)
    bant_initial = {
        "budget": lead.bant_budget,
        "authority": lead.bant_authority,
        "need": lead.bant_need,
        "timeline": lead.bant_timeline,
    }
    accounts_seen = selectors.accounts_visible(user=user)
    lists = ProspectList.objects.visible_to(user).filter(members__lead=lead).order_by("name")
    path, path_off = lead_path(lead)
    context = {
        "lead": lead,
        "path": path,
        "path_off": path_off,
        "can_change": can(user, "change", lead),
        "custom": _custom_display(custom_definitions("lead"), lead.custom),
        "buttons": buttons,
        "can_disqualify": LeadStatus.DISQUALIFIED in allowed,
        "can_qualify": open_lead,
        "can_convert": lead.status == LeadStatus.SALES_QUALIFIED,
        "open_lead": open_lead,
        "disqualify_form": forms.get("disqualify") or crm_forms.DisqualifyForm(),
        "bant_form": forms.get("bant") or crm_forms.BantForm(initial=bant_initial),
        "status_form_errors": forms.get("status_errors"),
        "assign_form": forms.get("assign") or crm_forms.LeadAssignForm(user=user),
        "history": list(selectors.lead_history(user=user, lead=lead)),
        "speed": speed_to_lead(lead),
        "sla_hours": SPEED_TO_LEAD_SLA_HOURS,
        "account_visible": _visible(accounts_seen, lead.account_id),
        "campaign_visible": _visible(Campaign.objects.visible_to(user), lead.campaign_id),
        "converted_account_visible": _visible(accounts_seen, lead.converted_account_id),
        "converted_contact_visible": _visible(
            selectors.contacts_visible(user=user), lead.converted_contact_id
        ),
        "converted_opportunity_url": (
            optional_url("web:opportunity_detail", lead.converted_opportunity_id)
            if lead.converted_opportunity_id and can(user, "view", lead.converted_opportunity)
            else None
        ),
        "lists": list(lists),
        "timeline": _timeline(user, lead, selectors.activities_for(user=user, lead=lead)),
        **_activity_context("lead", lead, here, forms.get("activity")),
        "scoring": _lead_score_context(request, lead, forms.get("score_override")),
    }
    return render(request, "web/crm/lead_detail.html", context, status=status)


def _lead_score_context(request: HttpRequest, lead: Lead, form: Any) -> dict[str, Any]:
    """The lead's score card (``web.views.scoring``): explanation, fit, override form."""
    from revline.web.views.scoring import lead_score_context

    return lead_score_context(request, lead, form=form)


@login_required
@require_GET
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _lead_page(request, _get(selectors.lead_get, request, pk))


@login_required
def lead_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    if campaign := request.GET.get("campaign"):
        initial["campaign"] = campaign
        initial["source"] = "campaign"
    form = crm_forms.LeadForm(
        _posted(request), user=request.user, custom=custom_definitions("lead"), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            lead = services.lead_create(by=request.user, **form.values())
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            owner = lead.owner_position
            messages.success(request, f"Created the lead {lead}, owned by {owner}.")
            return redirect("web:lead_detail", pk=lead.pk)
    return _record_form_page(
        request,
        form=form,
        heading="New lead",
        submit="Create lead",
        cancel=reverse("web:leads"),
        crumbs=[("Leads", reverse("web:leads")), ("New", None)],
        status=200 if request.method == "GET" else _invalid_status(request),
    )


LEAD_EDIT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "sector",
    "employees",
    "annual_revenue",
    "country",
    "source",
    "source_name",
    "external_id",
)


@login_required
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get(selectors.lead_get, request, pk, "change")
    initial = {name: getattr(lead, name) for name in LEAD_EDIT_FIELDS}
    initial.update(region=lead.region_id, campaign=lead.campaign_id)
    form = crm_forms.LeadForm(
        _posted(request),
        user=request.user,
        custom=custom_definitions("lead"),
        custom_values=lead.custom,
        initial=initial,
        editing=True,
    )
    if lead.campaign_id and not _visible(
        Campaign.objects.visible_to(request.user), lead.campaign_id
    ):
        # The link to a campaign outside the user's view is kept, never shown or changed.
        del form.fields["campaign"]
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(lead=lead, by=request.user, **form.values())
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved {lead}.")
            return redirect("web:lead_detail", pk=lead.pk)
    return _record_form_page(
        request,
        form=form,
        heading=f"Edit {lead}",
        submit="Save",
        cancel=reverse("web:lead_detail", args=[lead.pk]),
        crumbs=[
            ("Leads", reverse("web:leads")),
            (str(lead), reverse("web:lead_detail", args=[lead.pk])),
            ("Edit", None),
        ],
        status=200 if request.method == "GET" else _invalid_status(request),
    )


@login_required
@require_POST
def lead_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a lead to one of its allowed next statuses (the buttons on the lead page)."""
    lead = _get(selectors.lead_get, request, pk, "change")
    form = crm_forms.LeadStatusForm(request.POST)
    if form.is_valid():
        try:
            lead = services.lead_set_status(
                lead=lead,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                by=request.user,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"{lead} is now {lead.get_status_display().lower()}.")
            return _done(request, _safe_next(request, reverse("web:lead_detail", args=[lead.pk])))
    errors = [str(e) for errs in form.errors.values() for e in errs]
    return _lead_page(
        request, lead, forms={"status_errors": errors}, status=_invalid_status(request)
    )


@login_required
@require_POST
def lead_disqualify(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get(selectors.lead_get, request, pk, "change")
    form = crm_forms.DisqualifyForm(request.POST)
    if form.is_valid():
        try:
            lead = services.lead_set_status(
                lead=lead,
                status=LeadStatus.DISQUALIFIED,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                by=request.user,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(
                request, f"Disqualified {lead}: {lead.get_disqualify_reason_display().lower()}."
            )
            return _done(request, _safe_next(request, reverse("web:lead_detail", args=[lead.pk])))
    return _lead_page(request, lead, forms={"disqualify": form}, status=_invalid_status(request))


@login_required
@require_POST
def lead_qualify(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get(selectors.lead_get, request, pk, "change")
    form = crm_forms.BantForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            lead = services.lead_qualify(
                lead=lead,
                by=request.user,
                budget=data["budget"],
                authority=data["authority"] or "",
                need=data["need"] or "",
                timeline=data["timeline"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"{lead} is sales-qualified: hand it to an AE next.")
            return redirect("web:lead_detail", pk=lead.pk)
    return _lead_page(request, lead, forms={"bant": form}, status=_invalid_status(request))


@login_required
@require_POST
def lead_assign(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _get(selectors.lead_get, request, pk, "change")
    form = crm_forms.LeadAssignForm(request.POST, user=request.user)
    if form.is_valid():
        target = form.cleaned_data["to_position"]
        try:
            services.lead_assign(
                lead=lead, to_position=target, by=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"{lead} now belongs to {target}.")
            if can(request.user, "view", lead):
                return redirect("web:lead_detail", pk=lead.pk)
            return redirect("web:leads")
    return _lead_page(request, lead, forms={"assign": form}, status=_invalid_status(request))


@login_required
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    """The SDR -> AE hand-off: choose the receiving AE, see which account and contact the lead
    matches, confirm; one service call converts the lead and opens the AE's opportunity."""
    lead = _get(selectors.lead_get, request, pk, "change")
    if lead.status != LeadStatus.SALES_QUALIFIED:
        messages.error(
            request, "Only a sales-qualified lead can be handed to an AE; qualify it first."
        )
        return redirect("web:lead_detail", pk=lead.pk)
    form = crm_forms.ConvertForm(_posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.lead_convert(
                lead=lead,
                by=request.user,
                ae_position=data["ae_position"],
                opportunity_name=data["opportunity_name"],
                amount=data["amount"],
                close_date=data["close_date"],
                product=data["product"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            how = "matched" if result.account_matched else "created"
            messages.success(
                request,
                f"Handed {lead} to {data['ae_position']}: opened “{result.opportunity.name}” "
                f"on the {how} account {result.account.name}.",
            )
            url = optional_url("web:opportunity_detail", result.opportunity.pk)
            if url and can(request.user, "view", result.opportunity):
                return redirect(url)
            return redirect("web:lead_detail", pk=lead.pk)
    # What the hand-off will find: shown by name only when the user may see it.
    account = lead.account if lead.account_id else services.account_match(name=lead.company or "")
    contact = services.contact_match(email=lead.email, account=account) if lead.email else None
    context = {
        "lead": lead,
        "form": form,
        "match_account": account,
        "match_account_visible": bool(account) and can(request.user, "view", account),
        "match_contact": contact,
        "match_contact_visible": bool(contact) and can(request.user, "view", contact),
        "no_receivers": not form.fields["ae_position"].queryset.exists(),
    }
    status = 200 if request.method == "GET" else _invalid_status(request)
    return render(request, "web/crm/lead_convert.html", context, status=status)


# --- activities ---------------------------------------------------------------------------------

TARGET_GETTERS: dict[str, Callable[..., Any]] = {
    "lead": selectors.lead_get,
    "contact": selectors.contact_get,
    "account": selectors.account_get,
    "opportunity": _opportunity_get,
}
TARGET_PAGES = {
    "lead": "web:lead_detail",
    "contact": "web:contact_detail",
    "account": "web:account_detail",
    "opportunity": "web:opportunity_detail",
}


def _target_url(kind: str, pk: int) -> str:
    return optional_url(TARGET_PAGES[kind], pk) or reverse("web:home")


@login_required
@require_POST
def activity_log(request: HttpRequest) -> HttpResponse:
    """Log a call, e-mail, meeting, note or task on a lead, contact, account or opportunity.
    The user must be allowed to change the target (else 403; 404 when they cannot see it)."""
    form = crm_forms.ActivityForm(request.POST)
    kind = request.POST.get("target_kind", "")
    if kind not in TARGET_GETTERS:
        raise Http404("Not found.")
    target = _get(TARGET_GETTERS[kind], request, request.POST.get("target_id"), "change")
    default_next = _target_url(kind, target.pk)
    next_url = _safe_next(request, default_next)
    if form.is_valid():
        data = form.cleaned_data
        try:
            activity = services.activity_log(
                by=request.user,
                kind=data["kind"],
                subject=data["subject"],
                occurred_at=data["occurred_at"],
                due_at=data["due_at"],
                outcome=data["outcome"] or "",
                body=data["body"],
                **{kind: target},
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            what = "Planned the task" if activity.kind == ActivityKind.TASK else "Logged"
            messages.success(request, f"{what} “{activity.subject}”.")
            return _done(request, next_url)
    context = {**_activity_context(kind, target, next_url, form), "target_url": default_next}
    if wants_partial(request):
        return render(request, "web/crm/_activity_form.html", context)
    return render(request, "web/crm/activity_form.html", context, status=400)


ACTIVITY_DRILL = (
    *drill.OWNED,
    "kind",
    "outcome",
    "occurred_from",
    "occurred_to",
    "due_from",
    "due_to",
    "overdue_on",
)


def _activities_query(request: HttpRequest) -> tuple[dict[str, str], QuerySet]:
    """The activity list's filters and rows (the page and its CSV): every activity the user
    sees, newest first, narrowed by the KPI drill-down filters."""
    found = drill.read(request.GET, ACTIVITY_DRILL)
    filters = dict(found)
    if request.GET.get("open"):
        filters["open"] = request.GET["open"]
    return found, selectors.activities_for(user=request.user, filters=filters)


def activities(request: HttpRequest) -> HttpResponse:
    """``crm/activities/``: the list on GET (``activity_list``), logging one on POST
    (``activity_log``)."""
    if request.method == "POST":
        return activity_log(request)
    return activity_list(request)


@login_required
@require_GET
def activity_list(request: HttpRequest) -> HttpResponse:
    found, qs = _activities_query(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    kind = found.get("kind", "")  # a drill-down may ask for several: "call,meeting"
    context = {
        "page": page,
        "now": timezone.now(),
        "kinds": ActivityKind.choices,
        "kind": kind,
        "kind_values": ActivityKind.values,
        "open": bool(request.GET.get("open")),
        "drill_hidden": {k: v for k, v in found.items() if k != "kind"},
        **drill.context(request, found, reverse("web:activities_export")),
    }
    return render(request, "web/crm/activities.html", context)


ACTIVITY_COLUMNS: list[Column] = [
    ("id", "id"),
    ("kind", "kind"),
    ("subject", "subject"),
    ("outcome", "outcome"),
    ("occurred_at", "occurred_at"),
    ("due_at", "due_at"),
    ("done_at", "done_at"),
    ("owner_position", "owner_position.title"),
    ("owner", _owner_name),
]


@login_required
@require_GET
def activities_export(request: HttpRequest) -> HttpResponse:
    """The activity list as CSV: the same filters, selector and visibility as the page."""
    _, qs = _activities_query(request)
    return dated_csv_response(qs, ACTIVITY_COLUMNS, "activities")


@login_required
@require_POST
def activity_complete(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _get(selectors.activity_get, request, pk, "change")
    form = crm_forms.ActivityCompleteForm(request.POST)
    outcome = form.cleaned_data.get("outcome", "") if form.is_valid() else ""
    services.activity_complete(activity=activity, by=request.user, outcome=outcome or "")
    messages.success(request, f"Completed “{activity.subject}”.")
    for kind in ("opportunity", "lead", "contact", "account"):
        if getattr(activity, f"{kind}_id"):
            default = _target_url(kind, getattr(activity, f"{kind}_id"))
            break
    else:
        default = reverse("web:home")
    return _done(request, _safe_next(request, default))


# --- the SDR lead queue and the hand-off board --------------------------------------------------


@login_required
@require_GET
def lead_queue(request: HttpRequest) -> HttpResponse:
    """The rep's open leads in the order to work them, with quick actions. A manager may look
    at one of the reps they see (``?rep=<position>``)."""
    reps = list(
        crm_forms.visible_positions(request.user, roles=("sdr", "bdr"))
        .filter(holder__isnull=False)
        .exclude(holder_id=request.user.pk)
    )
    rep = next((p for p in reps if str(p.pk) == request.GET.get("rep", "")), None)
    qs = selectors.lead_queue(user=request.user, position_ids=[rep.pk] if rep else None)
    # ordered by score (a person's override first, else the automated score), or working order
    order = request.GET.get("order", "score")
    order = order if order in scoring_selectors.QUEUE_ORDERS else "score"
    qs = scoring_selectors.queue_with_scores(qs, order=order)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for lead in page.object_list:
        rows.append(
            {
                "lead": lead,
                "speed": speed_to_lead(lead),
                "age": _age(lead.created_at),
                "factors": scoring_selectors.top_factors(
                    lead.score.factors if getattr(lead, "score", None) else None
                ),
            }
        )
    context = {
        "order": order,
        "page": page,
        "rows": rows,
        "reps": reps,
        "rep": rep,
        "sla_hours": SPEED_TO_LEAD_SLA_HOURS,
        "late": sum(1 for r in rows if r["speed"]["late"]),
        "call_outcomes": [
            (ActivityOutcome.CONNECTED, "Connected"),
            (ActivityOutcome.NO_ANSWER, "No answer"),
            (ActivityOutcome.LEFT_MESSAGE, "Left a message"),
            (ActivityOutcome.MEETING_BOOKED, "Meeting booked"),
        ],
        "here": request.get_full_path(),
    }
    return render(request, "web/crm/lead_queue.html", context)


@login_required
@require_GET
def handoff(request: HttpRequest) -> HttpResponse:
    """SQL hand-off: sales-qualified leads waiting for an AE, and the latest hand-offs."""
    waiting = selectors.leads_list(
        user=request.user, filters={"status": LeadStatus.SALES_QUALIFIED}, order="created_at"
    ).select_related("qualified_by__holder")
    since = timezone.now() - dt.timedelta(days=30)
    recent = (
        selectors.leads_list(user=request.user, filters={"status": LeadStatus.CONVERTED})
        .filter(handed_over_at__gte=since)
        .select_related("received_by__holder", "qualified_by__holder")
        .order_by("-handed_over_at", "-id")
    )
    context = {
        "waiting": list(waiting[:100]),
        "waiting_count": waiting.count(),
        "recent": list(recent[:50]),
    }
    return render(request, "web/crm/handoff.html", context)


# --- prospect lists -----------------------------------------------------------------------------

PROSPECTS_DRILL = (*drill.OWNED, "added_from", "added_to")
PROSPECT_COLUMNS: list[Column] = [
    ("id", "id"),
    ("list", "prospect_list.name"),
    ("list_owner_position", "prospect_list.owner_position.title"),
    ("list_owner", lambda row: _owner_name(row.prospect_list)),
    ("lead_id", lambda row: row.lead_id if row.lead_visible else ""),
    ("lead", lambda row: row.lead.name if row.lead_visible else ""),
    ("company", lambda row: row.lead.company if row.lead_visible else ""),
    ("added_at", "added_at"),
    ("added_by", lambda row: row.added_by.get_full_name() if row.added_by_id else ""),
    ("how", "how"),
]


def _prospects_query(request: HttpRequest) -> tuple[dict[str, str], QuerySet]:
    """The drill-down filters and rows of the prospects-added list (the page and its CSV)."""
    found = drill.read(request.GET, PROSPECTS_DRILL)
    return found, selectors.prospects_added(user=request.user, filters=found)


@login_required
@require_GET
def prospects_added(request: HttpRequest) -> HttpResponse:
    """Prospects put on the lists the user sees, across the lists: what the prospects-added
    KPI counts (a lead on two lists is two rows)."""
    found, qs = _prospects_query(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        **drill.context(request, found, reverse("web:prospects_export")),
    }
    return render(request, "web/crm/prospects_added.html", context)


@login_required
@require_GET
def prospects_added_export(request: HttpRequest) -> HttpResponse:
    """The prospects added as CSV: the same filters, selector and visibility as the page."""
    _, qs = _prospects_query(request)
    return dated_csv_response(qs, PROSPECT_COLUMNS, "prospects-added")


@login_required
def prospect_lists(request: HttpRequest) -> HttpResponse:
    form = crm_forms.ProspectListForm(_posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plist = services.prospect_list_create(
                by=request.user,
                name=data["name"],
                description=data["description"],
                owner_position=data["owner_position"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the list {plist.name}.")
            return redirect("web:prospect_list_detail", pk=plist.pk)
    context = {"lists": list(selectors.prospect_lists(user=request.user)), "form": form}
    status = 200 if request.method == "GET" else _invalid_status(request)
    return render(request, "web/crm/prospect_lists.html", context, status=status)


def _rule_chips(rule: dict) -> list[tuple[str, str]]:
    return [(FILTER_LABELS.get(k, k.replace("_", " ")), str(v)) for k, v in (rule or {}).items()]


@login_required
@require_GET
def prospect_list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plist = _get(selectors.prospect_list_get, request, pk)
    members = selectors.prospect_list_members(user=request.user, prospect_list=plist)
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "plist": plist,
        "page": page,
        "can_change": can(request.user, "change", plist),
        "rule": _rule_chips(plist.rule),
        "import_url": optional_url("web:import_new"),
    }
    return render(request, "web/crm/prospect_list_detail.html", context)


@login_required
def prospect_list_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a new prospect: an outbound lead owned by the list's owner, put on the list."""
    plist = _get(selectors.prospect_list_get, request, pk, "change")
    form = crm_forms.ProspectAddForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        try:
            lead = services.prospect_add(prospect_list=plist, by=request.user, **values)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Added {lead} to {plist.name}.")
            if "another" in request.POST:
                return redirect("web:prospect_list_add", pk=plist.pk)
            return redirect("web:prospect_list_detail", pk=plist.pk)
    return render(
        request,
        "web/crm/prospect_add.html",
        {"plist": plist, "form": form},
        status=200 if request.method == "GET" else _invalid_status(request),
    )


@login_required
def prospect_list_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Add by search: filter the leads the user sees, tick, add."""
    plist = _get(selectors.prospect_list_get, request, pk, "change")
    if request.method == "POST":
        wanted = _ids(request.POST.getlist("lead"))
        leads_qs = selectors.leads_visible(user=request.user).filter(pk__in=wanted)
        added = services.prospect_list_add(
            prospect_list=plist, leads=list(leads_qs), by=request.user, how="search"
        )
        messages.success(request, f"Added {added} lead{'s' if added != 1 else ''} to {plist.name}.")
        return redirect("web:prospect_list_detail", pk=plist.pk)
    custom = custom_definitions("lead")
    form = crm_forms.LeadFilterForm(request.GET, user=request.user, custom=custom)
    q, filters = form.search(), form.filters()
    searched = bool(q or filters)
    results: list[Lead] = []
    total = 0
    members: set[int] = set()
    if searched:
        qs = selectors.leads_list(user=request.user, q=q, filters=filters)
        total = qs.count()
        results = list(qs[:100])
        members = set(
            plist.members.filter(lead_id__in=[r.pk for r in results]).values_list(
                "lead_id", flat=True
            )
        )
    context = {
        "plist": plist,
        "form": form,
        "results": results,
        "total": total,
        "members": members,
        "searched": searched,
    }
    return htmx_render(
        request, "web/crm/prospect_search.html", "web/crm/_prospect_search_results.html", context
    )


@login_required
def prospect_list_rule(request: HttpRequest, pk: int) -> HttpResponse:
    """The list's rule: lead filters whose matches a refresh adds."""
    plist = _get(selectors.prospect_list_get, request, pk, "change")
    custom = custom_definitions("lead")
    data = request.POST if request.method == "POST" else None
    initial = {k: v for k, v in (plist.rule or {}).items()}
    if "untouched" in initial:
        initial["untouched"] = str(initial["untouched"]).lower() in ("1", "true", "yes")
    form = crm_forms.ProspectRuleForm(data, user=request.user, custom=custom, initial=initial)
    if request.method == "POST" and form.is_valid():
        rule = form.filters()
        try:
            services.prospect_list_update(prospect_list=plist, by=request.user, rule=rule)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            if "refresh" in request.POST and rule:
                added = services.prospect_list_refresh(prospect_list=plist, by=request.user)
                messages.success(request, f"Saved the rule and added {added} matching leads.")
            else:
                messages.success(request, "Saved the rule.")
            return redirect("web:prospect_list_detail", pk=plist.pk)
    return render(
        request,
        "web/crm/prospect_rule.html",
        {"plist": plist, "form": form},
        status=200 if request.method == "GET" else _invalid_status(request),
    )


@login_required
@require_POST
def prospect_list_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    plist = _get(selectors.prospect_list_get, request, pk, "change")
    if not plist.rule:
        messages.info(request, "This list has no rule yet: set one to refresh it.")
        return redirect("web:prospect_list_rule", pk=plist.pk)
    added = services.prospect_list_refresh(prospect_list=plist, by=request.user)
    messages.success(
        request, f"Refreshed {plist.name}: {added} new lead{'s' if added != 1 else ''}."
    )
    return redirect("web:prospect_list_detail", pk=plist.pk)


@login_required
@require_POST
def prospect_list_remove(request: HttpRequest, pk: int) -> HttpResponse:
    plist = _get(selectors.prospect_list_get, request, pk, "change")
    wanted = _ids(request.POST.getlist("lead"))
    visible = selectors.leads_visible(user=request.user).filter(pk__in=wanted)
    removed = services.prospect_list_remove(
        prospect_list=plist, leads=list(visible.values_list("id", flat=True)), by=request.user
    )
    messages.success(request, f"Removed {removed} lead{'s' if removed != 1 else ''} from the list.")
    return redirect("web:prospect_list_detail", pk=plist.pk)


# --- complaints and surveys ---------------------------------------------------------------------


COMPLAINT_DRILL = (*drill.OWNED, *drill.ACCOUNT, "raised_from", "raised_to", "open_on")


def _complaints_query(request: HttpRequest) -> tuple[str, dict[str, str], QuerySet]:
    """The complaint list's state, drill-down filters and rows (the page and its CSV)."""
    found = drill.read(request.GET, COMPLAINT_DRILL)
    # "Open at the end of a day" covers complaints resolved since: every status by default.
    state = request.GET.get("state", "all" if "open_on" in found else "open")
    filters: dict[str, Any] = dict(found)
    if state == "open":
        filters["open"] = "1"
    elif state in ComplaintStatus.values:
        filters["status"] = state
    if request.GET.get("severity") in ComplaintSeverity.values:
        filters["severity"] = request.GET["severity"]
    for key in ("account", "owner"):
        if request.GET.get(key):
            filters[key] = request.GET[key]
    q = request.GET.get("q", "").strip()
    qs = _with_account_visibility(
        selectors.complaints_list(user=request.user, q=q, filters=filters), request.user
    )
    return state, found, qs


@login_required
@require_GET
def complaints(request: HttpRequest) -> HttpResponse:
    state, found, qs = _complaints_query(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "state": state,
        "q": request.GET.get("q", "").strip(),
        "severity": request.GET.get("severity", ""),
        "severities": ComplaintSeverity.choices,
        "states": [("open", "Open"), *ComplaintStatus.choices, ("all", "All")],
        "now": timezone.now(),
        "drill_hidden": found,
        **drill.context(request, found, reverse("web:complaints_export")),
    }
    return htmx_render(
        request, "web/crm/complaints.html", "web/crm/_complaints_table.html", context
    )


COMPLAINT_COLUMNS: list[Column] = [
    ("id", "id"),
    ("subject", "subject"),
    ("account", lambda row: row.account.name if row.account_visible else ""),
    ("severity", "severity"),
    ("status", "status"),
    ("raised_at", "raised_at"),
    ("resolved_at", "resolved_at"),
    ("owner_position", "owner_position.title"),
    ("owner", _owner_name),
]


@login_required
@require_GET
def complaints_export(request: HttpRequest) -> HttpResponse:
    """The complaint list as CSV: the same filters, selector and visibility as the page."""
    _, _, qs = _complaints_query(request)
    return dated_csv_response(qs, COMPLAINT_COLUMNS, "complaints")


@login_required
def complaint_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    actor = services.actor_position(request.user, roles=set(crm_forms.COMPLAINT_OWNER_ROLES))
    if actor is not None:
        initial["owner_position"] = actor
    if (found := _account_or_none(request, request.GET.get("account"))) is not None:
        initial["account"] = found
    form = crm_forms.ComplaintForm(_posted(request), user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            complaint = services.complaint_create(
                by=request.user,
                owner_position=data["owner_position"],
                account=data["account"],
                subject=data["subject"],
                contact=data["contact"],
                description=data["description"],
                severity=data["severity"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Logged the complaint “{complaint.subject}”.")
            return redirect("web:complaint_detail", pk=complaint.pk)
    return _record_form_page(
        request,
        form=form,
        heading="New complaint",
        submit="Log complaint",
        cancel=reverse("web:complaints"),
        crumbs=[("Complaints", reverse("web:complaints")), ("New", None)],
        intro="A customer's complaint, owned by a sales manager or customer success.",
        status=200 if request.method == "GET" else _invalid_status(request),
    )


def _complaint_page(
    request: HttpRequest, complaint: Any, *, form: Any = None, status: int = 200
) -> HttpResponse:
    user = request.user
    context = {
        "complaint": complaint,
        "can_change": can(user, "change", complaint),
        "account_visible": _visible(selectors.accounts_visible(user=user), complaint.account_id),
        "contact_visible": _visible(selectors.contacts_visible(user=user), complaint.contact_id),
        "form": form or crm_forms.ComplaintResolveForm(),
        "timeline": _audit_entries(user, complaint),
    }
    return render(request, "web/crm/complaint_detail.html", context, status=status)


@login_required
@require_GET
def complaint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _complaint_page(request, _get(selectors.complaint_get, request, pk))


@login_required
@require_POST
def complaint_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    complaint = _get(selectors.complaint_get, request, pk, "change")
    form = crm_forms.ComplaintResolveForm(request.POST)
    if form.is_valid():
        try:
            services.complaint_resolve(
                complaint=complaint, by=request.user, resolution=form.cleaned_data["resolution"]
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Resolved “{complaint.subject}”.")
            return redirect("web:complaint_detail", pk=complaint.pk)
    return _complaint_page(request, complaint, form=form, status=_invalid_status(request))


@login_required
@require_POST
def complaint_progress(request: HttpRequest, pk: int) -> HttpResponse:
    complaint = _get(selectors.complaint_get, request, pk, "change")
    status = request.POST.get("status", ComplaintStatus.IN_PROGRESS)
    try:
        services.complaint_set_status(complaint=complaint, by=request.user, status=status)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"“{complaint.subject}” is {complaint.get_status_display().lower()}."
        )
    return redirect("web:complaint_detail", pk=complaint.pk)


SURVEY_DRILL = (*drill.OWNED, *drill.ACCOUNT, "responded_from", "responded_to")


def _surveys_query(request: HttpRequest) -> tuple[str, dict[str, str], QuerySet]:
    """The answer list's kind, drill-down filters and rows (the page and its CSV)."""
    found = drill.read(request.GET, SURVEY_DRILL)
    filters: dict[str, Any] = dict(found)
    kind = request.GET.get("kind", "")
    if kind in SurveyKind.values:
        filters["kind"] = kind
    if request.GET.get("account"):
        filters["account"] = request.GET["account"]
    return kind, found, selectors.surveys_list(user=request.user, filters=filters)


def _surveys_shown(qs: QuerySet, user: Any) -> QuerySet:
    contact_visible = visible_link(user, Contact, "contact_id")
    return (
        _with_account_visibility(qs, user)
        .annotate(contact_visible=contact_visible)
        .select_related("owner_position", "owner_position__holder")
    )


@login_required
@require_GET
def surveys(request: HttpRequest) -> HttpResponse:
    kind, found, qs = _surveys_query(request)
    page = Paginator(_surveys_shown(qs, request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    csat = qs.filter(kind=SurveyKind.CSAT).aggregate(avg=Avg("score"), n=Count("id"))
    nps = (
        qs.filter(kind=SurveyKind.NPS)
        .order_by()
        .aggregate(
            n=Count("id"),
            promoters=Count("id", filter=Q(score__gte=9)),
            detractors=Count("id", filter=Q(score__lte=6)),
        )
    )
    nps_score = round(100 * (nps["promoters"] - nps["detractors"]) / nps["n"]) if nps["n"] else None
    context = {
        "page": page,
        "kind": kind,
        "kinds": SurveyKind.choices,
        "csat": csat,
        "nps": nps,
        "nps_score": nps_score,
        "kind_query": drill.query(request.GET, "kind"),
        **drill.context(request, found, reverse("web:surveys_export")),
    }
    return render(request, "web/crm/surveys.html", context)


SURVEY_COLUMNS: list[Column] = [
    ("id", "id"),
    ("kind", "kind"),
    ("score", "score"),
    ("account", lambda row: row.account.name if row.account_visible else ""),
    ("contact", lambda row: row.contact.name if row.contact_id and row.contact_visible else ""),
    ("responded_at", "responded_at"),
    ("owner_position", "owner_position.title"),
    ("owner", _owner_name),
    ("comment", "comment"),
]


@login_required
@require_GET
def surveys_export(request: HttpRequest) -> HttpResponse:
    """The satisfaction answers as CSV: the same filters, selector and visibility as the page."""
    _, _, qs = _surveys_query(request)
    return dated_csv_response(_surveys_shown(qs, request.user), SURVEY_COLUMNS, "surveys")


@login_required
def survey_create(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"owner_position": _actor(request)}
    if (found := _account_or_none(request, request.GET.get("account"))) is not None:
        initial["account"] = found
    form = crm_forms.SurveyForm(_posted(request), user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.survey_record(
                by=request.user,
                owner_position=data["owner_position"],
                account=data["account"],
                kind=data["kind"],
                score=data["score"],
                contact=data["contact"],
                comment=data["comment"],
                responded_at=data["responded_at"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Recorded the {data['kind'].upper()} answer.")
            return redirect("web:surveys")
    return _record_form_page(
        request,
        form=form,
        heading="Record a survey answer",
        submit="Record answer",
        cancel=reverse("web:surveys"),
        crumbs=[("Satisfaction", reverse("web:surveys")), ("New answer", None)],
        status=200 if request.method == "GET" else _invalid_status(request),
    )


# --- campaigns and referrals --------------------------------------------------------------------


@login_required
def campaigns(request: HttpRequest) -> HttpResponse:
    form = crm_forms.CampaignForm(
        _posted(request), user=request.user, initial={"owner_position": _actor(request)}
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            campaign = services.campaign_create(
                by=request.user,
                owner_position=data.pop("owner_position"),
                name=data.pop("name"),
                **data,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the campaign {campaign.name}.")
            return redirect("web:campaigns")
    found, qs = _campaigns_query(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for campaign in page.object_list:
        campaign.cost_per_lead = (
            campaign.cost / campaign.lead_count if campaign.lead_count else None
        )
    context = {
        "page": page,
        "form": form,
        "q": request.GET.get("q", "").strip(),
        "status": request.GET.get("status", ""),
        "statuses": Campaign._meta.get_field("status").choices,
        "drill_hidden": found,
        **drill.context(request, found, reverse("web:campaigns_export")),
    }
    status = 200 if request.method == "GET" else _invalid_status(request)
    return render(request, "web/crm/campaigns.html", context, status=status)


CAMPAIGN_DRILL = ("started_from", "started_to", "id")


def _campaigns_query(request: HttpRequest) -> tuple[dict[str, str], QuerySet]:
    """The campaign list's drill-down filters and rows (the page and its CSV)."""
    found = drill.read(request.GET, CAMPAIGN_DRILL)
    filters = {k: request.GET[k] for k in ("status", "kind") if request.GET.get(k)}
    filters.update(found)
    q = request.GET.get("q", "").strip()
    return found, selectors.campaigns_list(user=request.user, q=q, filters=filters)


CAMPAIGN_COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", "name"),
    ("kind", "kind"),
    ("status", "status"),
    ("start_date", "start_date"),
    ("end_date", "end_date"),
    ("cost", "cost"),
    ("currency", "currency"),
    ("leads", "lead_count"),
    ("owner_position", "owner_position.title"),
    ("external_id", "external_id"),
]


@login_required
@require_GET
def campaigns_export(request: HttpRequest) -> HttpResponse:
    """The campaign list as CSV: the same filters, selector and visibility as the page."""
    _, qs = _campaigns_query(request)
    return dated_csv_response(qs, CAMPAIGN_COLUMNS, "campaigns")


@login_required
def referrals(request: HttpRequest) -> HttpResponse:
    form = crm_forms.ReferralForm(
        _posted(request), user=request.user, initial={"owner_position": _actor(request)}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.referral_create(
                by=request.user,
                owner_position=data["owner_position"],
                lead=data["lead"],
                referrer_contact=data["referrer_contact"],
                referrer_name=data["referrer_name"],
                reward=data["reward"],
                note=data["note"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Recorded the referral.")
            return redirect("web:referrals")
    outcome = request.GET.get("outcome", "")
    filters = {"outcome": outcome} if outcome in ReferralOutcome.values else {}
    qs = (
        selectors.referrals_list(user=request.user, filters=filters)
        .select_related("owner_position__holder")
        .annotate(
            lead_visible=Exists(
                selectors.leads_visible(user=request.user).filter(pk=OuterRef("lead_id"))
            ),
            contact_visible=Exists(
                selectors.contacts_visible(user=request.user).filter(
                    pk=OuterRef("referrer_contact_id")
                )
            ),
        )
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "form": form,
        "outcome": outcome,
        "outcomes": ReferralOutcome.choices,
    }
    status = 200 if request.method == "GET" else _invalid_status(request)
    return render(request, "web/crm/referrals.html", context, status=status)


@login_required
@require_POST
def referral_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    referral = _get(selectors.referral_get, request, pk, "change")
    form = crm_forms.ReferralOutcomeForm(request.POST)
    if form.is_valid():
        try:
            services.referral_set_outcome(
                referral=referral,
                by=request.user,
                outcome=form.cleaned_data["outcome"],
                reward=form.cleaned_data["reward"] or None,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "Saved the referral's outcome.")
    else:
        messages.error(request, "Choose an outcome.")
    return redirect(_safe_next(request, reverse("web:referrals")))


# --- configuration (RevOps): custom fields and lead routing -------------------------------------


@crm_admin_required
def custom_fields(request: HttpRequest) -> HttpResponse:
    entity = request.GET.get("entity", "")
    entity = entity if entity in CustomFieldEntity.values else ""
    form = crm_forms.CustomFieldForm(_posted(request), initial={"entity": entity or "lead"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            definition = custom_field_save(
                by=request.user,
                entity=data["entity"],
                key=data["key"],
                label=data["label"],
                field_type=data["field_type"],
                choices=data["choices"],
                required=data["required"],
                help_text=data["help_text"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(
                request,
                f"Added the custom field {definition.label} ({definition.entity}.{definition.key}).",
            )
            return redirect(reverse("web:custom_fields") + f"?entity={definition.entity}")
    definitions = selectors.custom_field_definitions(entity=entity or None).order_by(
        "entity", "order", "label", "id"
    )
    context = {
        "form": form,
        "definitions": list(definitions),
        "entity": entity,
        "entities": CustomFieldEntity.choices,
    }
    status = 200 if request.method == "GET" else _invalid_status(request)
    return render(request, "web/crm/custom_fields.html", context, status=status)


@crm_admin_required
def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        definition = selectors.custom_field_definitions().get(pk=pk)
    except CustomFieldDefinition.DoesNotExist:
        raise Http404("Not found.") from None
    initial = {
        "entity": definition.entity,
        "label": definition.label,
        "key": definition.key,
        "field_type": definition.field_type,
        "choices": "\n".join(str(c) for c in definition.choices or []),
        "required": definition.required,
        "help_text": definition.help_text,
    }
    form = crm_forms.CustomFieldForm(_posted(request), initial=initial)
    form.fields["entity"].disabled = True
    form.fields["key"].disabled = True
    form.fields["key"].help_text = "Fixed once created: values, imports and filters use it."
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            custom_field_save(
                by=request.user,
                definition=definition,
                entity=definition.entity,
                key=definition.key,
                label=data["label"],
                field_type=data["field_type"],
                choices=data["choices"],
                required=data["required"],
                help_text=data["help_text"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the custom field {definition.label}.")
            return redirect(reverse("web:custom_fields") + f"?entity={definition.entity}")
    return _record_form_page(
        request,
        form=form,
        heading=f"Custom field {definition.entity}.{definition.key}",
        submit="Save",
        cancel=reverse("web:custom_fields"),
        crumbs=[("Custom fields", reverse("web:custom_fields")), (definition.label, None)],
        intro="Changing the type does not convert values already stored.",
        status=200 if request.method == "GET" else _invalid_status(request),
    )


@crm_admin_required
def routing_rules(request: HttpRequest) -> HttpResponse:
    form = crm_forms.RoutingRuleForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            rule = routing.routing_rule_save(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the routing rule {rule.name}; add its members.")
            return redirect("web:routing_rule_edit", pk=rule.pk)
    context = {"rules": list(selectors.routing_rules()), "form": form}
    status = 200 if request.method == "GET" else _invalid_status(request)
    return render(request, "web/crm/routing_rules.html", context, status=status)


def _routing_rule(pk: int) -> RoutingRule:
    try:
        return selectors.routing_rules().get(pk=pk)
    except RoutingRule.DoesNotExist:
        raise Http404("Not found.") from None


def _member_forms(request: HttpRequest, rule: RoutingRule, bound: dict | None = None) -> list:
    bound = bound or {}
    rows = []
    for member in rule.members.all():
        form = bound.get(member.pk) or crm_forms.RoutingMemberForm(
            user=request.user,
            prefix=f"m{member.pk}",
            initial={
                "position": member.position_id,
                "capacity": member.capacity,
                "opted_out": member.opted_out,
            },
        )
        rows.append({"member": member, "form": form})
    return rows


@crm_admin_required
def routing_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _routing_rule(pk)
    initial = {
        "name": rule.name,
        "method": rule.method,
        "priority": rule.priority,
        "active": rule.active,
        "team": rule.team_id,
        "region": rule.region_id,
        "source": rule.source,
        "window_days": rule.window_days,
    }
    form = crm_forms.RoutingRuleForm(_posted(request), initial=initial)
    member_form = crm_forms.RoutingMemberForm(user=request.user, prefix="new")
    if request.method == "POST" and form.is_valid():
        try:
            routing.routing_rule_save(by=request.user, rule=rule, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the routing rule {form.cleaned_data['name']}.")
            return redirect("web:routing_rule_edit", pk=rule.pk)
    return _routing_page(request, rule, form=form, member_form=member_form)


def _routing_page(
    request: HttpRequest,
    rule: RoutingRule,
    *,
    form: Any = None,
    member_form: Any = None,
    bound: dict | None = None,
) -> HttpResponse:
    failed = request.method == "POST"
    context = {
        "rule": rule,
        "form": form,
        "member_form": member_form or crm_forms.RoutingMemberForm(user=request.user, prefix="new"),
        "members": _member_forms(request, rule, bound),
        "audit": _audit_entries(request.user, rule),
    }
    return render(
        request,
        "web/crm/routing_rule.html",
        context,
        status=_invalid_status(request) if failed else 200,
    )


def _rule_form(rule: RoutingRule) -> Any:
    return crm_forms.RoutingRuleForm(
        initial={
            "name": rule.name,
            "method": rule.method,
            "priority": rule.priority,
            "active": rule.active,
            "team": rule.team_id,
            "region": rule.region_id,
            "source": rule.source,
            "window_days": rule.window_days,
        }
    )


@crm_admin_required
@require_POST
def routing_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _routing_rule(pk)
    form = crm_forms.RoutingMemberForm(request.POST, user=request.user, prefix="new")
    if form.is_valid():
        data = form.cleaned_data
        try:
            routing.routing_member_save(by=request.user, rule=rule, **data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"{data['position']} now receives leads from {rule.name}.")
            return redirect("web:routing_rule_edit", pk=rule.pk)
    return _routing_page(request, rule, form=_rule_form(rule), member_form=form)


def _member(rule: RoutingRule, member_pk: int) -> RoutingMember:
    member = next((m for m in rule.members.all() if m.pk == member_pk), None)
    if member is None:
        raise Http404("Not found.")
    return member


@crm_admin_required
@require_POST
def routing_member_edit(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    rule = _routing_rule(pk)
    member = _member(rule, member_pk)
    form = crm_forms.RoutingMemberForm(request.POST, user=request.user, prefix=f"m{member.pk}")
    form.fields["position"].required = False
    if form.is_valid():
        routing.routing_member_save(
            by=request.user,
            rule=rule,
            position=member.position,
            capacity=form.cleaned_data["capacity"],
            opted_out=form.cleaned_data["opted_out"],
        )
        messages.success(request, f"Saved {member.position}.")
        return redirect("web:routing_rule_edit", pk=rule.pk)
    return _routing_page(request, rule, form=_rule_form(rule), bound={member.pk: form})


@crm_admin_required
@require_POST
def routing_member_remove(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    rule = _routing_rule(pk)
    member = _member(rule, member_pk)
    routing.routing_member_remove(by=request.user, member=member)
    messages.success(request, f"{member.position} no longer receives leads from {rule.name}.")
    return redirect("web:routing_rule_edit", pk=rule.pk)


urlpatterns = [
    path("crm/accounts/", accounts, name="accounts"),
    path("crm/accounts/export.csv", accounts_export, name="accounts_export"),
    path("crm/accounts/new/", account_create, name="account_create"),
    path("crm/accounts/<int:pk>/", account_detail, name="account_detail"),
    path("crm/accounts/<int:pk>/edit/", account_edit, name="account_edit"),
    path("crm/contacts/", contacts, name="contacts"),
    path("crm/contacts/export.csv", contacts_export, name="contacts_export"),
    path("crm/contacts/new/", contact_create, name="contact_create"),
    path("crm/contacts/<int:pk>/", contact_detail, name="contact_detail"),
    path("crm/contacts/<int:pk>/edit/", contact_edit, name="contact_edit"),
    path("crm/leads/", leads, name="leads"),
    path("crm/leads/export.csv", leads_export, name="leads_export"),
    path("crm/leads/new/", lead_create, name="lead_create"),
    path("crm/leads/queue/", lead_queue, name="lead_queue"),
    path("crm/leads/handoff/", handoff, name="handoff"),
    path("crm/leads/<int:pk>/", lead_detail, name="lead_detail"),
    path("crm/leads/<int:pk>/edit/", lead_edit, name="lead_edit"),
    path("crm/leads/<int:pk>/status/", lead_status, name="lead_status"),
    path("crm/leads/<int:pk>/disqualify/", lead_disqualify, name="lead_disqualify"),
    path("crm/leads/<int:pk>/qualify/", lead_qualify, name="lead_qualify"),
    path("crm/leads/<int:pk>/assign/", lead_assign, name="lead_assign"),
    path("crm/leads/<int:pk>/convert/", lead_convert, name="lead_convert"),
    path("crm/pick/<slug:kind>/", record_pick, name="crm_pick"),
    path("crm/activities/", activities, name="activity_log"),
    path("crm/activities/", activities, name="activities"),
    path("crm/activities/export.csv", activities_export, name="activities_export"),
    path("crm/activities/<int:pk>/complete/", activity_complete, name="activity_complete"),
    path("crm/prospect-lists/", prospect_lists, name="prospect_lists"),
    path("crm/prospects-added/", prospects_added, name="prospects"),
    path("crm/prospects-added/export.csv", prospects_added_export, name="prospects_export"),
    path("crm/prospect-lists/<int:pk>/", prospect_list_detail, name="prospect_list_detail"),
    path("crm/prospect-lists/<int:pk>/add/", prospect_list_add, name="prospect_list_add"),
    path("crm/prospect-lists/<int:pk>/search/", prospect_list_search, name="prospect_list_search"),
    path("crm/prospect-lists/<int:pk>/rule/", prospect_list_rule, name="prospect_list_rule"),
    path(
        "crm/prospect-lists/<int:pk>/refresh/", prospect_list_refresh, name="prospect_list_refresh"
    ),
    path("crm/prospect-lists/<int:pk>/remove/", prospect_list_remove, name="prospect_list_remove"),
    path("crm/complaints/", complaints, name="complaints"),
    path("crm/complaints/export.csv", complaints_export, name="complaints_export"),
    path("crm/complaints/new/", complaint_create, name="complaint_create"),
    path("crm/complaints/<int:pk>/", complaint_detail, name="complaint_detail"),
    path("crm/complaints/<int:pk>/resolve/", complaint_resolve, name="complaint_resolve"),
    path("crm/complaints/<int:pk>/status/", complaint_progress, name="complaint_progress"),
    path("crm/surveys/", surveys, name="surveys"),
    path("crm/surveys/export.csv", surveys_export, name="surveys_export"),
    path("crm/surveys/new/", survey_create, name="survey_create"),
    path("crm/campaigns/", campaigns, name="campaigns"),
    path("crm/campaigns/export.csv", campaigns_export, name="campaigns_export"),
    path("crm/referrals/", referrals, name="referrals"),
    path("crm/referrals/<int:pk>/outcome/", referral_outcome, name="referral_outcome"),
    path("crm/admin/fields/", custom_fields, name="custom_fields"),
    path("crm/admin/fields/<int:pk>/", custom_field_edit, name="custom_field_edit"),
    path("crm/admin/routing/", routing_rules, name="routing_rules"),
    path("crm/admin/routing/<int:pk>/", routing_rule_edit, name="routing_rule_edit"),
    path("crm/admin/routing/<int:pk>/members/new/", routing_member_add, name="routing_member_add"),
    path(
        "crm/admin/routing/<int:pk>/members/<int:member_pk>/",
        routing_member_edit,
        name="routing_member_edit",
    ),
    path(
        "crm/admin/routing/<int:pk>/members/<int:member_pk>/remove/",
        routing_member_remove,
        name="routing_member_remove",
    ),
]
