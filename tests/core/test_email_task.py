"""A background task end to end: enqueued after commit, run by ``revline worker``, mail delivered
over real SMTP; and a failing task stays visible as FAILED with its exception."""

from __future__ import annotations

import signal
import socket
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from revline.core.models import WorkerHeartbeat
from revline.org import services
from tests.org.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "Your Revline password was changed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    # pytest-django swaps in the in-memory backend; this test wants the real one.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield inbox
    controller.stop()


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """The worker installs its own SIGINT/SIGTERM handlers; give pytest its own back."""
    names = [n for n in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, n)]
    saved = {n: signal.getsignal(getattr(signal, n)) for n in names}
    yield
    for n, handler in saved.items():
        signal.signal(getattr(signal, n), handler)


def run_worker():
    call_command("worker", batch=True, verbosity=0)


def test_password_notice_is_queued_after_commit_and_mailed_by_the_worker(smtp_server):
    user = UserFactory(email="rita.reader@example.test", full_name="Rita Reader")

    with transaction.atomic():
        services.password_changed(user=user)
        assert not DBTaskResult.objects.exists()  # nothing leaves before the commit
    (task,) = DBTaskResult.objects.all()
    assert task.status == "READY"
    assert task.task_path == "revline.org.tasks.send_password_changed_notice"
    assert not smtp_server.messages

    run_worker()

    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    assert task.return_value == "sent"
    assert task.finished_at is not None
    (beat,) = WorkerHeartbeat.objects.all()
    assert beat.stopped_at is not None
    assert beat.started_at <= beat.last_seen
    assert beat.queues == "default"
    assert task.worker_ids == [beat.worker_id]

    ((mail_from, recipients, message),) = smtp_server.messages
    assert recipients == ["rita.reader@example.test"]
    assert message["To"] == "rita.reader@example.test"
    assert message["Subject"] == SUBJECT
    assert "Hello Rita" in message.get_payload(decode=True).decode()
    assert mail_from == "revline@localhost"


def test_rolled_back_change_sends_nothing(smtp_server):
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.password_changed(user=user)
        raise RuntimeError("the password change failed after all")
    assert not DBTaskResult.objects.exists()
    run_worker()
    assert not smtp_server.messages


def test_failed_task_is_recorded_not_dropped(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    user = UserFactory()
    with transaction.atomic():
        services.password_changed(user=user)

    run_worker()

    (task,) = DBTaskResult.objects.all()
    assert task.status == "FAILED"
    assert task.exception_class_path == "builtins.ConnectionRefusedError"
    assert "ConnectionRefusedError" in task.traceback
    assert "send_mail" in task.traceback
    result = task.task_result  # what the tasks API (and the status page) reports
    assert result.status == "FAILED"
    assert result.errors[0].exception_class_path == "builtins.ConnectionRefusedError"
    assert WorkerHeartbeat.objects.get().stopped_at is not None


def test_task_for_a_deleted_user_is_skipped(smtp_server):
    user = UserFactory()
    with transaction.atomic():
        services.password_changed(user=user)
    user.delete()
    run_worker()
    task = DBTaskResult.objects.get()
    assert (task.status, task.return_value) == ("SUCCESSFUL", "skipped: user gone")
    assert not smtp_server.messages
