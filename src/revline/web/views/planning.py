"""Web views of the planning app: quotas, targets, budgets and spend, the submitted forecast and
the fiscal calendar.

Reads go through ``revline.planning.selectors`` (which start from the visibility predicate);
writes are one service call each. A position, team or region outside the user's view answers
404; one the user sees but may not plan for answers 403 (the service's
``PlanningPermissionDenied``). A service's ValidationError is shown on the form. Every form
works without JavaScript; the period picker and the boards use htmx when it is there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from revline.crm.models import Campaign
from revline.org.models import Position, Region, Team
from revline.pipeline.choices import OpportunityType
from revline.planning import rules, selectors, services
from revline.planning.calendar import Period, fiscal_rule
from revline.planning.forms import (
    AdjustForm,
    BudgetForm,
    CalendarForm,
    ForecastForm,
    QuotaForm,
    SpendForm,
    TargetForm,
    period_choices,
)
from revline.planning.models import Budget, FiscalCalendar, Quota, Target
from revline.web.htmx import htmx_render
from revline.web.views.pipeline_common import safe_next

# --- shared helpers ---------------------------------------------------------------------------


def _today() -> dt.date:
    return selectors.today()


def _period(request: HttpRequest, kind: str = "quarter") -> Period:
    """The period of the page: ``?period=`` (a key), else the current one of ``kind``."""
    rule = fiscal_rule()
    key = (request.GET.get("period") or request.POST.get("period") or "").strip()
    if key:
        try:
            return rule.parse(key)
        except ValueError:
            messages.warning(request, f"{key!r} is not a period; showing the current one.")
    return rule.period_of(_today(), kind)  # type: ignore[arg-type]


def _position_param(request: HttpRequest) -> Position | None:
    raw = (request.GET.get("position") or "").strip()
    if not raw:
        return None
    try:
        return selectors.planning_position_get(user=request.user, pk=raw)
    except selectors.PlanningNotFound:
        raise Http404("No such position.") from None


def _position_post(request: HttpRequest, field: str = "position") -> Position:
    """The position a form names: 404 when the user does not see it."""
    try:
        return selectors.planning_position_get(user=request.user, pk=request.POST.get(field))
    except selectors.PlanningNotFound:
        raise Http404("No such position.") from None


def _picker(request: HttpRequest, period: Period, name: str, **keep: Any) -> dict[str, Any]:
    """The period picker: grouped choices (with the periods holding data), the previous and
    next periods' links, and the other parameters of the page to keep."""
    rule = fiscal_rule()
    keep = {k: v for k, v in keep.items() if v not in (None, "")}
    prev_period, next_period = rule.shift(period, -1), rule.shift(period, 1)
    return {
        "period": period,
        "period_groups": period_choices(
            rule, _today(), extra=selectors.periods_in_use(user=request.user, kind=period.kind)
        ),
        "prev_period": prev_period,
        "next_period": next_period,
        "prev_url": _url(name, period=prev_period.key, **keep),
        "next_url": _url(name, period=next_period.key, **keep),
        "page_url": reverse(f"web:{name}"),
        "keep": sorted(keep.items()),
    }


def _url(name: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return reverse(f"web:{name}") + (f"?{query}" if query else "")


def _service_error(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _submit(form: Any, write: Callable[[dict[str, Any]], Any]) -> Any:
    """Run ``write`` (one service call) with the form's cleaned data. Returns what it wrote, or
    None when the form is invalid or the service refused the input (its ValidationError is then
    on the form)."""
    if not form.is_valid():
        return None
    try:
        return write(form.cleaned_data)
    except ValidationError as error:
        _service_error(form, error)
        return None


def _get_or_404(get: Callable[..., Any], request: HttpRequest, pk: int, what: str) -> Any:
    """One record through its selector (the user's view): 404 when it is outside it."""
    try:
        return get(user=request.user, pk=pk)
    except ObjectDoesNotExist:
        raise Http404(f"No such {what}.") from None


def _otype(request: HttpRequest) -> str:
    """The page's ``?type=`` (an opportunity type), blank for every type."""
    otype = request.GET.get("type", "")
    return otype if otype in OpportunityType.values else ""


def _who(position: Position) -> str:
    return position.holder.get_full_name() if position.holder_id else position.title


def _tabs(request: HttpRequest) -> list[tuple[str, str, str]]:
    tabs = [
        ("quotas", "Quotas", reverse("web:planning_quotas")),
        ("forecast", "Forecast", reverse("web:planning_forecast")),
        ("targets", "Targets", reverse("web:planning_targets")),
        ("budgets", "Budgets", reverse("web:planning_budgets")),
    ]
    if rules.is_planning_admin(request.user):
        tabs.append(("calendar", "Fiscal calendar", reverse("web:planning_calendar")))
    return tabs


def _page(request: HttpRequest, tab: str, context: dict[str, Any]) -> dict[str, Any]:
    return {"tab": tab, "tabs": _tabs(request), "today": _today(), **context}


# --- quotas -----------------------------------------------------------------------------------


def _settable_positions(user: Any) -> list[Position]:
    """The held positions below the user's (the quota form's choices)."""
    return list(
        rules.quota_settable_positions(user)
        .filter(holder__isnull=False)
        .select_related("holder")
        .order_by("title", "id")[:500]
    )


def _quota_context(
    request: HttpRequest, period: Period, position: Position | None, otype: str, form=None
) -> dict[str, Any]:
    try:
        board = selectors.quota_board(
            user=request.user, period=period, position=position, opportunity_type=otype
        )
    except selectors.PlanningNotFound:
        board = None
    settable = _settable_positions(request.user)
    if form is None and settable:
        form = QuotaForm(
            initial={"period": period.key, "opportunity_type": otype},
            positions=settable,
            today=_today(),
            extra_periods=selectors.periods_in_use(user=request.user),
        )
    return _page(
        request,
        "quotas",
        {
            "board": board,
            "form": form if settable else None,
            "types": [("", "All types"), *OpportunityType.choices],
            "otype": otype,
            "here": _url(
                "planning_quotas",
                period=period.key,
                position=position.pk if position else None,
                type=otype,
            ),
            **_picker(
                request,
                period,
                "planning_quotas",
                position=position.pk if position else None,
                type=otype,
            ),
        },
    )


@login_required
def quotas(request: HttpRequest) -> HttpResponse:
    """The quota board: a position's quota (its own and its reports' sum), attainment and pace,
    one line per report; a form to set the quotas of the positions below the user."""
    context = _quota_context(request, _period(request), _position_param(request), _otype(request))
    return htmx_render(
        request, "web/planning/quotas.html", "web/planning/_quota_board.html", context
    )


@login_required
@require_POST
def quota_set(request: HttpRequest) -> HttpResponse:
    """Set a quota (the board's form). 404 for a position the user does not see; 403 for one
    they see but that is not below them."""
    position = _position_post(request)
    form = QuotaForm(request.POST, positions=_settable_positions(request.user), today=_today())
    quota = _submit(
        form,
        lambda data: services.quota_set(
            by=request.user,
            position=position,
            period=data["period"],
            amount=data["amount"],
            deal_count=data["deal_count"],
            opportunity_type=data["opportunity_type"] or "",
            note=data["note"],
        ),
    )
    if quota is not None:
        messages.success(
            request, f"Quota for {_who(position)}, {quota.period.label}: {quota.amount:,.2f}."
        )
        return redirect(
            safe_next(request, _url("planning_quotas", period=form.cleaned_data["period"].key))
        )
    period = form.cleaned_data.get("period") or _period(request)
    context = _quota_context(request, period, None, "", form=form)
    return render(request, "web/planning/quotas.html", context, status=422)


@login_required
@require_POST
def quota_delete(request: HttpRequest, pk: int) -> HttpResponse:
    quota: Quota = _get_or_404(selectors.quota_get, request, pk, "quota")
    key = quota.period_key
    services.quota_delete(by=request.user, quota=quota)
    messages.success(request, "Quota removed.")
    return redirect(safe_next(request, _url("planning_quotas", period=key)))


# --- targets ----------------------------------------------------------------------------------


def _scope_lists(user: Any) -> tuple[list[Region], list[Team]]:
    scope = rules.target_scope(user)
    if scope.empty:
        return [], []
    return list(scope.regions().order_by("name")), list(scope.teams().order_by("name"))


def _scope_object(
    request: HttpRequest, value: tuple[str, int]
) -> tuple[Team | None, Region | None]:
    """The team or region a form names: 404 unless the user sees its plans."""
    kind, pk = value
    view = rules.view_scope(request.user)
    if kind == "team":
        if not view.has_team(pk):
            raise Http404("No such team.")
        team = Team.objects.filter(pk=pk).first()
        if team is None:
            raise Http404("No such team.")
        return team, None
    if not view.has_region(pk):
        raise Http404("No such region.")
    region = Region.objects.filter(pk=pk).first()
    if region is None:
        raise Http404("No such region.")
    return None, region


def _scope_kwargs(request: HttpRequest, value: tuple[str, int]) -> dict[str, Any]:
    team, region = _scope_object(request, value)
    return {"team": team, "region": region}


def _targets_context(request: HttpRequest, period: Period, otype: str, form=None) -> dict[str, Any]:
    regions, teams = _scope_lists(request.user)
    if form is None and (regions or teams):
        form = TargetForm(
            initial={"period": period.key, "opportunity_type": otype},
            regions=regions,
            teams=teams,
            today=_today(),
        )
    lines = selectors.target_board(user=request.user, period=period, opportunity_type=otype)
    return _page(
        request,
        "targets",
        {
            "lines": lines,
            "form": form if (regions or teams) else None,
            "otype": otype,
            "types": [("", "All types"), *OpportunityType.choices],
            "here": _url("planning_targets", period=period.key, type=otype),
            **_picker(request, period, "planning_targets", type=otype),
        },
    )


@login_required
def targets(request: HttpRequest) -> HttpResponse:
    """Target vs actual per region and team (with budget vs spend), and the form to set a
    target for the teams and regions the user plans for."""
    context = _targets_context(request, _period(request), _otype(request))
    return htmx_render(
        request, "web/planning/targets.html", "web/planning/_target_board.html", context
    )


@login_required
@require_POST
def target_set(request: HttpRequest) -> HttpResponse:
    regions, teams = _scope_lists(request.user)
    form = TargetForm(request.POST, regions=regions, teams=teams, today=_today())
    target = _submit(
        form,
        lambda data: services.target_set(
            by=request.user,
            period=data["period"],
            amount=data["amount"],
            **_scope_kwargs(request, data["scope"]),
            opportunity_type=data["opportunity_type"] or "",
            deal_count=data["deal_count"],
            note=data["note"],
        ),
    )
    if target is not None:
        messages.success(
            request, f"Target for {target.scope}, {target.period.label}: {target.amount:,.2f}."
        )
        return redirect(
            safe_next(request, _url("planning_targets", period=form.cleaned_data["period"].key))
        )
    period = form.cleaned_data.get("period") or _period(request)
    return render(
        request,
        "web/planning/targets.html",
        _targets_context(request, period, "", form),
        status=422,
    )


@login_required
@require_POST
def target_delete(request: HttpRequest, pk: int) -> HttpResponse:
    target: Target = _get_or_404(selectors.target_get, request, pk, "target")
    key = target.period_key
    services.target_delete(by=request.user, target=target)
    messages.success(request, "Target removed.")
    return redirect(safe_next(request, _url("planning_targets", period=key)))


# --- budgets ----------------------------------------------------------------------------------


def _budgets_context(request: HttpRequest, period: Period, form=None) -> dict[str, Any]:
    regions, teams = _scope_lists(request.user)
    if form is None and (regions or teams):
        form = BudgetForm(
            initial={"period": period.key}, regions=regions, teams=teams, today=_today()
        )
    summary = selectors.budget_summary(user=request.user, period=period)
    setting = rules.target_scope(request.user)
    for budget in summary.budgets:
        budget.may_set = setting.covers(team_id=budget.team_id, region_id=budget.region_id)  # type: ignore[attr-defined]
    return _page(
        request,
        "budgets",
        {
            "summary": summary,
            "form": form if (regions or teams) else None,
            "sees_any": not rules.view_scope(request.user).empty,
            "here": _url("planning_budgets", period=period.key),
            **_picker(request, period, "planning_budgets"),
        },
    )


@login_required
def budgets(request: HttpRequest) -> HttpResponse:
    """The budgets of a period by team and region, each with its spend; the form to set one."""
    period = _period(request)
    return htmx_render(
        request,
        "web/planning/budgets.html",
        "web/planning/_budget_board.html",
        _budgets_context(request, period),
    )


@login_required
@require_POST
def budget_set(request: HttpRequest) -> HttpResponse:
    regions, teams = _scope_lists(request.user)
    form = BudgetForm(request.POST, regions=regions, teams=teams, today=_today())
    budget = _submit(
        form,
        lambda data: services.budget_set(
            by=request.user,
            period=data["period"],
            category=data["category"],
            amount=data["amount"],
            **_scope_kwargs(request, data["scope"]),
            note=data["note"],
        ),
    )
    if budget is not None:
        messages.success(
            request,
            f"{budget.get_category_display()} budget for {budget.scope}, "
            f"{budget.period.label}: {budget.amount:,.2f}.",
        )
        return redirect(
            safe_next(request, _url("planning_budgets", period=form.cleaned_data["period"].key))
        )
    period = form.cleaned_data.get("period") or _period(request)
    return render(
        request, "web/planning/budgets.html", _budgets_context(request, period, form), status=422
    )


def _campaigns(user: Any) -> list[Campaign]:
    return list(Campaign.objects.visible_to(user).order_by("-start_date", "name", "id")[:300])


def _budget_page(
    request: HttpRequest, budget: Budget, form=None, status: int = 200
) -> HttpResponse:
    may_spend = rules.spend_scope(request.user).covers(
        team_id=budget.team_id, region_id=budget.region_id
    )
    if form is None and may_spend:
        default_day = min(max(_today(), budget.period_start), budget.period_end)
        form = SpendForm(initial={"spent_on": default_day}, campaigns=_campaigns(request.user))
    context = _page(
        request,
        "budgets",
        {
            "budget": budget,
            "spend": list(selectors.spend_list(user=request.user, budget=budget)),
            "form": form if may_spend else None,
            "may_set": rules.target_scope(request.user).covers(
                team_id=budget.team_id, region_id=budget.region_id
            ),
            "may_spend": may_spend,
            "left": selectors.money(budget.amount - budget.spent),  # type: ignore[attr-defined]
            "used": selectors.ratio(budget.spent, budget.amount),  # type: ignore[attr-defined]
        },
    )
    return render(request, "web/planning/budget_detail.html", context, status=status)


@login_required
def budget_detail(request: HttpRequest, pk: int) -> HttpResponse:
    budget: Budget = _get_or_404(selectors.budget_get, request, pk, "budget")
    return _budget_page(request, budget)


@login_required
@require_POST
def spend_record(request: HttpRequest, pk: int) -> HttpResponse:
    budget: Budget = _get_or_404(selectors.budget_get, request, pk, "budget")
    form = SpendForm(request.POST, campaigns=_campaigns(request.user))

    def record(data: dict[str, Any]) -> Any:
        campaign = None
        if data["campaign"]:
            campaign = Campaign.objects.visible_to(request.user).filter(pk=data["campaign"]).first()
            if campaign is None:
                raise ValidationError({"campaign": "Unknown campaign."})
        return services.spend_record(
            by=request.user,
            budget=budget,
            amount=data["amount"],
            spent_on=data["spent_on"],
            note=data["note"],
            campaign=campaign,
        )

    spend = _submit(form, record)
    if spend is not None:
        messages.success(request, f"Spend of {form.cleaned_data['amount']:,.2f} recorded.")
        return redirect("web:planning_budget", pk=budget.pk)
    return _budget_page(request, budget, form, status=422)


@login_required
@require_POST
def budget_delete(request: HttpRequest, pk: int) -> HttpResponse:
    budget: Budget = _get_or_404(selectors.budget_get, request, pk, "budget")
    try:
        services.budget_delete(by=request.user, budget=budget)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("web:planning_budget", pk=budget.pk)
    messages.success(request, "Budget removed.")
    return redirect(_url("planning_budgets", period=budget.period_key))


@login_required
@require_POST
def spend_delete(request: HttpRequest, pk: int) -> HttpResponse:
    spend = _get_or_404(selectors.spend_get, request, pk, "spend entry")
    services.spend_delete(by=request.user, spend=spend)
    messages.success(request, "Spend entry removed.")
    return redirect("web:planning_budget", pk=spend.budget_id)


# --- the submitted forecast -------------------------------------------------------------------


def _forecast_context(
    request: HttpRequest, period: Period, position: Position | None, form=None, adjust_form=None
) -> dict[str, Any]:
    try:
        view = selectors.forecast_view(user=request.user, period=period, position=position)
    except selectors.PlanningNotFound:
        view = None
    if view is not None and view.may_submit and form is None:
        sub = view.node.submission
        initial = (
            {
                "commit": sub.commit,
                "best_case": sub.best_case,
                "pipeline": sub.pipeline,
                "note": sub.note,
            }
            if sub
            else view.prefill.figures()
            if view.prefill
            else {}
        )
        form = ForecastForm(initial=initial)
    chart = _snapshot_chart(view.snapshots) if view else None
    return _page(
        request,
        "forecast",
        {
            "view": view,
            "form": form,
            "adjust_form": adjust_form,
            "chart": chart,
            "here": _url(
                "planning_forecast",
                period=period.key,
                position=position.pk if position else None,
            ),
            **_picker(
                request, period, "planning_forecast", position=position.pk if position else None
            ),
        },
    )


def _snapshot_chart(snapshots: list[Any]) -> dict[str, Any] | None:
    """An inline SVG line chart (no script, no CDN) of the weekly commit, best case and
    closed figures."""
    if len(snapshots) < 2:
        return None
    width, height, pad = 640, 180, 28
    series = {
        "closed": [float(s.closed) for s in snapshots],
        "forecast": [float(s.closed + s.commit) for s in snapshots],
        "upside": [float(s.closed + s.commit + s.best_case) for s in snapshots],
    }
    top = max(max(values) for values in series.values()) or 1.0
    n = len(snapshots)

    def points(values: list[float]) -> str:
        return " ".join(
            f"{pad + i * (width - 2 * pad) / (n - 1):.1f},"
            f"{height - pad - v / top * (height - 2 * pad):.1f}"
            for i, v in enumerate(values)
        )

    return {
        "width": width,
        "height": height,
        "lines": [(name, points(values)) for name, values in series.items()],
        "right": width - pad,
        "base": height - pad,
        "first": snapshots[0].week_start,
        "last": snapshots[-1].week_start,
        "top": top,
    }


@login_required
def forecast(request: HttpRequest) -> HttpResponse:
    """The submitted forecast of a period: the user's own submission (prefilled from their
    deals), their team's lines with the adjustments they and those below them made, the roll-up
    and its weekly history."""
    period = _period(request)
    position = _position_param(request)
    context = _forecast_context(request, period, position)
    return htmx_render(
        request, "web/planning/forecast.html", "web/planning/_forecast_board.html", context
    )


@login_required
@require_POST
def forecast_submit(request: HttpRequest) -> HttpResponse:
    period = _period(request)
    position = _position_post(request)
    form = ForecastForm(request.POST)
    submitted = _submit(
        form,
        lambda data: services.forecast_submit(
            by=request.user,
            position=position,
            period=period,
            commit=data["commit"],
            best_case=data["best_case"],
            pipeline=data["pipeline"],
            note=data["note"],
        ),
    )
    if submitted is not None:
        messages.success(request, f"Forecast for {period.label} submitted.")
        return redirect(_url("planning_forecast", period=period.key, position=position.pk))
    context = _forecast_context(request, period, position, form=form)
    return render(request, "web/planning/forecast.html", context, status=422)


@login_required
@require_POST
def forecast_adjust(request: HttpRequest) -> HttpResponse:
    period = _period(request)
    position = _position_post(request)
    form = AdjustForm(request.POST)
    adjustment = _submit(
        form,
        lambda data: services.forecast_adjust(
            by=request.user,
            position=position,
            period=period,
            figure=data["figure"],
            amount=data["amount"],
            note=data["note"],
        ),
    )
    if adjustment is not None:
        figure = form.cleaned_data["figure"].replace("_", " ")
        messages.success(request, f"Adjusted {_who(position)}'s {figure}.")
        return redirect(safe_next(request, _url("planning_forecast", period=period.key)))
    context = _forecast_context(request, period, None, adjust_form=form)
    return render(request, "web/planning/forecast.html", context, status=422)


@login_required
@require_POST
def forecast_adjustment_remove(request: HttpRequest, pk: int) -> HttpResponse:
    adjustment = _get_or_404(selectors.adjustment_get, request, pk, "adjustment")
    services.forecast_adjustment_remove(by=request.user, adjustment=adjustment)
    messages.success(request, "Adjustment withdrawn.")
    return redirect(safe_next(request, _url("planning_forecast", period=adjustment.period_key)))


# --- the fiscal calendar ----------------------------------------------------------------------


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    """RevOps: the month the fiscal year starts in, and what the periods look like with it."""
    if not rules.is_planning_admin(request.user):
        raise Http404("Not found.")
    current = FiscalCalendar.objects.filter(pk=1).first()
    if request.method == "POST":
        form = CalendarForm(request.POST)
        saved = _submit(
            form,
            lambda data: services.fiscal_calendar_set(
                by=request.user,
                start_month=data["start_month"],
                year_named_by_end=data["year_named_by_end"],
            ),
        )
        if saved is not None:
            messages.success(request, "Fiscal calendar saved.")
            return redirect("web:planning_calendar")
    else:
        form = CalendarForm(
            initial={
                "start_month": current.start_month if current else 1,
                "year_named_by_end": current.year_named_by_end if current else True,
            }
        )
    rule = fiscal_rule()
    fy = rule.fiscal_year_of(_today())
    context = _page(
        request,
        "calendar",
        {
            "form": form,
            "rule": rule,
            "year": rule.period("year", fy),
            "quarters": [rule.period("quarter", fy, n) for n in range(1, 5)],
            "counts": {
                "quotas": Quota.objects.count(),
                "targets": Target.objects.count(),
                "budgets": Budget.objects.count(),
            },
        },
    )
    return render(
        request, "web/planning/calendar.html", context, status=422 if form.errors else 200
    )


urlpatterns = [
    path("planning/quotas/", quotas, name="planning_quotas"),
    path("planning/quotas/set/", quota_set, name="planning_quota_set"),
    path("planning/quotas/<int:pk>/delete/", quota_delete, name="planning_quota_delete"),
    path("planning/targets/", targets, name="planning_targets"),
    path("planning/targets/set/", target_set, name="planning_target_set"),
    path("planning/targets/<int:pk>/delete/", target_delete, name="planning_target_delete"),
    path("planning/budgets/", budgets, name="planning_budgets"),
    path("planning/budgets/set/", budget_set, name="planning_budget_set"),
    path("planning/budgets/<int:pk>/", budget_detail, name="planning_budget"),
    path("planning/budgets/<int:pk>/delete/", budget_delete, name="planning_budget_delete"),
    path("planning/budgets/<int:pk>/spend/", spend_record, name="planning_spend_record"),
    path("planning/spend/<int:pk>/delete/", spend_delete, name="planning_spend_delete"),
    path("planning/forecast/", forecast, name="planning_forecast"),
    path("planning/forecast/submit/", forecast_submit, name="planning_forecast_submit"),
    path("planning/forecast/adjust/", forecast_adjust, name="planning_forecast_adjust"),
    path(
        "planning/forecast/adjustments/<int:pk>/remove/",
        forecast_adjustment_remove,
        name="planning_adjustment_remove",
    ),
    path("planning/calendar/", calendar, name="planning_calendar"),
]
