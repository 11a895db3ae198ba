"""Writes for pipelines and opportunities: every stage change is kept, closing a subscription deal
won opens its renewal. Quotes and approvals live in ``revline.pipeline.quoting`` and are
re-exported here so callers import every pipeline write from one module."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from revline.core.services import audit_event_record, diff_fields
from revline.org.models import Position
from revline.pipeline.choices import (
    REQUIREMENTS,
    ForecastCategory,
    LossReason,
    ObjectionCategory,
    OpportunityStatus,
    OpportunityType,
    QuoteStatus,
    StageKind,
)
from revline.pipeline.models import Competitor, Objection, Opportunity, Pipeline, Stage, StageChange

# name, kind, probability, forecast category, requirements, max days in stage
DEFAULT_STAGES: list[tuple[str, str, int, str, list[str], int | None]] = [
    ("Prospecting", StageKind.OPEN, 10, ForecastCategory.PIPELINE, [], 30),
    ("Discovery", StageKind.OPEN, 20, ForecastCategory.PIPELINE, [], 30),
    ("Demo", StageKind.OPEN, 40, ForecastCategory.PIPELINE, [], 30),
    ("Proposal", StageKind.OPEN, 60, ForecastCategory.BEST_CASE, ["amount", "close_date"], 30),
    ("Negotiation", StageKind.OPEN, 80, ForecastCategory.COMMIT, ["amount", "quote"], 45),
    ("Closed won", StageKind.WON, 100, ForecastCategory.CLOSED, ["amount"], None),
    ("Closed lost", StageKind.LOST, 0, ForecastCategory.OMITTED, ["loss_reason"], None),
]
DEFAULT_PIPELINE = "Sales"

EDITABLE_FIELDS = frozenset(
    {
        "name",
        "type",
        "account",
        "contact",
        "amount",
        "currency",
        "close_date",
        "probability",
        "forecast_category",
        "next_step",
        "product",
        "engaged_on",
        "term_months",
        "campaign",
        "custom",
        "owner_position",
        "lead",
        "loss_note",
    }
)


# --- pipelines ---------------------------------------------------------------------------------


@transaction.atomic
def pipeline_ensure_default() -> Pipeline:
    """The default pipeline with its seven stages; creates what is missing, changes nothing else."""
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        pipeline, _ = Pipeline.objects.get_or_create(
            name=DEFAULT_PIPELINE, defaults={"is_default": True}
        )
        if not pipeline.is_default:
            pipeline.is_default = True
            pipeline.save(update_fields=["is_default"])
    if not pipeline.stages.exists():
        Stage.objects.bulk_create(
            Stage(
                pipeline=pipeline,
                name=name,
                order=(i + 1) * 10,
                kind=kind,
                probability=probability,
                forecast_category=category,
                required_fields=required,
                max_days=max_days,
            )
            for i, (name, kind, probability, category, required, max_days) in enumerate(
                DEFAULT_STAGES
            )
        )
    return pipeline


def pipeline_default() -> Pipeline:
    return Pipeline.objects.filter(is_default=True).first() or pipeline_ensure_default()


def _first_open_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(kind=StageKind.OPEN).order_by("order", "id").first()
    if stage is None:
        raise ValidationError(f"The pipeline {pipeline} has no open stage.")
    return stage


def _closing_stage(pipeline: Pipeline, kind: str) -> Stage:
    stage = pipeline.stages.filter(kind=kind).order_by("order", "id").first()
    if stage is None:
        raise ValidationError(f"The pipeline {pipeline} has no {StageKind(kind).label} stage.")
    return stage


@transaction.atomic
def stage_save(
    *,
    pipeline: Pipeline,
    by: Any,
    name: str,
    kind: str = StageKind.OPEN,
    probability: int = 10,
    order: int | None = None,
    forecast_category: str = ForecastCategory.PIPELINE,
    required_fields: list[str] | None = None,
    max_days: int | None = None,
    stage: Stage | None = None,
) -> Stage:
    """Create (``stage=None``) or change a stage of ``pipeline``."""
    required_fields = list(required_fields or [])
    unknown = [r for r in required_fields if r not in REQUIREMENTS]
    if unknown:
        raise ValidationError({"required_fields": f"Unknown requirement(s): {', '.join(unknown)}."})
    if not 0 <= probability <= 100:
        raise ValidationError({"probability": "A probability is between 0 and 100."})
    values = {
        "name": name.strip(),
        "kind": kind,
        "probability": probability,
        "forecast_category": forecast_category,
        "required_fields": required_fields,
        "max_days": max_days,
    }
    if order is not None:
        values["order"] = order
    if not values["name"]:
        raise ValidationError({"name": "A stage needs a name."})
    clash = pipeline.stages.filter(name__iexact=values["name"])
    if stage is not None:
        clash = clash.exclude(pk=stage.pk)
    if clash.exists():
        raise ValidationError({"name": f"The pipeline already has a stage named {name!r}."})
    if stage is None:
        if order is None:
            last = pipeline.stages.order_by("-order").values_list("order", flat=True).first()
            values["order"] = (last or 0) + 10
        stage = Stage.objects.create(pipeline=pipeline, **values)
        audit_event_record(actor=by, action="stage.create", instance=stage)
        return stage
    changes = diff_fields(stage, values)
    if changes:
        stage.save()
        if "order" in changes or "kind" in changes:  # what "moved on" means has changed
            stage_changes_mark_advanced(
                opportunity_ids=Opportunity.objects.filter(pipeline=pipeline).values("pk")
            )
        audit_event_record(actor=by, action="stage.update", instance=stage, changes=changes)
    return stage


# --- the stage history ---------------------------------------------------------------------------

# StageChange.advanced for each change: did the deal later move to a won stage, or to an open
# stage of a higher order than the one this change entered? Plain SQL that SQLite and PostgreSQL
# both run (the migration that added the flag runs the same statement).
ADVANCED_SQL = (
    "EXISTS (SELECT 1 FROM pipeline_stagechange later "
    "JOIN pipeline_stage later_stage ON later_stage.id = later.to_stage_id "
    "WHERE later.opportunity_id = pipeline_stagechange.opportunity_id "
    "AND later.changed_at > pipeline_stagechange.changed_at "
    "AND (later_stage.kind = 'won' OR (later_stage.kind = 'open' AND later_stage.\"order\" > "
    '(SELECT entered."order" FROM pipeline_stage entered '
    "WHERE entered.id = pipeline_stagechange.to_stage_id))))"
)


def stage_changes_mark_advanced(*, opportunity_ids: Any = None) -> int:
    """Work out ``StageChange.advanced`` again for the history of ``opportunity_ids`` (a list
    or a queryset of ids; None: every deal), in one UPDATE. For paths that write many changes at
    once (imports, the demo, merges); returns the number of rows written."""
    from django.db import connection

    sql = f"UPDATE pipeline_stagechange SET advanced = {ADVANCED_SQL}"  # noqa: S608 (constant; ids are parameters)
    params: list[Any] = []
    if opportunity_ids is not None:
        if hasattr(opportunity_ids, "query"):
            subquery, sub_params = opportunity_ids.query.sql_with_params()
            sql += f" WHERE opportunity_id IN ({subquery})"
            params.extend(sub_params)
        else:
            ids = [int(pk) for pk in opportunity_ids]
            if not ids:
                return 0
            sql += f" WHERE opportunity_id IN ({', '.join(['%s'] * len(ids))})"
            params.extend(ids)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- opportunities -----------------------------------------------------------------------------


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


def _check_owner(owner_position: Any) -> None:
    if not isinstance(owner_position, Position):
        raise ValidationError({"owner_position": "An opportunity needs an owner position."})


@transaction.atomic
def opportunity_create(
    *,
    by: Any,
    owner_position: Position,
    name: str,
    account: Any = None,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    at: dt.datetime | None = None,
    **fields: Any,
) -> Opportunity:
    """Open a deal in ``stage`` (default: the pipeline's first open stage) and record that first
    step in the stage history."""
    _check_owner(owner_position)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "An opportunity needs a name."})
    unknown = set(fields) - EDITABLE_FIELDS - {"renewal_of", "created_by", "is_generated"}
    if unknown:
        raise ValidationError(f"Unknown opportunity field(s): {', '.join(sorted(unknown))}.")
    if "custom" in fields:
        from revline.crm.custom_fields import custom_values_clean

        fields["custom"] = custom_values_clean(entity="opportunity", values=fields["custom"] or {})
    pipeline = pipeline or (stage.pipeline if stage else pipeline_default())
    stage = stage or _first_open_stage(pipeline)
    if stage.pipeline_id != pipeline.pk:
        raise ValidationError({"stage": "That stage belongs to another pipeline."})
    if stage.kind != StageKind.OPEN:
        raise ValidationError({"stage": "Open a deal in an open stage, then close it."})
    amount = fields.get("amount")
    if amount is not None and Decimal(amount) < 0:
        raise ValidationError({"amount": "An amount cannot be negative."})
    now = _now(at)
    fields.setdefault("created_by", by if getattr(by, "pk", None) else None)
    opportunity = Opportunity(
        owner_position=owner_position,
        name=name,
        account=account,
        pipeline=pipeline,
        stage=stage,
        status=OpportunityStatus.OPEN,
        probability=fields.pop("probability", stage.probability),
        forecast_category=fields.pop("forecast_category", stage.forecast_category),
        stage_entered_at=now,
        **fields,
    )
    opportunity.full_clean(exclude=["owner_position", "pipeline", "stage", "custom"])
    opportunity.save()
    if at is not None:  # a back-dated opening (imports, conversions from history)
        Opportunity.objects.filter(pk=opportunity.pk).update(created_at=at)
    StageChange.objects.create(  # a new deal's only change: it has not moved on (advanced=False)
        opportunity=opportunity,
        from_stage=None,
        to_stage=stage,
        changed_at=now,
        changed_by=by if getattr(by, "pk", None) else None,
        amount=opportunity.amount,
        probability=opportunity.probability,
        owner_position=owner_position,
    )
    audit_event_record(actor=by, action="opportunity.create", instance=opportunity)
    return opportunity


@transaction.atomic
def opportunity_update(*, opportunity: Opportunity, by: Any, **fields: Any) -> Opportunity:
    """Change a deal's fields (not its stage: ``opportunity_move_stage`` does that)."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    if "name" in fields and not (fields["name"] or "").strip():
        raise ValidationError({"name": "An opportunity needs a name."})
    if fields.get("amount") is not None and Decimal(fields["amount"]) < 0:
        raise ValidationError({"amount": "An amount cannot be negative."})
    if "owner_position" in fields:
        _check_owner(fields["owner_position"])
    if "custom" in fields:
        from revline.crm.custom_fields import custom_values_clean

        merged = {**opportunity.custom, **(fields["custom"] or {})}
        fields["custom"] = custom_values_clean(entity="opportunity", values=merged)
    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    changes = diff_fields(opportunity, fields)
    if changes:
        opportunity.full_clean(exclude=["owner_position", "pipeline", "stage", "custom"])
        opportunity.save()
        if "owner_position" in changes:
            opportunity.quotes.update(owner_position=opportunity.owner_position)
        audit_event_record(
            actor=by, action="opportunity.update", instance=opportunity, changes=changes
        )
    return opportunity


def missing_requirements(
    opportunity: Opportunity, stage: Stage, *, loss_reason: str = ""
) -> list[str]:
    """What ``opportunity`` lacks to enter ``stage``: a list of requirement keys."""
    from revline.crm.choices import ActivityKind

    missing = []
    for requirement in stage.required_fields or []:
        if requirement == "amount":
            ok = opportunity.amount is not None
        elif requirement == "close_date":
            ok = opportunity.close_date is not None
        elif requirement == "account":
            ok = opportunity.account_id is not None
        elif requirement == "contact":
            ok = opportunity.contact_id is not None
        elif requirement == "next_step":
            ok = bool(opportunity.next_step.strip())
        elif requirement == "loss_reason":
            ok = bool(loss_reason or opportunity.loss_reason)
        elif requirement == "quote":
            ok = opportunity.quotes.exclude(status=QuoteStatus.SUPERSEDED).exists()
        elif requirement == "approved_quote":
            ok = opportunity.quotes.filter(
                status__in=[QuoteStatus.APPROVED, QuoteStatus.SENT, QuoteStatus.ACCEPTED]
            ).exists()
        elif requirement == "discovery_call":
            ok = opportunity.activities.filter(kind=ActivityKind.DISCOVERY_CALL).exists()
        elif requirement == "demo":
            ok = opportunity.activities.filter(kind=ActivityKind.DEMO).exists()
        else:
            ok = True
        if not ok:
            missing.append(requirement)
    return missing


class StageRequirementsMissing(ValidationError):
    """Raised when a deal lacks what a stage requires; ``missing`` lists the requirement keys."""

    def __init__(self, stage: Stage, missing: list[str]) -> None:
        self.stage = stage
        self.missing = missing
        needs = ", ".join(REQUIREMENTS.get(m, m) for m in missing)
        super().__init__(
            f"To enter {stage.name} this deal needs {needs}.", code="stage_requirements"
        )


@transaction.atomic
def opportunity_move_stage(
    *,
    opportunity: Opportunity,
    stage: Stage,
    by: Any,
    at: dt.datetime | None = None,
    loss_reason: str = "",
    loss_note: str = "",
) -> Opportunity:
    """Move a deal to ``stage``: checks what the stage requires, keeps the change (from, to,
    when, by whom, amount then), and for won and lost stages closes the deal. A deal won with a
    subscription term gets its renewal opportunity."""
    opportunity = (
        Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
    )
    if stage.pipeline_id != opportunity.pipeline_id:
        raise ValidationError({"stage": "That stage belongs to another pipeline."})
    if stage.pk == opportunity.stage_id:
        return opportunity
    if loss_reason and loss_reason not in LossReason.values:
        raise ValidationError({"loss_reason": f"Unknown loss reason {loss_reason!r}."})
    missing = missing_requirements(opportunity, stage, loss_reason=loss_reason)
    if missing:
        raise StageRequirementsMissing(stage, missing)
    now = _now(at)
    before = opportunity.stage
    changes: dict[str, tuple[Any, Any]] = {"stage": (before.name, stage.name)}
    opportunity.stage = stage
    opportunity.stage_entered_at = now
    opportunity.probability = stage.probability
    opportunity.forecast_category = stage.forecast_category
    new_status: str = {
        StageKind.OPEN: OpportunityStatus.OPEN,
        StageKind.WON: OpportunityStatus.WON,
        StageKind.LOST: OpportunityStatus.LOST,
    }[StageKind(stage.kind)]
    if new_status != opportunity.status:
        changes["status"] = (opportunity.status, new_status)
    opportunity.status = new_status
    if stage.kind == StageKind.OPEN:
        opportunity.closed_on = None
        opportunity.loss_reason = ""
    else:
        opportunity.closed_on = timezone.localdate(now) if timezone.is_aware(now) else now.date()
        if stage.kind == StageKind.LOST:
            opportunity.loss_reason = loss_reason or opportunity.loss_reason
            opportunity.loss_note = loss_note or opportunity.loss_note
            changes["loss_reason"] = ("", opportunity.loss_reason)
        else:
            opportunity.loss_reason = ""
    opportunity.save()
    change = StageChange.objects.create(
        opportunity=opportunity,
        from_stage=before,
        to_stage=stage,
        changed_at=now,
        changed_by=by if getattr(by, "pk", None) else None,
        amount=opportunity.amount,
        probability=opportunity.probability,
        owner_position_id=opportunity.owner_position_id,
    )
    # the flags of the deal's few entries, worked out again in one UPDATE (back-dated or not)
    stage_changes_mark_advanced(opportunity_ids=[change.opportunity_id])
    audit_event_record(
        actor=by, action="opportunity.move_stage", instance=opportunity, changes=changes
    )
    if stage.kind == StageKind.WON:
        _after_won(opportunity, by=by)
    return opportunity


def _after_won(opportunity: Opportunity, *, by: Any) -> None:
    if opportunity.account_id:
        from revline.crm.choices import CustomerStatus
        from revline.crm.models import Account

        Account.objects.filter(pk=opportunity.account_id).exclude(
            customer_status=CustomerStatus.CUSTOMER
        ).update(customer_status=CustomerStatus.CUSTOMER, customer_since=opportunity.closed_on)
    if _term_months(opportunity):
        renewal_create(opportunity=opportunity, by=by)


def _term_months(opportunity: Opportunity) -> int | None:
    if opportunity.term_months:
        return opportunity.term_months
    product = opportunity.product
    if product is not None and product.is_subscription:
        return product.term_months
    return None


@transaction.atomic
def opportunity_close(
    *,
    opportunity: Opportunity,
    won: bool,
    by: Any,
    at: dt.datetime | None = None,
    loss_reason: str = "",
    loss_note: str = "",
) -> Opportunity:
    """Close a deal won or lost: a move to the pipeline's won or lost stage."""
    stage = _closing_stage(opportunity.pipeline, StageKind.WON if won else StageKind.LOST)
    return opportunity_move_stage(
        opportunity=opportunity,
        stage=stage,
        by=by,
        at=at,
        loss_reason=loss_reason,
        loss_note=loss_note,
    )


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    import calendar

    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@transaction.atomic
def renewal_create(*, opportunity: Opportunity, by: Any) -> Opportunity:
    """The renewal of a won subscription deal, due at the end of its term. Idempotent: a deal
    has one renewal."""
    existing = opportunity.renewals.filter(type=OpportunityType.RENEWAL).first()
    if existing is not None:
        return existing
    if opportunity.status != OpportunityStatus.WON:
        raise ValidationError("Only a won deal renews.")
    term = _term_months(opportunity)
    if not term:
        raise ValidationError("This deal has no subscription term to renew.")
    start = opportunity.closed_on or timezone.localdate()
    account_name = opportunity.account.name if opportunity.account is not None else opportunity.name
    return opportunity_create(
        by=by,
        owner_position=opportunity.owner_position,
        name=f"{account_name} renewal {_add_months(start, term):%Y-%m}",
        account=opportunity.account,
        pipeline=opportunity.pipeline,
        type=OpportunityType.RENEWAL,
        amount=opportunity.amount,
        currency=opportunity.currency,
        close_date=_add_months(start, term),
        product=opportunity.product,
        contact=opportunity.contact,
        term_months=term,
        renewal_of=opportunity,
        is_generated=opportunity.is_generated,
    )


@transaction.atomic
def objection_record(
    *,
    opportunity: Opportunity,
    by: Any,
    category: str,
    text: str,
    response: str = "",
    resolved: bool = False,
    at: dt.datetime | None = None,
) -> Objection:
    if category not in ObjectionCategory.values:
        raise ValidationError({"category": f"Unknown objection category {category!r}."})
    if not (text or "").strip():
        raise ValidationError({"text": "Say what the buyer objected to."})
    objection = Objection.objects.create(
        opportunity=opportunity,
        category=category,
        text=text.strip(),
        response=(response or "").strip(),
        resolved=resolved,
        raised_at=_now(at),
        raised_by=by if getattr(by, "pk", None) else None,
    )
    audit_event_record(
        actor=by,
        action="opportunity.objection",
        instance=opportunity,
        changes={"objection": (None, f"{objection.get_category_display()}: {objection.text}")},
    )
    return objection


@transaction.atomic
def objection_update(*, objection: Objection, by: Any, **fields: Any) -> Objection:
    unknown = set(fields) - {"category", "text", "response", "resolved"}
    if unknown:
        raise ValidationError(f"Unknown objection field(s): {', '.join(sorted(unknown))}.")
    if "category" in fields and fields["category"] not in ObjectionCategory.values:
        raise ValidationError({"category": f"Unknown objection category {fields['category']!r}."})
    changes = diff_fields(objection, fields)
    if changes:
        objection.save()
        audit_event_record(
            actor=by,
            action="opportunity.objection_update",
            instance=objection.opportunity,
            changes={f"objection.{k}": v for k, v in changes.items()},
        )
    return objection


@transaction.atomic
def competitor_set(*, opportunity: Opportunity, names: list[str], by: Any) -> list[Competitor]:
    """The competitors present on a deal (creates competitors named for the first time)."""
    wanted = []
    seen = set()
    for raw in names:
        name = (raw or "").strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            wanted.append(name)
    competitors = []
    for name in wanted:
        competitor = Competitor.objects.filter(name__iexact=name).first()
        if competitor is None:
            competitor = Competitor.objects.create(name=name)
        competitors.append(competitor)
    before = sorted(opportunity.competitors.values_list("name", flat=True))
    opportunity.competitors.set(competitors)
    after = sorted(c.name for c in competitors)
    if before != after:
        audit_event_record(
            actor=by,
            action="opportunity.competitors",
            instance=opportunity,
            changes={"competitors": (before, after)},
        )
    return competitors


# Quotes and approvals are written in their own module; every pipeline write is importable here.
from revline.pipeline.quoting import (  # noqa: E402
    approval_decide,
    approval_may_decide,
    discount_policy,
    quote_approvers,
    quote_create,
    quote_mark_accepted,
    quote_mark_declined,
    quote_revise,
    quote_send,
    quote_submit,
)

__all__ = [
    "StageRequirementsMissing",
    "approval_decide",
    "approval_may_decide",
    "competitor_set",
    "discount_policy",
    "missing_requirements",
    "objection_record",
    "objection_update",
    "opportunity_close",
    "opportunity_create",
    "opportunity_move_stage",
    "opportunity_update",
    "pipeline_default",
    "pipeline_ensure_default",
    "quote_approvers",
    "quote_create",
    "quote_mark_accepted",
    "quote_mark_declined",
    "quote_revise",
    "quote_send",
    "quote_submit",
    "renewal_create",
    "stage_changes_mark_advanced",
    "stage_save",
]
