"""``/api/v1/planning/...``: the fiscal calendar, quotas and attainment, targets, budgets and
spend, submitted forecasts, their adjustments, roll-ups and weekly snapshots.

Reads go through ``revline.planning.selectors`` (which start from the visibility predicate);
writes through ``revline.planning.services``. A record outside the caller's view answers 404; a
write the planning rules refuse answers 403 ``{"code": "forbidden", "reason": ...}`` with the
service's stable reason (``quota_not_below``, ``scope_not_allowed``, ``spend_not_allowed``,
``not_holder``, ``not_above``, ``not_admin``). Ids in a body (position, team, region, campaign)
are loaded through the caller's view: an unknown or invisible one is a 422 on that field.
Period keys (``2027``, ``2027-Q2``, ``2027-M05``) are read with the fiscal calendar; a bad one is
a 422. Lists answer ``{"items", "next", "total"}``.

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations.)
"""

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Status

from revline.api.errors import Conflict, Forbidden, NotFound
from revline.api.pagination import paginated
from revline.api.schemas import with_errors
from revline.crm.models import Campaign
from revline.org.models import Position, Region, Team
from revline.planning import rules, selectors, services
from revline.planning.calendar import Period, fiscal_rule
from revline.planning.models import Budget, ForecastAdjustment, Quota, Target
from revline.planning.schemas import (
    AdjustIn,
    AdjustmentOut,
    AttainmentOut,
    BudgetFilters,
    BudgetIn,
    BudgetOut,
    CalendarIn,
    CalendarOut,
    ForecastFilters,
    PeriodOut,
    PrefillOut,
    QuotaAmountOut,
    QuotaFilters,
    QuotaIn,
    QuotaOut,
    RollupOut,
    SnapshotOut,
    SpendFilters,
    SpendIn,
    SpendOut,
    SubmissionOut,
    SubmitIn,
    TargetFilters,
    TargetIn,
    TargetOut,
    TargetProgressOut,
    attainment_line,
    period_out,
    position_ref,
    progress_line,
    rollup_node,
)

router = Router(tags=["planning"])


# --- helpers -----------------------------------------------------------------------------------


@contextmanager
def refusals(*, conflict: bool = False) -> Iterator[None]:
    """A planning refusal as a 403 carrying the service's stable ``reason``; with ``conflict``,
    a service's ValidationError as a 409 (a state that forbids the write, not bad input)."""
    try:
        yield
    except services.PlanningPermissionDenied as exc:
        raise Forbidden(str(exc), reason=exc.reason) from None
    except ValidationError as exc:
        if not conflict:
            raise
        raise Conflict(" ".join(exc.messages)) from None


def _exists(model: Any, period: Period, **keys: Any) -> bool:
    """Whether the row an upsert service will write is there already (200 changed, 201 new).
    Read before the write: a caller the service refuses gets its 403, never this answer."""
    return model.objects.filter(period_kind=period.kind, period_start=period.start, **keys).exists()


def _saved(request: HttpRequest, existed: bool, get: Callable[..., Any], write: Callable[[], Any]):
    """Run one upsert service; answer the row as the caller sees it, 200 if it existed, else 201."""
    with refusals():
        row = write()
    return Status(200 if existed else 201, get(user=request.auth, pk=row.pk))


def _deleted(
    request: HttpRequest,
    get: Callable[..., Any],
    remove: Callable[..., None],
    name: str,
    pk: int,
    *,
    conflict: bool = False,
):
    """Load a row through the caller's view (404 outside it), remove it with one service: 204."""
    row = get(user=request.auth, pk=pk)
    with refusals(conflict=conflict):
        remove(by=request.auth, **{name: row})
    return Status(204, None)


def _period(key: str | None, field: str = "period", default_kind: str | None = None) -> Period:
    rule = fiscal_rule()
    if not key:
        if default_kind:
            return rule.period_of(selectors.today(), default_kind)  # type: ignore[arg-type]
        raise ValidationError({field: "Give a period: 2027, 2027-Q2 or 2027-M05."})
    try:
        return rule.parse(key)
    except ValueError as exc:
        raise ValidationError({field: str(exc)}) from None


def _body_position(request: HttpRequest, pk: int | None, field: str = "position") -> Position:
    try:
        return selectors.planning_position_get(user=request.auth, pk=pk)
    except selectors.PlanningNotFound:
        raise ValidationError({field: f"Unknown position {pk!r}."}) from None


def _query_position(request: HttpRequest, pk: int | None) -> Position | None:
    if pk is None:
        return None
    try:
        return selectors.planning_position_get(user=request.auth, pk=pk)
    except selectors.PlanningNotFound:
        raise NotFound("No such position.") from None


def _scope(
    request: HttpRequest, team: int | None, region: int | None
) -> tuple[Team | None, Region | None]:
    """The team or region a body names, if the caller sees its plans; 422 otherwise."""
    if (team is None) == (region is None):
        raise ValidationError({"team": "Give one team or one region."})
    view = rules.view_scope(request.auth)
    if team is not None:
        found = Team.objects.filter(pk=team).first() if view.has_team(team) else None
        if found is None:
            raise ValidationError({"team": f"Unknown team {team!r}."})
        return found, None
    found_region = Region.objects.filter(pk=region).first() if view.has_region(region) else None
    if found_region is None:
        raise ValidationError({"region": f"Unknown region {region!r}."})
    return None, found_region


def _filters(schema: Any) -> dict[str, Any]:
    return {k: v for k, v in schema.model_dump().items() if v is not None}


# --- the fiscal calendar -----------------------------------------------------------------------


def _calendar_out() -> dict[str, Any]:
    rule = fiscal_rule()
    today = selectors.today()
    return {
        "start_month": rule.start_month,
        "year_named_by_end": rule.year_named_by_end,
        "current_year": period_out(rule.period_of(today, "year")),
        "current_quarter": period_out(rule.period_of(today, "quarter")),
        "current_month": period_out(rule.period_of(today, "month")),
    }


@router.get("/calendar", response=with_errors({200: CalendarOut}), summary="The fiscal calendar")
def calendar_get(request: HttpRequest):
    return _calendar_out()


@router.put(
    "/calendar",
    response=with_errors({200: CalendarOut}, 403),
    summary="Set the month the fiscal year starts in (RevOps)",
)
def calendar_set(request: HttpRequest, payload: CalendarIn):
    with refusals():
        services.fiscal_calendar_set(
            by=request.auth,
            start_month=payload.start_month,
            year_named_by_end=payload.year_named_by_end,
        )
    return _calendar_out()


@router.get(
    "/periods",
    response=with_errors({200: list[PeriodOut]}),
    summary="The periods of a kind overlapping a date range (default: this fiscal year)",
)
def periods_list(
    request: HttpRequest,
    kind: str = "quarter",
    date_from: dt.date | None = Query(None, alias="from"),  # type: ignore[assignment]  # noqa: B008
    date_to: dt.date | None = Query(None, alias="to"),  # type: ignore[assignment]  # noqa: B008
):
    rule = fiscal_rule()
    if kind not in ("month", "quarter", "year"):
        raise ValidationError({"kind": "Use month, quarter or year."})
    year = rule.period_of(selectors.today(), "year")
    start, end = date_from or year.start, date_to or year.end
    if (end - start).days > 3660:
        raise ValidationError({"to": "Ask for at most ten years."})
    return [period_out(p) for p in rule.periods_between(start, end, kind)]  # type: ignore[arg-type]


# --- quotas ------------------------------------------------------------------------------------


@router.get(
    "/quotas", response=with_errors({200: list[QuotaOut]}), summary="The quotas you may see"
)
@paginated
def quotas_list(request: HttpRequest, filters: Query[QuotaFilters]):
    return selectors.quotas_list(user=request.auth, filters=_filters(filters))


@router.post(
    "/quotas",
    response=with_errors({200: QuotaOut, 201: QuotaOut}, 403),
    summary="Set a quota for a position below yours (201 created, 200 changed)",
)
def quota_set(request: HttpRequest, payload: QuotaIn):
    position = _body_position(request, payload.position)
    period = _period(payload.period)
    otype = payload.opportunity_type or ""
    return _saved(
        request,
        _exists(Quota, period, owner_position=position, opportunity_type=otype),
        selectors.quota_get,
        lambda: services.quota_set(
            by=request.auth,
            position=position,
            period=period,
            amount=payload.amount,
            deal_count=payload.deal_count,
            opportunity_type=payload.opportunity_type,
            note=payload.note,
        ),
    )


@router.get(
    "/quotas/attainment",
    response=with_errors({200: AttainmentOut}, 404),
    summary="A position's quota, attainment and pace, with one line per report",
)
def quota_attainment(
    request: HttpRequest,
    period: str | None = None,
    position: int | None = None,
    type: str = "",
):
    target = _query_position(request, position)
    p = _period(period, default_kind="quarter")
    try:
        board = selectors.quota_board(
            user=request.auth, period=p, position=target, opportunity_type=type
        )
    except selectors.PlanningNotFound:
        raise NotFound("No position to show: you hold none.") from None
    return {
        "period": period_out(p),
        "elapsed": board.elapsed,
        "opportunity_type": type,
        "position": attainment_line(board.node),
        "reports": [attainment_line(line) for line in board.rows],
    }


@router.get(
    "/quotas/amount",
    response=with_errors({200: QuotaAmountOut}, 404),
    summary="The quota covering a date range for a position's subtree (or all you see)",
)
def quota_amount(
    request: HttpRequest,
    date_from: dt.date = Query(..., alias="from"),  # type: ignore[assignment]  # noqa: B008
    date_to: dt.date = Query(..., alias="to"),  # type: ignore[assignment]  # noqa: B008
    position: int | None = None,
    type: str | None = None,
):
    target = _query_position(request, position)
    if target is not None:
        ids: list[int] | None = [target.pk]
    elif rules.sees_whole_org(request.auth):
        ids = None
    else:
        ids = [p.pk for p in selectors.held_positions(user=request.auth)]
    amount = selectors.quota_amount(
        position_ids=ids, start=date_from, end=date_to, opportunity_type=type or None
    )
    return {
        "amount": amount,
        "start": date_from,
        "end": date_to,
        "position": position,
        "opportunity_type": type or None,
    }


@router.get(
    "/quotas/{int:quota_id}", response=with_errors({200: QuotaOut}, 404), summary="One quota"
)
def quota_detail(request: HttpRequest, quota_id: int):
    return selectors.quota_get(user=request.auth, pk=quota_id)


@router.delete(
    "/quotas/{int:quota_id}", response=with_errors({204: None}, 403, 404), summary="Remove a quota"
)
def quota_delete(request: HttpRequest, quota_id: int):
    return _deleted(request, selectors.quota_get, services.quota_delete, "quota", quota_id)


# --- targets -----------------------------------------------------------------------------------


@router.get(
    "/targets", response=with_errors({200: list[TargetOut]}), summary="The targets you may see"
)
@paginated
def targets_list(request: HttpRequest, filters: Query[TargetFilters]):
    return selectors.targets_list(user=request.auth, filters=_filters(filters))


@router.post(
    "/targets",
    response=with_errors({200: TargetOut, 201: TargetOut}, 403),
    summary="Set a team's or region's target (VPs, CSO, CRO, RevOps)",
)
def target_set(request: HttpRequest, payload: TargetIn):
    team, region = _scope(request, payload.team, payload.region)
    period = _period(payload.period)
    otype = payload.opportunity_type or ""
    return _saved(
        request,
        _exists(Target, period, team=team, region=region, opportunity_type=otype),
        selectors.target_get,
        lambda: services.target_set(
            by=request.auth,
            period=period,
            amount=payload.amount,
            team=team,
            region=region,
            opportunity_type=payload.opportunity_type,
            deal_count=payload.deal_count,
            note=payload.note,
        ),
    )


@router.get(
    "/targets/progress",
    response=with_errors({200: TargetProgressOut}),
    summary="Target vs actual (and budget vs spend) per region and team",
)
def target_progress(request: HttpRequest, period: str | None = None, type: str = ""):
    p = _period(period, default_kind="quarter")
    lines = selectors.target_board(user=request.auth, period=p, opportunity_type=type)
    return {"period": period_out(p), "items": [progress_line(line) for line in lines]}


@router.get(
    "/targets/{int:target_id}", response=with_errors({200: TargetOut}, 404), summary="One target"
)
def target_detail(request: HttpRequest, target_id: int):
    return selectors.target_get(user=request.auth, pk=target_id)


@router.delete(
    "/targets/{int:target_id}",
    response=with_errors({204: None}, 403, 404),
    summary="Remove a target",
)
def target_delete(request: HttpRequest, target_id: int):
    return _deleted(request, selectors.target_get, services.target_delete, "target", target_id)


# --- budgets and spend -------------------------------------------------------------------------


@router.get(
    "/budgets", response=with_errors({200: list[BudgetOut]}), summary="The budgets you may see"
)
@paginated
def budgets_list(request: HttpRequest, filters: Query[BudgetFilters]):
    return selectors.budgets_list(user=request.auth, filters=_filters(filters))


@router.post(
    "/budgets",
    response=with_errors({200: BudgetOut, 201: BudgetOut}, 403),
    summary="Set a team's or region's budget for a category (VPs, CSO, CRO, RevOps)",
)
def budget_set(request: HttpRequest, payload: BudgetIn):
    team, region = _scope(request, payload.team, payload.region)
    period = _period(payload.period)
    return _saved(
        request,
        _exists(Budget, period, team=team, region=region, category=payload.category),
        selectors.budget_get,
        lambda: services.budget_set(
            by=request.auth,
            period=period,
            category=payload.category,
            amount=payload.amount,
            team=team,
            region=region,
            note=payload.note,
        ),
    )


@router.get(
    "/budgets/{int:budget_id}", response=with_errors({200: BudgetOut}, 404), summary="One budget"
)
def budget_detail(request: HttpRequest, budget_id: int):
    return selectors.budget_get(user=request.auth, pk=budget_id)


@router.delete(
    "/budgets/{int:budget_id}",
    response=with_errors({204: None}, 403, 404, 409),
    summary="Remove a budget with no spend",
)
def budget_delete(request: HttpRequest, budget_id: int):
    return _deleted(
        request, selectors.budget_get, services.budget_delete, "budget", budget_id, conflict=True
    )


@router.get(
    "/spend", response=with_errors({200: list[SpendOut]}), summary="Spend entries you may see"
)
@paginated(key="-id")
def spend_list(request: HttpRequest, filters: Query[SpendFilters]):
    return selectors.spend_list(user=request.auth, filters=_filters(filters))


@router.post(
    "/budgets/{int:budget_id}/spend",
    response=with_errors({201: SpendOut}, 403, 404),
    summary="Record spend against a budget",
)
def spend_record(request: HttpRequest, budget_id: int, payload: SpendIn):
    budget = selectors.budget_get(user=request.auth, pk=budget_id)
    campaign = None
    if payload.campaign is not None:
        campaign = Campaign.objects.visible_to(request.auth).filter(pk=payload.campaign).first()
        if campaign is None:
            raise ValidationError({"campaign": f"Unknown campaign {payload.campaign!r}."})
    with refusals():
        spend = services.spend_record(
            by=request.auth,
            budget=budget,
            amount=payload.amount,
            spent_on=payload.spent_on,
            note=payload.note,
            campaign=campaign,
        )
    return Status(201, selectors.spend_get(user=request.auth, pk=spend.pk))


@router.delete(
    "/spend/{int:spend_id}",
    response=with_errors({204: None}, 403, 404),
    summary="Remove a spend entry",
)
def spend_delete(request: HttpRequest, spend_id: int):
    return _deleted(request, selectors.spend_get, services.spend_delete, "spend", spend_id)


# --- forecasts ---------------------------------------------------------------------------------


@router.get(
    "/forecasts",
    response=with_errors({200: list[SubmissionOut]}),
    summary="Submitted forecasts you may see",
)
@paginated
def forecasts_list(request: HttpRequest, filters: Query[ForecastFilters]):
    return selectors.submissions_list(user=request.auth, filters=_filters(filters))


def _own_position(request: HttpRequest, pk: int | None) -> Position:
    if pk is not None:
        return _body_position(request, pk)
    held = selectors.held_positions(user=request.auth)
    if not held:
        raise ValidationError({"position": "You hold no position to forecast for."})
    return held[0]


@router.get(
    "/forecasts/prefill",
    response=with_errors({200: PrefillOut}, 404),
    summary="What a position's deals say for a period (the submission's starting point)",
)
def forecast_prefill(request: HttpRequest, period: str | None = None, position: int | None = None):
    p = _period(period, default_kind="quarter")
    target = _query_position(request, position)
    if target is None:
        held = selectors.held_positions(user=request.auth)
        if not held:
            raise NotFound("You hold no position.")
        target = held[0]
    prefill = selectors.forecast_prefill(position=target, period=p)
    return {
        "position": position_ref(target),
        "period": period_out(p),
        "commit": prefill.commit,
        "best_case": prefill.best_case,
        "pipeline": prefill.pipeline,
        "closed": prefill.closed,
        "deals": prefill.counts,
    }


@router.post(
    "/forecasts",
    response=with_errors({200: SubmissionOut, 201: SubmissionOut}, 403),
    summary="Submit your forecast for a period (missing figures: what your deals say)",
)
def forecast_submit(request: HttpRequest, payload: SubmitIn):
    position = _own_position(request, payload.position)
    period = _period(payload.period)
    figures = {
        "commit": payload.commit,
        "best_case": payload.best_case,
        "pipeline": payload.pipeline,
    }
    if any(v is None for v in figures.values()):
        prefill = selectors.forecast_prefill(position=position, period=period).figures()
        figures = {k: prefill[k] if v is None else v for k, v in figures.items()}
    existed = selectors.submissions_list(
        user=request.auth, filters={"position": position.pk, "period": period.key}
    ).exists()
    return _saved(
        request,
        existed,
        selectors.submission_get,
        lambda: services.forecast_submit(
            by=request.auth, position=position, period=period, note=payload.note, **figures
        ),
    )


@router.get(
    "/forecasts/adjustments",
    response=with_errors({200: list[AdjustmentOut]}),
    summary="Adjustments made from your positions or below",
)
@paginated
def adjustments_list(request: HttpRequest, filters: Query[ForecastFilters]):
    return selectors.adjustments_list(user=request.auth, filters=_filters(filters))


@router.post(
    "/forecasts/adjustments",
    response=with_errors({201: AdjustmentOut, 200: AdjustmentOut}, 403),
    summary="Adjust a forecast figure of a position below yours",
)
def forecast_adjust(request: HttpRequest, payload: AdjustIn):
    position = _body_position(request, payload.position)
    period = _period(payload.period)
    author = rules.nearest_held_ancestor(request.auth, position)
    existed = author is not None and _exists(
        ForecastAdjustment, period, position=position, owner_position=author, figure=payload.figure
    )
    return _saved(
        request,
        existed,
        selectors.adjustment_get,
        lambda: services.forecast_adjust(
            by=request.auth,
            position=position,
            period=period,
            figure=payload.figure,
            amount=payload.amount,
            note=payload.note,
        ),
    )


@router.delete(
    "/forecasts/adjustments/{int:adjustment_id}",
    response=with_errors({204: None}, 403, 404),
    summary="Withdraw an adjustment you made",
)
def adjustment_remove(request: HttpRequest, adjustment_id: int):
    return _deleted(
        request,
        selectors.adjustment_get,
        services.forecast_adjustment_remove,
        "adjustment",
        adjustment_id,
    )


@router.get(
    "/forecasts/rollup",
    response=with_errors({200: RollupOut}, 404),
    summary="A position's forecast roll-up as you see it (reports nested)",
)
def forecast_rollup(
    request: HttpRequest,
    period: str | None = None,
    position: int | None = None,
    depth: int | None = None,
):
    p = _period(period, default_kind="quarter")
    target = _query_position(request, position)
    try:
        view = selectors.forecast_view(user=request.auth, period=p, position=target)
    except selectors.PlanningNotFound:
        raise NotFound("No position to show: you hold none.") from None
    return {
        "period": period_out(p),
        "viewer": position_ref(view.viewer),
        "rollup": rollup_node(view.node, depth),
    }


@router.get(
    "/forecasts/snapshots",
    response=with_errors({200: list[SnapshotOut]}),
    summary="Weekly snapshots of forecast roll-ups you may see",
)
@paginated
def snapshots_list(request: HttpRequest, filters: Query[ForecastFilters]):
    return selectors.snapshots_list(user=request.auth, filters=_filters(filters))
