"""Background jobs of the planning app: ids (or days) in, idempotent, the work done by services.

The weekly forecast snapshot keeps itself going: each run queues the next one for the
following Monday (``SNAPSHOT_HOUR`` local time) on a backend that can defer tasks, as the
database queue ``revline worker`` serves can. The first run is queued by the first forecast
submission (``services.forecast_submit``) or by ``revline forecast_snapshots --schedule``;
``revline forecast_snapshots`` takes this week's snapshot at once (for cron, or by hand).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from django_tasks import task

logger = logging.getLogger("revline.planning")

SNAPSHOT_HOUR = 1


@task()
def forecast_snapshots(*, day: str | None = None, reschedule: bool = True) -> str:
    """Snapshot every forecast roll-up for the week of ``day`` (ISO date; default today). Runs
    any number of times a week: the week's rows are updated, never duplicated."""
    from revline.planning.services import forecast_snapshots_take, week_of

    on = dt.date.fromisoformat(day) if day else timezone.localdate()
    written = forecast_snapshots_take(on=on)
    if reschedule:
        snapshots_schedule()
    return f"{written} snapshot row(s) written for the week of {week_of(on).isoformat()}"


def next_run(now: dt.datetime | None = None) -> dt.datetime:
    """Next Monday at ``SNAPSHOT_HOUR`` o'clock, local time."""
    local = timezone.localtime(now or timezone.now())
    days = 7 - local.weekday()
    day = (local + dt.timedelta(days=days)).date()
    return timezone.make_aware(
        dt.datetime.combine(day, dt.time(SNAPSHOT_HOUR)), timezone.get_current_timezone()
    )


def snapshots_schedule() -> bool:
    """Queue next week's snapshot unless one is queued already; False when the task backend
    cannot run tasks later (then schedule ``revline forecast_snapshots`` with cron)."""
    backend = forecast_snapshots.get_backend()
    if not getattr(backend, "supports_defer", False):
        return False
    from django_tasks_db.models import DBTaskResult

    queued = DBTaskResult.objects.filter(
        task_path=forecast_snapshots.module_path,
        status="READY",
        run_after__gt=timezone.now(),
    ).exists()
    if queued:
        return True
    forecast_snapshots.using(run_after=next_run()).enqueue()
    logger.info("forecast snapshots queued for %s", next_run().isoformat())
    return True
