"""Reads of the scoring app, always for an acting user and through the lead visibility rule.

A user sees the score, the factors, the override and the fit of the leads they may see, and
reports (evaluation, distribution, conversion by tier) computed over those leads only: a
reader who sees every lead gets the figures stored with the model; anyone else gets the same
figures recomputed from the stored out-of-fold predictions of the leads they see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, NullIf

from revline.crm.models import Account, Lead
from revline.org.visibility import EVERYTHING, VIEW, record_visibility_q
from revline.scoring import ml
from revline.scoring.choices import ModelKind, ModelStatus, Tier
from revline.scoring.features import labelled_q
from revline.scoring.models import FitScore, IcpRule, LeadScore, ScoringModel

REPORT_FIELDS = ("auc", "pr_auc", "brier", "log_loss", "n", "converted", "base_rate")
# the export's columns (revline.core.export), over the rows of ``export_rows``
EXPORT_COLUMNS = [
    ("source_id", lambda r: r[0]),
    ("probability", lambda r: r[1]),
    ("score", lambda r: r[2]),
    ("tier", lambda r: r[3]),
]


def sees_every_lead(user: Any) -> bool:
    return record_visibility_q(user, VIEW, Lead) == EVERYTHING


def visible_leads(user: Any, *, source_name: str | None = None) -> QuerySet[Lead]:
    qs = Lead.objects.visible_to(user, VIEW).filter(merged_into__isnull=True)
    if source_name is not None:
        qs = qs.filter(source_name=source_name)
    return qs


def scored_leads(
    user: Any,
    *,
    source_name: str | None = None,
    tier: str | None = None,
    order: str = "-score",
) -> QuerySet[Lead]:
    """The leads ``user`` sees with their score, override and fit (``select_related``), and
    ``effective_score`` / ``effective_tier``: the override where a person set one, else the
    automated score. ``order``: ``-score`` (the SDR queue: best first, unscored last),
    ``score`` or ``-id``."""
    qs = (
        visible_leads(user, source_name=source_name)
        .select_related("score", "score_override", "fit")
        .annotate(
            effective_score=Coalesce("score_override__score", "score__score"),
            effective_tier=Coalesce(NullIf("score_override__tier", Value("")), "score__tier"),
        )
    )
    if tier:
        qs = qs.filter(effective_tier=tier) if tier in Tier.values else qs.none()
    if order == "score":
        return qs.order_by(F("effective_score").asc(nulls_last=True), "id")
    if order == "-id":
        return qs.order_by("-id")
    return qs.order_by(F("effective_score").desc(nulls_last=True), "-id")


def factor_text(factor: dict[str, Any]) -> str:
    """A factor in plain words: "Lead source: Google"."""
    return f"{factor['label']}: {factor['value']}"


@dataclass
class LeadScoreView:
    lead: Lead
    score: LeadScore | None
    override: Any
    fit: FitScore | None
    model: ScoringModel | None
    factors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    exact: bool = False

    @property
    def effective_score(self) -> int | None:
        if self.override is not None and self.override.score is not None:
            return self.override.score
        return self.score.score if self.score else None

    @property
    def effective_tier(self) -> str | None:
        if self.override is not None and self.override.tier:
            return self.override.tier
        return self.score.tier if self.score else None

    @property
    def summary(self) -> str:
        """The score in plain words, for the lead page."""
        if self.score is None:
            return "Not scored yet."
        if self.score.kind == ModelKind.FIT:
            head = f"Fit score {self.score.score}/100 (tier {self.score.tier}): no model yet"
        else:
            head = (
                f"Score {self.score.score}/100, tier {self.score.tier}: about "
                f"{round(100 * (self.score.probability or 0))} in 100 leads like this converted"
            )
        ups = [factor_text(f) for f in self.factors.get("positive", [])]
        downs = [factor_text(f) for f in self.factors.get("negative", [])]
        parts = [head + "."]
        if ups:
            parts.append("Raised by " + "; ".join(ups) + ".")
        if downs:
            parts.append("Lowered by " + "; ".join(downs) + ".")
        if self.override is not None:
            parts.append(
                f"Overridden to {self.effective_tier}"
                + (f" ({self.override.score})" if self.override.score is not None else "")
                + f": {self.override.reason}"
            )
        return " ".join(parts)


def lead_score_detail(user: Any, lead_id: int, *, exact: bool = False) -> LeadScoreView:
    """One visible lead's score explained; raises ``Lead.DoesNotExist`` otherwise (answer it
    404). ``exact`` recomputes the factors with TreeSHAP (LightGBM ``pred_contrib``)."""
    lead = (
        visible_leads(user)
        .select_related("score", "score__model", "score_override", "fit")
        .get(pk=lead_id)
    )
    score = getattr(lead, "score", None)
    view = LeadScoreView(
        lead=lead,
        score=score,
        override=getattr(lead, "score_override", None),
        fit=getattr(lead, "fit", None),
        model=score.model if score else None,
        factors=(score.factors if score else {}) or {},
    )
    if exact and view.model is not None and view.model.kind == ModelKind.LIGHTGBM:
        from revline.scoring import features, services

        scorer = services._scorer(view.model)
        keys = {f["key"] for f in scorer.spec["features"]}
        frame, _, _ = features.load_frame(Lead.objects.filter(pk=lead.pk), keys=keys)
        contrib = scorer.exact_contributions(features.encode(frame, scorer.spec))
        view.factors = services._factor_lists(contrib, scorer.spec, frame, 5)[0]
        view.exact = True
    return view


def scoring_models(user: Any, *, source_name: str | None = None) -> list[dict[str, Any]]:
    """Model versions, newest first. Their figures describe every training lead, so only a
    reader who sees every lead gets them; anyone else gets the versions without figures (their
    own figures come from ``evaluation_report``)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    full = sees_every_lead(user)
    qs = ScoringModel.objects.defer("artifact", "oof")
    if source_name is not None:
        qs = qs.filter(source_name=source_name)
    out = []
    for m in qs:
        row: dict[str, Any] = {
            "id": m.pk,
            "source_name": m.source_name,
            "version": m.version,
            "kind": m.kind,
            "status": m.status,
            "validation": m.validation,
            "trained_at": m.trained_at,
            "notes": m.notes,
            "leakage_flags": [{"field": f["field"], "label": f["label"]} for f in m.leakage_flags],
        }
        if full:
            row.update(
                n=m.n,
                converted=m.n_converted,
                seconds=m.seconds,
                leakage_flags=m.leakage_flags,
                metrics={k: m.metrics.get(k) for k in REPORT_FIELDS},
                baselines={
                    name: {k: b.get(k) for k in REPORT_FIELDS}
                    for name, b in (m.metrics.get("baselines") or {}).items()
                },
            )
        out.append(row)
    return out


def active_model(source_name: str = "") -> ScoringModel | None:
    return ScoringModel.objects.filter(source_name=source_name, status=ModelStatus.ACTIVE).first()


def latest_model(source_name: str = "") -> ScoringModel | None:
    return ScoringModel.objects.filter(source_name=source_name).order_by("-version").first()


def evaluation_report(
    user: Any, *, source_name: str = "", model: ScoringModel | None = None
) -> dict[str, Any] | None:
    """The evaluation of a source's active model (or ``model``): ROC AUC, PR AUC, Brier,
    calibration curve, lift/gain, top features, each beside the two baselines, over the
    training leads ``user`` sees. None when there is no model."""
    model = model or active_model(source_name)
    if model is None:
        return None
    head: dict[str, Any] = {
        "source": model.source_name,
        "model": {
            "id": model.pk,
            "version": model.version,
            "kind": model.kind,
            "status": model.status,
            "validation": model.validation,
            "trained_at": model.trained_at.isoformat(),
            "seconds": model.seconds,
        },
        "notes": model.notes,
        "leakage_flags": model.leakage_flags,
        "excluded_fields": model.excluded_fields,
        "top_features": model.metrics.get("top_features", []),
        "calibration_method": model.metrics.get("calibration_method"),
    }
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {**head, **ml.metrics(np.zeros(0), np.zeros(0)), "baselines": {}, "scope": "none"}
    if sees_every_lead(user):
        stored = {k: v for k, v in model.metrics.items() if k not in ("single_field_auc",)}
        return {**head, **stored, "scope": "all"}
    arrays = ml.unpack_arrays(
        ScoringModel.objects.filter(pk=model.pk).values_list("oof", flat=True).get()
    )
    if not arrays:
        return {**head, **ml.metrics(np.zeros(0), np.zeros(0)), "baselines": {}, "scope": "visible"}
    seen = visible_leads(user, source_name=model.source_name or None).filter(labelled_q())
    visible = np.fromiter(seen.order_by().values_list("pk", flat=True), dtype=np.int64)
    keep = np.isin(arrays["lead_id"], visible)
    report = ml.evaluation(
        arrays["y"][keep],
        arrays["model"][keep],
        arrays["naive_bayes"][keep],
        arrays["logistic_regression"][keep],
    )
    return {**head, **report, "scope": "visible"}


def score_distribution(user: Any, *, source_name: str | None = None) -> dict[str, Any]:
    """For managers: how the visible scored leads spread over scores and tiers, and how those
    whose outcome is known actually converted, per tier."""
    leads = visible_leads(user, source_name=source_name).filter(score__isnull=False)
    bucket = Case(
        *[When(score__score__lt=(b + 1) * 10, then=Value(b)) for b in range(9)],
        default=Value(9),
        output_field=IntegerField(),
    )
    histogram = {b: 0 for b in range(10)}
    counts = leads.annotate(bucket=bucket).values("bucket").annotate(n=Count("pk")).order_by()
    for b, n in counts.values_list("bucket", "n"):
        histogram[b] = n
    converted = Q(outcome=True) | Q(outcome__isnull=True, status="converted")
    tiers = []
    by_tier: dict[str, tuple[int, int, int]] = {
        t: (n, closed, won)
        for t, n, closed, won in leads.values("score__tier")
        .annotate(
            n=Count("pk"),
            closed=Count("pk", filter=labelled_q()),
            converted=Count("pk", filter=labelled_q() & converted),
        )
        .order_by()
        .values_list("score__tier", "n", "closed", "converted")
    }
    for tier in Tier.values:
        n, closed, won = by_tier.get(tier, (0, 0, 0))
        tiers.append(
            {
                "tier": tier,
                "leads": n,
                "closed": closed,
                "converted": won,
                "conversion_rate": won / closed if closed else None,
            }
        )
    return {
        "histogram": [
            {"low": b * 10, "high": b * 10 + 9 if b < 9 else 100, "leads": histogram[b]}
            for b in range(10)
        ],
        "tiers": tiers,
        "scored": sum(histogram.values()),
    }


def export_rows(user: Any, *, source_name: str | None) -> Iterator[tuple[str, Any, Any, Any]]:
    """(source id, probability, score, tier) of every visible live lead of the source, by
    id; the source id is the import's id, else the lead's own."""
    rows = (
        visible_leads(user, source_name=source_name)
        .order_by("id")
        .values_list("id", "external_id", "score__probability", "score__score", "score__tier")
    )
    for pk, external, probability, score, tier in rows.iterator(chunk_size=5000):
        yield (
            external or str(pk),
            "" if probability is None else round(probability, 6),
            "" if score is None else score,
            tier or "",
        )


def icp_rules(user: Any) -> QuerySet[IcpRule]:
    """The ICP rules (configuration, not lead data): any signed-in user may read them."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return IcpRule.objects.none()
    return IcpRule.objects.all()


def account_fit(user: Any, account_id: int) -> FitScore | None:
    """A visible account's fit; raises ``Account.DoesNotExist`` for an invisible one."""
    account = Account.objects.visible_to(user, VIEW).get(pk=account_id)
    return FitScore.objects.filter(account=account).first()
