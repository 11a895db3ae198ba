from .audit import AuditEvent
from .base import TimeStampedModel
from .worker import WorkerHeartbeat

__all__ = ["AuditEvent", "TimeStampedModel", "WorkerHeartbeat"]
