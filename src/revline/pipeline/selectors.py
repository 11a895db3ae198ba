"""Reads of the pipeline (deals, the board, a deal's timeline, quotes, approvals, renewals and
cross-sell ideas), always for an acting user and through the visibility predicate.

Filter dicts use the keys of the web list's query string and of the API's query parameters.
Values arrive as strings; a value that does not parse matches nothing (as custom-field filters do).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from revline.crm.selectors import account_q, day_range_q, day_start, owned_q
from revline.org.visibility import visible_link
from revline.pipeline.choices import (
    ApprovalStatus,
    OpportunityStatus,
    OpportunityType,
    QuoteStatus,
    StageKind,
)
from revline.pipeline.models import (
    ApprovalRequest,
    Objection,
    Opportunity,
    Pipeline,
    Product,
    Quote,
    Stage,
    StageChange,
)

NOTHING = Q(pk__in=[])
BOARD_COLUMN_LIMIT = 50

OPPORTUNITY_ORDERS = {
    "name": ("name", "id"),
    "amount": ("amount", "id"),
    "close_date": ("close_date", "id"),
    "created_at": ("created_at", "id"),
    "stage": ("stage__order", "id"),
}
QUOTE_ORDERS = {
    "number": ("number", "version"),
    "total": ("total", "id"),
    "created_at": ("created_at", "id"),
    "status": ("status", "id"),
    "effective_discount": ("effective_discount", "id"),
}


# --- filter parsing ----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _ordered(qs: QuerySet, order: str, orders: Mapping[str, tuple[str, ...]]) -> QuerySet:
    key = (order or "").strip()
    desc = key.startswith("-")
    fields = orders.get(key.lstrip("-"))
    if not fields:
        return qs.order_by("-id")
    return qs.order_by(*(f"-{f}" if desc else f for f in fields))


def _id_filter(qs: QuerySet, lookup: str, raw: Any) -> QuerySet:
    if raw in (None, ""):
        return qs
    pk = _int(raw)
    return qs.filter(**{lookup: pk}) if pk is not None else qs.filter(NOTHING)


def _choice_filter(qs: QuerySet, lookup: str, raw: Any, allowed: Iterable[str]) -> QuerySet:
    if raw in (None, ""):
        return qs
    return qs.filter(**{lookup: raw}) if raw in set(allowed) else qs.filter(NOTHING)


def _stripped(filters: Mapping[str, Any], *keys: str) -> dict[str, str]:
    """The ``keys`` of ``filters`` that hold something, stripped."""
    found = {k: str(filters.get(k) or "").strip() for k in keys}
    return {k: v for k, v in found.items() if v}


def recurring_q() -> Q:
    """Recurring deals: a term of their own, or a subscription product (closing one won opens
    its renewal). Net revenue retention's base and its drill-down list."""
    return Q(term_months__isnull=False) | Q(product__is_subscription=True)


def _created_filter(qs: QuerySet, filters: Mapping[str, Any]) -> QuerySet:
    return qs.filter(day_range_q(filters, "created_at", "created_from", "created_to"))


# --- stuck deals -------------------------------------------------------------------------------


def stuck_q(*, now: dt.datetime | None = None, stages: Iterable[Stage] | None = None) -> Q:
    """Open deals in their current stage for longer than the stage's ``max_days``.

    One condition per stage with a limit, so it stays portable and index-friendly; ``stages``
    (with ``max_days`` loaded) saves the query that finds them."""
    now = now or timezone.now()
    limits: list[tuple[int, Any]]
    if stages is None:
        limits = list(
            Stage.objects.filter(kind=StageKind.OPEN, max_days__isnull=False).values_list(
                "id", "max_days"
            )
        )
    else:
        limits = [
            (s.pk, s.max_days)
            for s in stages
            if s.kind == StageKind.OPEN and s.max_days is not None
        ]
    q = NOTHING
    for stage_id, max_days in limits:
        q |= Q(stage_id=stage_id, stage_entered_at__lt=now - dt.timedelta(days=max_days))
    return q & Q(status=OpportunityStatus.OPEN)


def days_in_stage(opportunity: Opportunity, *, now: dt.datetime | None = None) -> int | None:
    """Whole days since the deal entered its current stage (None when unknown)."""
    if opportunity.stage_entered_at is None:
        return None
    return max(((now or timezone.now()) - opportunity.stage_entered_at).days, 0)


def is_stuck(opportunity: Opportunity, *, now: dt.datetime | None = None) -> bool:
    """Whether an open deal has been in its stage longer than the stage allows."""
    stage = opportunity.stage
    if opportunity.status != OpportunityStatus.OPEN or stage.max_days is None:
        return False
    if opportunity.stage_entered_at is None:
        return False
    return (now or timezone.now()) - opportunity.stage_entered_at > dt.timedelta(
        days=stage.max_days
    )


def with_stuck_flags(
    opportunities: Iterable[Opportunity], *, now: dt.datetime | None = None
) -> list[Opportunity]:
    """The deals as a list, each with ``is_stuck`` and ``days_in_stage`` set (no queries when
    the stage is selected along, as the lists here do)."""
    now = now or timezone.now()
    rows = list(opportunities)
    for row in rows:
        row.is_stuck = is_stuck(row, now=now)  # type: ignore[attr-defined]
        row.days_in_stage = days_in_stage(row, now=now)  # type: ignore[attr-defined]
    return rows


# --- opportunities -----------------------------------------------------------------------------


def account_visible(user: Any, ref: str = "account_id") -> Any:
    """Whether ``user`` sees the account ``ref`` points to: a deal may be on an account (and name
    a contact) its viewer does not see, whose name then is never shown."""
    from revline.crm.models import Account

    return visible_link(user, Account, ref)


def contact_visible(user: Any, ref: str = "contact_id") -> Any:
    from revline.crm.models import Contact

    return visible_link(user, Contact, ref)


def opportunities_visible(*, user: Any, action: str = "view") -> QuerySet[Opportunity]:
    """Every deal ``user`` may see (or change), with what a list row shows of it
    (``account_visible``: whether the user sees the deal's account)."""
    from revline.crm.models import Account

    qs: QuerySet[Opportunity] = Opportunity.objects.visible_to(user, action).select_related(
        "owner_position",
        "owner_position__holder",
        "account",
        "stage",
        "pipeline",
        "product",
    )
    return qs.annotate(
        account_visible=visible_link(user, Account, "account_id", row_model=Opportunity)
    )


def _visible_account_name(user: Any, lookup: str, q: str) -> Q:
    """``lookup`` (an account's name) contains ``q``, for an account ``user`` sees: a search
    never tells the name of an account outside the user's view."""
    from revline.crm.models import Account

    prefix = lookup.removesuffix("name")
    visible = Account.objects.visible_to(user, "view").values("id")
    return Q(**{f"{lookup}__icontains": q, f"{prefix}id__in": visible})


def opportunities_filter(
    qs: QuerySet[Opportunity], filters: Mapping[str, Any] | None, *, q: str = "", user: Any = None
) -> QuerySet[Opportunity]:
    """Apply the list filters (see ``opportunities_list``) to a deal queryset. ``q`` matches
    an account's name only when ``user`` sees the account."""
    filters = filters or {}
    if q := (q or "").strip():
        qs = qs.filter(
            Q(name__icontains=q)
            | _visible_account_name(user, "account__name", q)
            | Q(external_id__icontains=q)
        )
    qs = _choice_filter(qs, "status", filters.get("status"), OpportunityStatus.values)
    qs = _choice_filter(qs, "type", filters.get("type"), OpportunityType.values)
    for key, lookup in (
        ("stage", "stage_id"),
        ("pipeline", "pipeline_id"),
        ("owner", "owner_position_id"),
        ("account", "account_id"),
        ("product", "product_id"),
        ("campaign", "campaign_id"),
    ):
        qs = _id_filter(qs, lookup, filters.get(key))
    if external_id := str(filters.get("external_id") or "").strip():
        qs = qs.filter(external_id=external_id)
    for key, lookup in (("close_from", "close_date__gte"), ("close_to", "close_date__lte")):
        raw = filters.get(key)
        if raw in (None, ""):
            continue
        day = _date(raw)
        qs = qs.filter(**{lookup: day}) if day is not None else qs.filter(NOTHING)
    qs = _created_filter(qs, filters)
    if str(filters.get("stuck") or "").lower() in {"1", "true", "yes", "on"}:
        qs = qs.filter(stuck_q())
    if any(k.startswith("cf_") for k in filters):
        from revline.crm.custom_fields import custom_filter_q

        qs = qs.filter(custom_filter_q("opportunity", dict(filters)))
    return _analytics_filter(qs, filters)


def _analytics_filter(
    qs: QuerySet[Opportunity], filters: Mapping[str, Any]
) -> QuerySet[Opportunity]:
    """The filters the KPI drill-downs pass (revline.analytics): closed_from/closed_to (closed_on),
    under (the owner at or below a position), region and team (the owner's), sector and size (the
    account's), competitor, has_competitor ("1": any competitor named), last_stage (the stage
    a deal is in while open, or was won or lost from), entered_from/entered_to/entered_stage."""
    for key, lookup in (("closed_from", "closed_on__gte"), ("closed_to", "closed_on__lte")):
        raw = filters.get(key)
        if raw in (None, ""):
            continue
        day = _date(raw)
        qs = qs.filter(**{lookup: day}) if day is not None else qs.filter(NOTHING)
    qs = qs.filter(owned_q(_stripped(filters, "under", "team", "region")))
    qs = _id_filter(qs, "competitors", filters.get("competitor"))
    if str(filters.get("has_competitor") or "").lower() in {"1", "true", "yes", "on"}:
        named = Opportunity.competitors.through.objects.filter(opportunity_id=OuterRef("pk"))
        qs = qs.filter(Exists(named))
    qs = _entered_filter(qs, filters)
    qs = qs.filter(account_q(_stripped(filters, "sector", "size")))
    if (raw := filters.get("last_stage")) not in (None, ""):
        pk = _int(raw)
        if pk is None:
            return qs.filter(NOTHING)
        closed_from = StageChange.objects.filter(
            opportunity_id=OuterRef("pk"),
            from_stage_id=pk,
            to_stage__kind__in=[StageKind.WON, StageKind.LOST],
        )
        qs = qs.filter(Q(status=OpportunityStatus.OPEN, stage_id=pk) | Q(Exists(closed_from)))
    return qs


def _entered_filter(qs: QuerySet[Opportunity], filters: Mapping[str, Any]) -> QuerySet[Opportunity]:
    """entered_from/entered_to (ISO dates): the deals with a stage change into an open stage in
    that range; entered_stage (a stage id) narrows it to entries into that stage. A deal that
    entered twice is one row."""
    keys = ("entered_from", "entered_to", "entered_stage")
    if all(filters.get(k) in (None, "") for k in keys):
        return qs
    entries = StageChange.objects.filter(
        opportunity_id=OuterRef("pk"), to_stage__kind=StageKind.OPEN
    )
    if (raw := filters.get("entered_stage")) not in (None, ""):
        pk = _int(raw)
        if pk is None:
            return qs.filter(NOTHING)
        entries = entries.filter(to_stage_id=pk)
    entries = entries.filter(day_range_q(filters, "changed_at", "entered_from", "entered_to"))
    return qs.filter(Exists(entries))


def opportunities_list(
    *, user: Any, q: str = "", filters: Mapping[str, Any] | None = None, order: str = ""
) -> QuerySet[Opportunity]:
    """The deals ``user`` sees, searched and filtered.

    ``q`` searches the name, the account's name and the external id. ``filters``: status, type,
    stage, pipeline, owner (position id), account, product, campaign, external_id,
    close_from/close_to, created_from/created_to (ISO dates), stuck ("1": open deals in their
    stage longer than the stage's ``max_days``), ``cf_<key>`` (custom fields); and those of the
    KPI drill-downs (``_analytics_filter``): closed_from/closed_to, under, region, team, sector,
    size, competitor, has_competitor ("1": a competitor is named), last_stage,
    entered_from/entered_to/entered_stage (``_entered_filter``). ``order``: name,
    amount, close_date, created_at or stage, "-" for descending; default newest first.
    Rows carry what a list shows (owner, account, stage, pipeline, product): pass a page through
    ``with_stuck_flags`` to get each row's ``is_stuck``.
    """
    qs = opportunities_filter(opportunities_visible(user=user), filters, q=q, user=user)
    return _ordered(qs, order, OPPORTUNITY_ORDERS)


def opportunity_get(*, user: Any, pk: Any, action: str = "view") -> Opportunity:
    """One deal, if ``user`` may see (change) it; raises ``Opportunity.DoesNotExist`` (404)."""
    pk = _int(pk)
    if pk is None:
        raise Opportunity.DoesNotExist
    return (
        opportunities_visible(user=user, action=action)
        .select_related("contact")
        .annotate(contact_visible=contact_visible(user))
        .get(pk=pk)
    )


# --- the board ---------------------------------------------------------------------------------


@dataclass
class BoardColumn:
    stage: Stage
    opportunities: list[Opportunity]
    count: int = 0
    total_amount: Any = 0
    stuck_count: int = 0

    @property
    def more(self) -> int:
        """How many deals of the column are not shown."""
        return max(self.count - len(self.opportunities), 0)


def board(
    *,
    user: Any,
    pipeline: Pipeline,
    filters: Mapping[str, Any] | None = None,
    q: str = "",
    limit: int = BOARD_COLUMN_LIMIT,
    include_closed: bool = False,
) -> list[BoardColumn]:
    """The pipeline as columns, one per stage (open stages only unless ``include_closed``): the
    newest ``limit`` deals of each (flagged ``is_stuck``), with the column's count, amount and
    stuck count over all its deals. Three queries whatever the size."""
    stages = list(pipeline.stages.all())
    if not include_closed:
        stages = [s for s in stages if s.kind == StageKind.OPEN]
    now = timezone.now()
    base = opportunities_filter(
        Opportunity.objects.visible_to(user, "view").filter(
            pipeline=pipeline, stage_id__in=[s.pk for s in stages]
        ),
        {k: v for k, v in (filters or {}).items() if k not in {"pipeline", "stuck"}},
        q=q,
        user=user,
    )
    if str((filters or {}).get("stuck") or "").lower() in {"1", "true", "yes", "on"}:
        base = base.filter(stuck_q(now=now, stages=stages))
    totals: dict[int, dict[str, Any]] = {
        row["stage_id"]: dict(row)
        for row in base.order_by()
        .values("stage_id")
        .annotate(
            n=Count("id"),
            amount=Sum("amount"),
            stuck=Sum(
                Case(
                    When(stuck_q(now=now, stages=stages), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
            ),
        )
    }
    cards: dict[int, list[Opportunity]] = defaultdict(list)
    if totals:
        ranked = (
            base.select_related("owner_position", "owner_position__holder", "account", "product")
            .annotate(
                column_rank=Window(RowNumber(), partition_by="stage_id", order_by=("-id",)),
                account_visible=account_visible(user),
            )
            .filter(column_rank__lte=limit)
            .order_by("stage_id", "-id")
        )
        by_id = {s.pk: s for s in stages}
        for opportunity in ranked:
            opportunity.stage = by_id[opportunity.stage_id]  # no per-row stage query
            opportunity.pipeline = pipeline
            cards[opportunity.stage_id].append(opportunity)
    columns = []
    for stage in stages:
        row = totals.get(stage.pk, {})
        columns.append(
            BoardColumn(
                stage=stage,
                opportunities=with_stuck_flags(cards.get(stage.pk, []), now=now),
                count=row.get("n", 0),
                total_amount=row.get("amount") or 0,
                stuck_count=row.get("stuck") or 0,
            )
        )
    return columns


# --- timeline ----------------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    kind: str  # activity, stage, objection, quote, approval, audit
    at: dt.datetime
    actor: Any
    text: str
    object: Any = None


# Audit actions already shown by their own entries.
_TIMELINE_DUPLICATES = frozenset(
    {
        "opportunity.create",
        "opportunity.move_stage",
        "opportunity.objection",
        "quote.create",
        "quote.version",
        "quote.send",
        "quote.approve",
        "quote.reject",
    }
)


def _aware(value: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return day_start(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def timeline(
    *, user: Any, opportunity: Opportunity, limit: int | None = 200
) -> list[TimelineEntry]:
    """What happened on a deal, newest first: activities the user sees, stage changes,
    objections, quotes (made and sent), approval requests and decisions, and the other audited
    changes of the deal and its quotes. Raises ``Opportunity.DoesNotExist`` when the user does not
    see the deal. A fixed number of queries."""
    from revline.core.models import AuditEvent
    from revline.crm.models import Activity

    if not Opportunity.objects.visible_to(user, "view").filter(pk=opportunity.pk).exists():
        raise Opportunity.DoesNotExist
    entries: list[TimelineEntry] = []

    for activity in (
        Activity.objects.visible_to(user, "view")
        .filter(opportunity_id=opportunity.pk)
        .select_related("created_by")
    ):
        text = f"{activity.get_kind_display()}: {activity.subject}"
        if activity.outcome:
            text += f" ({activity.get_outcome_display()})"
        entries.append(
            TimelineEntry("activity", activity.occurred_at, activity.created_by, text, activity)
        )

    for change in StageChange.objects.filter(opportunity_id=opportunity.pk).select_related(
        "from_stage", "to_stage", "changed_by"
    ):
        if change.from_stage is None:
            text = f"Opened in {change.to_stage.name}"
        else:
            text = f"Moved from {change.from_stage.name} to {change.to_stage.name}"
        entries.append(TimelineEntry("stage", change.changed_at, change.changed_by, text, change))

    for objection in Objection.objects.filter(opportunity_id=opportunity.pk).select_related(
        "raised_by"
    ):
        text = f"Objection ({objection.get_category_display()}): {objection.text}"
        if objection.resolved:
            text += " [resolved]"
        entries.append(
            TimelineEntry("objection", objection.raised_at, objection.raised_by, text, objection)
        )

    quotes = list(
        Quote.objects.visible_to(user, "view")
        .filter(opportunity_id=opportunity.pk)
        .select_related("created_by")
    )
    for quote in quotes:
        made = "created" if quote.version == 1 else "revised"
        text = (
            f"Quote {quote.number} v{quote.version} {made}: {quote.total} {quote.currency}"
            f" ({quote.effective_discount}% off list)"
        )
        entries.append(TimelineEntry("quote", quote.created_at, quote.created_by, text, quote))
        if quote.sent_at:
            entries.append(
                TimelineEntry(
                    "quote",
                    quote.sent_at,
                    None,
                    f"Quote {quote.number} v{quote.version} sent",
                    quote,
                )
            )

    for approval in ApprovalRequest.objects.filter(
        quote_id__in=[q.pk for q in quotes]
    ).select_related("quote", "approver_position", "approver_position__holder", "decided_by"):
        label = f"{approval.quote.number} v{approval.quote.version}"
        text = (
            f"Approval of {approval.discount_percent}% on {label} asked of "
            f"{approval.approver_position.title} ({approval.get_level_display()})"
        )
        entries.append(TimelineEntry("approval", approval.created_at, None, text, approval))
        if approval.decided_at and approval.status in (
            ApprovalStatus.APPROVED,
            ApprovalStatus.REJECTED,
        ):
            text = f"{approval.get_status_display()}: {label} ({approval.get_level_display()})"
            if approval.comment:
                text += f": {approval.comment}"
            entries.append(
                TimelineEntry("approval", approval.decided_at, approval.decided_by, text, approval)
            )

    opportunity_ct = ContentType.objects.get_for_model(Opportunity)
    quote_ct = ContentType.objects.get_for_model(Quote)
    events = (
        AuditEvent.objects.filter(
            Q(content_type=opportunity_ct, object_id=opportunity.pk)
            | Q(content_type=quote_ct, object_id__in=[q.pk for q in quotes])
        )
        .exclude(action__in=_TIMELINE_DUPLICATES)
        .select_related("actor")
    )
    for event in events:
        fields = ", ".join(sorted(event.changes or {}))
        text = f"{event.action.replace('.', ' ').replace('_', ' ')}"
        if event.content_type_id == quote_ct.pk:
            text += f" ({event.object_repr})"
        if fields:
            text += f": {fields}"
        entries.append(TimelineEntry("audit", event.at, event.actor, text, event))

    entries.sort(key=lambda e: _aware(e.at), reverse=True)
    return entries[:limit] if limit else entries


# --- quotes and approvals ----------------------------------------------------------------------


def quotes_list(
    *, user: Any, q: str = "", filters: Mapping[str, Any] | None = None, order: str = ""
) -> QuerySet[Quote]:
    """The quotes ``user`` sees. ``filters``: status (comma-separated values), opportunity,
    owner, account, number, latest ("1": hide superseded versions), created_from/created_to,
    and the KPI drill-downs' (``_quote_analytics_filter``). ``q`` searches the number,
    the deal's name and the account's name. ``order``: number, total, created_at, status,
    effective_discount ("-" for descending); default newest first."""
    filters = filters or {}
    qs: QuerySet[Quote] = Quote.objects.visible_to(user, "view").select_related(
        "opportunity",
        "opportunity__account",
        "owner_position",
        "owner_position__holder",
        "price_book",
        "created_by",
    )
    if q := (q or "").strip():
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(opportunity__name__icontains=q)
            | _visible_account_name(user, "opportunity__account__name", q)
        )
    if (raw := filters.get("status")) not in (None, ""):
        statuses = [v.strip() for v in str(raw).split(",") if v.strip()]
        qs = (
            qs.filter(status__in=statuses)
            if set(statuses) <= set(QuoteStatus.values)
            else qs.filter(NOTHING)
        )
    qs = _id_filter(qs, "opportunity_id", filters.get("opportunity"))
    qs = _id_filter(qs, "opportunity__account_id", filters.get("account"))
    if number := str(filters.get("number") or "").strip():
        qs = qs.filter(number=number)
    if str(filters.get("latest") or "").lower() in {"1", "true", "yes", "on"}:
        qs = qs.exclude(status=QuoteStatus.SUPERSEDED)
    qs = _created_filter(qs, filters)
    qs = _quote_analytics_filter(qs, filters)
    if not order:
        return qs.order_by("-created_at", "-id")
    return _ordered(qs, order, QUOTE_ORDERS)


def _quote_analytics_filter(qs: QuerySet[Quote], filters: Mapping[str, Any]) -> QuerySet[Quote]:
    """The filters the KPI drill-downs pass (revline.analytics, discounts): sent_from/sent_to
    (sent_at, ISO days), under, owner, team, region (the quote owner's), product, type (the
    deal's), sector and size (the deal's account's)."""
    f = {k: v for k, v in filters.items() if v not in (None, "")}
    qs = qs.filter(day_range_q(f, "sent_at", "sent_from", "sent_to"))
    qs = qs.filter(owned_q(_stripped(f, "under", "owner", "team", "region")))
    qs = _id_filter(qs, "opportunity__product_id", f.get("product"))
    qs = _choice_filter(qs, "opportunity__type", f.get("type"), OpportunityType.values)
    qs = qs.filter(account_q(_stripped(f, "sector", "size"), "opportunity__"))
    return qs


def quote_get(*, user: Any, pk: Any, action: str = "view") -> Quote:
    """One quote with its lines, if ``user`` may see (change) it; else ``Quote.DoesNotExist``."""
    from django.db.models import Prefetch

    from revline.pipeline.models import QuoteLine

    pk = _int(pk)
    if pk is None:
        raise Quote.DoesNotExist
    return (
        Quote.objects.visible_to(user, action)
        .select_related(
            "opportunity",
            "opportunity__account",
            "opportunity__contact",
            "owner_position",
            "price_book",
        )
        .annotate(
            account_visible=account_visible(user, "opportunity__account_id"),
            contact_visible=contact_visible(user, "opportunity__contact_id"),
        )
        .prefetch_related(
            Prefetch("lines", queryset=QuoteLine.objects.select_related("product")),
            Prefetch(
                "approvals",
                queryset=ApprovalRequest.objects.select_related(
                    "approver_position", "approver_position__holder", "decided_by"
                ),
            ),
        )
        .get(pk=pk)
    )


def approvals_queue(*, user: Any) -> QuerySet[ApprovalRequest]:
    """The approvals waiting for ``user``: pending requests addressed to a position they hold,
    still above the quote's owner (so on quotes they see), whose earlier steps are all approved
    (only the current step of each quote), oldest first."""
    from revline.org.models import PositionClosure

    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return ApprovalRequest.objects.none()
    earlier_pending = ApprovalRequest.objects.filter(
        quote_id=OuterRef("quote_id"), step__lt=OuterRef("step"), status=ApprovalStatus.PENDING
    )
    still_above = PositionClosure.objects.filter(
        ancestor_id=OuterRef("approver_position_id"),
        descendant_id=OuterRef("quote__owner_position_id"),
    )
    return (
        ApprovalRequest.objects.filter(
            status=ApprovalStatus.PENDING,
            approver_position__holder_id=user.pk,
            quote__status=QuoteStatus.PENDING_APPROVAL,
        )
        # the approver still sits above the quote's owner, so sees it: a deal reassigned to
        # another team since the request was made has left their view
        .filter(Exists(still_above))
        .exclude(Exists(earlier_pending))
        .select_related(
            "quote",
            "quote__opportunity",
            "quote__opportunity__account",
            "quote__owner_position",
            "quote__owner_position__holder",
            "approver_position",
        )
        .order_by("created_at", "id")
    )


# --- renewals and cross-sell -------------------------------------------------------------------


def renewals_due(
    *, user: Any, within_days: int = 120, today: dt.date | None = None
) -> QuerySet[Opportunity]:
    """Open renewal deals ``user`` sees closing within ``within_days`` (overdue ones included),
    soonest first."""
    today = today or timezone.localdate()
    return (
        opportunities_visible(user=user)
        .filter(
            type=OpportunityType.RENEWAL,
            status=OpportunityStatus.OPEN,
            close_date__lte=today + dt.timedelta(days=within_days),
        )
        .select_related("renewal_of")
        .order_by("close_date", "id")
    )


@dataclass
class CrossSellCandidate:
    account: Any
    product: Product
    similar_count: int  # similar customers who bought the product
    similar_customers: int  # similar customers in all
    share: float = 0.0  # similar_count / similar_customers
    reasons: list[str] = field(default_factory=list)


GroupKey = tuple[str, str]


def _similarity_groups(sector: str, band: str) -> list[GroupKey | None]:
    """A customer's groups: same sector, same size band, and both (None where unknown)."""
    return [
        ("sector", sector) if sector else None,
        ("band", band) if band else None,
        ("both", f"{sector}|{band}") if sector and band else None,
    ]


def _size_band(size: str, employees: int | None) -> str:
    from revline.crm.choices import CompanySize

    return size or CompanySize.for_employees(employees)


def cross_sell_candidates(
    *, user: Any, limit: int = 50, account: Any = None, min_similar: int = 1
) -> list[CrossSellCandidate]:
    """Products that customers ``user`` sees do not have yet but similar customers bought.

    A customer is an account with a won deal; the products it has are those of its won deals.
    Customers are similar when they share the sector or the size band. A candidate is ranked by
    the share of the similar customers who bought the product, then by their number; products
    the account already has an open deal for are left out. ``account`` narrows to one account.
    Five queries; the ranking runs in Python over (customer, product) pairs.
    """
    from revline.crm.models import Account

    won = (
        Opportunity.objects.filter(
            status=OpportunityStatus.WON, account__isnull=False, product__isnull=False
        )
        .values_list("account_id", "product_id")
        .distinct()
    )
    owned: dict[int, set[int]] = defaultdict(set)
    for account_id, product_id in won:
        owned[account_id].add(product_id)
    if not owned:
        return []
    profile = {
        pk: (sector.strip().lower(), _size_band(size, employees))
        for pk, sector, size, employees in Account.objects.filter(pk__in=owned).values_list(
            "id", "sector", "size", "employees"
        )
    }
    # Customers and their products counted per sector, per size band, and per both at once, so
    # "same sector or same band" is |sector| + |band| - |both| for each product.
    groups: Counter[GroupKey] = Counter()
    bought: dict[GroupKey, Counter[int]] = defaultdict(Counter)
    for pk, (sector, band) in profile.items():
        for key in _similarity_groups(sector, band):
            if key is not None:
                groups[key] += 1
                bought[key].update(owned[pk])

    targets_qs = Account.objects.visible_to(user, "view").filter(pk__in=list(owned))
    if account is not None:
        targets_qs = targets_qs.filter(pk=getattr(account, "pk", account))
    targets = {a.pk: a for a in targets_qs.select_related("owner_position")}
    if not targets:
        return []
    open_deals: dict[int, set[int]] = defaultdict(set)
    for account_id, product_id in Opportunity.objects.filter(
        status=OpportunityStatus.OPEN, account_id__in=list(targets), product__isnull=False
    ).values_list("account_id", "product_id"):
        open_deals[account_id].add(product_id)
    products = Product.objects.in_bulk(
        {p for counter in bought.values() for p in counter}, field_name="pk"
    )
    products = {pk: p for pk, p in products.items() if p.active}

    rows: list[CrossSellCandidate] = []
    for pk, target in targets.items():
        sector, band = profile[pk]
        keys = _similarity_groups(sector, band)
        n_sector, n_band, n_both = (groups[k] if k else 0 for k in keys)
        similar = n_sector + n_band - n_both - 1  # the target itself is in each of its groups
        if similar <= 0:
            continue
        skip = owned[pk] | open_deals.get(pk, set())
        for product_id, product in products.items():
            if product_id in skip:
                continue
            by_sector, by_band, by_both = (bought[k][product_id] if k else 0 for k in keys)
            count = by_sector + by_band - by_both
            if count < max(min_similar, 1):
                continue
            reasons = []
            if by_sector:
                reasons.append(f"{by_sector} in {target.sector.strip()}")
            if by_band:
                reasons.append(f"{by_band} of size {band}")
            rows.append(
                CrossSellCandidate(
                    account=target,
                    product=product,
                    similar_count=count,
                    similar_customers=similar,
                    share=round(count / similar, 4),
                    reasons=reasons,
                )
            )
    rows.sort(key=lambda r: (-r.share, -r.similar_count, r.account.name, r.product.name))
    return rows[:limit] if limit else rows
