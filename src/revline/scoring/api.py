"""API routes of the scoring app, mounted under ``/api/v1/scoring`` (revline/api/api.py).

Reads go through ``revline.scoring.selectors`` (so through the lead visibility predicate: a
lead outside the caller's view is a 404, and reports cover only the leads the caller sees);
writes through ``revline.scoring.services``. Training, the scoring profile and the ideal
customer profile are RevOps' (and admins'); an override needs the right to change the lead.

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations.)
"""

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from revline.api.errors import Forbidden, NotFound
from revline.api.schemas import with_errors
from revline.core.export import csv_response
from revline.crm.models import Lead
from revline.org.visibility import CHANGE, can
from revline.scoring import selectors, services
from revline.scoring.models import IcpRule, ScoreOverride
from revline.scoring.schemas import (
    IcpRuleIn,
    IcpRuleOut,
    LeadScoreOut,
    ModelOut,
    OverrideIn,
    OverrideOut,
    TrainIn,
    TrainQueuedOut,
)

router = Router(tags=["scoring"])


def _require_manager(request: HttpRequest) -> None:
    if not selectors.may_manage_scoring(request.auth):
        raise Forbidden("Only RevOps and administrators manage lead scoring.")


def _model_out(user: Any, model_id: int) -> dict[str, Any]:
    rows = [m for m in selectors.scoring_models(user) if m["id"] == model_id]
    if not rows:
        raise NotFound("No such model version.")
    return rows[0]


# --- models, training, evaluation -----------------------------------------------------------------


@router.post(
    "/train",
    response=with_errors({201: ModelOut, 202: TrainQueuedOut}, 403),
    summary="Train a new model version (in the background unless wait is true)",
)
def train(request: HttpRequest, body: TrainIn):
    """A new version of the source's model, then its leads are rescored. A version flagged
    for review (a field alone predicts the outcome) has status ``flagged`` and lists
    ``leakage_flags``; exclude them or allow them (``allow_flagged``) and train again."""
    _require_manager(request)
    source = body.source.strip()
    if body.wait:
        model = services.scoring_model_train(
            by=request.auth,
            source_name=source,
            exclude=body.exclude,
            allow_flagged=body.allow_flagged,
        )
        return Status(201, _model_out(request.auth, model.pk))
    queued = services.scoring_train_queue(
        by=request.auth,
        source_name=source,
        exclude=body.exclude,
        allow_flagged=body.allow_flagged,
    )
    return Status(202, {"queued": True, "task_id": queued.task_id, "source": source})


@router.get(
    "/models",
    response=with_errors({200: list[ModelOut]}),
    summary="Model versions, newest first",
)
def models(request: HttpRequest, source: str | None = None):
    """Every version with its kind, status and notes; the figures over every training lead
    only for a reader who sees every lead (others read ``/evaluation``)."""
    return selectors.scoring_models(request.auth, source_name=source)


@router.get(
    "/evaluation",
    response=with_errors({200: dict[str, Any]}, 404),
    summary="The active model's evaluation beside both baselines",
)
def evaluation(request: HttpRequest, source: str = ""):
    """Cross-validated (out-of-fold) ROC AUC, PR AUC, Brier score, calibration curve, lift and
    gain, top features, beside a per-field frequency model (naive Bayes) and logistic
    regression on the same folds; over the training leads the caller sees (``scope``)."""
    report = selectors.evaluation_report(request.auth, source_name=source)
    if report is None:
        raise NotFound("No model for this source yet.")
    return report


@router.get(
    "/distribution",
    response=with_errors({200: dict[str, Any]}),
    summary="Score distribution and conversion by tier over your leads",
)
def distribution(request: HttpRequest, source: str | None = None):
    return selectors.score_distribution(request.auth, source_name=source)


@router.get(
    "/export",
    response=with_errors({200: list[dict[str, Any]]}),
    summary="Each visible lead's source id, probability, score and tier",
)
def export(request: HttpRequest, source: str | None = None, format: str = "csv"):
    """``format=csv`` (default) streams ``source_id,probability,score,tier``; ``json`` answers
    a list. Leads changed or imported since their score are scored first."""
    services.leads_rescore_stale(source_name=source)
    rows = selectors.export_rows(request.auth, source_name=source)
    if format == "json":
        return [{"source_id": s, "probability": p, "score": sc, "tier": t} for s, p, sc, t in rows]
    return csv_response(rows, selectors.EXPORT_COLUMNS, filename="lead-scores.csv")


# --- one lead's score ----------------------------------------------------------------------------


def _lead_out(view: selectors.LeadScoreView) -> dict[str, Any]:
    score = view.score
    return {
        "lead": view.lead.pk,
        "source_id": view.lead.external_id or str(view.lead.pk),
        "score": score.score if score else None,
        "probability": score.probability if score else None,
        "tier": score.tier if score else None,
        "kind": score.kind if score else None,
        "model": view.model.pk if view.model else None,
        "model_version": view.model.version if view.model else None,
        "scored_at": score.scored_at if score else None,
        "factors": view.factors or {"positive": [], "negative": []},
        "exact": view.exact,
        "fit": view.fit,
        "override": view.override,
        "effective_score": view.effective_score,
        "effective_tier": view.effective_tier,
        "summary": view.summary,
    }


@router.get(
    "/leads/{lead_id}",
    response=with_errors({200: LeadScoreOut}, 404),
    summary="A lead's score, factors, fit and override",
)
def lead_score(request: HttpRequest, lead_id: int, exact: bool = False):
    """``exact=true`` recomputes the factors with TreeSHAP (LightGBM ``pred_contrib``)."""
    return _lead_out(selectors.lead_score_detail(request.auth, lead_id, exact=exact))


def _changeable_lead(request: HttpRequest, lead_id: int) -> Lead:
    lead = selectors.visible_leads(request.auth).get(pk=lead_id)  # 404 outside the view
    if not can(request.auth, CHANGE, lead):
        raise Forbidden("You may see this lead but not change its score.")
    return lead


@router.put(
    "/leads/{lead_id}/override",
    response=with_errors({200: OverrideOut}, 403, 404),
    summary="Set a person's score or tier for a lead",
)
def override_set(request: HttpRequest, lead_id: int, body: OverrideIn):
    """Shown instead of the automated score, which keeps being computed and never overwrites
    it. With a score and no tier, the tier follows from the model's quartiles."""
    lead = _changeable_lead(request, lead_id)
    return services.score_override_set(
        lead=lead, by=request.auth, score=body.score, tier=body.tier, reason=body.reason
    )


@router.delete(
    "/leads/{lead_id}/override",
    response=with_errors({204: None}, 403, 404),
    summary="Remove a lead's override",
)
def override_clear(request: HttpRequest, lead_id: int):
    lead = _changeable_lead(request, lead_id)
    if not ScoreOverride.objects.filter(lead=lead).exists():
        raise NotFound("This lead has no override.")
    services.score_override_clear(lead=lead, by=request.auth)
    return Status(204, None)


# --- the ideal customer profile ------------------------------------------------------------------


@router.get("/icp-rules", response=with_errors({200: list[IcpRuleOut]}), summary="ICP rules")
def icp_rules(request: HttpRequest):
    return selectors.icp_rules(request.auth)


@router.post(
    "/icp-rules",
    response=with_errors({201: IcpRuleOut}, 403),
    summary="Add an ICP rule",
)
def icp_rule_create(request: HttpRequest, body: IcpRuleIn):
    """Fit scores follow on the next refresh (``POST /fit/refresh``)."""
    _require_manager(request)
    return Status(201, services.icp_rule_save(by=request.auth, **body.model_dump()))


@router.put(
    "/icp-rules/{rule_id}",
    response=with_errors({200: IcpRuleOut}, 403, 404),
    summary="Change an ICP rule",
)
def icp_rule_update(request: HttpRequest, rule_id: int, body: IcpRuleIn):
    _require_manager(request)
    rule = IcpRule.objects.get(pk=rule_id)
    return services.icp_rule_save(by=request.auth, rule=rule, **body.model_dump())


@router.delete(
    "/icp-rules/{rule_id}",
    response=with_errors({204: None}, 403, 404),
    summary="Delete an ICP rule",
)
def icp_rule_delete(request: HttpRequest, rule_id: int):
    _require_manager(request)
    services.icp_rule_delete(rule=IcpRule.objects.get(pk=rule_id), by=request.auth)
    return Status(204, None)


@router.post(
    "/fit/refresh",
    response=with_errors({202: dict[str, Any]}, 403),
    summary="Recompute every lead's and account's fit score (in the background)",
)
def fit_refresh(request: HttpRequest):
    _require_manager(request)
    queued = services.fit_refresh_queue()
    return Status(202, {"queued": True, "task_id": queued.task_id})
