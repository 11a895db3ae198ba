"""Writes of the scoring app: training model versions, scoring leads, overrides, the ICP.

Training reads every lead with a known outcome of one source (blank: every lead), decides
what it can honestly train (docs/scoring.md):

- at least ``MIN_LEADS`` leads and ``MIN_CONVERSIONS`` outcomes of each kind: LightGBM;
- fewer, but at least ``MIN_LEADS_FREQUENCY`` / ``MIN_CONVERSIONS_FREQUENCY``: the frequency
  model (naive Bayes), with the fit score beside it, and the version says so;
- fewer still: no predictive model; the score is the ICP fit score, and the version says so.

A field that alone predicts the outcome almost perfectly stops training (a version with status
"flagged" records the list) until it is excluded or allowed (``ScoringProfile``).

Scoring writes ``LeadScore`` rows only: a ``ScoreOverride`` belongs to the person who set it.

Background work is queued after the transaction commits (``transaction.on_commit``): here
``scoring_train_queue``, ``leakage_review`` (which queues the retrain) and
``fit_refresh_queue``; in ``scoring.changes``, ``leads_changed`` (the CRM calls it where a lead's
scored inputs change). Views and API handlers call these, never a task directly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from revline.core.services import (
    Queued,
    actor_or_none,
    audit_event_record,
    diff_fields,
    enqueue_on_commit,
)
from revline.crm.models import Account, Activity, Lead
from revline.scoring import conf, features, fit, ml
from revline.scoring.choices import IcpAppliesTo, ModelKind, ModelStatus, Tier
from revline.scoring.models import (
    FitScore,
    IcpRule,
    LeadScore,
    ScoreOverride,
    ScoringModel,
    ScoringProfile,
)

CHUNK = 20_000
FIT_CUTS = {"A": 0.75, "B": 0.5, "C": 0.25}
Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


# --- training ------------------------------------------------------------------------------------


def _profile(source_name: str) -> ScoringProfile:
    profile, _ = ScoringProfile.objects.get_or_create(source_name=source_name)
    return profile


def _decide_kind(n: int, converted: int) -> tuple[str, str]:
    """Which model the history supports, and the note saying why."""
    fewest = min(converted, n - converted)
    need = f"{conf.get('MIN_LEADS')} leads and {conf.get('MIN_CONVERSIONS')} of each outcome"
    have = f"{n} leads with an outcome, {converted} converted and {n - converted} not"
    if n >= conf.get("MIN_LEADS") and fewest >= conf.get("MIN_CONVERSIONS"):
        return ModelKind.LIGHTGBM, ""
    if n >= conf.get("MIN_LEADS_FREQUENCY") and fewest >= conf.get("MIN_CONVERSIONS_FREQUENCY"):
        return (
            ModelKind.FREQUENCY,
            f"fallback: too little history for the gradient-boosted model ({have}; it needs "
            f"{need}): a frequency model scores leads, shown beside the ICP fit score.",
        )
    return (
        ModelKind.FIT,
        f"fallback: too little history to learn from ({have}): the score is the ICP fit score.",
    )


@transaction.atomic
def scoring_profile_update(
    *,
    by: Any,
    source_name: str = "",
    excluded_fields: list[str] | None = None,
    allowed_fields: list[str] | None = None,
    auto_retrain: bool | None = None,
) -> ScoringProfile:
    """What training of ``source_name`` leaves out and which flagged fields were reviewed."""
    profile = _profile(source_name.strip())
    values: dict[str, Any] = {}
    if excluded_fields is not None:
        values["excluded_fields"] = sorted({features.field_key(f) for f in excluded_fields if f})
    if allowed_fields is not None:
        values["allowed_fields"] = sorted({f for f in allowed_fields if f})
    if auto_retrain is not None:
        values["auto_retrain"] = auto_retrain
    changes = diff_fields(profile, values)
    if changes:
        profile.updated_by = actor_or_none(by)
        profile.save()
        audit_event_record(
            actor=by, action="scoring_profile.update", instance=profile, changes=changes
        )
    return profile


def scoring_model_train(
    *,
    by: Any,
    source_name: str = "",
    exclude: list[str] | None = None,
    allow_flagged: bool = False,
    rescore: bool = True,
    progress: Progress = _quiet,
) -> ScoringModel:
    """Train a new version for ``source_name`` (blank: every lead) and, unless it is flagged
    for review, make it the active one and rescore that source's leads.

    ``exclude`` replaces the source's excluded fields (kept for the nightly retrain);
    ``allow_flagged`` records the fields flagged now as reviewed and trains with them."""
    source = (source_name or "").strip()
    started = time.perf_counter()
    if exclude is not None:
        scoring_profile_update(by=by, source_name=source, excluded_fields=exclude)
    profile = _profile(source)
    progress("Reading leads")
    qs = features.live_leads(source).filter(features.labelled_q())
    frame, y, created = features.load_frame(qs)
    ids = frame.index.to_numpy()
    n, converted = len(y), int(y.sum())
    kind, note = _decide_kind(n, converted)
    spec = features.spec_build(frame, excluded=profile.excluded_fields)
    features.mark_yes_no(spec, frame)
    notes = [note] if note else []
    if kind != ModelKind.FIT and not spec["features"]:
        kind = ModelKind.FIT
        notes.append("fallback: no field left to learn from: the score is the ICP fit score.")
    result = ml.TrainOutput(kind=kind)
    if kind != ModelKind.FIT:
        X = features.encode(frame, spec)
        result = ml.train(
            X,
            y.astype(np.int64),
            created,
            spec,
            kind=kind,
            folds=conf.get("FOLDS"),
            threads=conf.get("THREADS"),
            leakage_auc=conf.get("LEAKAGE_AUC"),
            allowed=frozenset(profile.allowed_fields),
            allow_flagged=allow_flagged,
            progress=progress,
        )
        notes.extend(result.notes)
    if result.refused:
        flagged = ", ".join(f"{f['label']} (AUC {f['auc']:.3f} alone)" for f in result.flags)
        notes.append(
            f"flagged for review: {flagged}. A field filled in only once the outcome is known "
            "leaks it; exclude such fields, or allow them once reviewed."
        )
    elif result.flags:
        notes.append(
            "trained with fields reviewed and allowed despite a flag: "
            + ", ".join(f["label"] for f in result.flags)
        )
    oof = b""
    if result.oof:
        rows = result.oof.pop("row")
        oof = ml.pack_arrays({"lead_id": ids[rows], **result.oof})
    # "n"/"converted" in the figures count the leads they were computed on (with a time
    # split, the newer half); the version's own n counts every lead with an outcome
    metrics = {"n": n, "converted": converted, **result.metrics}
    metrics["trained_on"] = {"n": n, "converted": converted}
    if kind == ModelKind.FIT:
        metrics["tiers"] = FIT_CUTS
    with transaction.atomic():
        last = (
            ScoringModel.objects.select_for_update()
            .filter(source_name=source)
            .aggregate(v=Max("version"))["v"]
        )
        status = ModelStatus.FLAGGED if result.refused else ModelStatus.ACTIVE
        if status == ModelStatus.ACTIVE:
            ScoringModel.objects.filter(source_name=source, status=ModelStatus.ACTIVE).update(
                status=ModelStatus.RETIRED
            )
        model = ScoringModel.objects.create(
            source_name=source,
            version=(last or 0) + 1,
            kind=kind,
            status=status,
            validation=result.validation,
            trained_at=timezone.now(),
            trained_by=actor_or_none(by),
            n=n,
            n_converted=converted,
            feature_spec=spec,
            excluded_fields=profile.excluded_fields,
            leakage_flags=result.flags,
            metrics=metrics,
            notes="\n".join(notes),
            seconds=round(time.perf_counter() - started, 2),
            artifact=ml.pack({**result.artifact, "spec": spec}) if result.artifact else b"",
            oof=oof,
        )
        if allow_flagged and result.flags:
            allowed = sorted(set(profile.allowed_fields) | {f["field"] for f in result.flags})
            profile.allowed_fields = allowed
            profile.updated_by = actor_or_none(by)
            profile.save()
        audit_event_record(
            actor=by,
            action="scoring_model.train",
            instance=model,
            changes={"status": (None, status), "kind": (None, kind)},
        )
    if rescore and model.status == ModelStatus.ACTIVE:
        progress("Scoring leads")
        if source:
            leads_score(source_name=source)
        else:  # the model for every lead: the leads of sources without their own model
            own = [s for s in active_models() if s]
            leads_score(leads=Lead.objects.exclude(source_name__in=own))
    return model


@transaction.atomic
def scoring_train_queue(
    *,
    by: Any,
    source_name: str = "",
    exclude: list[str] | None = None,
    allow_flagged: bool = False,
) -> Queued:
    """Queue the training of a new version of ``source_name`` (the worker trains it, then
    rescores its leads); ``exclude`` replaces the source's excluded fields first."""
    from revline.scoring.tasks import scoring_train

    source = (source_name or "").strip()
    if exclude is not None:
        scoring_profile_update(by=by, source_name=source, excluded_fields=exclude)
    kwargs: dict[str, Any] = {"source_name": source, "by_id": getattr(by, "pk", None)}
    if allow_flagged:
        kwargs["allow_flagged"] = True
    return enqueue_on_commit(scoring_train, **kwargs)


@transaction.atomic
def leakage_review(
    *, by: Any, model: ScoringModel, fields: list[str], decision: str
) -> ScoringProfile:
    """Record the review of fields ``model`` flagged, then queue a retrain of its source:
    ``exclude`` leaves them out of training, ``allow`` keeps them as reviewed. Fields that
    were not flagged are ignored. Returns the source's profile."""
    flagged = {f["field"] for f in model.leakage_flags}
    chosen = [f for f in fields if f in flagged]
    profile = _profile(model.source_name)
    if decision == "exclude":
        profile = scoring_profile_update(
            by=by,
            source_name=model.source_name,
            excluded_fields=[*profile.excluded_fields, *chosen],
        )
    elif decision == "allow":
        profile = scoring_profile_update(
            by=by,
            source_name=model.source_name,
            allowed_fields=[*profile.allowed_fields, *chosen],
        )
    else:
        raise ValueError(f"unknown decision {decision!r}")
    scoring_train_queue(by=by, source_name=model.source_name)
    return profile


# --- scoring -------------------------------------------------------------------------------------


_SCORERS: dict[tuple[int, str], ml.Scorer] = {}


def _scorer(model: ScoringModel) -> ml.Scorer:
    """The model ready to score, kept per process (a few versions) once loaded."""
    key = (model.pk, model.trained_at.isoformat())  # an id alone may come back (a test DB)
    scorer = _SCORERS.get(key)
    if scorer is None:
        artifact = ml.unpack(
            ScoringModel.objects.filter(pk=model.pk).values_list("artifact", flat=True).get()
        )
        scorer = ml.Scorer(model.kind, artifact, artifact["spec"], threads=conf.get("THREADS"))
        if len(_SCORERS) >= 4:
            _SCORERS.pop(next(iter(_SCORERS)))
        _SCORERS[key] = scorer
    return scorer


def active_models() -> dict[str, ScoringModel]:
    """The active version of each source ("" is the one for every lead)."""
    return {
        m.source_name: m
        for m in ScoringModel.objects.filter(status=ModelStatus.ACTIVE).defer("artifact", "oof")
    }


def model_for(source_name: str, models: dict[str, ScoringModel]) -> ScoringModel | None:
    return models.get(source_name or "") or models.get("")


@dataclass
class ScoreRun:
    scored: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.scored / self.seconds if self.seconds else 0.0


def _factor_lists(
    contrib: np.ndarray, spec: dict[str, Any], frame: pd.DataFrame, top: int
) -> list[dict[str, list[dict[str, Any]]]]:
    """The ``top`` largest positive and negative contributions of each lead, in words."""
    feats = spec["features"]
    n = contrib.shape[0]
    out: list[dict[str, list[dict[str, Any]]]] = [
        {"positive": [], "negative": []} for _ in range(n)
    ]
    if not n or not feats:
        return out
    k = min(top, len(feats))
    sides = []
    for side, sign in (("positive", 1.0), ("negative", -1.0)):
        order = np.argsort(-sign * contrib, axis=1)[:, :k]
        chosen = np.take_along_axis(contrib, order, axis=1)
        sides.append((side, sign, order, chosen, chosen * sign > 0.01))
    # each shown feature's values in words, only for the leads where it is shown
    described: dict[int, np.ndarray] = {}
    shown_rows = np.concatenate([np.nonzero(strong)[0] for *_, strong in sides])
    shown_feats = np.concatenate([order[strong] for _, _, order, _, strong in sides])
    for j in np.unique(shown_feats).tolist():
        f = feats[j]
        rows = np.unique(shown_rows[shown_feats == j])
        texts = np.empty(n, dtype=object)
        if f["key"] not in frame.columns:
            texts[rows] = features.describe(f, None)
        elif f["type"] == features.CATEGORICAL:
            codes, uniques = pd.factorize(frame[f["key"]].iloc[rows].astype(object))
            words = [*(features.describe(f, v) for v in uniques), features.describe(f, None)]
            texts[rows] = np.array(words, dtype=object)[codes]  # code -1: the last, missing
        else:
            texts[rows] = features.describe_numbers(f, frame[f["key"]].to_numpy()[rows])
        described[j] = texts

    labels = [f["label"] for f in feats]
    keys = [f["key"] for f in feats]
    for side, sign, order, chosen, strong in sides:
        rows = np.flatnonzero(strong.any(axis=1))
        effects = np.round(chosen[rows], 3).tolist()
        for i, js, row_effects in zip(rows.tolist(), order[rows].tolist(), effects, strict=True):
            items = out[i][side]
            for j, effect in zip(js, row_effects, strict=True):
                if effect * sign <= 0.01:
                    break
                items.append(
                    {
                        "field": keys[j],
                        "label": labels[j],
                        "value": described[j][i],
                        "effect": effect,
                    }
                )
    return out


def _tiers_for(scores: np.ndarray, cuts: dict[str, float]) -> np.ndarray:
    return ml.tier_of(scores, cuts)


def _score_chunk(
    qs: QuerySet[Lead],
    model: ScoringModel | None,
    rules: list[IcpRule],
    now: dt.datetime,
    store: Callable[[Callable[[], None]], None] = lambda write: write(),
) -> int:
    """Score the leads of ``qs`` with ``model`` (None: fit only) and hand the writing of the
    scores to ``store`` (by default: written now)."""
    spec = model.feature_spec if model and model.kind != ModelKind.FIT else {"features": []}
    keys = {f["key"] for f in spec["features"]} | {r.field for r in rules}
    frame, _, _ = features.load_frame(qs, now=now, keys=keys)
    if frame.empty:
        return 0
    ids = frame.index.to_numpy()
    fit_scores, matched = fit.evaluate(rules, frame, kind=IcpAppliesTo.LEADS)
    top = conf.get("FACTORS")
    if model is not None and model.kind != ModelKind.FIT:
        scorer = _scorer(model)
        probs, contrib = scorer.score(features.encode(frame, scorer.spec))
        tiers = _tiers_for(probs, model.metrics["tiers"])
        scores = np.clip(np.rint(probs * 100), 0, 100).astype(int)
        factors = _factor_lists(contrib, scorer.spec, frame, top)
    else:
        probs = np.full(len(ids), np.nan)
        scores = fit_scores
        tiers = _tiers_for(fit_scores / 100.0, FIT_CUTS)
        factors = [
            {
                "positive": [
                    {"field": "icp", "label": "Ideal customer profile", "value": m["name"],
                     "effect": m["weight"]}
                    for m in row if m["weight"] > 0
                ][:top],
                "negative": [
                    {"field": "icp", "label": "Ideal customer profile", "value": m["name"],
                     "effect": m["weight"]}
                    for m in row if m["weight"] < 0
                ][:top],
            }
            for row in matched
        ]  # fmt: skip
    kind = model.kind if model is not None else ModelKind.FIT
    model_id = model.pk if model is not None else None
    has_rules = bool(rules)
    at = now
    probability = np.round(probs, 6).tolist()
    rows = list(
        zip(
            ids.tolist(),
            [model_id] * len(ids),
            [kind] * len(ids),
            [None if p != p else p for p in probability],  # NaN: fit only
            scores.tolist(),
            tiers.tolist(),
            factors,
            fit_scores.tolist() if has_rules else [None] * len(ids),
            [at] * len(ids),
            strict=True,
        )
    )
    fit_rows = (
        [(int(ids[i]), int(fit_scores[i]), matched[i], at) for i in range(len(ids))]
        if has_rules
        else []
    )

    def write() -> None:
        _upsert(
            LeadScore,
            ["lead_id", "model_id", "kind", "probability", "score", "tier", "factors",
             "fit_score", "scored_at"],
            rows,
        )  # fmt: skip
        _upsert(FitScore, ["lead_id", "score", "matched", "computed_at"], fit_rows)

    store(write)
    return len(rows)


def _upsert(model: type[models.Model], columns: list[str], rows: list[tuple]) -> None:
    """Insert or update ``rows`` (Python values; dicts and lists for JSON columns) on the first
    column's unique key. The ORM's ``bulk_create`` spends most of a bulk scoring run preparing
    values one by one: SQLite gets one prepared statement run for many rows, PostgreSQL one
    statement per batch reading the rows from a single JSON document (psycopg would escape
    every JSON value of an array parameter, and run ``executemany`` row by row)."""
    if not rows:
        return
    table = model._meta.db_table
    quote = connection.ops.quote_name
    fields = {f.column: f for f in model._meta.concrete_fields}
    json_at = [i for i, c in enumerate(columns) if isinstance(fields[c], models.JSONField)]
    names = ", ".join(quote(c) for c in columns)
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns[1:])
    conflict = f"ON CONFLICT ({quote(columns[0])}) DO UPDATE SET {updates}"
    encode = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = ", ".join(f"{quote(c)} {fields[c].db_type(connection)}" for c in columns)
            sql = (
                f"INSERT INTO {quote(table)} ({names}) SELECT {names} "  # noqa: S608
                f"FROM json_to_recordset(%s::json) AS r({types}) {conflict}"
            )
            for start in range(0, len(rows), 5000):
                batch = [dict(zip(columns, row, strict=True)) for row in rows[start : start + 5000]]
                cursor.execute(sql, [encode(batch)])
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks}) {conflict}"  # noqa: S608
        adapt = connection.ops.adapt_datetimefield_value
        prepared = []
        for row in rows:
            values = list(row)
            for i in json_at:
                values[i] = encode(values[i])
            prepared.append([adapt(v) if isinstance(v, dt.datetime) else v for v in values])
        for start in range(0, len(prepared), 5000):
            cursor.executemany(sql, prepared[start : start + 5000])


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _store_fit(objs: list[FitScore], link: str) -> None:
    FitScore.objects.bulk_create(
        objs,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=[link],
        update_fields=["score", "matched", "computed_at"],
    )


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Bulk scoring allocates many small objects that all live until the chunk is stored;
    the cyclic garbage collector would scan them again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Writer:
    """Writes the scored chunks on a second database connection while the next chunk is read
    and scored, so the database's work overlaps the model's (on two cores a bulk run waits for
    neither). Only on PostgreSQL outside a transaction: a connection of its own would not see
    rows the caller has not committed. Elsewhere each chunk is written at once. The first
    failure is raised by ``close``; the chunks after it are not written."""

    def __init__(self, *, bulk: bool = True) -> None:
        # a run of one chunk (a few leads rescored after an edit) has nothing to overlap
        self.threaded = (
            bulk and connection.vendor == "postgresql" and not connection.in_atomic_block
        )
        self.error: BaseException | None = None
        self.queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=2)
        self.thread: threading.Thread | None = None
        if self.threaded:
            self.thread = threading.Thread(target=self._loop, name="scoring-writer", daemon=True)
            self.thread.start()

    def _loop(self) -> None:
        from django.db import connection as own

        try:
            while (write := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        write()
                    except BaseException as exc:  # raised again by close()
                        self.error = exc
        finally:
            own.close()

    def __call__(self, write: Callable[[], None]) -> None:
        if self.error is not None:
            raise self.error
        if self.thread is None:
            write()
        else:
            self.queue.put(write)

    def close(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None
        if self.error is not None:
            raise self.error


def _id_chunks(qs: QuerySet[Lead], size: int) -> Iterable[tuple[int, int]]:
    ids = list(qs.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), size):
        part = ids[start : start + size]
        yield part[0], part[-1]


def leads_score(
    *,
    source_name: str | None = None,
    lead_ids: Iterable[int] | None = None,
    leads: QuerySet[Lead] | None = None,
    chunk: int = CHUNK,
) -> ScoreRun:
    """Score leads with the active model of their source (else the one for every lead; with
    none, by the ICP fit when rules exist). ``source_name`` picks a source's leads,
    ``lead_ids`` or ``leads`` some leads; nothing picks every live lead. Overrides are never
    touched."""
    started = time.perf_counter()
    qs = Lead.objects.filter(merged_into__isnull=True)
    if leads is not None:
        qs = qs.filter(pk__in=leads.values("pk"))
    ids = None if lead_ids is None else list(lead_ids)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if source_name is not None:
        qs = qs.filter(source_name=source_name)
    models = active_models()
    rules = list(IcpRule.objects.filter(active=True))
    now = timezone.now()
    run = ScoreRun()
    sources = list(qs.order_by().values_list("source_name", flat=True).distinct())
    writer = _Writer(bulk=ids is None or len(ids) > chunk)
    try:
        for source in sources:
            model = model_for(source, models)
            if model is None and not rules:
                continue
            part = qs.filter(source_name=source)
            for low, high in _id_chunks(part, chunk):
                with _no_gc():
                    run.scored += _score_chunk(
                        part.filter(id__gte=low, id__lte=high), model, rules, now, writer
                    )
    finally:
        writer.close()
    run.seconds = time.perf_counter() - started
    return run


def lead_rescore(*, lead: Lead) -> LeadScore | None:
    """Score one lead now (after it changed)."""
    leads_score(lead_ids=[lead.pk])
    return LeadScore.objects.filter(lead_id=lead.pk).first()


def stale_leads() -> QuerySet[Lead]:
    """Live leads whose score is missing, from a model that is no longer active, or older than
    a change to the lead or a new activity on it."""
    models = active_models()
    fresh_models = [m.pk for m in models.values()]
    later_activity = Activity.objects.filter(
        lead_id=OuterRef("pk"), created_at__gt=OuterRef("score__scored_at")
    )
    stale = (
        Q(score__isnull=True)
        | Q(updated_at__gt=F("score__scored_at"))
        | Exists(later_activity)
        | (Q(score__model__isnull=False) & ~Q(score__model_id__in=fresh_models))
    )
    qs = Lead.objects.filter(merged_into__isnull=True).filter(stale)
    if "" not in models and not IcpRule.objects.filter(active=True).exists():
        qs = qs.filter(source_name__in=list(models))
    return qs


def leads_rescore_stale(*, source_name: str | None = None) -> ScoreRun:
    qs = stale_leads()
    if source_name is not None:
        qs = qs.filter(source_name=source_name)
    return leads_score(leads=qs)


# --- overrides -----------------------------------------------------------------------------------


@transaction.atomic
def score_override_set(
    *,
    lead: Lead,
    by: Any,
    reason: str,
    score: int | None = None,
    tier: str | None = None,
) -> ScoreOverride:
    """A person's score and/or tier for ``lead``, shown instead of the automated one. With a
    score and no tier, the tier follows from the lead's model's quartiles."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the score is overridden."})
    if score is None and not tier:
        raise ValidationError("Give a score (0-100), a tier (A-D) or both.")
    if score is not None and not 0 <= int(score) <= 100:
        raise ValidationError({"score": "A score is between 0 and 100."})
    if tier and tier not in Tier.values:
        raise ValidationError({"tier": "A tier is A, B, C or D."})
    if not tier and score is not None:
        automated = LeadScore.objects.filter(lead_id=lead.pk).select_related("model").first()
        model = automated.model if automated else None
        cuts = FIT_CUTS
        if model is not None and model.kind != ModelKind.FIT and model.metrics.get("tiers"):
            cuts = model.metrics["tiers"]
        tier = str(ml.tier_of(np.array([int(score) / 100.0]), cuts)[0])
    before = ScoreOverride.objects.filter(lead_id=lead.pk).first()
    override, _ = ScoreOverride.objects.update_or_create(
        lead_id=lead.pk,
        defaults={
            "score": None if score is None else int(score),
            "tier": str(tier),
            "reason": reason[:255],
            "by": actor_or_none(by),
            "at": timezone.now(),
        },
    )
    audit_event_record(
        actor=by,
        action="lead.score_override",
        instance=lead,
        changes={
            "score_override": (
                None if before is None else {"score": before.score, "tier": before.tier},
                {"score": override.score, "tier": override.tier, "reason": override.reason},
            )
        },
    )
    return override


@transaction.atomic
def score_override_clear(*, lead: Lead, by: Any) -> bool:
    before = ScoreOverride.objects.filter(lead_id=lead.pk).first()
    if before is None:
        return False
    before.delete()
    audit_event_record(
        actor=by,
        action="lead.score_override_clear",
        instance=lead,
        changes={"score_override": ({"score": before.score, "tier": before.tier}, None)},
    )
    return True


# --- the ideal customer profile ------------------------------------------------------------------


@transaction.atomic
def icp_rule_save(
    *,
    by: Any,
    name: str,
    field: str,
    operator: str,
    value: Any,
    weight: int = 10,
    applies_to: str = IcpAppliesTo.BOTH,
    active: bool = True,
    order: int = 0,
    rule: IcpRule | None = None,
) -> IcpRule:
    """Create or change one weighted ICP rule (fit scores follow on the next refresh)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A rule needs a name."})
    field, value = fit.rule_clean(field=field, operator=operator, value=value)
    if not -100 <= int(weight) <= 100 or int(weight) == 0:
        raise ValidationError({"weight": "A weight is between -100 and 100, and not 0."})
    if applies_to not in IcpAppliesTo.values:
        raise ValidationError({"applies_to": f"Unknown choice {applies_to!r}."})
    values = {
        "name": name[:150],
        "field": field,
        "operator": operator,
        "value": value,
        "weight": int(weight),
        "applies_to": applies_to,
        "active": bool(active),
        "order": int(order),
    }
    if rule is None:
        rule = IcpRule.objects.create(**values)
        audit_event_record(actor=by, action="icp_rule.create", instance=rule)
        return rule
    changes = diff_fields(rule, values)
    if changes:
        rule.save()
        audit_event_record(actor=by, action="icp_rule.update", instance=rule, changes=changes)
    return rule


@transaction.atomic
def icp_rule_delete(*, rule: IcpRule, by: Any) -> None:
    audit_event_record(actor=by, action="icp_rule.delete", instance=rule)
    rule.delete()


def fit_refresh_queue() -> Queued:
    """Queue the recomputation of every fit score (after the ICP rules changed)."""
    from revline.scoring.tasks import scoring_fit_refresh

    return enqueue_on_commit(scoring_fit_refresh)


def fit_scores_refresh(*, chunk: int = CHUNK) -> tuple[int, int]:
    """Recompute every lead's and account's fit score (after the rules changed): (leads,
    accounts). Leads get it through scoring, which stores it beside their score."""
    rules = list(IcpRule.objects.filter(active=True))
    if not rules:
        FitScore.objects.all().delete()
        LeadScore.objects.filter(fit_score__isnull=False).update(fit_score=None)
        return 0, 0
    leads = leads_score().scored
    now = timezone.now()
    accounts = 0
    qs = Account.objects.filter(merged_into__isnull=True)
    ids = list(qs.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        frame = fit.account_frame(qs.filter(id__gte=part[0], id__lte=part[-1]))
        scores, matched = fit.evaluate(rules, frame, kind=IcpAppliesTo.ACCOUNTS)
        _store_fit(
            [
                FitScore(account_id=int(pk), score=int(scores[i]), matched=matched[i],
                         computed_at=now)
                for i, pk in enumerate(frame.index.to_numpy())
            ],
            "account",
        )  # fmt: skip
        accounts += len(frame)
    return leads, accounts


# --- the nightly retrain -------------------------------------------------------------------------


def retrain_due(*, now: dt.datetime | None = None) -> list[str]:
    """Sources whose nightly retrain is due: the hour has come, the active model was trained
    before tonight's hour, and enough outcomes are new since (``RETRAIN_MIN_NEW_OUTCOMES``)."""
    now = timezone.localtime(now or timezone.now())
    hour = conf.get("RETRAIN_HOUR")
    tonight = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if now < tonight:
        return []
    due = []
    off = set(
        ScoringProfile.objects.filter(auto_retrain=False).values_list("source_name", flat=True)
    )
    for source, model in active_models().items():
        if source in off or model.trained_at >= tonight:
            continue
        labelled = features.live_leads(source).filter(features.labelled_q()).count()
        if labelled - model.n >= conf.get("RETRAIN_MIN_NEW_OUTCOMES"):
            due.append(source)
    return due
