"""Reads (and one write) the scoring screens need beyond ``selectors`` and ``services``: who may
see the model pages, the SDR queue ordered by score, the score of a lead in plain words,
conversion by score band, the sources with a model, training jobs waiting, flagged versions
awaiting review, and the review itself.

Every read of lead data starts from the lead visibility predicate (``selectors.visible_leads``
or the CRM queue selector, which does too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.formats import date_format
from django_tasks import task

from revline.crm.models import Lead
from revline.org.choices import RoleType
from revline.org.selectors import user_is_org_admin
from revline.org.visibility import held_roles
from revline.scoring import selectors, services
from revline.scoring.choices import ModelKind, ModelStatus
from revline.scoring.features import labelled_q
from revline.scoring.models import ScoringModel

# Who reads the model pages (versions, evaluation, distribution): managers and above, and
# RevOps. Their figures are computed over the leads each reader sees.
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


# --- the SDR queue --------------------------------------------------------------------------------


def queue_with_scores(qs: QuerySet[Lead], *, order: str = "score") -> QuerySet[Lead]:
    """The CRM lead queue (``crm.selectors.lead_queue``) with each lead's score, override and
    fit joined in (no query per row) and ``effective_score`` / ``effective_tier`` annotated: a
    person's override where set, else the automated score. ``order="score"`` puts the best
    first (priority tier, then score; unscored leads last, in working order);
    ``order="work"`` keeps the queue's working order."""
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
        return f"{self.label} = {self.value} ({self.effect_text})"


@dataclass
class Explanation:
    """What the lead page says about a score."""

    view: selectors.LeadScoreView
    positive: list[Factor] = field(default_factory=list)
    negative: list[Factor] = field(default_factory=list)
    sentence: str = ""
    chance: str = ""
    model_label: str = ""
    kind: str = ""

    @property
    def score(self) -> Any:
        return self.view.score

    @property
    def override(self) -> Any:
        return self.view.override

    @property
    def fit(self) -> Any:
        return self.view.fit

    @property
    def model(self) -> ScoringModel | None:
        return self.view.model

    @property
    def effective_score(self) -> int | None:
        return self.view.effective_score

    @property
    def effective_tier(self) -> str | None:
        return self.view.effective_tier


def _factors(items: list[dict[str, Any]], kind: str) -> list[Factor]:
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


def explain(view: selectors.LeadScoreView) -> Explanation:
    """The score of ``view`` in words: "Scored 82/100 (tier A) by model v3 on 27 Nov 2026:
    most positive: Lead source = Reference (+0.9), ...; most negative: ..."."""
    out = Explanation(view=view)
    score = view.score
    if score is None:
        out.sentence = (
            "Not scored yet: leads are scored when a model is trained or ICP rules exist."
        )
        return out
    kind = score.kind
    out.kind = kind
    out.positive = _factors(view.factors.get("positive") or [], kind)
    out.negative = _factors(view.factors.get("negative") or [], kind)
    out.model_label = model_label(view.model, kind)
    head = (
        f"Scored {score.score}/100 (tier {score.tier}) by {out.model_label} "
        f"on {date_format(timezone.localtime(score.scored_at), 'j M Y')}"
    )
    parts = []
    if out.positive:
        parts.append("most positive: " + ", ".join(f.text for f in out.positive))
    if out.negative:
        parts.append("most negative: " + ", ".join(f.text for f in out.negative))
    out.sentence = head + (": " + "; ".join(parts) if parts else "") + "."
    if score.probability is not None:
        out.chance = (
            f"About {round(100 * score.probability)} in 100 leads like this one converted "
            "(a calibrated probability)."
        )
    return out


def lead_explanation(user: Any, lead: Lead) -> Explanation:
    """The explained score of a lead ``user`` sees (the caller checked it; an invisible lead
    raises ``Lead.DoesNotExist``)."""
    return explain(selectors.lead_score_detail(user, lead.pk))


# --- the manager's figures ------------------------------------------------------------------------


def sources() -> list[str]:
    """Sources with a model version ("" is every lead), the every-lead one first."""
    names = set(ScoringModel.objects.values_list("source_name", flat=True).distinct())
    return sorted(names, key=lambda s: (s != "", s.casefold()))


def conversion_by_band(user: Any, *, source_name: str | None = None) -> list[dict[str, Any]]:
    """Over the scored leads ``user`` sees, per score band of ten points: how many, how many
    have an outcome, and how many of those converted."""
    leads = selectors.visible_leads(user, source_name=source_name).filter(score__isnull=False)
    band = Case(
        *[When(score__score__lt=(b + 1) * 10, then=Value(b)) for b in range(9)],
        default=Value(9),
        output_field=IntegerField(),
    )
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


# --- the one write: the review of flagged fields --------------------------------------------------


@transaction.atomic
def leakage_review(*, by: Any, model: ScoringModel, fields: list[str], decision: str) -> Any:
    """Record the review of fields ``model`` flagged: ``exclude`` leaves them out of training,
    ``allow`` keeps them as reviewed. Returns the source's profile; the caller queues the
    retrain. Fields that were not flagged are ignored."""
    flagged = {f["field"] for f in model.leakage_flags}
    chosen = [f for f in fields if f in flagged]
    profile = services._profile(model.source_name)
    if decision == "exclude":
        return services.scoring_profile_update(
            by=by,
            source_name=model.source_name,
            excluded_fields=[*profile.excluded_fields, *chosen],
        )
    if decision == "allow":
        return services.scoring_profile_update(
            by=by,
            source_name=model.source_name,
            allowed_fields=[*profile.allowed_fields, *chosen],
        )
    raise ValueError(f"unknown decision {decision!r}")


# --- a background job the ICP screen queues -------------------------------------------------------


@task()
def fit_refresh() -> str:
    """Recompute every lead's and account's fit score after the ICP rules changed (leads are
    rescored, since a lead without a model is scored by its fit)."""
    leads, accounts = services.fit_scores_refresh()
    return f"fit scores: {leads} leads, {accounts} accounts"
