"""``/api/v1/opportunities``, ``/quotes``, ``/approvals``, ``/pipelines`` and the pipeline's lists.

Reads go through ``revline.pipeline.selectors`` (so through ``visible_to``); writes through
``revline.pipeline.services`` (quotes and approvals: ``revline.pipeline.quoting``). The rules
for 404 / 403 / 422, owners and lists are those of ``revline.crm.api``, whose helpers this
module shares. Pipelines, stages, products and price books are configuration every signed-in
user reads.

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations.)
"""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Prefetch, Q
from django.http import HttpRequest
from ninja import Query, Router, Status

from revline.api.errors import ApiError, Conflict
from revline.api.schemas import with_errors
from revline.crm import selectors as crm_selectors
from revline.crm.api import (
    NULLABLE,
    account_ref,
    campaign_ref,
    contact_ref,
    default_owner,
    listed,
    owner_ref,
    product_ref,
    query_filters,
    ref,
    to_change,
)
from revline.crm.schemas import ActivityFilters, ActivityLogIn, ActivityOut
from revline.crm.services import activity_log
from revline.pipeline import selectors, services
from revline.pipeline.models import (
    ApprovalRequest,
    Objection,
    Opportunity,
    Pipeline,
    PriceBook,
    PriceBookEntry,
    Product,
    Stage,
    StageChange,
)
from revline.pipeline.schemas import (
    ApprovalOut,
    CloseIn,
    CompetitorsIn,
    CompetitorsOut,
    CrossSellFilters,
    CrossSellPage,
    DecisionIn,
    ObjectionIn,
    ObjectionOut,
    ObjectionPatch,
    OpportunityFilters,
    OpportunityIn,
    OpportunityOut,
    OpportunityPatch,
    PipelineOut,
    PriceBookOut,
    ProductFilters,
    ProductOut,
    QuoteDetailOut,
    QuoteFilters,
    QuoteIn,
    QuoteOut,
    QuoteReviseIn,
    RenewalFilters,
    StageChangeOut,
    StageMoveIn,
    TimelinePage,
)

router = Router(tags=["pipeline"])


class StageRequirementsError(ApiError):
    """422 ``validation_error`` naming what the deal lacks: ``missing`` lists the requirement
    keys (``amount``, ``close_date``, ``quote``, ``loss_reason``...)."""

    status = 422


def _stage_requirements(exc: Any) -> StageRequirementsError:
    return StageRequirementsError(
        exc.messages[0],
        reason="stage_requirements",
        stage=exc.stage.name,
        missing=list(exc.missing),
        errors=[{"field": "stage", "message": exc.messages[0]}]
        + [{"field": key, "message": "Required by the stage."} for key in exc.missing],
    )


# --- references --------------------------------------------------------------------------------


def _pipeline_ref(pk: int | None, field: str = "pipeline") -> Pipeline | None:
    return ref(field, pk, lambda v: Pipeline.objects.get(pk=v))


def _stage_in(pipeline: Pipeline, value: int | str | None, field: str = "stage") -> Stage | None:
    """A stage of ``pipeline`` by id or (case-insensitive) name; 422 when it has none such."""

    def load(v: int | str) -> Stage:
        stages = Stage.objects.filter(pipeline=pipeline)
        if isinstance(v, int) or str(v).strip().isdigit():
            return stages.get(pk=int(v))
        return stages.get(name__iexact=str(v).strip())

    return ref(field, value, load)


def _opportunity_out(request: HttpRequest, opportunity: Opportunity) -> Opportunity:
    return selectors.opportunity_get(user=request.auth, pk=opportunity.pk)


# --- opportunities -----------------------------------------------------------------------------


def _stage_filter(value: str, pipeline: int | None) -> str:
    """The ``stage`` filter as an id: a number passes; a name is looked up in ``pipeline``
    (default: the default pipeline); an unknown name matches nothing."""
    value = value.strip()
    if not value or value.isdigit():
        return value
    stages = Stage.objects.filter(name__iexact=value)
    stages = (
        stages.filter(pipeline_id=pipeline)
        if pipeline
        else stages.filter(pipeline__is_default=True)
    )
    pk = stages.values_list("id", flat=True).first()
    return str(pk) if pk else "0"


@router.get(
    "/opportunities",
    response=with_errors({200: list[OpportunityOut]}),
    tags=["opportunities"],
    summary="The deals you may see",
)
@listed
def opportunities_list(request: HttpRequest, filters: Query[OpportunityFilters]):
    f = query_filters(request, filters)
    for key in ("close_from", "close_to", "created_from", "created_to", "closed_from", "closed_to"):
        if key in f:
            f[key] = f[key].isoformat()
    if "stuck" in f:
        f["stuck"] = "1" if f["stuck"] == "true" else ""
    if "stage" in f:
        f["stage"] = _stage_filter(f["stage"], filters.pipeline)
    return selectors.opportunities_list(
        user=request.auth, q=filters.q.strip(), filters=f, order=filters.order
    )


@router.post(
    "/opportunities",
    response=with_errors({201: OpportunityOut}),
    tags=["opportunities"],
    summary="Open a deal",
)
def opportunity_create(request: HttpRequest, payload: OpportunityIn):
    data = payload.model_dump()
    owner = owner_ref(request, Opportunity, data.pop("owner")) or default_owner(request)
    pipeline = _pipeline_ref(data.pop("pipeline")) or services.pipeline_default()
    stage = _stage_in(pipeline, data.pop("stage"))
    for field, load in (
        ("account", account_ref),
        ("contact", contact_ref),
        ("product", product_ref),
        ("campaign", campaign_ref),
    ):
        data[field] = load(request, data[field])
    if not data["external_id"]:
        data.pop("external_id")
    opportunity = services.opportunity_create(
        by=request.auth, owner_position=owner, pipeline=pipeline, stage=stage, **data
    )
    return Status(201, _opportunity_out(request, opportunity))


@router.get(
    "/opportunities/{int:opportunity_id}",
    response=with_errors({200: OpportunityOut}, 404),
    tags=["opportunities"],
    summary="One deal",
)
def opportunity_detail(request: HttpRequest, opportunity_id: int):
    return selectors.opportunity_get(user=request.auth, pk=opportunity_id)


@router.patch(
    "/opportunities/{int:opportunity_id}",
    response=with_errors({200: OpportunityOut}, 403, 404),
    tags=["opportunities"],
    summary="Change a deal (not its stage)",
)
def opportunity_update(request: HttpRequest, opportunity_id: int, payload: OpportunityPatch):
    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    refs = {"account": account_ref, "contact": contact_ref, "product": product_ref}
    refs["campaign"] = campaign_ref
    changes: dict[str, Any] = {}
    for field, value in payload.model_dump(exclude_unset=True).items():
        if field == "owner":
            if value is None:
                raise ValidationError({"owner": "A deal always has an owner."})
            changes["owner_position"] = owner_ref(request, Opportunity, value)
        elif field in refs:
            changes[field] = refs[field](request, value)
        elif value is None and field not in NULLABLE:
            raise ValidationError({field: "This field cannot be null."})
        else:
            changes[field] = value
    services.opportunity_update(opportunity=opportunity, by=request.auth, **changes)
    return _opportunity_out(request, opportunity)


@router.post(
    "/opportunities/{int:opportunity_id}/stage",
    response=with_errors({200: OpportunityOut}, 403, 404),
    tags=["opportunities"],
    summary="Move a deal to a stage (422 with `missing` when the stage needs more)",
)
def opportunity_move_stage(request: HttpRequest, opportunity_id: int, payload: StageMoveIn):
    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    stage = _stage_in(opportunity.pipeline, payload.stage)
    try:
        services.opportunity_move_stage(
            opportunity=opportunity,
            stage=stage,
            by=request.auth,
            loss_reason=payload.loss_reason.value if payload.loss_reason else "",
            loss_note=payload.loss_note,
        )
    except services.StageRequirementsMissing as exc:
        raise _stage_requirements(exc) from None
    return _opportunity_out(request, opportunity)


@router.post(
    "/opportunities/{int:opportunity_id}/close",
    response=with_errors({200: OpportunityOut}, 403, 404),
    tags=["opportunities"],
    summary="Close a deal won or lost (lost needs a loss reason)",
)
def opportunity_close(request: HttpRequest, opportunity_id: int, payload: CloseIn):
    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    try:
        services.opportunity_close(
            opportunity=opportunity,
            won=payload.won,
            by=request.auth,
            loss_reason=payload.loss_reason.value if payload.loss_reason else "",
            loss_note=payload.loss_note,
        )
    except services.StageRequirementsMissing as exc:
        raise _stage_requirements(exc) from None
    return _opportunity_out(request, opportunity)


@router.get(
    "/opportunities/{int:opportunity_id}/history",
    response=with_errors({200: list[StageChangeOut]}, 404),
    tags=["opportunities"],
    summary="A deal's stage changes, oldest first",
)
@listed
def opportunity_history(request: HttpRequest, opportunity_id: int):
    opportunity = selectors.opportunity_get(user=request.auth, pk=opportunity_id)
    return (
        StageChange.objects.filter(opportunity_id=opportunity.pk)
        .select_related("from_stage", "to_stage")
        .order_by("id")
    )


@router.get(
    "/opportunities/{int:opportunity_id}/timeline",
    response=with_errors({200: TimelinePage}, 404),
    tags=["opportunities"],
    summary="Everything that happened on a deal, newest first (at most 200 entries)",
)
def opportunity_timeline(request: HttpRequest, opportunity_id: int):
    opportunity = selectors.opportunity_get(user=request.auth, pk=opportunity_id)
    items = [
        {
            "kind": entry.kind,
            "at": entry.at,
            "actor": entry.actor.pk if entry.actor else None,
            "actor_name": entry.actor.get_full_name() if entry.actor else None,
            "text": entry.text,
        }
        for entry in selectors.timeline(user=request.auth, opportunity=opportunity)
    ]
    return {"items": items, "next": None, "total": len(items)}


@router.get(
    "/opportunities/{int:opportunity_id}/objections",
    response=with_errors({200: list[ObjectionOut]}, 404),
    tags=["opportunities"],
    summary="The objections raised on a deal, oldest first",
)
@listed
def objections_list(request: HttpRequest, opportunity_id: int):
    opportunity = selectors.opportunity_get(user=request.auth, pk=opportunity_id)
    return Objection.objects.filter(opportunity_id=opportunity.pk).order_by("id")


@router.post(
    "/opportunities/{int:opportunity_id}/objections",
    response=with_errors({201: ObjectionOut}, 403, 404),
    tags=["opportunities"],
    summary="Record an objection and how it was handled",
)
def objection_create(request: HttpRequest, opportunity_id: int, payload: ObjectionIn):
    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    objection = services.objection_record(
        opportunity=opportunity,
        by=request.auth,
        category=payload.category.value,
        text=payload.text,
        response=payload.response,
        resolved=payload.resolved,
    )
    return Status(201, objection)


@router.patch(
    "/opportunities/{int:opportunity_id}/objections/{int:objection_id}",
    response=with_errors({200: ObjectionOut}, 403, 404),
    tags=["opportunities"],
    summary="Change an objection (its response, resolved...)",
)
def objection_update(
    request: HttpRequest, opportunity_id: int, objection_id: int, payload: ObjectionPatch
):
    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    objection = Objection.objects.get(pk=objection_id, opportunity_id=opportunity.pk)
    changes = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    if "category" in changes:
        changes["category"] = str(changes["category"])
    return services.objection_update(objection=objection, by=request.auth, **changes)


@router.put(
    "/opportunities/{int:opportunity_id}/competitors",
    response=with_errors({200: CompetitorsOut}, 403, 404),
    tags=["opportunities"],
    summary="The competitors present on a deal",
)
def competitors_set(request: HttpRequest, opportunity_id: int, payload: CompetitorsIn):
    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    competitors = services.competitor_set(
        opportunity=opportunity, names=payload.names, by=request.auth
    )
    return {"names": [c.name for c in competitors]}


@router.get(
    "/opportunities/{int:opportunity_id}/activities",
    response=with_errors({200: list[ActivityOut]}, 404),
    tags=["opportunities"],
    summary="Activities on a deal that you may see, newest first",
)
@listed
def opportunity_activities(
    request: HttpRequest, opportunity_id: int, filters: Query[ActivityFilters]
):
    opportunity = selectors.opportunity_get(user=request.auth, pk=opportunity_id)
    f = query_filters(request, filters, skip=("lead", "contact", "account", "opportunity"))
    if "open" in f:
        f["open"] = "1" if f["open"] == "true" else ""
    return crm_selectors.activities_for(user=request.auth, opportunity=opportunity, filters=f)


@router.post(
    "/opportunities/{int:opportunity_id}/activities",
    response=with_errors({201: ActivityOut}, 403, 404),
    tags=["opportunities"],
    summary="Log an activity (call, meeting, demo...) on a deal",
)
def opportunity_activity_create(request: HttpRequest, opportunity_id: int, payload: ActivityLogIn):
    from revline.crm.models import Activity

    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    activity = activity_log(
        by=request.auth,
        kind=payload.kind.value,
        subject=payload.subject,
        owner_position=owner_ref(request, Activity, payload.owner),
        opportunity=opportunity,
        occurred_at=payload.occurred_at,
        due_at=payload.due_at,
        body=payload.body,
        outcome=payload.outcome.value,
        done=payload.done,
    )
    return Status(201, activity)


# --- configuration: pipelines, products, price books -------------------------------------------


@router.get(
    "/pipelines",
    response=with_errors({200: list[PipelineOut]}),
    tags=["configuration"],
    summary="Pipelines with their stages",
)
@listed
def pipelines_list(request: HttpRequest):
    return Pipeline.objects.prefetch_related(
        Prefetch("stages", queryset=Stage.objects.order_by("order", "id"))
    ).order_by("order", "id")


@router.get(
    "/products",
    response=with_errors({200: list[ProductOut]}),
    tags=["configuration"],
    summary="Products",
)
@listed
def products_list(request: HttpRequest, filters: Query[ProductFilters]):
    qs = Product.objects.order_by("name", "id")
    if filters.active is not None:
        qs = qs.filter(active=filters.active)
    if q := filters.q.strip():
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(series__icontains=q))
    return qs


@router.get(
    "/price-books",
    response=with_errors({200: list[PriceBookOut]}),
    tags=["configuration"],
    summary="Price books with their prices",
)
@listed
def price_books_list(request: HttpRequest):
    return PriceBook.objects.prefetch_related(
        Prefetch("entries", queryset=PriceBookEntry.objects.select_related("product"))
    ).order_by("id")


# --- quotes ------------------------------------------------------------------------------------


def _lines(payload_lines: list[Any]) -> list[dict[str, Any]]:
    return [line.model_dump() for line in payload_lines]


def _price_book_ref(pk: int | None) -> PriceBook | None:
    return ref("price_book", pk, lambda v: PriceBook.objects.get(pk=v, active=True))


def _quote_out(request: HttpRequest, quote: Any) -> Any:
    return selectors.quote_get(user=request.auth, pk=quote.pk)


def _quote_filters(request: HttpRequest, filters: QuoteFilters) -> dict[str, Any]:
    f = query_filters(request, filters)
    for key in ("created_from", "created_to"):
        if key in f:
            f[key] = f[key].isoformat()
    if "latest" in f:
        f["latest"] = "1" if f["latest"] == "true" else ""
    return f


@router.get(
    "/quotes",
    response=with_errors({200: list[QuoteOut]}),
    tags=["quotes"],
    summary="The quotes you may see, newest first",
)
@listed
def quotes_list(request: HttpRequest, filters: Query[QuoteFilters]):
    return selectors.quotes_list(
        user=request.auth,
        q=filters.q.strip(),
        filters=_quote_filters(request, filters),
        order=filters.order,
    )


@router.get(
    "/opportunities/{int:opportunity_id}/quotes",
    response=with_errors({200: list[QuoteOut]}, 404),
    tags=["quotes"],
    summary="A deal's quotes (every version), newest first",
)
@listed
def opportunity_quotes(request: HttpRequest, opportunity_id: int):
    opportunity = selectors.opportunity_get(user=request.auth, pk=opportunity_id)
    return selectors.quotes_list(user=request.auth, filters={"opportunity": opportunity.pk})


@router.post(
    "/opportunities/{int:opportunity_id}/quotes",
    response=with_errors({201: QuoteDetailOut}, 403, 404),
    tags=["quotes"],
    summary="Draft a quote on a deal",
)
def quote_create(request: HttpRequest, opportunity_id: int, payload: QuoteIn):
    opportunity = to_change(request, selectors.opportunity_get, opportunity_id)
    quote = services.quote_create(
        opportunity=opportunity,
        by=request.auth,
        lines=_lines(payload.lines),
        price_book=_price_book_ref(payload.price_book),
        discount_percent=payload.discount_percent,
        valid_until=payload.valid_until,
        terms=payload.terms,
    )
    return Status(201, _quote_out(request, quote))


@router.get(
    "/quotes/{int:quote_id}",
    response=with_errors({200: QuoteDetailOut}, 404),
    tags=["quotes"],
    summary="One quote with its lines and approval steps",
)
def quote_detail(request: HttpRequest, quote_id: int):
    return selectors.quote_get(user=request.auth, pk=quote_id)


@router.post(
    "/quotes/{int:quote_id}/revise",
    response=with_errors({200: QuoteDetailOut}, 403, 404),
    tags=["quotes"],
    summary="Change a quote (a sent or approved one gets a new version, returned)",
)
def quote_revise(request: HttpRequest, quote_id: int, payload: QuoteReviseIn):
    quote = to_change(request, selectors.quote_get, quote_id)
    sent = payload.model_dump(exclude_unset=True)
    kwargs: dict[str, Any] = {}
    if payload.lines is not None:
        kwargs["lines"] = _lines(payload.lines)
    if payload.discount_percent is not None:
        kwargs["discount_percent"] = payload.discount_percent
    if "valid_until" in sent:
        kwargs["valid_until"] = payload.valid_until
    if payload.terms is not None:
        kwargs["terms"] = payload.terms
    revised = services.quote_revise(quote=quote, by=request.auth, **kwargs)
    return _quote_out(request, revised)


@router.post(
    "/quotes/{int:quote_id}/submit",
    response=with_errors({200: QuoteDetailOut}, 403, 404),
    tags=["quotes"],
    summary="Ask for the approvals the discount needs (none needed: approved at once)",
)
def quote_submit(request: HttpRequest, quote_id: int):
    quote = to_change(request, selectors.quote_get, quote_id)
    services.quote_submit(quote=quote, by=request.auth)
    return _quote_out(request, quote)


def _quote_transition(request: HttpRequest, quote_id: int, action: Any, reason: str) -> Any:
    quote = to_change(request, selectors.quote_get, quote_id)
    try:
        action(quote=quote, by=request.auth)
    except ValidationError as exc:
        if getattr(exc, "code", None) == "quote_status":
            raise Conflict(
                " ".join(exc.messages), reason=reason, quote_status=quote.status
            ) from None
        raise
    return _quote_out(request, quote)


@router.post(
    "/quotes/{int:quote_id}/send",
    response=with_errors({200: QuoteDetailOut}, 403, 404, 409),
    tags=["quotes"],
    summary="Mark an approved quote sent (409 `quote_not_approved` otherwise)",
)
def quote_send(request: HttpRequest, quote_id: int):
    return _quote_transition(request, quote_id, services.quote_send, "quote_not_approved")


@router.post(
    "/quotes/{int:quote_id}/accept",
    response=with_errors({200: QuoteDetailOut}, 403, 404, 409),
    tags=["quotes"],
    summary="The buyer accepted a sent quote",
)
def quote_accept(request: HttpRequest, quote_id: int):
    return _quote_transition(request, quote_id, services.quote_mark_accepted, "quote_not_sent")


@router.post(
    "/quotes/{int:quote_id}/decline",
    response=with_errors({200: QuoteDetailOut}, 403, 404, 409),
    tags=["quotes"],
    summary="The buyer declined a sent quote",
)
def quote_decline(request: HttpRequest, quote_id: int):
    return _quote_transition(request, quote_id, services.quote_mark_declined, "quote_not_sent")


# --- approvals ---------------------------------------------------------------------------------


@router.get(
    "/approvals",
    response=with_errors({200: list[ApprovalOut]}),
    tags=["quotes"],
    summary="The discount approvals waiting for you, oldest first",
)
@listed
def approvals_list(request: HttpRequest):
    return selectors.approvals_queue(user=request.auth).annotate(
        account_visible=selectors.account_visible(request.auth, "quote__opportunity__account_id")
    )


def _approval(request: HttpRequest, approval_id: int) -> ApprovalRequest:
    """An approval step whose quote the caller may see (404 otherwise)."""
    quote_id = (
        ApprovalRequest.objects.filter(pk=approval_id).values_list("quote_id", flat=True).first()
    )
    if quote_id is None:
        raise ApprovalRequest.DoesNotExist
    try:
        quote = selectors.quote_get(user=request.auth, pk=quote_id)
    except ObjectDoesNotExist:
        raise ApprovalRequest.DoesNotExist from None
    approval = next(a for a in quote.approvals.all() if a.pk == approval_id)
    approval.quote = quote
    return approval


@router.post(
    "/approvals/{int:approval_id}/decide",
    response=with_errors({200: ApprovalOut}, 403, 404, 409),
    tags=["quotes"],
    summary="Approve or reject a discount (the approver or someone above them)",
)
def approval_decide(request: HttpRequest, approval_id: int, payload: DecisionIn):
    approval = _approval(request, approval_id)
    try:  # PermissionDenied (visible, but not the caller's to decide) answers 403
        services.approval_decide(
            approval=approval, by=request.auth, approve=payload.approve, comment=payload.comment
        )
    except ValidationError as exc:
        raise Conflict(" ".join(exc.messages), reason="approval_closed") from None
    return (
        ApprovalRequest.objects.select_related(
            "quote",
            "quote__opportunity",
            "quote__opportunity__account",
            "quote__owner_position__holder",
            "approver_position",
        )
        .filter(quote_id=approval.quote_id)
        .annotate(
            account_visible=selectors.account_visible(
                request.auth, "quote__opportunity__account_id"
            )
        )
        .get(pk=approval.pk)
    )


# --- renewals and cross-sell -------------------------------------------------------------------


@router.get(
    "/renewals",
    response=with_errors({200: list[OpportunityOut]}),
    tags=["opportunities"],
    summary="Open renewals you may see closing soon (overdue included), soonest first",
)
@listed
def renewals_list(request: HttpRequest, filters: Query[RenewalFilters]):
    return selectors.renewals_due(user=request.auth, within_days=filters.within_days)


@router.get(
    "/cross-sell-candidates",
    response=with_errors({200: CrossSellPage}, 404),
    tags=["opportunities"],
    summary="Products similar customers bought that your customers lack, best first",
)
def cross_sell_list(request: HttpRequest, filters: Query[CrossSellFilters]):
    account = (
        crm_selectors.account_get(user=request.auth, pk=filters.account)
        if filters.account
        else None
    )
    rows = selectors.cross_sell_candidates(
        user=request.auth, limit=filters.limit, account=account, min_similar=filters.min_similar
    )
    items = [
        {
            "account": row.account.pk,
            "account_name": row.account.name,
            "owner": row.account.owner_position_id,
            "product": row.product.pk,
            "product_name": row.product.name,
            "similar_count": row.similar_count,
            "similar_customers": row.similar_customers,
            "share": row.share,
            "reasons": row.reasons,
        }
        for row in rows
    ]
    return {"items": items, "next": None, "total": len(items)}
