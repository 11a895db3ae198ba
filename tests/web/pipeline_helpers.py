"""Shared builders for the pipeline screen tests (tests/web/test_pipeline_*.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse

from revline.pipeline import configuration
from revline.pipeline.models import Stage
from tests.crm.factories import make_account, make_opportunity

__all__ = [
    "as_user",
    "build_catalog",
    "make_account",
    "make_opportunity",
    "share_view",
    "stage",
    "url",
]


def url(name: str, *args: Any) -> str:
    return reverse(f"web:{name}", args=args)


def as_user(client, position):
    client.force_login(position.holder)
    return client


def share_view(record, position) -> None:
    """Let ``position`` see ``record`` without changing it (a view-only record share)."""
    from django.contrib.contenttypes.models import ContentType

    from revline.org.models import RecordShare

    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        position=position,
        access="view",
    )


def stage(pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


def build_catalog() -> dict[str, Any]:
    """Two products in a default price book (the second a 12-month subscription)."""
    seats = configuration.product_save(by=None, name="Seats", list_price=Decimal("100"))
    support = configuration.product_save(
        by=None, name="Support", list_price=Decimal("50"), is_subscription=True, term_months=12
    )
    book = configuration.price_book_save(by=None, name="Standard", is_default=True)
    configuration.price_entry_set(
        by=None, price_book=book, product=seats, unit_price=Decimal("100")
    )
    configuration.price_entry_set(
        by=None, price_book=book, product=support, unit_price=Decimal("50")
    )
    return {"seats": seats, "support": support, "book": book}


def quote_post(product, *, quantity="10", discount="0", quote_discount="0", extra=None):
    """The builder's POST for one line (formset prefix "lines"), priced from the default book."""
    from revline.pipeline.models import PriceBook

    book = PriceBook.objects.filter(is_default=True).first()
    data = {
        "price_book": str(book.pk) if book else "",
        "discount_percent": quote_discount,
        "valid_until": "",
        "terms": "Net 30",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-product": str(product.pk),
        "lines-0-quantity": quantity,
        "lines-0-unit_price": "",
        "lines-0-discount_percent": discount,
    }
    data.update(extra or {})
    return data
