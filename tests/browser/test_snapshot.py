"""The browser tests' database copy (``snapshot.py``) gives back exactly what it copied."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import Position
from tests.browser.snapshot import DatabaseSnapshot, quote, tables

pytestmark = pytest.mark.browser


def contents() -> dict[str, list[tuple]]:
    with connection.cursor() as cursor:
        result = {}
        for table in tables(connection):
            cursor.execute(f"SELECT * FROM {quote(connection, table)}")
            result[table] = sorted(cursor.fetchall(), key=repr)
        return result


def test_restore_gives_back_every_row_and_new_ids_follow_on(demo):
    snapshot = DatabaseSnapshot.take(connection)
    if snapshot is None:
        pytest.skip(f"no snapshot on {connection.vendor}: the demo is loaded for every test")
    try:
        before = contents()
        assert before["org_position"], "the demo organisation is loaded"

        call_command("flush", interactive=False)  # as after a test, post_migrate included
        snapshot.restore(connection)
        assert contents() == before

        # Sequences continue after the restored ids: the next insert does not collide.
        ceo = Position.objects.get(role=RoleType.CEO)
        created = services.position_create(
            title="Chief of Staff", role=RoleType.REVOPS, reports_to=ceo, by=None
        )
        assert created.pk > max(
            Position.objects.exclude(pk=created.pk).values_list("pk", flat=True)
        )
    finally:
        snapshot.close()
