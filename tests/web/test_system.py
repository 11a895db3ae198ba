"""The system status page: task workers and the database queue, for RevOps and superusers."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from revline.core.models import WorkerHeartbeat
from revline.org.choices import RoleType
from tests.org.factories import UserFactory, make_position

pytestmark = pytest.mark.django_db

URL = "/system/status/"
TASK = "revline.org.tasks.send_password_changed_notice"


def task_row(status, *, queue="default", age=timedelta(0), run_after=None, error=None):
    row = DBTaskResult.objects.create(
        status=status,
        args_kwargs={"args": [], "kwargs": {"user_id": 1}},
        task_path=TASK,
        queue_name=queue,
        backend_name="default",
        run_after=run_after or get_date_max(),
        exception_class_path=error[0] if error else "",
        traceback=error[1] if error else "",
    )
    enqueued = timezone.now() - age
    DBTaskResult.objects.filter(pk=row.pk).update(
        enqueued_at=enqueued,
        finished_at=enqueued + timedelta(seconds=1) if status in ("FAILED", "SUCCESSFUL") else None,
    )
    return row


def heartbeat(worker_id, *, seen_ago, stopped=False):
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        hostname=f"host-{worker_id}",
        pid=1000,
        queues="default",
        started_at=now - timedelta(hours=1),
        last_seen=now - seen_ago,
        stopped_at=now - seen_ago if stopped else None,
    )


def smtp_failure(message="Connection refused"):
    return (
        "ConnectionRefusedError",
        'Traceback (most recent call last):\n  File "x.py", line 1, in send\n'
        f"ConnectionRefusedError: [Errno 111] {message}\n",
    )


@pytest.mark.parametrize(
    "role",
    [RoleType.AE, RoleType.SALES_MANAGER, RoleType.CSO, RoleType.CRO, RoleType.CEO],
)
def test_not_found_for_anyone_but_revops(client, role):
    client.force_login(make_position(role).holder)
    assert client.get(URL).status_code == 404
    assert client.get(URL, HTTP_HX_REQUEST="true").status_code == 404


def test_not_found_for_a_user_without_position(client):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 404


def test_revops_and_superusers_see_it(client):
    client.force_login(make_position(RoleType.REVOPS).holder)
    assert client.get(URL).status_code == 200
    client.force_login(UserFactory(is_superuser=True))
    assert client.get(URL).status_code == 200


def test_workers_and_queue_numbers(client, settings):
    settings.REVLINE_WORKER_STALE_SECONDS = 60
    heartbeat("alive-1", seen_ago=timedelta(seconds=5))
    heartbeat("alive-2", seen_ago=timedelta(seconds=30))
    heartbeat("stale", seen_ago=timedelta(seconds=300))
    heartbeat("stopped", seen_ago=timedelta(seconds=2), stopped=True)
    task_row("READY", age=timedelta(minutes=7))
    task_row("READY", age=timedelta(minutes=2))
    task_row("READY", queue="emails", age=timedelta(minutes=1))
    task_row("READY", age=timedelta(hours=5), run_after=timezone.now() + timedelta(hours=1))
    task_row("RUNNING")
    task_row("SUCCESSFUL")
    task_row("SUCCESSFUL", queue="emails")
    task_row("FAILED", error=smtp_failure())
    task_row("FAILED", queue="emails", error=("builtins.ValueError", "ValueError: bad id\n"))

    client.force_login(make_position(RoleType.REVOPS).holder)
    response = client.get(URL)
    assert response.status_code == 200
    status = response.context["status"]

    assert status.alive_workers == 2
    assert {w.heartbeat.worker_id: w.state for w in status.workers} == {
        "alive-1": "alive",
        "alive-2": "alive",
        "stale": "stale",
        "stopped": "stopped",
    }
    assert status.totals == {"READY": 4, "RUNNING": 1, "SUCCESSFUL": 2, "FAILED": 2}
    queues = {q.name: q.counts for q in status.queues}
    assert queues == {
        "default": {"READY": 3, "RUNNING": 1, "SUCCESSFUL": 1, "FAILED": 1},
        "emails": {"READY": 1, "SUCCESSFUL": 1, "FAILED": 1},
    }
    # the task scheduled for later is not "ready" yet, so the oldest ready one is 7 minutes old
    age = status.oldest_ready_age
    assert timedelta(minutes=6, seconds=50) < age < timedelta(minutes=7, seconds=30)

    failures = {f.exception_class: f for f in status.failed}
    assert failures["ConnectionRefusedError"].message == "[Errno 111] Connection refused"
    assert failures["builtins.ValueError"].message == "bad id"

    body = response.content.decode()
    assert 'data-testid="workers-alive">2<' in body
    assert 'data-testid="total-ready">4<' in body
    assert 'data-testid="total-running">1<' in body
    assert 'data-testid="total-failed">2<' in body
    assert "oldest waiting 7\xa0minutes" in body
    assert TASK in body and "[Errno 111] Connection refused" in body
    assert "host-stale" in body and "Stale" in body and "Stopped" in body


def test_only_the_twenty_most_recent_failures_are_listed(client):
    for i in range(25):
        task_row(
            "FAILED",
            age=timedelta(minutes=i),
            error=("builtins.RuntimeError", f"RuntimeError: failure {i}\n"),
        )
    client.force_login(UserFactory(is_superuser=True))
    status = client.get(URL).context["status"]
    assert [f.message for f in status.failed] == [f"failure {i}" for i in range(20)]


def test_empty_queue_and_no_workers(client):
    client.force_login(UserFactory(is_superuser=True))
    response = client.get(URL)
    body = response.content.decode()
    assert "No worker has reported yet" in body
    assert "The queue is empty" in body
    assert "No failed tasks" in body
    assert response.context["status"].oldest_ready_age is None


def test_htmx_refresh_gets_the_partial_which_keeps_polling(client):
    client.force_login(UserFactory(is_superuser=True))
    full = client.get(URL).content.decode()
    assert "<html" in full and 'hx-trigger="every 10s' in full
    response = client.get(URL, HTTP_HX_REQUEST="true")
    assert "HX-Request" in response["Vary"]
    partial = response.content.decode()
    assert "<html" not in partial
    assert 'id="system-status"' in partial and 'hx-trigger="every 10s' in partial
    assert f'hx-get="{URL}"' in partial


def test_query_count_does_not_grow_with_tasks_or_workers(client):
    client.force_login(UserFactory(is_superuser=True))

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    task_row("FAILED", error=smtp_failure())
    heartbeat("w0", seen_ago=timedelta(seconds=1))
    small = count()
    for i in range(10):
        task_row("FAILED", queue=f"q{i}", error=smtp_failure())
        task_row("READY", queue=f"q{i}")
        heartbeat(f"w{i + 1}", seen_ago=timedelta(seconds=i))
    assert count() == small
