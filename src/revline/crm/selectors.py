"""Reads of the CRM, always for an acting user and through ``visible_to``.

List selectors take the same filter keys the web lists put in their query string and the API
accepts as query parameters, so a list, its CSV export and its API answer show the same rows.
Merged-away records (``merged_into`` set) never appear in lists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date

from revline.crm.choices import ComplaintStatus, LeadStatus
from revline.crm.custom_fields import custom_filter_q
from revline.crm.models import (
    Account,
    Activity,
    Campaign,
    Complaint,
    Contact,
    CustomFieldDefinition,
    Lead,
    LeadStatusChange,
    ProspectList,
    ProspectListMember,
    Referral,
    RoutingRule,
    SatisfactionResponse,
)

ACCOUNT_FILTER_KEYS = frozenset(
    {"owner", "sector", "region", "customer_status", "size", "parent", "external_id", "country"}
)
CONTACT_FILTER_KEYS = frozenset({"owner", "account", "external_id", "email"})
LEAD_FILTER_KEYS = frozenset(
    {
        "status",
        "source",
        "owner",
        "region",
        "campaign",
        "external_id",
        "source_name",
        "created_from",
        "created_to",
        "generated_by",
        "qualified_by",
        "received_by",
        "sector",
        "company",
        "email",
        "untouched",
    }
)
ACCOUNT_ORDER = {"name", "sector", "annual_revenue", "employees", "created_at", "id"}
CONTACT_ORDER = {"last_name", "first_name", "email", "created_at", "id"}
LEAD_ORDER = {"last_name", "company", "status", "created_at", "first_touch_at", "id"}
OPEN_LEAD_STATUSES = (
    LeadStatus.NEW,
    LeadStatus.CONTACTED,
    LeadStatus.QUALIFYING,
    LeadStatus.RECYCLED,
    LeadStatus.SALES_QUALIFIED,
)


def _csv(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if str(v)]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return parse_date(str(value))
    except ValueError:
        return None


NOTHING = Q(pk__in=[])


def _id_filter(field: str, value: Any) -> Q:
    ids = [_int(v) for v in _csv(value)]
    if not ids or None in ids:
        return NOTHING
    return Q(**{f"{field}__in": ids})


def _ordered(qs: QuerySet, order: str, allowed: set[str], default: str) -> QuerySet:
    field = (order or "").lstrip("-")
    if field in allowed:
        return qs.order_by(order, "-id" if order.startswith("-") else "id")
    return qs.order_by(default)


def _filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}


def day_start(day: dt.date) -> dt.datetime:
    """The first moment of ``day`` in the site's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def day_range_q(f: Mapping[str, Any], field: str, start_key: str, end_key: str) -> Q:
    """``field`` (a moment) within the days ``f[start_key]`` to ``f[end_key]`` (ISO days, both
    included, in the site's time zone; either may be missing or blank); a date that does not
    parse matches nothing. The day filters of the CRM and pipeline lists."""
    cond = Q()
    for key, lookup, shift in ((start_key, "gte", 0), (end_key, "lt", 1)):
        if f.get(key) in (None, ""):
            continue
        day = _date(f[key])
        if day is None:
            return NOTHING
        cond &= Q(**{f"{field}__{lookup}": day_start(day + dt.timedelta(days=shift))})
    return cond


def as_of(value: Any) -> dt.datetime | None:
    """The end of the day ``value`` (the first moment after it), or now when that is later:
    the moment a KPI's "open" or "overdue" snapshot of a period is taken."""
    day = _date(value)
    if day is None:
        return None
    return min(day_start(day + dt.timedelta(days=1)), timezone.now())


def sales_qualified_q() -> Q:
    """Leads that reached sales-qualified: a status change to it, or converted. The sales-
    qualified KPIs count these and their drill-down lists show them. IN, not a correlated
    EXISTS: PostgreSQL hashes the sales-qualified lead ids once rather than probing the history
    per lead (the planner's estimate of the probes alone had the statement JIT-compiled)."""
    history = LeadStatusChange.objects.filter(to_status=LeadStatus.SALES_QUALIFIED)
    return Q(pk__in=history.values("lead_id")) | Q(converted_opportunity__isnull=False)


def overdue_at_q(moment: dt.datetime) -> Q:
    """Activities overdue at ``moment``: due before it and not done by then."""
    return (Q(done_at__isnull=True) | Q(done_at__gt=moment)) & Q(due_at__lt=moment)


def complaint_open_at_q(moment: dt.datetime) -> Q:
    """Complaints open at ``moment``: raised before it, not resolved by then."""
    return (
        Q(resolved_at__isnull=True, status__in=[ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS])
        | Q(resolved_at__gte=moment)
    ) & Q(raised_at__lt=moment)


def owned_q(f: dict[str, Any], prefix: str = "") -> Q:
    """The KPI drill-down filters on a record's owner (revline.analytics): ``under`` (owned at or
    below a position), ``team`` and ``region`` (the owner's; a region includes its
    sub-regions), ``owner`` (position ids)."""
    from revline.org.models import PositionClosure

    owner = f"{prefix}owner_position"
    cond = Q()
    if "under" in f:
        pk = _int(f["under"])
        if pk is None:
            return NOTHING
        below = PositionClosure.objects.filter(ancestor_id=pk).values("descendant_id")
        cond &= Q(**{f"{owner}_id__in": below})
    if "owner" in f:
        cond &= _id_filter(f"{owner}_id", f["owner"])
    if "team" in f:
        cond &= _id_filter(f"{owner}__team_id", f["team"])
    if "region" in f:
        pk = _int(f["region"])
        if pk is None:
            return NOTHING
        cond &= Q(**{f"{owner}__region_id": pk}) | Q(**{f"{owner}__region__parent_id": pk})
    return cond


def account_q(f: dict[str, Any], prefix: str = "") -> Q:
    """The KPI drill-down filters on a record's account: ``sector`` and ``size`` (band)."""
    cond = Q()
    if "sector" in f:
        cond &= Q(**{f"{prefix}account__sector__iexact": f["sector"]})
    if "size" in f:
        cond &= Q(**{f"{prefix}account__size__in": _csv(f["size"])})
    return cond


# --- accounts ----------------------------------------------------------------------------------


def accounts_visible(*, user: Any, action: str = "view") -> QuerySet[Account]:
    return (
        Account.objects.visible_to(user, action)
        .filter(merged_into__isnull=True)
        .select_related("owner_position", "owner_position__holder", "region", "parent")
    )


def accounts_list(
    *, user: Any, q: str = "", filters: dict[str, Any] | None = None, order: str = ""
) -> QuerySet[Account]:
    qs = accounts_visible(user=user)
    f = _filters(filters)
    cond = Q()
    if "owner" in f:
        cond &= _id_filter("owner_position_id", f["owner"])
    if "parent" in f:
        cond &= _id_filter("parent_id", f["parent"])
    if "sector" in f:
        cond &= Q(sector__iexact=f["sector"])
    if "region" in f:
        cond &= Q(region__code__in=_csv(f["region"]))
    if "customer_status" in f:
        cond &= Q(customer_status__in=_csv(f["customer_status"]))
    if "size" in f:
        cond &= Q(size__in=_csv(f["size"]))
    if "country" in f:
        cond &= Q(country__iexact=f["country"])
    if "external_id" in f:
        cond &= Q(external_id=f["external_id"])
    cond &= custom_filter_q("account", f)
    if q:
        cond &= Q(name__icontains=q) | Q(external_id=q) | Q(website__icontains=q)
    if any(k in f for k in (*RECURRING_KEYS, *DEAL_KEYS)):
        cond &= Q(pk__in=_recurring_won(user, f).values("account_id"))
    return _ordered(qs.filter(cond), order, ACCOUNT_ORDER, "name")


RECURRING_KEYS = ("recurring_won_from", "recurring_won_to")
DEAL_KEYS = tuple(
    f"deal_{k}" for k in ("under", "owner", "team", "region", "product", "type", "sector", "size")
)


def _recurring_won(user: Any, f: dict[str, Any]) -> QuerySet:
    """The recurring deals (a term, or a subscription product) ``user`` sees that were won
    between ``recurring_won_from`` and ``recurring_won_to`` (ISO dates, both included), narrowed
    by the ``deal_<filter>`` filters (the opportunity list's, ``under``, ``owner``, ``team``,
    ``region``, ``product``, ``type``, ``sector``, ``size``): the base of net revenue retention
    (revline.analytics), whose accounts the drill-down lists."""
    from revline.pipeline import selectors as deals
    from revline.pipeline.choices import OpportunityStatus
    from revline.pipeline.models import Opportunity

    deal_filters = {k.removeprefix("deal_"): f[k] for k in DEAL_KEYS if k in f}
    deal_filters["closed_from"] = f.get("recurring_won_from")
    deal_filters["closed_to"] = f.get("recurring_won_to")
    won = Opportunity.objects.visible_to(user).filter(
        deals.recurring_q(),
        status=OpportunityStatus.WON,
        account__isnull=False,
    )
    return deals.opportunities_filter(won, deal_filters, user=user)


def account_get(*, user: Any, pk: Any, action: str = "view") -> Account:
    """One account if ``user`` may see (change) it; ``Account.DoesNotExist`` otherwise."""
    if _int(pk) is None:
        raise Account.DoesNotExist
    return accounts_visible(user=user, action=action).get(pk=pk)


# --- contacts ----------------------------------------------------------------------------------


def contacts_visible(*, user: Any, action: str = "view") -> QuerySet[Contact]:
    return (
        Contact.objects.visible_to(user, action)
        .filter(merged_into__isnull=True)
        .select_related("owner_position", "owner_position__holder", "account")
    )


def contacts_list(
    *, user: Any, q: str = "", filters: dict[str, Any] | None = None, order: str = ""
) -> QuerySet[Contact]:
    qs = contacts_visible(user=user)
    f = _filters(filters)
    cond = Q()
    if "owner" in f:
        cond &= _id_filter("owner_position_id", f["owner"])
    if "account" in f:
        cond &= _id_filter("account_id", f["account"])
    if "external_id" in f:
        cond &= Q(external_id=f["external_id"])
    if "email" in f:
        cond &= Q(email=str(f["email"]).strip().lower())
    cond &= custom_filter_q("contact", f)
    if q:
        cond &= (
            Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(email__icontains=q)
            # the account's name, for an account the user sees (a search tells no more)
            | Q(account__name__icontains=q, account_id__in=accounts_visible(user=user).values("id"))
        )
    return _ordered(qs.filter(cond), order, CONTACT_ORDER, "last_name")


def contact_get(*, user: Any, pk: Any, action: str = "view") -> Contact:
    if _int(pk) is None:
        raise Contact.DoesNotExist
    return contacts_visible(user=user, action=action).get(pk=pk)


# --- leads -------------------------------------------------------------------------------------


def leads_visible(*, user: Any, action: str = "view") -> QuerySet[Lead]:
    return (
        Lead.objects.visible_to(user, action)
        .filter(merged_into__isnull=True)
        .select_related("owner_position", "owner_position__holder", "region", "campaign")
    )


def lead_filter_q(f: dict[str, Any]) -> Q:
    """The lead list's filters as a query (also the rule of a prospect list)."""
    f = _filters(f)
    cond = Q()
    if "status" in f:
        cond &= Q(status__in=_csv(f["status"]))
    if "source" in f:
        cond &= Q(source__in=_csv(f["source"]))
    for key, field in (
        ("owner", "owner_position_id"),
        ("campaign", "campaign_id"),
        ("generated_by", "generated_by_id"),
        ("qualified_by", "qualified_by_id"),
        ("received_by", "received_by_id"),
    ):
        if key in f:
            cond &= _id_filter(field, f[key])
    if "region" in f:
        cond &= Q(region__code__in=_csv(f["region"]))
    if "external_id" in f:
        cond &= Q(external_id=f["external_id"])
    if "source_name" in f:
        cond &= Q(source_name=f["source_name"])
    if "sector" in f:
        cond &= Q(sector__iexact=f["sector"])
    if "company" in f:
        cond &= Q(company__icontains=f["company"])
    if "email" in f:
        cond &= Q(email=str(f["email"]).strip().lower())
    if str(f.get("untouched", "")).lower() in ("1", "true", "yes"):
        cond &= Q(first_touch_at__isnull=True)
    if "created_from" in f:
        day = _date(f["created_from"])
        cond &= Q(created_at__date__gte=day) if day else NOTHING
    if "created_to" in f:
        day = _date(f["created_to"])
        cond &= Q(created_at__date__lte=day) if day else NOTHING
    return cond & _lead_analytics_q(f) & custom_filter_q("lead", f)


def _lead_analytics_q(f: dict[str, Any]) -> Q:
    """The filters the KPI drill-downs pass (revline.analytics): under (the owner, the BDR who
    generated it, the SDR who qualified it or the AE who received it at or below a position),
    sql_from/sql_to (became sales-qualified in the range, from the status history),
    touched_from/touched_to (first touch), converted ("1": became an opportunity), generated
    ("1": a BDR generated it), sales_qualified ("1": became sales-qualified at some time, or was
    converted), won ("1": its opportunity was won)."""
    from revline.org.models import PositionClosure

    cond = Q()
    if "under" in f:
        pk = _int(f["under"])
        if pk is None:
            return NOTHING
        below = PositionClosure.objects.filter(ancestor_id=pk).values("descendant_id")
        cond &= (
            Q(owner_position_id__in=below)
            | Q(generated_by_id__in=below)
            | Q(qualified_by_id__in=below)
            | Q(received_by_id__in=below)
        )
    if "sql_from" in f or "sql_to" in f:
        changes = LeadStatusChange.objects.filter(
            lead_id=OuterRef("pk"), to_status=LeadStatus.SALES_QUALIFIED
        )
        for key, lookup in (("sql_from", "at__date__gte"), ("sql_to", "at__date__lte")):
            if key in f:
                day = _date(f[key])
                if day is None:
                    return NOTHING
                changes = changes.filter(**{lookup: day})
        cond &= Q(Exists(changes))
    for key, lookup in (
        ("touched_from", "first_touch_at__date__gte"),
        ("touched_to", "first_touch_at__date__lte"),
    ):
        if key in f:
            day = _date(f[key])
            cond &= Q(**{lookup: day}) if day else NOTHING
    if _yes(f.get("converted")):
        cond &= Q(converted_opportunity__isnull=False)
    if _yes(f.get("generated")):
        cond &= Q(generated_by__isnull=False)
    if _yes(f.get("sales_qualified")):
        cond &= sales_qualified_q()
    if _yes(f.get("won")):
        from revline.pipeline.choices import OpportunityStatus

        cond &= Q(converted_opportunity__status=OpportunityStatus.WON)
    return cond


def _yes(value: Any) -> bool:
    return str(value or "").lower() in ("1", "true", "yes")


def leads_list(
    *, user: Any, q: str = "", filters: dict[str, Any] | None = None, order: str = ""
) -> QuerySet[Lead]:
    cond = lead_filter_q(filters or {})
    if q:
        cond &= (
            Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(email__icontains=q)
            | Q(company__icontains=q)
            | Q(external_id=q)
        )
    return _ordered(leads_visible(user=user).filter(cond), order, LEAD_ORDER, "-id")


def lead_get(*, user: Any, pk: Any, action: str = "view") -> Lead:
    if _int(pk) is None:
        raise Lead.DoesNotExist
    return (
        leads_visible(user=user, action=action)
        .select_related(
            "generated_by__holder",
            "qualified_by__holder",
            "received_by__holder",
            "converted_account",
            "converted_contact",
            "converted_opportunity",
            "account",
        )
        .get(pk=pk)
    )


def lead_queue(*, user: Any, position_ids: list[int] | None = None) -> QuerySet[Lead]:
    """The leads a rep works now, in the order to work them: sales-qualified leads waiting for
    their hand-off, then untouched new leads oldest first (speed to lead), then the rest by how
    long they have waited. ``position_ids`` narrows to some positions (a manager's view of one
    rep); by default, the positions the user holds."""
    from django.db.models import Case, IntegerField, Value, When

    qs = leads_visible(user=user).filter(status__in=OPEN_LEAD_STATUSES)
    if position_ids:
        qs = qs.filter(owner_position_id__in=position_ids)
    else:
        qs = qs.filter(owner_position__holder_id=getattr(user, "pk", None))
    return qs.annotate(
        queue_rank=Case(
            When(status=LeadStatus.SALES_QUALIFIED, then=Value(0)),
            When(status=LeadStatus.NEW, then=Value(1)),
            When(status=LeadStatus.QUALIFYING, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )
    ).order_by("queue_rank", "created_at", "id")


def lead_history(*, user: Any, lead: Lead) -> QuerySet[LeadStatusChange]:
    """The status changes of a lead the user may see (callers got ``lead`` from ``lead_get``)."""
    return (
        LeadStatusChange.objects.filter(lead_id=lead.pk)
        .select_related("by", "owner_position")
        .order_by("at", "id")
    )


# --- activities --------------------------------------------------------------------------------


def activities_for(
    *,
    user: Any,
    lead: Any = None,
    account: Any = None,
    contact: Any = None,
    opportunity: Any = None,
    filters: dict[str, Any] | None = None,
) -> QuerySet[Activity]:
    """Activities the user may see, on one record (or all of them), newest first."""
    qs = Activity.objects.visible_to(user).select_related(
        "owner_position", "owner_position__holder", "created_by", "lead", "opportunity", "account"
    )
    if lead is not None:
        qs = qs.filter(lead_id=lead.pk)
    if opportunity is not None:
        qs = qs.filter(opportunity_id=opportunity.pk)
    if contact is not None:
        qs = qs.filter(contact_id=contact.pk)
    if account is not None:
        qs = qs.filter(account_id=account.pk)
    return qs.filter(activity_filter_q(filters)).order_by("-occurred_at", "-id")


def activity_filter_q(filters: dict[str, Any] | None) -> Q:
    """The activity list's filters: kind and outcome (values, comma-separated), owner (position
    ids), open ("1": not done yet); and those of the KPI drill-downs (revline.analytics):
    occurred_from/occurred_to and due_from/due_to (ISO days), overdue_on (a day: tasks due
    before its end, or now if sooner, and not done by then), under, team, region."""
    f = _filters(filters)
    cond = owned_q(f)
    if "kind" in f:
        cond &= Q(kind__in=_csv(f["kind"]))
    if "outcome" in f:
        cond &= Q(outcome__in=_csv(f["outcome"]))
    if _yes(f.get("open")):
        cond &= Q(done_at__isnull=True)
    cond &= day_range_q(f, "occurred_at", "occurred_from", "occurred_to")
    cond &= day_range_q(f, "due_at", "due_from", "due_to")
    if "overdue_on" in f:
        moment = as_of(f["overdue_on"])
        if moment is None:
            return NOTHING
        cond &= overdue_at_q(moment)
    return cond


def activity_get(*, user: Any, pk: Any, action: str = "view") -> Activity:
    if _int(pk) is None:
        raise Activity.DoesNotExist
    return Activity.objects.visible_to(user, action).get(pk=pk)


def tasks_open(*, user: Any) -> QuerySet[Activity]:
    """The user's own open tasks, soonest due first."""
    return (
        Activity.objects.visible_to(user)
        .filter(
            kind="task", done_at__isnull=True, owner_position__holder_id=getattr(user, "pk", None)
        )
        .select_related("lead", "opportunity", "account", "contact")
        .order_by("due_at", "id")
    )


# --- prospect lists ----------------------------------------------------------------------------


def prospect_lists(*, user: Any, action: str = "view") -> QuerySet:
    """The lists ``user`` may see, each with ``member_count``: its members whose lead the user
    may see (as ``prospect_list_members`` lists them)."""
    from django.db.models import Count

    visible = Q(members__lead_id__in=Lead.objects.visible_to(user).values("id"))
    return (
        ProspectList.objects.visible_to(user, action)
        .select_related("owner_position", "owner_position__holder")
        .annotate(member_count=Count("members", filter=visible))
        .order_by("name", "id")
    )


def prospect_list_get(*, user: Any, pk: Any, action: str = "view") -> ProspectList:
    if _int(pk) is None:
        raise ProspectList.DoesNotExist
    return (
        ProspectList.objects.visible_to(user, action)
        .select_related("owner_position", "owner_position__holder")
        .get(pk=pk)
    )


def prospect_list_members(
    *, user: Any, prospect_list: ProspectList
) -> QuerySet[ProspectListMember]:
    """Members whose lead the user may see."""
    return (
        ProspectListMember.objects.filter(
            prospect_list=prospect_list,
            lead_id__in=Lead.objects.visible_to(user).values("id"),
        )
        .select_related("lead", "lead__owner_position", "added_by")
        .order_by("-added_at", "-id")
    )


def prospects_added(
    *, user: Any, filters: dict[str, Any] | None = None
) -> QuerySet[ProspectListMember]:
    """Prospect list memberships across the lists ``user`` sees, newest first: the records of
    the prospects-added KPI (a lead on two lists is two rows). ``lead_visible`` tells whether
    the user sees the lead itself. ``filters`` (the KPI drill-down's): added_from/added_to (ISO
    days), and under, owner, team, region of the list's owner."""
    from revline.org.visibility import visible_link

    f = _filters(filters)
    qs = ProspectListMember.objects.filter(
        prospect_list_id__in=ProspectList.objects.visible_to(user).values("pk")
    )
    qs = qs.filter(
        owned_q(f, "prospect_list__") & day_range_q(f, "added_at", "added_from", "added_to")
    )
    return (
        qs.annotate(lead_visible=visible_link(user, Lead, "lead_id"))
        .select_related(
            "lead",
            "added_by",
            "prospect_list",
            "prospect_list__owner_position",
            "prospect_list__owner_position__holder",
        )
        .order_by("-added_at", "-id")
    )


# --- campaigns, referrals, complaints, surveys -------------------------------------------------


def campaigns_list(*, user: Any, q: str = "", filters: dict[str, Any] | None = None) -> QuerySet:
    from django.db.models import Count

    qs = (
        Campaign.objects.visible_to(user)
        .select_related("owner_position")
        .annotate(lead_count=Count("leads", distinct=True))
    )
    f = _filters(filters)
    if "status" in f:
        qs = qs.filter(status__in=_csv(f["status"]))
    if "kind" in f:
        qs = qs.filter(kind__in=_csv(f["kind"]))
    if "external_id" in f:
        qs = qs.filter(external_id=f["external_id"])
    if "id" in f:
        qs = qs.filter(_id_filter("id", f["id"]))
    # The KPI drill-down's (campaign ROI): campaigns that started in the range.
    for key, lookup in (("started_from", "start_date__gte"), ("started_to", "start_date__lte")):
        if key in f:
            day = _date(f[key])
            qs = qs.filter(**{lookup: day}) if day else qs.filter(NOTHING)
    if q:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("-start_date", "name", "id")


def campaign_get(*, user: Any, pk: Any, action: str = "view") -> Campaign:
    if _int(pk) is None:
        raise Campaign.DoesNotExist
    return Campaign.objects.visible_to(user, action).get(pk=pk)


def referrals_list(*, user: Any, filters: dict[str, Any] | None = None) -> QuerySet[Referral]:
    qs = Referral.objects.visible_to(user).select_related(
        "referrer_contact", "referrer_account", "lead", "owner_position"
    )
    f = _filters(filters)
    if "outcome" in f:
        qs = qs.filter(outcome__in=_csv(f["outcome"]))
    return qs.order_by("-created_at", "-id")


def referral_get(*, user: Any, pk: Any, action: str = "view") -> Referral:
    if _int(pk) is None:
        raise Referral.DoesNotExist
    return Referral.objects.visible_to(user, action).get(pk=pk)


def complaints_list(
    *, user: Any, q: str = "", filters: dict[str, Any] | None = None
) -> QuerySet[Complaint]:
    """Complaints ``user`` sees, newest first. ``filters``: status (values), open ("1": not
    resolved), severity, account, owner; and those of the KPI drill-downs (revline.analytics):
    raised_from/raised_to (ISO days), open_on (a day: open at its end, or now if sooner),
    under, team, region, sector, size."""
    qs = Complaint.objects.visible_to(user).select_related(
        "account", "contact", "owner_position", "owner_position__holder"
    )
    f = _filters(filters)
    if "status" in f:
        qs = qs.filter(status__in=_csv(f["status"]))
    elif _yes(f.get("open")):
        qs = qs.exclude(status=ComplaintStatus.RESOLVED)
    if "severity" in f:
        qs = qs.filter(severity__in=_csv(f["severity"]))
    if "account" in f:
        qs = qs.filter(_id_filter("account_id", f["account"]))
    qs = qs.filter(
        owned_q(f) & account_q(f) & day_range_q(f, "raised_at", "raised_from", "raised_to")
    )
    if "open_on" in f:
        moment = as_of(f["open_on"])  # the end of that day, or now if sooner
        if moment is None:
            return qs.none()
        qs = qs.filter(complaint_open_at_q(moment))
    if q:
        visible = accounts_visible(user=user).values("id")
        qs = qs.filter(
            Q(subject__icontains=q) | Q(account__name__icontains=q, account_id__in=visible)
        )
    return qs.order_by("-raised_at", "-id")


def complaint_get(*, user: Any, pk: Any, action: str = "view") -> Complaint:
    if _int(pk) is None:
        raise Complaint.DoesNotExist
    return (
        Complaint.objects.visible_to(user, action).select_related("account", "contact").get(pk=pk)
    )


def surveys_list(
    *, user: Any, filters: dict[str, Any] | None = None
) -> QuerySet[SatisfactionResponse]:
    """Satisfaction answers ``user`` sees, newest first. ``filters``: kind, account; and those
    of the KPI drill-downs: responded_from/responded_to (ISO days), under, owner, team, region,
    sector, size."""
    qs = SatisfactionResponse.objects.visible_to(user).select_related("account", "contact")
    f = _filters(filters)
    if "kind" in f:
        qs = qs.filter(kind__in=_csv(f["kind"]))
    if "account" in f:
        qs = qs.filter(_id_filter("account_id", f["account"]))
    # The KPI drill-downs' (CSAT, NPS): answered in the range, the owner's and account's filters.
    qs = qs.filter(
        owned_q(f) & account_q(f) & day_range_q(f, "responded_at", "responded_from", "responded_to")
    )
    return qs.order_by("-responded_at", "-id")


# --- configuration -----------------------------------------------------------------------------


def custom_field_definitions(*, entity: str | None = None) -> QuerySet[CustomFieldDefinition]:
    """Definitions are configuration, readable by every signed-in user (forms need them)."""
    qs = CustomFieldDefinition.objects.all()
    return qs.filter(entity=entity) if entity else qs


def routing_rules() -> QuerySet[RoutingRule]:
    return RoutingRule.objects.select_related("team", "region", "last_assigned").prefetch_related(
        "members__position__holder"
    )


def lead_assign_targets(*, user: Any) -> QuerySet:
    """The positions ``user`` may give a lead to (``services.lead_assign``): those whose leads
    they may change (their own positions and everything below, vacant seats included; everyone
    for RevOps), and, held by an active person, the colleagues of their own unit (a BDR passing
    a lead to the team's SDR) and whoever they see in the org chart. The web form and the API
    offer exactly these."""
    from revline.org import selectors as org_selectors
    from revline.org.choices import Domain
    from revline.org.models import Position
    from revline.org.visibility import position_visibility_q

    owners = org_selectors.record_owners(user=user, domain=Domain.LEADS).values("id")
    filled = Q(holder__isnull=False, holder__is_active=True)
    return (
        Position.objects.filter(
            Q(id__in=owners)
            | ((position_visibility_q(user, "view") | Q(id__in=_own_unit(user))) & filled)
        )
        .select_related("holder")
        .order_by("title", "id")
    )


def _own_unit(user: Any) -> QuerySet:
    """The ids of the positions in ``user``'s own unit: everything below the solid-line
    managers of the positions they hold."""
    from revline.org.models import Position, PositionClosure

    managers = Position.objects.filter(holder_id=getattr(user, "pk", None)).values("reports_to_id")
    return PositionClosure.objects.filter(ancestor_id__in=managers).values("descendant_id")


def handoff_targets(*, user: Any) -> QuerySet:
    """The filled selling positions ``user`` may hand a sales-qualified lead to: those they see
    in the org chart, and those in their own unit (below their solid-line manager), where the
    AEs an SDR's leads go to usually sit. The web form and the API both offer exactly these."""
    from revline.crm.services import SELLING_ROLES
    from revline.org.models import Position
    from revline.org.visibility import position_visibility_q

    return (
        Position.objects.filter(position_visibility_q(user, "view") | Q(id__in=_own_unit(user)))
        .filter(role__in=list(SELLING_ROLES), holder__isnull=False, holder__is_active=True)
        .select_related("holder")
        .order_by("title", "id")
    )
