"""What the CRM calls when a lead's scored inputs change.

Kept apart from ``services`` (numpy, pandas, LightGBM): a CRM write, a web request or an import
run calls it without loading the model stack, which only the job it queues needs.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from revline.scoring.choices import ModelStatus
from revline.scoring.models import IcpRule, ScoringModel


def scoring_configured() -> bool:
    """Whether anything scores leads (an active model or an active ICP rule)."""
    return (
        ScoringModel.objects.filter(status=ModelStatus.ACTIVE).exists()
        or IcpRule.objects.filter(active=True).exists()
    )


def leads_changed(*, lead_ids: Iterable[int] | None) -> None:
    """Leads whose scored inputs changed (fields, status, an activity, an import): once the
    transaction commits, a background job rescores them (``scoring_rescore``); nothing is
    queued after a rollback, or while no model and no ICP rule exists. ``lead_ids=None`` says
    many leads changed (an import): the job then rescores every lead changed since its score
    (``scoring_rescore_stale``). The scoring schedule's sweep of changed leads stays the safety
    net if a job is lost. The job is idempotent: two changes of one lead in one transaction
    may queue it twice, the second finds nothing new."""
    from revline.scoring.tasks import scoring_rescore, scoring_rescore_stale

    if lead_ids is None and not scoring_configured():  # an import: checked once per run
        return
    ids = None if lead_ids is None else sorted({int(pk) for pk in lead_ids})
    if ids == []:
        return

    def queue() -> None:
        if not scoring_configured():
            return
        if ids is None:
            scoring_rescore_stale.enqueue()
        else:
            scoring_rescore.enqueue(lead_ids=ids)

    transaction.on_commit(queue, robust=True)  # outside a transaction: runs at once
