"""Reads of the scoring app, always for an acting user and through the lead visibility rule.

A user sees the score, the factors, the override and the fit of the leads they may see, and
reports (evaluation, distribution, conversion by tier and by score band) computed over those
leads only: a reader who sees every lead gets the figures stored with the model; anyone else
gets the same figures recomputed from the stored out-of-fold predictions of the leads they see.

Also here: who may read the model pages and who manages scoring, the SDR queue ordered by
score, one lead's score in plain words (``LeadScoreView.sentence`` / ``summary``: the one
phrasing the lead page, the explanation page and the API share), the sources with a model,
training jobs in the queue and flagged versions awaiting review.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.formats import date_format

from revline.crm.models import Account, Lead
from revline.org.choices import RoleType
from revline.org.selectors import user_is_org_admin
from revline.org.visibility import EVERYTHING, VIEW, held_roles, record_visibility_q
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
# Who reads the model pages (versions, evaluation): managers and above, and RevOps. Their
# figures are computed over the leads each reader sees.
MODEL_READERS = frozenset(
    {
        RoleType.CEO,
        RoleType.CSO,
        RoleType.CRO,
        RoleType.VP_SALES,
        RoleType.SALES_MANAGER,
        RoleType.REVOPS,
    }
)
QUEUE_ORDERS = ("score", "work")


# --- who may do what ------------------------------------------------------------------------------


def may_read_models(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or held_roles(user) & MODEL_READERS)


def may_manage_scoring(user: Any) -> bool:
    """Train, review flagged fields, edit the ideal customer profile: RevOps and admins."""
    return user_is_org_admin(user=user)


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


def queue_with_scores(qs: QuerySet[Lead], *, order: str = "score") -> QuerySet[Lead]:
    """The CRM lead queue (``crm.selectors.lead_queue``, which starts from the visibility
    predicate) with each lead's score and override joined in (no query per row) and
    ``effective_score`` / ``effective_tier`` annotated: a person's override where set, else
    the automated score. ``order="score"`` puts the best first (priority tier, then score;
    unscored leads last, in working order); ``order="work"`` keeps the working order."""
    working_order = list(qs.query.order_by)
    qs = qs.select_related("score", "score_override").annotate(
        effective_score=Coalesce("score_override__score", "score__score"),
        effective_tier=Coalesce(NullIf("score_override__tier", Value("")), "score__tier"),
    )
    if order == "work":
        return qs
    return qs.order_by(
        F("effective_tier").asc(nulls_last=True),
        F("effective_score").desc(nulls_last=True),
        *working_order,
    )


def top_factors(factors: dict[str, Any] | None, *, up: int = 2, down: int = 1) -> dict[str, list]:
    """The strongest factors of a stored score for a list row."""
    factors = factors or {}
    return {
        "positive": list(factors.get("positive") or [])[:up],
        "negative": list(factors.get("negative") or [])[:down],
    }


# --- one lead's score in plain words --------------------------------------------------------------


def effect_text(effect: float, kind: str) -> str:
    """A factor's effect as shown: log-odds for a model, rule weight for the fit score."""
    if kind == ModelKind.FIT:
        return f"{effect:+.0f}"
    return f"{effect:+.1f}" if abs(effect) >= 0.095 else f"{effect:+.2f}"


@dataclass
class Factor:
    label: str
    value: str
    effect: float
    effect_text: str

    @property
    def text(self) -> str:
        """A factor in plain words: "Lead source = Referral (+0.9)"."""
        return f"{self.label} = {self.value} ({self.effect_text})"


def factor_list(items: list[dict[str, Any]], kind: str) -> list[Factor]:
    """Stored factors (``LeadScore.factors``' sides) as ``Factor`` rows."""
    out = []
    for f in items:
        effect = float(f.get("effect") or 0.0)
        out.append(
            Factor(
                label=str(f.get("label", "")),
                value=str(f.get("value", "")),
                effect=effect,
                effect_text=effect_text(effect, kind),
            )
        )
    return out


def model_label(model: ScoringModel | None, kind: str) -> str:
    if model is None:
        return "the ideal-customer-profile fit (no model yet)"
    if kind == ModelKind.FIT:
        return f"model v{model.version} (fit score only: too little history)"
    if kind == ModelKind.FREQUENCY:
        return f"model v{model.version} (frequency model: too little history for the full one)"
    return f"model v{model.version}"


@dataclass
class LeadScoreView:
    """One lead's score as the lead page, the explanation page and the API show it."""

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
    def kind(self) -> str:
        return self.score.kind if self.score else ""

    @property
    def positive(self) -> list[Factor]:
        return factor_list(self.factors.get("positive") or [], self.kind)

    @property
    def negative(self) -> list[Factor]:
        return factor_list(self.factors.get("negative") or [], self.kind)

    @property
    def model_label(self) -> str:
        return model_label(self.model, self.kind) if self.score else ""

    @property
    def sentence(self) -> str:
        """The score in words: "Scored 82/100 (tier A) by model v3 on 27 Nov 2026: most
        positive: Lead source = Referral (+0.9), ...; most negative: ..."."""
        score = self.score
        if score is None:
            return "Not scored yet: leads are scored when a model is trained or ICP rules exist."
        head = (
            f"Scored {score.score}/100 (tier {score.tier}) by {self.model_label} "
            f"on {date_format(timezone.localtime(score.scored_at), 'j M Y')}"
        )
        parts = []
        if positive := self.positive:
            parts.append("most positive: " + ", ".join(f.text for f in positive))
        if negative := self.negative:
            parts.append("most negative: " + ", ".join(f.text for f in negative))
        return head + (": " + "; ".join(parts) if parts else "") + "."

    @property
    def chance(self) -> str:
        """What a calibrated probability means, for a score that has one."""
        if self.score is None or self.score.probability is None:
            return ""
        return (
            f"About {round(100 * self.score.probability)} in 100 leads like this one converted "
            "(a calibrated probability)."
        )

    @property
    def override_text(self) -> str:
        if self.override is None:
            return ""
        return (
            f"Overridden to {self.effective_tier}"
            + (f" ({self.override.score})" if self.override.score is not None else "")
            + f": {self.override.reason}"
        )

    @property
    def summary(self) -> str:
        """The whole explanation in one text (the API's ``summary``): the sentence, the
        chance, and the override where a person set one."""
        return " ".join(p for p in (self.sentence, self.chance, self.override_text) if p)


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


def _score_band() -> Case:
    """A scored lead's band of ten points, 0 (0-9) to 9 (90-100)."""
    return Case(
        *[When(score__score__lt=(b + 1) * 10, then=Value(b)) for b in range(9)],
        default=Value(9),
        output_field=IntegerField(),
    )


def score_distribution(user: Any, *, source_name: str | None = None) -> dict[str, Any]:
    """For managers: how the visible scored leads spread over scores and tiers, and how those
    whose outcome is known actually converted, per tier."""
    leads = visible_leads(user, source_name=source_name).filter(score__isnull=False)
    bucket = _score_band()
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


# --- the scoring pages' other reads ----------------------------------------------------------------


def sources() -> list[str]:
    """Sources with a model version ("" is every lead), the every-lead one first."""
    names = set(ScoringModel.objects.values_list("source_name", flat=True).distinct())
    return sorted(names, key=lambda s: (s != "", s.casefold()))


def conversion_by_band(user: Any, *, source_name: str | None = None) -> list[dict[str, Any]]:
    """Over the scored leads ``user`` sees, per score band of ten points: how many, how many
    have an outcome, and how many of those converted."""
    leads = visible_leads(user, source_name=source_name).filter(score__isnull=False)
    band = _score_band()
    converted = Q(outcome=True) | Q(outcome__isnull=True, status="converted")
    rows = {
        r["band"]: r
        for r in leads.annotate(band=band)
        .values("band")
        .annotate(
            n=Count("pk"),
            closed=Count("pk", filter=labelled_q()),
            converted=Count("pk", filter=labelled_q() & converted),
        )
        .order_by()
    }
    out = []
    for b in range(10):
        r = rows.get(b, {"n": 0, "closed": 0, "converted": 0})
        out.append(
            {
                "low": b * 10,
                "high": b * 10 + 9 if b < 9 else 100,
                "label": f"{b * 10}–{b * 10 + 9 if b < 9 else 100}",
                "leads": r["n"],
                "closed": r["closed"],
                "converted": r["converted"],
                "conversion_rate": r["converted"] / r["closed"] if r["closed"] else None,
            }
        )
    return out


def training_jobs(source_name: str, *, limit: int = 5) -> list[Any]:
    """The latest training jobs of ``source_name`` in the task queue (waiting, running or
    done), newest first; empty when the queue keeps no rows."""
    try:
        from django_tasks_db.models import DBTaskResult

        from revline.scoring.tasks import scoring_train
    except ImportError:  # pragma: no cover - another task backend
        return []
    jobs = DBTaskResult.objects.filter(task_path=scoring_train.module_path).order_by(
        "-enqueued_at"
    )[:50]
    out = []
    for job in jobs:
        kwargs = (job.args_kwargs or {}).get("kwargs") or {}
        if kwargs.get("source_name", "") == source_name:
            out.append(job)
        if len(out) >= limit:
            break
    return out


def awaiting_review() -> list[ScoringModel]:
    """Per source, the newest version when it was flagged (a field that alone predicts the
    outcome): training waits until someone excludes or allows the field."""
    newest: dict[str, ScoringModel] = {}
    for m in ScoringModel.objects.defer("artifact", "oof").order_by("source_name", "-version"):
        newest.setdefault(m.source_name, m)
    return [m for m in newest.values() if m.status == ModelStatus.FLAGGED]
