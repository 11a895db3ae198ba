"""Background jobs of the scoring app: ids and names in, idempotent, the work done by services.

``scoring_clock`` is the scoring app's schedule: every ``CLOCK_SECONDS`` it rescores the leads
that changed since their score (edited, new activity, imported, or scored by a retired model),
and once a night (from ``RETRAIN_HOUR``) it retrains each source with enough new outcomes. It
enqueues its own next run, deferred, so one pending run always exists once it was started
(``revline score clock``, ``clock_ensure``; training through a task starts it too).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from django_tasks import task

from revline.scoring import conf

log = logging.getLogger(__name__)


@task()
def scoring_train(
    *, source_name: str = "", by_id: int | None = None, allow_flagged: bool = False
) -> str:
    """Train a new version of ``source_name``'s model (then its leads are rescored)."""
    from revline.org.models import User
    from revline.scoring.services import scoring_model_train

    by = User.objects.filter(pk=by_id).first() if by_id else None
    model = scoring_model_train(by=by, source_name=source_name, allow_flagged=allow_flagged)
    clock_ensure()
    return f"{model.label}: {model.status} ({model.kind})"


@task()
def scoring_rescore(*, source_name: str | None = None, lead_ids: list[int] | None = None) -> str:
    from revline.scoring.services import leads_score

    run = leads_score(source_name=source_name, lead_ids=lead_ids)
    return f"scored {run.scored} leads in {run.seconds:.1f} s"


@task()
def scoring_fit_refresh() -> str:
    from revline.scoring.services import fit_scores_refresh

    leads, accounts = fit_scores_refresh()
    return f"fit scores: {leads} leads, {accounts} accounts"


@task()
def scoring_rescore_stale() -> str:
    from revline.scoring.services import leads_rescore_stale

    run = leads_rescore_stale()
    return f"rescored {run.scored} changed leads in {run.seconds:.1f} s"


@task()
def scoring_clock() -> str:
    """Rescore changed leads; retrain the sources due tonight; come back later."""
    from revline.scoring.services import leads_rescore_stale, retrain_due, scoring_model_train

    try:
        done = [f"rescored {leads_rescore_stale().scored}"]
        for source in retrain_due():
            model = scoring_model_train(by=None, source_name=source)
            done.append(f"retrained {model.label} ({model.status})")
    finally:
        clock_ensure(after=timezone.now() + dt.timedelta(seconds=conf.get("CLOCK_SECONDS")))
    return "; ".join(done)


def clock_ensure(*, after: dt.datetime | None = None) -> bool:
    """Enqueue the next ``scoring_clock`` run unless one is already waiting. Only with a
    queue that defers tasks (the database queue); returns whether one was enqueued."""
    from django_tasks import default_task_backend

    if not getattr(default_task_backend, "supports_defer", False):
        return False
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - another deferring backend
        DBTaskResult = None
    if DBTaskResult is not None:
        waiting = DBTaskResult.objects.filter(task_path=scoring_clock.module_path, status="READY")
        if waiting.exists():
            return False
    scoring_clock.using(run_after=after or timezone.now()).enqueue()
    return True
