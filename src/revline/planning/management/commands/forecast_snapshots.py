"""``revline forecast_snapshots``: take this week's forecast snapshots now (idempotent), or with
``--schedule`` make sure the weekly task is queued for the worker."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from revline.planning.services import forecast_snapshots_take, week_of
from revline.planning.tasks import next_run, snapshots_schedule


class Command(BaseCommand):
    help = "Snapshot every submitted forecast roll-up for this week (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="Take the snapshot for the week of this day (ISO date).")
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Queue the weekly task for `revline worker` instead (once; it re-queues itself).",
        )

    def handle(self, *args, day=None, schedule=False, **options):
        if schedule:
            if snapshots_schedule():
                self.stdout.write(
                    f"Weekly forecast snapshots queued (next: {next_run():%Y-%m-%d %H:%M})."
                )
            else:
                raise CommandError(
                    "The task backend cannot defer tasks: run `revline forecast_snapshots` weekly "
                    "from cron instead."
                )
            return
        try:
            on = dt.date.fromisoformat(day) if day else None
        except ValueError:
            raise CommandError(f"{day!r} is not a date (use YYYY-MM-DD).") from None
        written = forecast_snapshots_take(on=on)
        week = week_of(on or timezone.localdate())
        self.stdout.write(f"{written} snapshot row(s) written for the week of {week.isoformat()}.")
