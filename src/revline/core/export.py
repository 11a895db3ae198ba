"""CSV export of any list: streamed, so a large export never sits in memory.

Callers pass rows from a selector (so the export sees exactly what the screen sees) and the
columns as ``(header, getter)`` pairs, where ``getter`` is an attribute path (``"owner_position.title"``)
or a callable taking the row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

Column = tuple[str, str | Callable[[Any], Any]]

# A cell starting with one of these may run as a formula in a spreadsheet: it is prefixed with '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(row: Any, getter: str | Callable[[Any], Any]) -> Any:
    if callable(getter):
        value = getter(row)
    else:
        value = row
        for part in getter.split("."):
            value = None if value is None else getattr(value, part, None)
            if callable(value):
                value = value()
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and not _is_number(value):
        return "'" + value  # keep spreadsheets from running a formula someone typed into a field
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def csv_rows(rows: Iterable[Any], columns: list[Column]) -> Iterator[list[Any]]:
    yield [header for header, _ in columns]
    for row in rows:
        yield [_cell(row, getter) for _, getter in columns]


def csv_response(
    rows: Iterable[Any], columns: list[Column], *, filename: str
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(r) for r in csv_rows(rows, columns)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def dated_csv_response(
    rows: Iterable[Any], columns: list[Column], name: str
) -> StreamingHttpResponse:
    """A list export: ``rows`` (a queryset is read in chunks of 2,000) as ``<name>-<today>.csv``."""
    from django.db.models import QuerySet
    from django.utils import timezone

    if isinstance(rows, QuerySet):
        rows = rows.iterator(chunk_size=2000)
    stamp = timezone.localdate().isoformat()
    return csv_response(rows, columns, filename=f"{name}-{stamp}.csv")
