"""What a KPI question covers: who asks, the period, the position subtree and the filters; and
the records each kind of KPI counts, always starting from the visibility predicate.

``scope_resolve`` checks the question (a position outside the caller's view raises
``Position.DoesNotExist``, a filter that does not parse raises ``ValidationError``); the
``Subject`` objects turn a scope into the querysets the measures aggregate, and name the
dimensions a breakdown may group them by.

Region, team and person filters are those of the record's owner (for leads: the lead's own
region); segment is the account's sector and size band (a lead's own sector and employee count);
product and opportunity type are the deal's. A filter that does not apply to a KPI's records is
reported back in ``ignored_filters`` rather than silently changing the meaning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    CharField,
    Expression,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from revline.crm.choices import CompanySize
from revline.org.choices import Domain, RoleType
from revline.org.models import Position, PositionClosure, Region
from revline.org.visibility import VIEW, record_owner_positions
from revline.pipeline.choices import OpportunityStatus, OpportunityType, StageKind
from revline.planning.calendar import FiscalYearRule, Period

FILTER_KEYS = ("region", "team", "owner", "product", "sector", "size", "type")
PERIOD_DIMS = ("month", "quarter", "year")
ROLE_ORDER = {role: index for index, role in enumerate(RoleType.values)}

# Employee-count bands (CompanySize) as ranges, for records that store a count, not a band.
SIZE_RANGES: dict[str, tuple[int, int | None]] = {
    CompanySize.MICRO: (0, 10),
    CompanySize.SMALL: (11, 50),
    CompanySize.MEDIUM: (51, 200),
    CompanySize.MIDSIZE: (201, 1000),
    CompanySize.LARGE: (1001, 5000),
    CompanySize.ENTERPRISE: (5001, None),
}


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in the site's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass
class Scope:
    user: Any
    start: dt.date
    end: dt.date
    rule: FiscalYearRule
    position: Position | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    region_code: str = ""
    anchor: Position | None = None  # whose direct reports ``by=report`` groups under

    @property
    def start_at(self) -> dt.datetime:
        return day_start(self.start)

    @property
    def end_before(self) -> dt.datetime:
        """The first moment after the period (periods are whole days, end included)."""
        return day_start(self.end + dt.timedelta(days=1))

    @property
    def as_of(self) -> dt.datetime:
        """The period's end, or now when the period has not ended yet."""
        return min(self.end_before, timezone.now())

    def subtree(self, position_id: int | None = None) -> QuerySet:
        """Ids of the positions at or below ``position_id`` (default: the scope's position)."""
        pk = position_id if position_id is not None else self.position.pk  # type: ignore[union-attr]
        return PositionClosure.objects.filter(ancestor_id=pk).values("descendant_id")

    def periods(self, kind: str) -> list[Period]:
        return self.rule.periods_between(self.start, self.end, kind)  # type: ignore[arg-type]


def _positions_in_view(user: Any) -> QuerySet[Position]:
    """Positions whose records ``user`` sees through the hierarchy, a shared team or an org-wide
    role (revenue or leads): the positions a KPI may be scoped to."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return Position.objects.all()
    return Position.objects.filter(
        Q(id__in=record_owner_positions(user, VIEW, Domain.REVENUE))
        | Q(id__in=record_owner_positions(user, VIEW, Domain.LEADS))
    )


def position_in_view(*, user: Any, position_id: Any) -> Position:
    """The position, if ``user`` may scope KPIs to it; else ``Position.DoesNotExist`` (a 404:
    a position outside one's view is answered as if it did not exist)."""
    try:
        pk = int(position_id)
    except (TypeError, ValueError):
        raise Position.DoesNotExist from None
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise Position.DoesNotExist
    return _positions_in_view(user).select_related("holder").get(pk=pk)


def _int(key: str, raw: Any) -> int:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValidationError({key: f"{key} must be an id (a whole number)."}) from None


def scope_resolve(
    *,
    user: Any,
    start: dt.date,
    end: dt.date,
    rule: FiscalYearRule,
    position_id: int | None = None,
    filters: dict[str, Any] | None = None,
) -> Scope:
    """The checked scope of a KPI question. Raises ``Position.DoesNotExist`` for a position (or
    ``owner``) the user may not scope to and ``ValidationError`` for unusable filters."""
    if end < start:
        raise ValidationError({"to": "The period ends before it starts."})
    scope = Scope(user=user, start=start, end=end, rule=rule)
    if position_id is not None:
        scope.position = position_in_view(user=user, position_id=position_id)
    raw = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise ValidationError({unknown[0]: f"Unknown filter; use {', '.join(FILTER_KEYS)}."})
    f: dict[str, Any] = {}
    if "region" in raw:
        value = str(raw["region"]).strip()
        region = Region.objects.filter(
            Q(pk=int(value)) if value.isdigit() else Q(code__iexact=value)
        ).first()
        if region is None:
            raise ValidationError({"region": "No such region."})
        f["region"], scope.region_code = region.pk, region.code
    for key in ("team", "product"):
        if key in raw:
            f[key] = _int(key, raw[key])
    if "owner" in raw:
        f["owner"] = position_in_view(user=user, position_id=_int("owner", raw["owner"])).pk
    if "sector" in raw:
        f["sector"] = str(raw["sector"]).strip()
    if "size" in raw:
        if raw["size"] not in SIZE_RANGES:
            raise ValidationError({"size": f"Use one of {', '.join(SIZE_RANGES)}."})
        f["size"] = raw["size"]
    if "type" in raw:
        if raw["type"] not in OpportunityType.values:
            raise ValidationError({"type": f"Use one of {', '.join(OpportunityType.values)}."})
        f["type"] = raw["type"]
    scope.filters = f
    scope.anchor = scope.position or _senior_position(user)
    return scope


def _senior_position(user: Any) -> Position | None:
    positions = list(Position.objects.filter(holder_id=getattr(user, "pk", None)))
    positions.sort(key=lambda p: (ROLE_ORDER.get(p.role, 99), p.pk))
    return positions[0] if positions else None


# --- subjects: the records a KPI counts ---------------------------------------------------------

FilterQ = Callable[[Any], Q]
DimExpr = Callable[[Scope, str], Any]  # (scope, date field) -> expression or lookup path


@dataclass(frozen=True)
class Dim:
    """A breakdown dimension resolved for one subject: the grouping expression and the label
    kind (``position``, ``region``, ``team``, ``product``, ``stage``, ``competitor``, ``campaign``,
    ``period`` or ``choice``)."""

    name: str
    expression: Any
    labels: str


@dataclass(frozen=True)
class Subject:
    """A kind of record KPIs count. ``person`` is the field that ties a record to a position (for
    the ``position``/``report`` breakdowns); ``who`` are the fields a position subtree matches
    (any of them); ``filters`` turn each scope filter into a condition on this model."""

    name: str
    base: Callable[[Scope], QuerySet]
    person: str
    who: tuple[str, ...]
    filters: dict[str, FilterQ]
    dims: dict[str, tuple[str, DimExpr]]  # name -> (label kind, expression builder)

    def records(self, scope: Scope) -> QuerySet:
        qs = self.base(scope)
        if scope.position is not None:
            below = scope.subtree()
            cond = Q()
            for who in self.who:
                cond |= Q(**{f"{who}__in_subquery": below})
            qs = qs.filter(cond)
        for key, value in scope.filters.items():
            if key in self.filters:
                qs = qs.filter(self.filters[key](value))
        return qs.order_by()

    def ignored(self, scope: Scope) -> list[str]:
        return sorted(k for k in scope.filters if k not in self.filters)

    def dim(self, scope: Scope, name: str, date_field: str) -> Dim:
        if name in PERIOD_DIMS:
            return Dim(name, period_case(scope, name, date_field), "period")
        if name == "report":
            if scope.anchor is None:
                raise ValidationError({"by": "Breaking down by report needs a position."})
            return Dim(name, report_expr(scope, self.person), "position")
        if name not in self.dims:
            raise ValidationError({"by": f"This KPI cannot be broken down by {name}."})
        labels, build = self.dims[name]
        return Dim(name, build(scope, date_field), labels)

    def dim_names(self) -> list[str]:
        return ["report", *self.dims, *PERIOD_DIMS]


def _f(path: str) -> DimExpr:
    return lambda scope, date_field: F(path)


def period_case(scope: Scope, kind: str, date_field: str) -> Case:
    """The fiscal period (month, quarter or year key) ``date_field`` falls in, as one CASE over
    the periods of the scope: portable, and fixed in size whatever the number of rows."""
    periods = scope.periods(kind)
    whens = []
    for p in periods:
        whens.append(
            When(
                **{
                    f"{date_field}__gte": _bound(date_field, p.start),
                    f"{date_field}__lt": _bound(date_field, p.end + dt.timedelta(days=1)),
                },
                then=Value(p.key),
            )
        )
    return Case(*whens, default=Value(None), output_field=CharField())


DATE_FIELDS = {"closed_on", "close_date", "engaged_on"}


def _bound(date_field: str, day: dt.date) -> dt.date | dt.datetime:
    return day if date_field.rsplit("__", 1)[-1] in DATE_FIELDS else day_start(day)


def report_expr(scope: Scope, person: str) -> Case:
    """The direct report (solid or dotted line) of the anchor position at or above the record's
    ``person``; the anchor itself for its own records; NULL for records outside its subtree. A
    record under two of the anchor's reports counts under the one with the lower id."""
    anchor = scope.anchor
    assert anchor is not None
    reports = PositionClosure.objects.filter(ancestor_id=anchor.pk, depth=1).values("descendant_id")
    report = (
        PositionClosure.objects.filter(descendant_id=OuterRef(person), ancestor_id__in=reports)
        .order_by("ancestor_id")
        .values("ancestor_id")[:1]
    )
    return Case(
        When(**{person: anchor.pk}, then=Value(anchor.pk)),
        default=Subquery(report),
        output_field=IntegerField(),
    )


def _region_q(path: str) -> FilterQ:
    return lambda r: Q(**{f"{path}_id": r}) | Q(**{f"{path}__parent_id": r})


def _size_q(path: str) -> FilterQ:
    def q(band: str) -> Q:
        low, high = SIZE_RANGES[band]
        cond = Q(**{f"{path}__gte": low})
        return cond & Q(**{f"{path}__lte": high}) if high is not None else cond

    return q


def _owned_filters(prefix: str = "") -> dict[str, FilterQ]:
    p = prefix
    return {
        "region": _region_q(f"{p}owner_position__region"),
        "team": lambda v: Q(**{f"{p}owner_position__team_id": v}),
        "owner": lambda v: Q(**{f"{p}owner_position_id": v}),
    }


def _owned_dims(prefix: str = "") -> dict[str, tuple[str, DimExpr]]:
    p = prefix
    return {
        "position": ("position", _f(f"{p}owner_position_id")),
        "team": ("team", _f(f"{p}owner_position__team_id")),
        "region": ("region", _f(f"{p}owner_position__region_id")),
    }


def last_stage_expr() -> Case:
    """The stage an open deal is in, or the one a closed deal was won or lost from."""
    from revline.pipeline.models import StageChange

    closing = (
        StageChange.objects.filter(
            opportunity_id=OuterRef("pk"), to_stage__kind__in=[StageKind.WON, StageKind.LOST]
        )
        .order_by("-changed_at", "-id")
        .values("from_stage_id")[:1]
    )
    return Case(
        When(status=OpportunityStatus.OPEN, then=F("stage_id")),
        default=Subquery(closing),
        output_field=IntegerField(),
    )


def _opportunities(scope: Scope) -> QuerySet:
    from revline.pipeline.models import Opportunity

    return Opportunity.objects.visible_to(scope.user)


OPPORTUNITY_FILTERS: dict[str, FilterQ] = {
    **_owned_filters(),
    "product": lambda v: Q(product_id=v),
    "sector": lambda v: Q(account__sector__iexact=v),
    "size": lambda v: Q(account__size=v),
    "type": lambda v: Q(type=v),
}

OPPORTUNITIES = Subject(
    name="opportunities",
    base=_opportunities,
    person="owner_position_id",
    who=("owner_position_id",),
    filters=OPPORTUNITY_FILTERS,
    dims={
        **_owned_dims(),
        "product": ("product", _f("product_id")),
        "type": ("choice", _f("type")),
        "sector": ("choice", _f("account__sector")),
        "size": ("choice", _f("account__size")),
        "competitor": ("competitor", _f("competitors")),
        "stage": ("stage", lambda scope, date_field: last_stage_expr()),
        "campaign": ("campaign", _f("campaign_id")),
    },
)


def _stage_changes(scope: Scope) -> QuerySet:
    from revline.pipeline.models import StageChange

    deals = OPPORTUNITIES.records(scope)
    if not deals.query.where:
        # The visibility predicate, the position and the filters left every deal in (an
        # org-wide role, no filter): every change belongs to one, so the subquery would only
        # cost a join over the whole deal table.
        return StageChange.objects.all()
    return StageChange.objects.filter(opportunity_id__in=deals.values("pk"))


# The stage history: the deal's filters and scope apply through the subquery above.
STAGE_CHANGES = Subject(
    name="stage changes",
    base=_stage_changes,
    person="opportunity__owner_position_id",
    who=(),
    filters={key: (lambda v: Q()) for key in OPPORTUNITY_FILTERS},  # applied in the subquery
    dims={
        **_owned_dims("opportunity__"),
        "stage": ("stage", _f("to_stage_id")),
        "product": ("product", _f("opportunity__product_id")),
        "type": ("choice", _f("opportunity__type")),
    },
)


def _leads(scope: Scope) -> QuerySet:
    from revline.crm.models import Lead

    return Lead.objects.visible_to(scope.user).filter(merged_into__isnull=True)


LEAD_WHO = ("owner_position_id", "generated_by_id", "qualified_by_id", "received_by_id")
LEAD_FILTERS: dict[str, FilterQ] = {
    "region": _region_q("region"),
    "team": lambda v: Q(owner_position__team_id=v),
    "owner": lambda v: Q(owner_position_id=v),
    "sector": lambda v: Q(sector__iexact=v),
    "size": _size_q("employees"),
}
LEAD_DIMS: dict[str, tuple[str, DimExpr]] = {
    "team": ("team", _f("owner_position__team_id")),
    "region": ("region", _f("region_id")),
    "source": ("choice", _f("source")),
    "campaign": ("campaign", _f("campaign_id")),
    "sector": ("choice", _f("sector")),
}


def _lead_subject(name: str, person: str) -> Subject:
    return Subject(
        name=name,
        base=_leads,
        person=person,
        who=LEAD_WHO,
        filters=LEAD_FILTERS,
        dims={"position": ("position", _f(person)), **LEAD_DIMS},
    )


LEADS = _lead_subject("leads", "owner_position_id")
LEADS_BY_SDR = _lead_subject("leads", "qualified_by_id")
LEADS_BY_BDR = _lead_subject("leads", "generated_by_id")


def _activities(scope: Scope) -> QuerySet:
    from revline.crm.models import Activity

    return Activity.objects.visible_to(scope.user)


ACTIVITIES = Subject(
    name="activities",
    base=_activities,
    person="owner_position_id",
    who=("owner_position_id",),
    filters=_owned_filters(),
    dims={**_owned_dims(), "kind": ("choice", _f("kind"))},
)


def _quotes(scope: Scope) -> QuerySet:
    from revline.pipeline.models import Quote

    return Quote.objects.visible_to(scope.user)


QUOTES = Subject(
    name="quotes",
    base=_quotes,
    person="owner_position_id",
    who=("owner_position_id",),
    filters={
        **_owned_filters(),
        "product": lambda v: Q(opportunity__product_id=v),
        "sector": lambda v: Q(opportunity__account__sector__iexact=v),
        "size": lambda v: Q(opportunity__account__size=v),
        "type": lambda v: Q(opportunity__type=v),
    },
    dims={
        **_owned_dims(),
        "product": ("product", _f("opportunity__product_id")),
        "type": ("choice", _f("opportunity__type")),
    },
)


def _complaints(scope: Scope) -> QuerySet:
    from revline.crm.models import Complaint

    return Complaint.objects.visible_to(scope.user)


def _surveys(scope: Scope) -> QuerySet:
    from revline.crm.models import SatisfactionResponse

    return SatisfactionResponse.objects.visible_to(scope.user)


_ACCOUNT_FILTERS: dict[str, FilterQ] = {
    **_owned_filters(),
    "sector": lambda v: Q(account__sector__iexact=v),
    "size": lambda v: Q(account__size=v),
}
_ACCOUNT_DIMS: dict[str, tuple[str, DimExpr]] = {
    **_owned_dims(),
    "sector": ("choice", _f("account__sector")),
    "size": ("choice", _f("account__size")),
}

COMPLAINTS = Subject(
    name="complaints",
    base=_complaints,
    person="owner_position_id",
    who=("owner_position_id",),
    filters=_ACCOUNT_FILTERS,
    dims={**_ACCOUNT_DIMS, "severity": ("choice", _f("severity"))},
)
SURVEYS = Subject(
    name="surveys",
    base=_surveys,
    person="owner_position_id",
    who=("owner_position_id",),
    filters=_ACCOUNT_FILTERS,
    dims=_ACCOUNT_DIMS,
)


def _prospects(scope: Scope) -> QuerySet:
    from revline.crm.models import ProspectList, ProspectListMember

    return ProspectListMember.objects.filter(
        prospect_list_id__in=ProspectList.objects.visible_to(scope.user).values("pk")
    )


PROSPECTS = Subject(
    name="prospect list members",
    base=_prospects,
    person="prospect_list__owner_position_id",
    who=("prospect_list__owner_position_id",),
    filters=_owned_filters("prospect_list__"),
    dims=_owned_dims("prospect_list__"),
)


def expression(value: Any) -> Expression | Any:
    """A lookup path as an ``F``; expressions pass through."""
    return F(value) if isinstance(value, str) else value


def _sql_changes(scope: Scope) -> QuerySet:
    from revline.crm.choices import LeadStatus
    from revline.crm.models import LeadStatusChange

    return LeadStatusChange.objects.filter(
        to_status=LeadStatus.SALES_QUALIFIED,
        lead_id__in=LEADS_BY_SDR.records(scope).values("pk"),
    )


# Leads becoming sales-qualified, from the status history; the leads' scope and filters apply
# through the subquery above.
SQL_CHANGES = Subject(
    name="leads",
    base=_sql_changes,
    person="lead__qualified_by_id",
    who=(),
    filters={key: (lambda v: Q()) for key in LEAD_FILTERS},
    dims={
        "position": ("position", _f("lead__qualified_by_id")),
        **{
            name: (labels, _f(f"lead__{path}"))
            for name, (labels, path) in {
                "team": ("team", "owner_position__team_id"),
                "region": ("region", "region_id"),
                "source": ("choice", "source"),
                "campaign": ("campaign", "campaign_id"),
                "sector": ("choice", "sector"),
            }.items()
        },
    },
)


def period_resolve(
    *,
    rule: FiscalYearRule,
    start: dt.date | None = None,
    end: dt.date | None = None,
    period: str = "",
    today: dt.date | None = None,
) -> tuple[dt.date, dt.date]:
    """The ``[start, end]`` a question covers: a fiscal ``period`` key (``2027-Q2``), or the dates
    given; without an end, today; without a start, the start of the fiscal year of the end;
    without either, the current fiscal quarter. ``ValidationError`` when they do not make a
    period."""
    today = today or timezone.localdate()
    if period.strip():
        if start is not None or end is not None:
            raise ValidationError({"period": "Give a period or from/to, not both."})
        try:
            p = rule.parse(period)
        except ValueError as exc:
            raise ValidationError({"period": str(exc)}) from None
        return p.start, p.end
    if start is None and end is None:
        quarter = rule.period_of(today, "quarter")
        return quarter.start, quarter.end
    if end is None:
        assert start is not None
        end = max(today, start)
    if start is None:
        start = rule.period_of(end, "year").start
    if end < start:
        raise ValidationError({"to": "The period ends before it starts."})
    return start, end
