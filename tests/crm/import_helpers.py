"""Helpers for the import tests: write a CSV, run an import through the service."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from revline.crm import importer
from revline.crm.models import ImportJob


def write_csv(folder: Path, rows: list[list[Any]], name: str = "data.csv", **kw: Any) -> Path:
    path = folder / name
    buffer = io.StringIO()
    csv.writer(buffer, **kw).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def run_import(
    *,
    user: Any,
    entity: str,
    path: Path,
    owner: Any = None,
    **options: Any,
) -> ImportJob:
    """Create the job as ``user`` and run it now; returns the finished job."""
    owner = owner or importer.import_default_owner(user=user)
    job = importer.import_job_create(
        by=user, entity=entity, file_path=path, owner_position=owner, **options
    )
    return importer.import_job_run(job=job)


def reasons(job: ImportJob) -> dict[int, str]:
    return {e["line"]: e["reason"] for e in job.errors}
