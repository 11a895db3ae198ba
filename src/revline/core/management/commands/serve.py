"""``revline serve``: the web server and a task worker, side by side, until Ctrl+C."""

import os
import shutil
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Revline on http://HOST:PORT with a background task worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("REVLINE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("REVLINE_PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--task-workers", type=int, default=1)
        parser.add_argument("--no-worker", action="store_true", help="Serve the web only.")

    def handle(self, *args, host, port, web_workers, task_workers, no_worker, **options):
        revline = shutil.which("revline") or os.path.join(
            os.path.dirname(sys.executable), "revline"
        )
        env = dict(os.environ)
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "revline.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(web_workers),
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
        ]
        procs = [subprocess.Popen(web, env=env)]
        if not no_worker:
            for _ in range(task_workers):
                procs.append(subprocess.Popen([revline, "worker"], env=env))
        self.stdout.write(
            self.style.SUCCESS(f"Revline is serving on http://{host}:{port}/ ")
            + f"({len(procs) - 1} task worker(s)). Ctrl+C stops it."
        )

        def stop(*_):
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
        finally:
            stop()
            deadline = time.monotonic() + 10
            for p in procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
        codes = [p.returncode for p in procs]
        if any(c not in (0, -signal.SIGTERM, -signal.SIGINT) for c in codes):
            raise SystemExit(f"a Revline process stopped unexpectedly (exit codes {codes})")
