"""Every write of the planning app: keyword-only, one transaction each, each audited.

Who may do what is in ``revline.planning.rules``; a refusal raises ``PlanningPermissionDenied``
(a ``PermissionDenied`` with a stable ``reason``), which web views answer 403 and the API
``{"code": "forbidden", "reason": ...}``. Bad input raises ``ValidationError``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from revline.core.services import actor_or_none, audit_event_record, diff_fields
from revline.org.models import Position, Region, Team
from revline.pipeline.choices import OpportunityType
from revline.planning import rules, selectors
from revline.planning.calendar import Period
from revline.planning.choices import FIGURES, BudgetCategory
from revline.planning.models import (
    Budget,
    BudgetSpend,
    FiscalCalendar,
    ForecastAdjustment,
    ForecastSnapshot,
    ForecastSubmission,
    Quota,
    Target,
)
from revline.planning.models.periods import stored_period

MAX_AMOUNT = Decimal("999999999999.99")


class PlanningPermissionDenied(PermissionDenied):
    """A planning write the user may not make. ``reason`` is stable text for API clients:
    ``not_admin``, ``quota_not_below``, ``scope_not_allowed``, ``spend_not_allowed``,
    ``not_holder``, ``not_above``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _amount(value: Any, field: str, *, positive: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field: "Enter an amount."}) from None
    if not amount.is_finite() or amount > MAX_AMOUNT:
        raise ValidationError({field: "The amount is too large."})
    if amount < 0 or (positive and amount == 0):
        raise ValidationError(
            {
                field: "The amount must be above zero."
                if positive
                else "The amount cannot be negative."
            }
        )
    return amount


def _count(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Enter a whole number."}) from None
    if n < 0:
        raise ValidationError({field: "The number cannot be negative."})
    return n


def _opportunity_type(value: str | None) -> str:
    value = (value or "").strip()
    if value and value not in OpportunityType.values:
        raise ValidationError({"opportunity_type": f"Unknown opportunity type {value!r}."})
    return value


def _check_period(period: Any) -> Period:
    if not isinstance(period, Period):
        raise ValidationError({"period": "Choose a period."})
    return period


def _note(note: str | None, length: int = 255) -> str:
    return (note or "").strip()[:length]


def _locked_row(model: Any, period: Period, **keys: Any) -> Any:
    """The row of ``model`` for ``period`` and ``keys``, locked for the write, or None."""
    return (
        model.objects.select_for_update()
        .filter(period_kind=period.kind, period_start=period.start, **keys)
        .first()
    )


def _plan_save(
    model: Any,
    *,
    by: Any,
    action: str,
    period: Period,
    keys: dict[str, Any],
    values: dict[str, Any],
    is_generated: bool,
    first: dict[str, tuple[Any, Any]],
) -> Any:
    """Create or change the quota, target or budget of ``period`` named by ``keys``: a new row is
    audited ``<action>.set`` with ``first``, a real change ``<action>.update`` with the diff; an
    unchanged row is left as it is."""
    row = _locked_row(model, period, **keys)
    if row is None:
        row = model(**keys, set_by=actor_or_none(by), is_generated=is_generated, **values)
        row.set_period(period)
        row.save()
        audit_event_record(actor=by, action=f"{action}.set", instance=row, changes=first)
        return row
    changes = diff_fields(row, values)
    if changes:
        row.set_by = actor_or_none(by)
        row.save()
        audit_event_record(actor=by, action=f"{action}.update", instance=row, changes=changes)
    return row


def _delete_audited(*, by: Any, action: str, row: Any, changes: dict[str, Any]) -> None:
    audit_event_record(actor=by, action=action, instance=row, changes=changes)
    row.delete()


def _period_gone(row: Any) -> dict[str, tuple[Any, Any]]:
    return {"amount": (row.amount, None), "period": (row.period_key, None)}


def _who(position: Position) -> str:
    holder = position.holder.get_full_name() if position.holder_id and position.holder else "vacant"
    return f"{position.title} ({holder})"


# --- the fiscal calendar -----------------------------------------------------------------------


@transaction.atomic
def fiscal_calendar_set(
    *, by: Any, start_month: int, year_named_by_end: bool = True
) -> FiscalCalendar:
    """Set the month the fiscal year starts in. RevOps and superusers only. Existing quotas,
    targets, budgets and forecasts keep the dates they were set for."""
    if not rules.is_planning_admin(by):
        raise PlanningPermissionDenied(
            "Only RevOps administrators change the fiscal calendar.", reason="not_admin"
        )
    try:
        start_month = int(start_month)
    except (TypeError, ValueError):
        raise ValidationError({"start_month": "Choose a month."}) from None
    if not 1 <= start_month <= 12:
        raise ValidationError({"start_month": "A month is between 1 and 12."})
    calendar, created = FiscalCalendar.objects.select_for_update().get_or_create(
        pk=1, defaults={"start_month": start_month, "year_named_by_end": bool(year_named_by_end)}
    )
    if created:
        audit_event_record(
            actor=by,
            action="fiscal_calendar.set",
            instance=calendar,
            changes={
                "start_month": (1, start_month),
                "year_named_by_end": (True, year_named_by_end),
            },
        )
        return calendar
    changes = diff_fields(
        calendar, {"start_month": start_month, "year_named_by_end": bool(year_named_by_end)}
    )
    if changes:
        calendar.save()
        audit_event_record(
            actor=by, action="fiscal_calendar.set", instance=calendar, changes=changes
        )
    return calendar


# --- quotas ------------------------------------------------------------------------------------


def _require_quota_setter(by: Any, position: Position) -> None:
    if not isinstance(position, Position):
        raise ValidationError({"position": "Choose a position."})
    if not rules.may_set_quota(by, position):
        raise PlanningPermissionDenied(
            "You may set quotas only for positions below yours.", reason="quota_not_below"
        )


@transaction.atomic
def quota_set(
    *,
    by: Any,
    position: Position,
    period: Period,
    amount: Any,
    deal_count: Any = None,
    opportunity_type: str = "",
    note: str = "",
    is_generated: bool = False,
) -> Quota:
    """Set ``position``'s quota for ``period`` (and opportunity type): creates it or changes the
    existing one. Only from a position strictly above (or by RevOps)."""
    _require_quota_setter(by, position)
    period = _check_period(period)
    values = {
        "amount": _amount(amount, "amount"),
        "deal_count": _count(deal_count, "deal_count"),
        "note": _note(note),
    }
    otype = _opportunity_type(opportunity_type)
    return _plan_save(
        Quota,
        by=by,
        action="quota",
        period=period,
        keys={"owner_position": position, "opportunity_type": otype},
        values=values,
        is_generated=is_generated,
        first={
            "position": (None, _who(position)),
            "period": (None, period.key),
            "amount": (None, values["amount"]),
            "deal_count": (None, values["deal_count"]),
            "opportunity_type": (None, otype),
        },
    )


@transaction.atomic
def quota_delete(*, by: Any, quota: Quota) -> None:
    _require_quota_setter(by, quota.owner_position)
    _delete_audited(by=by, action="quota.delete", row=quota, changes=_period_gone(quota))


# --- targets and budgets -----------------------------------------------------------------------


def _scope_of(team: Team | None, region: Region | None) -> tuple[Team | None, Region | None]:
    if (team is None) == (region is None):
        raise ValidationError({"scope": "Choose one team or one region."})
    return team, region


def _require_planner(by: Any, team: Team | None, region: Region | None) -> None:
    scope = rules.target_scope(by)
    if not scope.covers(
        team_id=team.pk if team else None,
        region_id=None if team else region.pk,  # type: ignore[union-attr]
    ):
        raise PlanningPermissionDenied(
            "Targets and budgets are set by VPs (for their region and its teams), the CSO, "
            "the CRO and RevOps.",
            reason="scope_not_allowed",
        )


@transaction.atomic
def target_set(
    *,
    by: Any,
    period: Period,
    amount: Any,
    team: Team | None = None,
    region: Region | None = None,
    opportunity_type: str = "",
    deal_count: Any = None,
    note: str = "",
    is_generated: bool = False,
) -> Target:
    """Set the bookings target of a team or a region for ``period``: creates or changes it."""
    team, region = _scope_of(team, region)
    _require_planner(by, team, region)
    period = _check_period(period)
    otype = _opportunity_type(opportunity_type)
    values = {
        "amount": _amount(amount, "amount"),
        "deal_count": _count(deal_count, "deal_count"),
        "note": _note(note),
    }
    return _plan_save(
        Target,
        by=by,
        action="target",
        period=period,
        keys={"team": team, "region": region, "opportunity_type": otype},
        values=values,
        is_generated=is_generated,
        first={
            "scope": (None, str(team or region)),
            "period": (None, period.key),
            "amount": (None, values["amount"]),
            "opportunity_type": (None, otype),
        },
    )


@transaction.atomic
def target_delete(*, by: Any, target: Target) -> None:
    _require_planner(by, target.team, target.region)
    _delete_audited(by=by, action="target.delete", row=target, changes=_period_gone(target))


@transaction.atomic
def budget_set(
    *,
    by: Any,
    period: Period,
    category: str,
    amount: Any,
    team: Team | None = None,
    region: Region | None = None,
    note: str = "",
    is_generated: bool = False,
) -> Budget:
    """Set the budget of a team or region for ``period`` and ``category``: creates or changes it."""
    team, region = _scope_of(team, region)
    _require_planner(by, team, region)
    period = _check_period(period)
    if category not in BudgetCategory.values:
        raise ValidationError({"category": f"Unknown budget category {category!r}."})
    values = {"amount": _amount(amount, "amount"), "note": _note(note)}
    return _plan_save(
        Budget,
        by=by,
        action="budget",
        period=period,
        keys={"team": team, "region": region, "category": category},
        values=values,
        is_generated=is_generated,
        first={
            "scope": (None, str(team or region)),
            "period": (None, period.key),
            "category": (None, category),
            "amount": (None, values["amount"]),
        },
    )


@transaction.atomic
def budget_delete(*, by: Any, budget: Budget) -> None:
    """Remove a budget with no spend recorded against it (with spend: ValidationError)."""
    _require_planner(by, budget.team, budget.region)
    if BudgetSpend.objects.filter(budget=budget).exists():
        raise ValidationError("Spend is recorded against this budget: remove the spend first.")
    _delete_audited(by=by, action="budget.delete", row=budget, changes=_period_gone(budget))


def _require_spender(by: Any, budget: Budget) -> None:
    if not rules.spend_scope(by).covers(team_id=budget.team_id, region_id=budget.region_id):
        raise PlanningPermissionDenied(
            "Spend is recorded by the budget's planners and the sales managers of its team.",
            reason="spend_not_allowed",
        )


@transaction.atomic
def spend_record(
    *,
    by: Any,
    budget: Budget,
    amount: Any,
    spent_on: dt.date,
    note: str = "",
    campaign: Any = None,
    is_generated: bool = False,
) -> BudgetSpend:
    """Record money spent against ``budget`` on a day inside the budget's period."""
    _require_spender(by, budget)
    value = _amount(amount, "amount", positive=True)
    if not isinstance(spent_on, dt.date):
        raise ValidationError({"spent_on": "Enter the day of the spend."})
    if not budget.period_start <= spent_on <= budget.period_end:
        raise ValidationError(
            {
                "spent_on": f"The day must fall in the budget's period ({budget.period_label}: "
                f"{budget.period_start:%d %b %Y} to {budget.period_end:%d %b %Y})."
            }
        )
    spend = BudgetSpend.objects.create(
        budget=budget,
        amount=value,
        spent_on=spent_on,
        note=_note(note),
        campaign=campaign,
        recorded_by=actor_or_none(by),
        is_generated=is_generated,
    )
    audit_event_record(
        actor=by,
        action="spend.record",
        instance=spend,
        changes={
            "budget": (None, str(budget)),
            "amount": (None, value),
            "spent_on": (None, spent_on),
            "campaign": (None, campaign.pk if campaign is not None else None),
        },
    )
    return spend


@transaction.atomic
def spend_delete(*, by: Any, spend: BudgetSpend) -> None:
    _require_spender(by, spend.budget)
    _delete_audited(
        by=by,
        action="spend.delete",
        row=spend,
        changes={"amount": (spend.amount, None), "spent_on": (spend.spent_on, None)},
    )


# --- submitted forecasts -----------------------------------------------------------------------


def _schedule_snapshots() -> None:
    from revline.planning.tasks import snapshots_schedule

    snapshots_schedule()


@transaction.atomic
def forecast_submit(
    *,
    by: Any,
    position: Position,
    period: Period,
    commit: Any,
    best_case: Any,
    pipeline: Any,
    note: str = "",
    at: dt.datetime | None = None,
    is_generated: bool = False,
) -> ForecastSubmission:
    """Submit (or submit again) ``position``'s forecast for ``period``. Only the position's
    holder submits. The deal figures of the moment are kept beside the rep's own (``prefill_*``)
    with what was already won (``closed``)."""
    if not isinstance(position, Position):
        raise ValidationError({"position": "Choose a position."})
    if not getattr(by, "pk", None) or position.holder_id != by.pk:
        raise PlanningPermissionDenied(
            "A forecast is submitted by the position's holder; managers adjust it.",
            reason="not_holder",
        )
    period = _check_period(period)
    values: dict[str, Any] = {
        "commit": _amount(commit, "commit"),
        "best_case": _amount(best_case, "best_case"),
        "pipeline": _amount(pipeline, "pipeline"),
        "note": _note(note, 500),
    }
    prefill = selectors.forecast_prefill(position=position, period=period)
    values.update(
        closed=prefill.closed,
        prefill_commit=prefill.commit,
        prefill_best_case=prefill.best_case,
        prefill_pipeline=prefill.pipeline,
        submitted_by=by,
        submitted_at=at or timezone.now(),
    )
    submission = _locked_row(ForecastSubmission, period, owner_position=position)
    if submission is None:
        submission = ForecastSubmission(
            owner_position=position, is_generated=is_generated, **values
        )
        submission.set_period(period)
        submission.save()
        audit_event_record(
            actor=by,
            action="forecast.submit",
            instance=submission,
            changes={f: (None, values[f]) for f in (*FIGURES, "closed")}
            | {"period": (None, period.key)},
        )
    else:
        changes = diff_fields(submission, values)
        changes.pop("submitted_at", None)
        changes.pop("submitted_by", None)
        submission.save()
        audit_event_record(
            actor=by, action="forecast.resubmit", instance=submission, changes=changes
        )
    if not is_generated:
        transaction.on_commit(_schedule_snapshots)
    return submission


@transaction.atomic
def forecast_adjust(
    *,
    by: Any,
    position: Position,
    period: Period,
    figure: str,
    amount: Any,
    note: str = "",
    at: dt.datetime | None = None,
    is_generated: bool = False,
) -> ForecastAdjustment:
    """Adjust one of ``position``'s forecast figures (its roll-up, for a manager) for
    ``period``, from the user's nearest position above it. The adjusted position's own
    submission is left as it is; the adjustment is kept apart, with who, when, the figure it
    replaced and why."""
    if not isinstance(position, Position):
        raise ValidationError({"position": "Choose a position."})
    if figure not in FIGURES:
        raise ValidationError({"figure": f"Unknown forecast figure {figure!r}."})
    author = rules.nearest_held_ancestor(by, position)
    if author is None:
        raise PlanningPermissionDenied(
            "You may adjust only the forecasts of positions below yours.", reason="not_above"
        )
    period = _check_period(period)
    value = _amount(amount, "amount")
    node = selectors.forecast_rollup(user=by, period=period, position=author)
    before = _find(node, position.pk)
    previous = before.effective[figure] if before is not None else Decimal("0")
    adjustment = _locked_row(
        ForecastAdjustment, period, position=position, owner_position=author, figure=figure
    )
    values = {
        "amount": value,
        "note": _note(note, 500),
        "adjusted_by": by,
        "adjusted_at": at or timezone.now(),
    }
    if adjustment is None:
        adjustment = ForecastAdjustment(
            position=position,
            owner_position=author,
            figure=figure,
            previous=previous,
            is_generated=is_generated,
            **values,
        )
        adjustment.set_period(period)
        adjustment.save()
        audit_event_record(
            actor=by,
            action="forecast.adjust",
            instance=adjustment,
            changes={figure: (previous, value), "period": (None, period.key)},
        )
    else:
        changes = diff_fields(adjustment, values)
        if "amount" in changes:
            adjustment.save()
            audit_event_record(
                actor=by,
                action="forecast.adjust",
                instance=adjustment,
                changes={figure: changes["amount"], "note": (None, values["note"])},
            )
        elif changes:
            adjustment.save()
    return adjustment


def _find(node: selectors.ForecastNode, pid: int) -> selectors.ForecastNode | None:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.position.pk == pid:
            return current
        stack.extend(current.children)
    return None


@transaction.atomic
def forecast_adjustment_remove(*, by: Any, adjustment: ForecastAdjustment) -> None:
    """Withdraw an adjustment: its author (or anyone holding the author's position) only."""
    if not getattr(by, "pk", None) or adjustment.owner_position.holder_id != by.pk:
        raise PlanningPermissionDenied(
            "Only the manager who made an adjustment withdraws it.", reason="not_above"
        )
    _delete_audited(
        by=by,
        action="forecast.adjustment_remove",
        row=adjustment,
        changes={adjustment.figure: (adjustment.amount, None)},
    )


# --- weekly snapshots --------------------------------------------------------------------------


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


@transaction.atomic
def forecast_snapshots_take(
    *, on: dt.date | None = None, periods: list[Period] | None = None, is_generated: bool = False
) -> int:
    """Record the forecast roll-up of every position concerned, for the week of ``on`` (default
    today), in each period that contains ``on`` and has submissions (or in ``periods``).

    One row per position, period and week: taking them again in the same week updates that
    week's rows to the figures of the moment and adds none, so the task may run any number of
    times. Positions concerned: those with a submission and every position above them. Returns
    the number of rows written (created or changed).
    """
    from revline.org.models import PositionClosure

    on = on or timezone.localdate()
    week = week_of(on)
    if periods is None:
        keys = (
            ForecastSubmission.objects.filter(period_start__lte=on, period_end__gte=on)
            .order_by()
            .values_list("period_kind", "period_start", "period_end", "period_key")
            .distinct()
        )
        periods = [stored_period(*row) for row in keys]
    written = 0
    now = timezone.now()
    for period in periods:
        submitters = set(
            ForecastSubmission.objects.filter(
                period_kind=period.kind, period_start=period.start
            ).values_list("owner_position_id", flat=True)
        )
        if not submitters:
            continue
        concerned = set(
            PositionClosure.objects.filter(descendant_id__in=sorted(submitters)).values_list(
                "ancestor_id", flat=True
            )
        )
        data = selectors.forecast_data(
            user=None, period=period, scope_ids=None, closure_of=concerned
        )
        existing = {
            s.owner_position_id: s
            for s in ForecastSnapshot.objects.select_for_update().filter(
                period_kind=period.kind, period_start=period.start, week_start=week
            )
        }
        for pid in sorted(concerned):
            node = selectors.rollup_from(data, root=pid, viewer=pid)
            values = {
                "commit": node.total["commit"],
                "best_case": node.total["best_case"],
                "pipeline": node.total["pipeline"],
                "closed": node.closed,
                "submitted_commit": node.submitted["commit"],
                "submitted_best_case": node.submitted["best_case"],
                "submitted_pipeline": node.submitted["pipeline"],
                "quota": node.quota,
                "submissions": node.submitters,
            }
            snap = existing.get(pid)
            if snap is None:
                snap = ForecastSnapshot(
                    owner_position_id=pid,
                    week_start=week,
                    taken_at=now,
                    is_generated=is_generated,
                    **values,
                )
                snap.set_period(period)
                snap.save()
                written += 1
            elif diff_fields(snap, values):
                snap.taken_at = now
                snap.save()
                written += 1
    return written
