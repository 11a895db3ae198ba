"""The import as a background job, and its write path: batches, the writer thread (PostgreSQL),
rows the database refuses."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection

from revline.crm import importer
from revline.crm.choices import DuplicatePolicy, ImportStatus
from revline.crm.models import ImportJob, Lead, LeadStatusChange
from revline.org.models import User
from tests.crm.import_helpers import reasons, run_import, write_csv

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def refuse(email: str):
    """Make the database 'refuse' any batch holding a row with this e-mail address."""
    original = importer._Run._write_creates

    def write(self, creates, copy=True):
        if any(ref.pending and ref.pending.get("email") == email for _, ref in creates):
            raise DatabaseError("value refused by a check")
        return original(self, creates, copy)

    return write


@pytest.mark.django_db
def test_the_background_job_runs_after_commit(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    admin = User.objects.create_superuser("root@x.test", "pw")
    path = write_csv(tmp_path, [["Email", "Last Name"], ["a@x.test", "A"], ["b@x.test", "B"]])
    job = importer.import_job_create(
        by=admin,
        entity="lead",
        file_path=path,
        owner_position=importer.import_default_owner(user=admin),
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        importer.import_job_start(job=job)
        assert ImportJob.objects.get(pk=job.pk).message == importer.QUEUED_MESSAGE
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.created == 2
    assert (job.rows_done, job.rows_total) == (2, 2)
    assert job.started_at and job.finished_at


@pytest.mark.django_db
def test_the_task_is_idempotent(tmp_path):
    from revline.crm.tasks import import_run

    admin = User.objects.create_superuser("root@x.test", "pw")
    path = write_csv(tmp_path, [["Email", "Last Name"], ["a@x.test", "A"]])
    job = importer.import_job_create(
        by=admin,
        entity="lead",
        file_path=path,
        owner_position=importer.import_default_owner(user=admin),
    )
    assert import_run.call(job_id=job.pk).startswith("done")
    assert import_run.call(job_id=job.pk).startswith("done")
    assert Lead.objects.count() == 1
    assert import_run.call(job_id=987654) == "skipped: job gone"


@pytest.mark.django_db
def test_rows_the_database_refuses_are_reported_and_the_rest_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(importer._Run, "_write_creates", refuse("boom@x.test"))
    admin = User.objects.create_superuser("root@x.test", "pw")
    rows = [["Email", "Last Name"]] + [[f"r{i}@x.test", f"R{i}"] for i in range(5)]
    rows.insert(3, ["boom@x.test", "Boom"])
    job = run_import(user=admin, entity="lead", path=write_csv(tmp_path, rows))
    assert (job.created, job.failed) == (5, 1)
    assert "database refused" in reasons(job)[4]
    assert Lead.objects.count() == 5 and LeadStatusChange.objects.count() == 5


@pytest.mark.django_db(transaction=True)
def test_batches_on_the_writer_thread(monkeypatch, tmp_path):
    """Outside a transaction (as in the worker), PostgreSQL writes on a second connection while
    the next batch is read; rows matching rows of earlier batches still update them."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 40)
    monkeypatch.setattr(importer._Run, "_write_creates", refuse("boom@x.test"))
    used = []
    original = importer._Run._threaded
    monkeypatch.setattr(
        importer._Run, "_threaded", lambda self: used.append(original(self)) or used[-1]
    )
    admin = User.objects.create_superuser("root@x.test", "pw")
    rows = [["Id", "Email", "Last Name", "Title"]]
    rows += [[f"L{i}", f"p{i}@x.test", f"Person{i}", "first"] for i in range(150)]
    rows += [["L7", "", "", "second"], ["", "p120@x.test", "", "second"]]  # updates, later batches
    rows += [["L999", "boom@x.test", "Boom", "x"]]
    path = write_csv(tmp_path, rows)
    job = run_import(user=admin, entity="lead", path=path, duplicate_policy=DuplicatePolicy.UPDATE)
    assert used == [connection.vendor == "postgresql"]
    assert (job.created, job.updated, job.failed) == (150, 2, 1), job.errors
    assert job.rows_done == job.rows_total == 153
    assert Lead.objects.count() == 150 and LeadStatusChange.objects.count() == 150
    assert Lead.objects.get(external_id="L7").title == "second"
    assert Lead.objects.get(email="p120@x.test").title == "second"
    assert Lead.objects.get(external_id="L8").title == "first"
    assert ImportJob.objects.get(pk=job.pk).rows_done == 153

    again = run_import(user=admin, entity="lead", path=path)
    assert (again.created, again.skipped, again.failed) == (0, 152, 1)
