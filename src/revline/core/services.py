"""Writes shared by every app: the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from revline.core.models import AuditEvent


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def actor_or_none(by: Any) -> Any:
    """The user to keep as an actor (``set_by``, ``created_by``, an audit event's ``actor``):
    none for an anonymous or system caller."""
    return by if getattr(by, "pk", None) else None


def audit_event_record(
    *,
    actor: Any,
    action: str,
    instance: models.Model,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one change to ``instance``. ``changes`` maps a field to ``[before, after]``."""
    return AuditEvent.objects.create(
        actor=actor_or_none(actor),
        action=action,
        content_type=ContentType.objects.get_for_model(instance, for_concrete_model=True),
        object_id=instance.pk,
        object_repr=str(instance)[:255],
        changes={k: [_plain(b), _plain(a)] for k, (b, a) in (changes or {}).items()},
    )


def diff_fields(instance: models.Model, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Apply ``values`` to ``instance`` and return ``{field: (before, after)}`` for real changes."""
    changes: dict[str, tuple[Any, Any]] = {}
    for field, new in values.items():
        old = getattr(instance, field)
        if old != new:
            changes[field] = (old, new)
            setattr(instance, field, new)
    return changes


@dataclass
class Queued:
    """A background job queued once the current transaction commits. ``task_id`` is known
    as soon as it is enqueued: when the service returns, unless the caller holds a
    transaction open (then at its commit; never after a rollback)."""

    task_id: str | None = None


def enqueue_on_commit(task: Any, **kwargs: Any) -> Queued:
    """Queue ``task`` with ``kwargs`` once the current transaction commits (at once outside
    one): a job never runs on data that was rolled back, nor before it is visible."""
    queued = Queued()

    def enqueue() -> None:
        queued.task_id = str(task.enqueue(**kwargs).id)

    transaction.on_commit(enqueue)
    return queued
