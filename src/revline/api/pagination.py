"""Keyset (cursor) pagination for every list endpoint: ``{"items": [...], "next": ..., "total": n}``.

Use it on any handler that returns a queryset and declares a list response::

    @router.get("/things", response=with_errors({200: list[ThingOut]}))
    @paginated
    def things_list(request, filters: Query[ThingFilters]):
        return selectors.things_visible(user=request.auth)

The client passes ``?limit=`` (default 50, at most 200) and ``?cursor=`` (the ``next`` of the
previous page, opaque). Pages are cut on a unique key (``id`` by default; ``key="-id"`` walks
newest first), so a page costs the same at any depth and rows inserted meanwhile are neither
skipped nor repeated. ``total`` counts the whole filtered list. A page costs a constant number
of queries: one ``COUNT``, one ``SELECT ... LIMIT n+1``, plus the queryset's prefetches.

``keyset_page(queryset, limit=..., cursor=...)`` is the same thing without ninja, for web views
or exports.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.errors import ValidationError as NinjaValidationError
from ninja.pagination import PaginationBase, paginate

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(value: Any) -> str:
    raw = json.dumps({"k": value}, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The key value inside ``cursor``; raises ``ValueError`` for anything we did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("Invalid cursor.") from exc
    if not isinstance(data, dict) or "k" not in data or isinstance(data["k"], (dict, list)):
        raise ValueError("Invalid cursor.")
    return data["k"]


@dataclass
class Page:
    items: list[Any]
    next: str | None
    total: int


def keyset_page(
    queryset: QuerySet, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None, key: str = "id"
) -> Page:
    """One page of ``queryset`` ordered by the unique field ``key`` (``-key`` for descending).

    Raises ``ValueError`` for a cursor that cannot be decoded.
    """
    field = key.lstrip("-")
    descending = key.startswith("-")
    total = queryset.count()
    page_qs = queryset.order_by(key)
    if cursor:
        after = decode_cursor(cursor)
        try:
            page_qs = page_qs.filter(**{f"{field}__{'lt' if descending else 'gt'}": after})
        except (TypeError, ValueError) as exc:  # a cursor crafted for another key type
            raise ValueError("Invalid cursor.") from exc
    rows = list(page_qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], field)) if more and rows else None
    return Page(items=rows, next=next_cursor, total=total)


class KeysetPagination(PaginationBase):
    """ninja pagination class producing Revline's list shape; see the module docstring."""

    class Input(Schema):
        limit: int = Field(
            DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT})."
        )
        cursor: str | None = Field(
            None, description="The `next` value of the previous page; omit for the first page."
        )

    class Output(Schema):
        items: list[Any]
        next: str | None = Field(None, description="Cursor of the next page, null on the last.")
        total: int = Field(..., description="How many items the whole (filtered) list holds.")

    items_attribute = "items"

    def __init__(self, *, key: str = "id", **kwargs: Any) -> None:
        self.key = key
        super().__init__(**kwargs)

    def paginate_queryset(
        self, queryset: QuerySet, pagination: Input, request: Any, **params: Any
    ) -> dict[str, Any]:
        try:
            page = keyset_page(
                queryset, limit=pagination.limit, cursor=pagination.cursor, key=self.key
            )
        except ValueError as exc:
            raise NinjaValidationError(
                [{"loc": ("query", "cursor"), "msg": str(exc), "type": "value_error"}]
            ) from exc
        return {"items": page.items, "next": page.next, "total": page.total}


def paginated(func=None, *, key: str = "id"):
    """``@paginated`` or ``@paginated(key="-id")``: Revline's keyset pagination on a handler."""
    if func is None:
        return paginate(KeysetPagination, key=key)
    return paginate(KeysetPagination, key=key)(func)
