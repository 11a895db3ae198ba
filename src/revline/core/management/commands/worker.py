"""``revline worker``: run background tasks from the database queue, with a heartbeat.

A thin wrapper around django-tasks-db's ``db_worker`` that records a heartbeat row every few
seconds so the admin status page can show which workers are alive. A long-running worker also
makes sure the recurring jobs are queued: the lead-scoring clock (rescores changed leads,
retrains nightly when enough new outcomes exist) and the weekly forecast snapshots.
"""

import os
import socket
import threading
import uuid

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from revline.core.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 10


class Command(BaseCommand):
    help = "Run the background task worker (database queue) with a heartbeat."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue-name", default="default", help="Queues to serve, comma-separated."
        )
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
        parser.add_argument("--batch", action="store_true", help="Run the queued tasks, then exit.")

    def handle(self, *args, queue_name, interval, batch, **options):
        worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"[:64]
        now = timezone.now()
        WorkerHeartbeat.objects.create(
            worker_id=worker_id,
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            queues=queue_name,
            started_at=now,
            last_seen=now,
        )
        if not batch:
            self._ensure_recurring()
        stop = threading.Event()

        def beat():
            while not stop.wait(HEARTBEAT_SECONDS):
                close_old_connections()
                WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen=timezone.now())
            close_old_connections()

        thread = threading.Thread(target=beat, name="revline-heartbeat", daemon=True)
        thread.start()
        try:
            call_command(
                "db_worker",
                queue_name=queue_name,
                interval=interval,
                batch=batch,
                worker_id=worker_id[:64],
                reload=False,
                startup_delay=not batch,
                verbosity=options.get("verbosity", 1),
            )
        finally:
            stop.set()
            thread.join(timeout=2)
            WorkerHeartbeat.objects.filter(worker_id=worker_id).update(
                last_seen=timezone.now(), stopped_at=timezone.now()
            )

    def _ensure_recurring(self) -> None:
        from revline.planning.tasks import snapshots_schedule
        from revline.scoring.tasks import clock_ensure

        clock_ensure()
        snapshots_schedule()
