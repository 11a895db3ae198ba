"""Web views: the pipeline screens (board, opportunity list and page, renewals, cross-sell,
competitors). Quotes and approvals live in ``pipeline_quotes``, the RevOps set-up screens in
``pipeline_admin``; their routes are added to this module's ``urlpatterns``.

Every read goes through ``revline.pipeline.selectors`` (which starts from the visibility
predicate): a deal outside the user's view answers 404; one the user sees but may not change
answers 403 to a POST. Every write is one service call; a service's ValidationError is shown
where the user acted. Forms work without JavaScript; htmx (and pipeline.js for drag and drop)
make them nicer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from revline.core.export import dated_csv_response
from revline.crm import selectors as crm_selectors
from revline.crm.models import Account
from revline.org.models import Position
from revline.org.visibility import can
from revline.pipeline import selectors, services
from revline.pipeline.choices import (
    REQUIREMENTS,
    LossReason,
    OpportunityStatus,
    OpportunityType,
    QuoteStatus,
    StageKind,
)
from revline.pipeline.forms import (
    CloseForm,
    CompetitorsForm,
    MoveForm,
    NextStepForm,
    ObjectionForm,
    ObjectionUpdateForm,
    OpportunityFilterForm,
    OpportunityForm,
    ProspectListPickForm,
    apply_service_error,
    owner_positions,
)
from revline.pipeline.models import Competitor, Objection, Opportunity, Pipeline, Stage
from revline.web.htmx import htmx_render, wants_partial
from revline.web.views.pipeline_common import (
    changeable_opportunity,
    holder_name,
    opportunity_or_404,
    require_change,
    safe_next,
)

PAGE_SIZE = 50
CHOICE_LIMIT = 500  # options a record select shows (any visible record is still accepted)
ACTIVITY_FORM = "web/crm/_activity_form.html"

# --- shared helpers ---------------------------------------------------------------------------


def decorate(opportunities: Any) -> list[Opportunity]:
    """The deals as a list, each with ``is_stuck`` and ``days_in_stage``."""
    return selectors.with_stuck_flags(opportunities)


def held_ids(user: Any) -> list[int]:
    """The ids of the positions the user holds (one query)."""
    return list(
        Position.objects.filter(holder_id=user.pk).order_by("id").values_list("id", flat=True)
    )


def filter_form(
    request: HttpRequest,
    params: QueryDict,
    *,
    pipelines: list[Pipeline],
    stages: list[Stage] | None = None,
) -> tuple[OpportunityFilterForm, dict[str, Any]]:
    """The filter form for ``params`` and the selector's filter dict."""
    form = OpportunityFilterForm(
        params or None,
        user=request.user,
        owners=list(owner_positions(request.user)),
        pipelines=pipelines,
        stages=stages,
    )
    held: list[int] = []
    if form.is_bound and form.is_valid() and form.cleaned_data.get("scope"):
        held = held_ids(request.user)
    return form, form.filters(held=held)


def query_without(params: QueryDict, *keys: str) -> str:
    copy = params.copy()
    for key in keys:
        copy.pop(key, None)
    return copy.urlencode()


@dataclass
class Refusal:
    """A move the stage's requirements refused, with the form to supply what is missing."""

    opportunity: Opportunity
    stage: Stage
    message: str
    missing: list[str]
    form: MoveForm

    @property
    def needs(self) -> list[tuple[str, str]]:
        return [(key, REQUIREMENTS.get(key, key)) for key in self.missing]

    @property
    def inline(self) -> set[str]:
        """Requirements the refusal form can supply on the spot."""
        return {m for m in self.missing if m in ("loss_reason", *MoveForm.SUPPLIED)}


def _refusal(opportunity: Opportunity, stage: Stage, error: ValidationError, form: MoveForm):
    missing = list(getattr(error, "missing", []) or [])
    if not missing and hasattr(error, "error_dict") and "loss_reason" in error.error_dict:
        missing = ["loss_reason"]
    message = " ".join(error.messages)
    return Refusal(opportunity, stage, message, missing, form)


# --- the board --------------------------------------------------------------------------------


def _pick_pipeline(pipelines: list[Pipeline], wanted: str | None) -> Pipeline | None:
    if wanted and wanted.isdigit():
        for p in pipelines:
            if p.pk == int(wanted):
                return p
    return next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)


def board_context(
    request: HttpRequest,
    params: QueryDict,
    *,
    refused: Refusal | None = None,
    moved: tuple[Opportunity, Stage] | None = None,
) -> dict[str, Any]:
    pipelines = list(Pipeline.objects.all())
    pipeline = _pick_pipeline(pipelines, params.get("pipeline"))
    form, filters = filter_form(request, params, pipelines=pipelines)
    filters.pop("pipeline", None)
    filters.pop("stage", None)
    filters.pop("status", None)
    columns = (
        selectors.board(user=request.user, pipeline=pipeline, filters=filters, q=form.search)
        if pipeline
        else []
    )
    stages = list(pipeline.stages.all()) if pipeline else []
    ids = [o.pk for column in columns for o in column.opportunities]
    changeable = (
        set(
            Opportunity.objects.visible_to(request.user, "change")
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        if ids
        else set()
    )
    for column in columns:
        column.stage.needs = [REQUIREMENTS.get(r, r) for r in column.stage.required_fields or []]
        for o in column.opportunities:
            o.may_change = o.pk in changeable
    board_query = params.copy()
    if pipeline:
        board_query["pipeline"] = str(pipeline.pk)
    return {
        "form": form,
        "pipelines": pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "stages": stages,
        "closing_stages": [s for s in stages if s.kind != StageKind.OPEN],
        "open_total": sum((c.total_amount or 0) for c in columns),
        "open_count": sum(c.count for c in columns),
        "stuck_count": sum(c.stuck_count for c in columns),
        "board_query": board_query.urlencode(),
        "export_query": query_without(board_query, "page"),
        "list_query": query_without(board_query, "page", "stage", "status"),
        "today": timezone.localdate(),
        "refused": refused,
        "moved": moved,
        "loss_reasons": LossReason.choices,
        "filtered": form.active_count,
    }


@login_required
def board(request: HttpRequest) -> HttpResponse:
    context = board_context(request, request.GET)
    return htmx_render(request, "web/pipeline/board.html", "web/pipeline/_board.html", context)


# --- moving a deal ------------------------------------------------------------------------------


@login_required
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal to another stage (the board's drag and drop, its "move to" select, and the
    stage path of the deal's page). Fields a stage requires may come along (loss reason, amount,
    close date, next step); a refused move shows what is missing and a form to supply it."""
    opportunity = opportunity_or_404(request, pk)
    if request.method != "POST":
        return redirect("web:opportunity_detail", pk=opportunity.pk)
    require_change(request, opportunity)
    origin = request.POST.get("return", "detail")
    board_params = QueryDict(request.POST.get("board", ""), mutable=True)
    form = MoveForm(request.POST, pipeline=opportunity.pipeline)
    if not form.is_valid():
        stage = opportunity.stage
        error = ValidationError(
            [str(e) for errors in form.errors.values() for e in errors] or ["Choose a stage."]
        )
        refusal = _refusal(opportunity, stage, error, form)
        return _move_refused(request, opportunity, refusal, origin, board_params)
    stage = form.cleaned_data["stage"]
    try:
        with transaction.atomic():
            supplied = form.supplied()
            if supplied:
                opportunity = services.opportunity_update(
                    opportunity=opportunity, by=request.user, **supplied
                )
            services.opportunity_move_stage(
                opportunity=opportunity,
                stage=stage,
                by=request.user,
                loss_reason=form.cleaned_data.get("loss_reason") or "",
                loss_note=form.cleaned_data.get("loss_note") or "",
            )
    except ValidationError as error:
        opportunity.refresh_from_db()
        refusal = _refusal(opportunity, stage, error, form)
        return _move_refused(request, opportunity, refusal, origin, board_params)
    if origin == "board":
        if wants_partial(request):
            context = board_context(request, board_params, moved=(opportunity, stage))
            return render(request, "web/pipeline/_board.html", context)
        messages.success(request, f"Moved {opportunity.name} to {stage.name}.")
        return redirect(f"{reverse('web:board')}?{board_params.urlencode()}")
    messages.success(request, f"Moved to {stage.name}.")
    return redirect(safe_next(request, reverse("web:opportunity_detail", args=[opportunity.pk])))


def _move_refused(
    request: HttpRequest,
    opportunity: Opportunity,
    refusal: Refusal,
    origin: str,
    board_params: QueryDict,
) -> HttpResponse:
    if origin == "board":
        context = board_context(request, board_params, refused=refusal)
        if wants_partial(request):
            # 200 so that htmx swaps the board in: the card is back in its column, with the form
            return render(request, "web/pipeline/_board.html", context)
        return render(request, "web/pipeline/board.html", context, status=400)
    return render(
        request,
        "web/pipeline/opportunity_detail.html",
        detail_context(request, opportunity, refused=refusal),
        status=400,
    )


# --- the opportunity list -----------------------------------------------------------------------

EXPORT_COLUMNS = [
    ("ID", "pk"),
    ("Name", "name"),
    ("Account", lambda o: o.account.name if o.account_id and o.account_visible else ""),
    ("Type", "get_type_display"),
    ("Pipeline", "pipeline.name"),
    ("Stage", "stage.name"),
    ("Status", "get_status_display"),
    ("Amount", "amount"),
    ("Currency", "currency"),
    ("Close date", "close_date"),
    ("Probability %", "probability"),
    ("Forecast category", "get_forecast_category_display"),
    ("Owner", holder_name),
    ("Owner position", "owner_position.title"),
    ("Next step", "next_step"),
    ("Loss reason", "get_loss_reason_display"),
    ("Closed on", "closed_on"),
    ("Stage entered", "stage_entered_at"),
    ("Created", "created_at"),
    ("External ID", "external_id"),
]


# The filters a KPI drill-down adds to the list's URL (revline.analytics: the cockpit and the
# KPI pages link each number to the deals behind it); kept from the query string as they are.
DRILLDOWN_FILTERS = {
    "closed_from": "closed from",
    "closed_to": "closed to",
    "created_from": "created from",
    "created_to": "created to",
    "under": "owned at or below",
    "region": "region",
    "team": "team",
    "product": "product",
    "campaign": "campaign",
    "sector": "sector",
    "size": "size",
    "competitor": "competitor",
    "has_competitor": "competitor named",
    "last_stage": "last stage",
    "entered_stage": "entered stage",
    "entered_from": "entered a stage from",
    "entered_to": "entered a stage to",
}


def drilldown_filters(params: QueryDict) -> dict[str, str]:
    return {k: params[k].strip() for k in DRILLDOWN_FILTERS if params.get(k, "").strip()}


def drilldown_chips(drill: dict[str, str], stages: list[Stage]) -> list[tuple[str, str]]:
    """(label, value) of each drill-down filter, ids named (a query per kind of id at most)."""
    from revline.org.models import Region

    stage_names = {str(s.pk): s.name for s in stages}
    names: dict[str, dict[str, str]] = {
        "last_stage": stage_names,
        "entered_stage": stage_names,
        "has_competitor": {"1": "yes"},
    }
    if "region" in drill:
        names["region"] = {str(pk): n for pk, n in Region.objects.values_list("pk", "name")}
    if "under" in drill:
        names["under"] = {
            str(pk): t
            for pk, t in Position.objects.filter(
                pk__in=[drill["under"]] if drill["under"].isdigit() else []
            ).values_list("pk", "title")
        }
    return [(DRILLDOWN_FILTERS[k], names.get(k, {}).get(v, v)) for k, v in drill.items()]


def _list_queryset(request: HttpRequest, params: QueryDict):
    pipelines = list(Pipeline.objects.all())
    stages = list(Stage.objects.all())
    form, filters = filter_form(request, params, pipelines=pipelines, stages=stages)
    drill = drilldown_filters(params)
    filters.update({k: v for k, v in drill.items() if k not in filters})
    qs = selectors.opportunities_list(
        user=request.user, q=form.search, filters=filters, order=form.sort
    )
    form.drilldown = drilldown_chips(drill, stages) if drill else []
    return form, qs


@login_required
def opportunities(request: HttpRequest) -> HttpResponse:
    form, qs = _list_queryset(request, request.GET)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = decorate(page.object_list)
    order = form.sort
    context = {
        "form": form,
        "page": page,
        "order": order,
        "filter_query": query_without(request.GET, "page"),
        "sort_query": query_without(request.GET, "page", "order"),
        "filtered": form.active_count or bool(form.search) or bool(form.drilldown),
        "drilldown": form.drilldown,
        "sorts": _sort_links(order),
        "today": timezone.localdate(),
    }
    return htmx_render(
        request, "web/pipeline/opportunities.html", "web/pipeline/_opportunity_list.html", context
    )


def _sort_links(order: str) -> dict[str, str]:
    """For each sortable column, the order its header link asks for (toggling the direction)."""
    links = {}
    for column, first in (
        ("name", "name"),
        ("amount", "-amount"),
        ("close_date", "close_date"),
        ("stage", "stage"),
    ):
        if order.lstrip("-") == column:
            links[column] = column if order.startswith("-") else f"-{column}"
        else:
            links[column] = first
    return links


@login_required
def opportunities_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV: the same selector, so the same visibility and rows."""
    _, qs = _list_queryset(request, request.GET)
    return dated_csv_response(qs, EXPORT_COLUMNS, "opportunities")


# --- create and edit ----------------------------------------------------------------------------


def _limit_choices(field: Any, qs: Any, keep: list[Any]) -> None:
    """Validate against every record in ``qs`` but offer at most CHOICE_LIMIT of them (plus
    those in ``keep``), so that a select stays usable in a large organisation."""
    field.queryset = qs
    shown = list(qs[:CHOICE_LIMIT])
    seen = {o.pk for o in shown}
    shown += [o for o in keep if o is not None and o.pk not in seen]
    blank = [] if field.empty_label is None else [("", field.empty_label)]
    field.widget.choices = blank + [(o.pk, field.label_from_instance(o)) for o in shown]


def _opportunity_form(
    request: HttpRequest,
    *,
    data: Any = None,
    initial: dict[str, Any] | None = None,
    opportunity: Opportunity | None = None,
) -> OpportunityForm:
    user = request.user
    accounts = crm_selectors.accounts_visible(user=user).order_by("name", "id")
    contacts = (
        crm_selectors.contacts_visible(user=user)
        .select_related("account")
        .annotate(account_visible=selectors.account_visible(user))
    )
    form = OpportunityForm(
        data,
        initial=initial,
        user=user,
        accounts=accounts,
        contacts=contacts.order_by("last_name", "first_name", "id"),
        creating=opportunity is None,
    )
    account_id = (data or {}).get("account") or (initial or {}).get("account")
    account = None
    if account_id:
        account = accounts.filter(pk=account_id).first() if str(account_id).isdigit() else None
    if opportunity is not None:
        # A link to an account or contact outside the user's view is kept, never shown or changed.
        if opportunity.account_id and not opportunity.account_visible:
            del form.fields["account"]
        if opportunity.contact_id and not opportunity.contact_visible:
            del form.fields["contact"]
    if "account" in form.fields:
        current = [opportunity.account if opportunity else None, account]
        _limit_choices(form.fields["account"], accounts, current)
    if "contact" not in form.fields:
        return form
    shown_contacts = contacts.filter(account=account) if account is not None else contacts
    _limit_choices(
        form.fields["contact"],
        contacts,
        [opportunity.contact if opportunity else None, *list(shown_contacts[:CHOICE_LIMIT])],
    )
    if account is not None:
        form.fields["contact"].widget.choices = [("", "No contact")] + [
            (c.pk, form.fields["contact"].label_from_instance(c))
            for c in shown_contacts.order_by("last_name", "first_name", "id")[:CHOICE_LIMIT]
        ]
    return form


def _initial_for_new(request: HttpRequest) -> dict[str, Any]:
    from revline.crm.services import actor_position

    initial: dict[str, Any] = {"currency": "USD"}
    owner = actor_position(request.user)
    if owner is not None:
        initial["owner_position"] = owner.pk
    default = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    if default is not None:
        initial["pipeline"] = default.pk
    for key in ("account", "type", "product", "contact", "pipeline", "stage"):
        if value := request.GET.get(key):
            initial[key] = value
    account_id = request.GET.get("account", "")
    if account_id.isdigit():
        account = crm_selectors.accounts_visible(user=request.user).filter(pk=account_id).first()
        if account is not None:
            kind = request.GET.get("type", "")
            label = dict(OpportunityType.choices).get(kind, "") if kind else ""
            initial.setdefault("name", f"{account.name} — {label}" if label else account.name)
    return initial


@login_required
def opportunity_new(request: HttpRequest) -> HttpResponse:
    form = _opportunity_form(request, data=request.POST or None, initial=_initial_for_new(request))
    if request.method == "POST" and form.is_valid():
        data = form.service_fields()
        try:
            opportunity = services.opportunity_create(
                by=request.user,
                owner_position=data.pop("owner_position"),
                name=data.pop("name"),
                account=data.pop("account", None),
                pipeline=data.pop("pipeline", None),
                stage=data.pop("stage", None),
                **data,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Opened the opportunity {opportunity.name}.")
            return redirect("web:opportunity_detail", pk=opportunity.pk)
    return render(
        request,
        "web/pipeline/opportunity_form.html",
        {"form": form, "heading": "New opportunity", "submit": "Create opportunity"},
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def opportunity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = opportunity_or_404(request, pk)
    require_change(request, opportunity)
    initial = {
        name: getattr(opportunity, f"{name}_id" if name in _FK else name)
        for name in OpportunityForm.base_fields
        if name not in OpportunityForm.CREATE_ONLY
    }
    form = _opportunity_form(
        request, data=request.POST or None, initial=initial, opportunity=opportunity
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_update(
                opportunity=opportunity, by=request.user, **form.service_fields()
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("web:opportunity_detail", pk=opportunity.pk)
    return render(
        request,
        "web/pipeline/opportunity_form.html",
        {
            "form": form,
            "opportunity": opportunity,
            "heading": f"Edit {opportunity.name}",
            "submit": "Save",
        },
        status=400 if form.is_bound and form.errors else 200,
    )


_FK = {"account", "contact", "owner_position", "product"}


# --- the opportunity page ---------------------------------------------------------------------


def _activity_form_template() -> str | None:
    try:
        select_template([ACTIVITY_FORM])
    except TemplateDoesNotExist:
        return None
    return ACTIVITY_FORM


def detail_context(request: HttpRequest, opportunity: Opportunity, **extra: Any) -> dict[str, Any]:
    user = request.user
    decorate([opportunity])
    for name in ("account", "contact"):  # a deal fresh from a service carries no annotation
        if not hasattr(opportunity, f"{name}_visible"):
            related = getattr(opportunity, name) if getattr(opportunity, f"{name}_id") else None
            setattr(opportunity, f"{name}_visible", bool(related) and can(user, "view", related))
    stages = list(opportunity.pipeline.stages.all())
    for stage in stages:
        stage.needs = [REQUIREMENTS.get(r, r) for r in stage.required_fields or []]
    current = next((s for s in stages if s.pk == opportunity.stage_id), None)
    quotes = list(opportunity.quotes.select_related("created_by").order_by("number", "-version"))
    latest_numbers: set[str] = set()
    for q in quotes:
        q.is_latest = q.number not in latest_numbers
        latest_numbers.add(q.number)
    renewals = list(
        selectors.opportunities_list(user=user).filter(renewal_of=opportunity).order_by("-id")
    )
    renewal_of = None
    if opportunity.renewal_of_id:
        renewal_of = (
            selectors.opportunities_list(user=user).filter(pk=opportunity.renewal_of_id).first()
        )
    may_change = can(user, "change", opportunity)
    competitors = list(opportunity.competitors.all())
    context = {
        "opportunity": opportunity,
        "o": opportunity,
        "stages": stages,
        "open_stages": [s for s in stages if s.kind == StageKind.OPEN],
        "current_stage": current,
        "may_change": may_change,
        "timeline": selectors.timeline(user=user, opportunity=opportunity),
        "objections": list(opportunity.objections.select_related("raised_by")),
        "objection_form": ObjectionForm(),
        "competitors": competitors,
        "competitors_form": CompetitorsForm(
            initial={"names": ", ".join(c.name for c in competitors)}
        ),
        "competitor_names": list(Competitor.objects.values_list("name", flat=True)[:500]),
        "next_step_form": NextStepForm(
            initial={
                "next_step": opportunity.next_step,
                "forecast_category": opportunity.forecast_category,
            }
        ),
        "close_form": CloseForm(initial={"outcome": "lost"}),
        "quotes": quotes,
        "renewals": renewals,
        "renewal_of": renewal_of,
        "can_renew": (
            may_change
            and opportunity.status == OpportunityStatus.WON
            and not any(r.type == OpportunityType.RENEWAL for r in renewals)
            and bool(
                opportunity.term_months or getattr(opportunity.product, "is_subscription", False)
            )
        ),
        "loss_reasons": LossReason.choices,
        "activity_form": _activity_form_template(),
        "requirements": REQUIREMENTS,
        "refused": None,
        "QuoteStatus": QuoteStatus,
    }
    context.update(extra)
    return context


@login_required
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = opportunity_or_404(request, pk)
    return render(
        request, "web/pipeline/opportunity_detail.html", detail_context(request, opportunity)
    )


@login_required
@require_POST
def opportunity_close(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = changeable_opportunity(request, pk)
    form = CloseForm(request.POST)
    if form.is_valid():
        won = form.cleaned_data["outcome"] == "won"
        try:
            services.opportunity_close(
                opportunity=opportunity,
                won=won,
                by=request.user,
                loss_reason=form.cleaned_data.get("loss_reason") or "",
                loss_note=form.cleaned_data.get("loss_note") or "",
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Closed won. Well done!" if won else "Closed lost.")
            return redirect("web:opportunity_detail", pk=opportunity.pk)
    return render(
        request,
        "web/pipeline/opportunity_detail.html",
        detail_context(request, opportunity, close_form=form, close_open=True),
        status=400,
    )


@login_required
@require_POST
def opportunity_next_step(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = changeable_opportunity(request, pk)
    form = NextStepForm(request.POST)
    if form.is_valid():
        try:
            services.opportunity_update(
                opportunity=opportunity, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Saved the next step.")
            return redirect("web:opportunity_detail", pk=opportunity.pk)
    return render(
        request,
        "web/pipeline/opportunity_detail.html",
        detail_context(request, opportunity, next_step_form=form),
        status=400,
    )


@login_required
@require_POST
def opportunity_competitors(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = changeable_opportunity(request, pk)
    form = CompetitorsForm(request.POST)
    if form.is_valid():
        names = form.cleaned_names()
        if remove := request.POST.get("remove"):
            names = [n for n in (c.name for c in opportunity.competitors.all()) if n != remove]
        services.competitor_set(opportunity=opportunity, names=names, by=request.user)
        messages.success(request, "Saved the competitors.")
    return redirect(reverse("web:opportunity_detail", args=[opportunity.pk]) + "#competitors")


@login_required
@require_POST
def objection_add(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = changeable_opportunity(request, pk)
    form = ObjectionForm(request.POST)
    if form.is_valid():
        try:
            services.objection_record(opportunity=opportunity, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Recorded the objection.")
            return redirect(
                reverse("web:opportunity_detail", args=[opportunity.pk]) + "#objections"
            )
    return render(
        request,
        "web/pipeline/opportunity_detail.html",
        detail_context(request, opportunity, objection_form=form),
        status=400,
    )


@login_required
@require_POST
def objection_update(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        objection = Objection.objects.get(pk=pk)
    except Objection.DoesNotExist:
        raise Http404("No such objection.") from None
    opportunity = changeable_opportunity(request, objection.opportunity_id)
    form = ObjectionUpdateForm(request.POST)
    if form.is_valid():
        fields = {"resolved": form.cleaned_data["resolved"]}
        if "response" in request.POST:
            fields["response"] = form.cleaned_data["response"]
        services.objection_update(objection=objection, by=request.user, **fields)
        messages.success(
            request, "Marked as resolved." if fields["resolved"] else "Marked as open again."
        )
    return redirect(reverse("web:opportunity_detail", args=[opportunity.pk]) + "#objections")


@login_required
@require_POST
def renewal_create(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = changeable_opportunity(request, pk)
    try:
        renewal = services.renewal_create(opportunity=opportunity, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("web:opportunity_detail", pk=opportunity.pk)
    messages.success(request, f"The renewal {renewal.name} is open.")
    return redirect("web:opportunity_detail", pk=renewal.pk)


# --- renewals, cross-sell, competitors ------------------------------------------------------------


RENEWAL_WINDOWS = [("30", "30 days"), ("90", "90 days"), ("180", "6 months"), ("366", "a year")]


@login_required
def renewals(request: HttpRequest) -> HttpResponse:
    window = request.GET.get("within", "90")
    if window not in dict(RENEWAL_WINDOWS):
        window = "90"
    rows = selectors.renewals_due(user=request.user, within_days=int(window))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = decorate(page.object_list)
    return render(
        request,
        "web/pipeline/renewals.html",
        {
            "page": page,
            "window": window,
            "windows": RENEWAL_WINDOWS,
            "today": timezone.localdate(),
        },
    )


@login_required
def cross_sell(request: HttpRequest) -> HttpResponse:
    candidates = selectors.cross_sell_candidates(user=request.user)
    page = Paginator(candidates, PAGE_SIZE).get_page(request.GET.get("page"))
    lists = crm_selectors.prospect_lists(user=request.user, action="change")
    return render(
        request,
        "web/pipeline/cross_sell.html",
        {"page": page, "list_form": ProspectListPickForm(lists=lists), "has_lists": lists.exists()},
    )


@login_required
@require_POST
def cross_sell_prospect(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a customer account to a prospect list as an outbound prospect (a lead at the account),
    for a BDR's cross-sell outreach."""
    from revline.crm import services as crm_services

    try:
        account = crm_selectors.account_get(user=request.user, pk=pk)
    except Account.DoesNotExist:
        raise Http404("No such account.") from None
    lists = crm_selectors.prospect_lists(user=request.user, action="change")
    form = ProspectListPickForm(request.POST, lists=lists)
    if not form.is_valid():
        messages.error(request, "Choose a prospect list you may change.")
        return redirect("web:cross_sell")
    # the prospect copies a contact the user sees, never one outside their view
    contact = crm_selectors.contacts_visible(user=request.user).filter(account=account)
    contact = contact.order_by("id").first()
    fields: dict[str, Any] = {"company": account.name, "account": account, "sector": account.sector}
    if contact is not None:
        fields.update(
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            title=contact.title,
            phone=contact.phone,
        )
    prospect_list = form.cleaned_data["prospect_list"]
    try:
        crm_services.prospect_add(prospect_list=prospect_list, by=request.user, **fields)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Added {account.name} to {prospect_list.name}.")
    return redirect(safe_next(request, reverse("web:cross_sell")))


@login_required
def competitors(request: HttpRequest) -> HttpResponse:
    """Win/loss against each competitor, over the deals the user sees."""
    won = Q(status=OpportunityStatus.WON)
    lost = Q(status=OpportunityStatus.LOST)
    is_open = Q(status=OpportunityStatus.OPEN)
    rows = list(
        selectors.opportunities_list(user=request.user)
        .filter(competitors__isnull=False)
        .order_by()
        .values("competitors__id", "competitors__name")
        .annotate(
            deals=Count("id"),
            won=Count("id", filter=won),
            lost=Count("id", filter=lost),
            open=Count("id", filter=is_open),
            open_amount=Sum("amount", filter=is_open),
            won_amount=Sum("amount", filter=won),
        )
        .order_by("-deals", "competitors__name")
    )
    for row in rows:
        closed = row["won"] + row["lost"]
        row["win_rate"] = round(100 * row["won"] / closed) if closed else None
    return render(request, "web/pipeline/competitors.html", {"rows": rows})


# --- routes -------------------------------------------------------------------------------------

from revline.web.views import pipeline_admin, pipeline_quotes  # noqa: E402

urlpatterns = [
    path("pipeline/board/", board, name="board"),
    path("pipeline/opportunities/", opportunities, name="opportunities"),
    path("pipeline/opportunities/export.csv", opportunities_export, name="opportunities_export"),
    path("pipeline/opportunities/new/", opportunity_new, name="opportunity_new"),
    path("pipeline/opportunities/<int:pk>/", opportunity_detail, name="opportunity_detail"),
    path("pipeline/opportunities/<int:pk>/edit/", opportunity_edit, name="opportunity_edit"),
    path("pipeline/opportunities/<int:pk>/move/", opportunity_move, name="opportunity_move"),
    path("pipeline/opportunities/<int:pk>/close/", opportunity_close, name="opportunity_close"),
    path(
        "pipeline/opportunities/<int:pk>/next-step/",
        opportunity_next_step,
        name="opportunity_next_step",
    ),
    path(
        "pipeline/opportunities/<int:pk>/competitors/",
        opportunity_competitors,
        name="opportunity_competitors",
    ),
    path("pipeline/opportunities/<int:pk>/objections/", objection_add, name="objection_add"),
    path("pipeline/objections/<int:pk>/", objection_update, name="objection_update"),
    path("pipeline/opportunities/<int:pk>/renewal/", renewal_create, name="renewal_create"),
    path("pipeline/renewals/", renewals, name="renewals"),
    path("pipeline/cross-sell/", cross_sell, name="cross_sell"),
    path("pipeline/cross-sell/<int:pk>/prospect/", cross_sell_prospect, name="cross_sell_prospect"),
    path("pipeline/competitors/", competitors, name="competitors"),
    *pipeline_quotes.urlpatterns,
    *pipeline_admin.urlpatterns,
]
