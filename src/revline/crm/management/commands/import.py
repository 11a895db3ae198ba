"""``revline import``: load accounts, contacts, leads or opportunities from a CSV file.

    revline import leads Leads.csv --source "X Education" --id-column "Prospect ID" \\
        --outcome Converted

The same service as the web page and the API runs the import (``revline.crm.importer``), here in
the foreground with a progress bar. The column mapping starts from the one saved for this file
shape (or one suggested from the column names); ``--map``, ``--id-column``, ``--outcome`` and
``--exclude`` change it. Unlike the web page, the command keeps every column it cannot map as a
typed custom field (integer, number, date, yes/no or text, inferred from the values) unless
``--no-custom-fields`` is given.

Who: ``--as EMAIL`` (default: the first active superuser) is the importing user, whose rights
decide which existing records may be updated. Owner: ``--owner EMAIL``'s first position, else
the importing user's; on a fresh installation where the admin holds no position yet, an
"Imported records" RevOps position held by the admin is created to own the records.

Exit status: 0 when the import ran (bad rows are listed, the good ones kept), 1 when it failed
(an all-or-nothing import with bad rows, or a file that cannot be read).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from revline.crm.choices import DuplicatePolicy, ImportMode, ImportStatus
from revline.crm.importer import (
    CUSTOM_PREFIX,
    FIELDS,
    file_header,
    import_default_owner,
    import_job_create,
    import_job_run,
    mapping_for,
)
from revline.org.models import User

ENTITIES = {
    "accounts": "account",
    "account": "account",
    "contacts": "contact",
    "contact": "contact",
    "leads": "lead",
    "lead": "lead",
    "opportunities": "opportunity",
    "opportunity": "opportunity",
    "deals": "opportunity",
}
SHOWN_ERRORS = 25


class Command(BaseCommand):
    help = "Import accounts, contacts, leads or opportunities from a CSV file."

    def add_arguments(self, parser):
        parser.add_argument(
            "entity",
            choices=sorted(ENTITIES),
            metavar="ENTITY",
            help="accounts, contacts, leads or opportunities",
        )
        parser.add_argument("file", metavar="FILE", help="The CSV file (with a header row).")
        parser.add_argument(
            "--source",
            default="",
            metavar="NAME",
            help="Name of the data set; leads get it as their source name (source: import).",
        )
        parser.add_argument(
            "--id-column",
            default="",
            metavar="C",
            help="The column holding each record's id in the source "
            "(kept as external_id; re-imports match on it).",
        )
        parser.add_argument(
            "--outcome",
            default="",
            metavar="C",
            help="Leads: the column with the known result (yes/no, true/false, "
            "1/0, won/lost); yes makes the lead converted.",
        )
        parser.add_argument(
            "--delimiter",
            default="",
            metavar="D",
            help="Field delimiter (default: detected). Use '\\t' for tabs.",
        )
        parser.add_argument(
            "--exclude", nargs="+", default=[], metavar="C", help="Columns to leave out."
        )
        parser.add_argument(
            "--map",
            nargs="+",
            default=[],
            metavar="COL=FIELD",
            dest="maps",
            help="Map a column to a field (or custom:<key>; empty to skip).",
        )
        parser.add_argument(
            "--owner",
            default="",
            metavar="EMAIL",
            help="Owner of rows that name none: this person's position.",
        )
        parser.add_argument(
            "--as",
            default="",
            metavar="EMAIL",
            dest="as_user",
            help="Import as this user (default: the first superuser).",
        )
        parser.add_argument(
            "--on-duplicate",
            default=DuplicatePolicy.SKIP,
            choices=DuplicatePolicy.values,
            help="What a row matching an existing record does (default: skip).",
        )
        parser.add_argument(
            "--all-or-nothing", action="store_true", help="Import nothing if any row is bad."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and preview; write nothing."
        )
        parser.add_argument(
            "--custom-fields",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Keep unmapped columns as typed custom fields (default: yes).",
        )
        parser.add_argument(
            "--missing",
            nargs="*",
            default=None,
            metavar="VALUE",
            help="Values that mean 'missing' (default: '', NA, N/A, null, Select, unknown).",
        )
        parser.add_argument(
            "--show-errors",
            type=int,
            default=SHOWN_ERRORS,
            metavar="N",
            help=f"How many bad rows to list (default {SHOWN_ERRORS}).",
        )

    def handle(self, *args, **o):
        entity = ENTITIES[o["entity"]]
        path = Path(o["file"]).expanduser().resolve()
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        delimiter = o["delimiter"].replace("\\t", "\t")
        if len(delimiter) > 1:
            raise CommandError("The delimiter is one character.")
        user = self._user(o["as_user"])
        try:
            owner_user = self._person(o["owner"]) if o["owner"] else None
            owner = import_default_owner(user=user, owner=owner_user)
            header, delimiter, _ = file_header(path, delimiter)
            mapping = self._mapping(entity, header, o)
            job = import_job_create(
                by=user,
                entity=entity,
                file_path=path,
                file_name=path.name,
                owner_position=owner,
                mapping=mapping,
                delimiter=delimiter,
                duplicate_policy=o["on_duplicate"],
                mode=ImportMode.ALL_OR_NOTHING if o["all_or_nothing"] else ImportMode.KEEP_GOOD,
                dry_run=o["dry_run"],
                create_custom_fields=o["custom_fields"],
                source_name=o["source"],
                missing_values=o["missing"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

        job = self._run(job)
        self._report(job, o["show_errors"])
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.message or "The import failed.")

    # --- helpers -------------------------------------------------------------------------------

    def _person(self, email: str) -> User:
        user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
        if user is None:
            raise CommandError(f"No active user with the e-mail address {email}.")
        return user

    def _user(self, email: str) -> User:
        if email:
            return self._person(email)
        user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
        if user is None:
            raise CommandError(
                "No superuser to import as: create one (revline createsuperuser) or pass --as."
            )
        return user

    def _mapping(self, entity: str, header: list[str], o: dict) -> dict[str, str]:
        mapping = mapping_for(entity, header)
        fields = FIELDS[entity]

        def column(name: str) -> str:
            if name in header:
                return name
            folded = {h.lower(): h for h in header}
            if name.lower() in folded:
                return folded[name.lower()]
            raise CommandError(f"The file has no column {name!r}. Its columns: {', '.join(header)}")

        def put(col: str, target: str) -> None:
            if target:
                for other, t in list(mapping.items()):
                    if t == target and other != col:
                        del mapping[other]
            mapping[col] = target

        for item in o["maps"]:
            col, sep, target = item.partition("=")
            if not sep:
                raise CommandError(f"--map takes COLUMN=FIELD, not {item!r}.")
            target = target.strip()
            if target and not target.startswith(CUSTOM_PREFIX) and target not in fields:
                raise CommandError(
                    f"{entity}s have no field {target!r}; fields: {', '.join(fields)}"
                )
            put(column(col.strip()), target)
        if o["id_column"]:
            put(column(o["id_column"]), "external_id")
        if o["outcome"]:
            if "outcome" not in fields:
                raise CommandError("--outcome is for leads.")
            put(column(o["outcome"]), "outcome")
        for name in o["exclude"]:
            put(column(name), "")
        return mapping

    def _run(self, job):
        console = Console(file=self.stderr._out, stderr=True)
        quiet = os.environ.get("CI") == "true" and not console.is_terminal
        columns = (
            TextColumn("[bold]Importing[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False, disable=quiet) as progress:
            task = progress.add_task(job.file_name, total=None)

            def step(done: int, total: int) -> None:
                progress.update(task, completed=done, total=max(total, done) or None)

            return import_job_run(job=job, progress=step)

    def _report(self, job, shown: int) -> None:
        out = self.stdout
        style = self.style.SUCCESS if job.status == ImportStatus.DONE else self.style.ERROR
        out.write(style(job.message))
        elapsed = (
            (job.finished_at - job.started_at).total_seconds()
            if job.finished_at and job.started_at
            else 0
        )
        if elapsed > 0 and job.rows_done:
            out.write(f"{job.rows_done / elapsed:,.0f} rows/s ({elapsed:.1f} s)")
        if job.errors:
            out.write(f"\nBad rows ({job.failed}):")
            for error in job.errors[:shown]:
                where = f" [{error['column']}]" if error.get("column") else ""
                out.write(f"  line {error['line']}{where}: {error['reason']}")
            if job.failed > shown:
                out.write(f"  ... and {job.failed - shown} more (--show-errors N lists more)")
        if job.dry_run and job.preview:
            out.write("\nPreview:")
            for row in job.preview[:10]:
                values = ", ".join(f"{k}={v}" for k, v in row["values"].items())
                out.write(f"  line {row['line']} {row['action']}: {values}"[:300])
        out.write(f"Import job {job.pk}.")
