"""Reads shared by every app."""

from __future__ import annotations

from django.db.models import QuerySet

from revline.core.models import AuditEvent


def audit_events_for(*, instance, limit: int = 50) -> QuerySet[AuditEvent]:
    """The audit trail of one record. Callers must have checked the record's visibility."""
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(instance, for_concrete_model=True)
    return AuditEvent.objects.filter(content_type=ct, object_id=instance.pk).select_related(
        "actor"
    )[:limit]
