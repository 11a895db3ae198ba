"""Background jobs of the crm app: ids in, idempotent, the work done by services."""

from django_tasks import task

from revline.crm.models import ImportJob


@task()
def import_run(*, job_id: int) -> str:
    """Run a pending CSV import (``revline.crm.importer.import_job_run``). A job that already
    ran, or was deleted, is left alone, so running the task twice changes nothing."""
    from revline.crm.importer import import_job_run

    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return "skipped: job gone"
    job = import_job_run(job=job)
    return f"{job.status}: {job.message}"
