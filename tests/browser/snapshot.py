"""A copy of the test database's rows, to put the demo organisation back quickly between tests.

Browser tests need committed data (the live server runs in another thread, or another
connection), so each one runs on a transactional database that is emptied afterwards. Loading
the demo organisation again for every test costs a second or two; putting back a copy taken after
the first load costs a few milliseconds on SQLite and a fraction of a second on PostgreSQL.

- In-memory SQLite: SQLite's online backup API copies the whole database, schema and all.
- PostgreSQL: ``COPY ... TO STDOUT`` of every table with rows, put back with ``COPY ... FROM
  STDIN`` inside one transaction (Django's foreign keys are deferrable), then the sequences are
  moved past the restored ids.
- Anything else: ``take`` answers None and the caller loads the data again.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import transaction


class DatabaseSnapshot:
    def __init__(self, vendor: str, data: Any):
        self.vendor = vendor
        self.data = data

    @classmethod
    def take(cls, connection) -> DatabaseSnapshot | None:
        connection.ensure_connection()
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            copy = sqlite3.connect(":memory:", check_same_thread=False)
            connection.connection.backup(copy)
            return cls("sqlite", copy)
        if connection.vendor == "postgresql":
            rows: dict[str, bytes] = {}
            with connection.cursor() as cursor:
                for table in tables(connection):
                    with cursor.cursor.copy(f"COPY {quote(connection, table)} TO STDOUT") as out:
                        data = b"".join(bytes(chunk) for chunk in out)
                    if data:
                        rows[table] = data
            return cls("postgresql", rows)
        return None

    def restore(self, connection) -> None:
        """Make the database hold exactly the rows it held when the snapshot was taken."""
        connection.ensure_connection()
        if self.vendor == "sqlite":
            self.data.backup(connection.connection)
        else:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                for table in tables(connection):  # what post_migrate put back after a flush
                    cursor.execute(f"DELETE FROM {quote(connection, table)}")
                for table, data in self.data.items():
                    with cursor.cursor.copy(f"COPY {quote(connection, table)} FROM STDIN") as inp:
                        inp.write(data)
                for sql in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
                    cursor.execute(sql)
        ContentType.objects.clear_cache()  # ids cached since the last flush may differ

    def close(self) -> None:
        if self.vendor == "sqlite":
            self.data.close()


def tables(connection) -> list[str]:
    """The tables ``flush`` empties: every installed model's, that exists."""
    return sorted(connection.introspection.django_table_names(only_existing=True))


def quote(connection, name: str) -> str:
    return connection.ops.quote_name(name)
