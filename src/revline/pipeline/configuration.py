"""RevOps configuration writes: pipelines, stage removal, products, price books and their
prices, the discount policy and the competitor list. Keyword-only, one transaction each, each
with its audit event. Callers check that the user administers the organisation; stages are
created and changed by ``revline.pipeline.services.stage_save``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from revline.core.services import audit_event_record, diff_fields
from revline.pipeline.models import (
    Competitor,
    DiscountPolicy,
    Pipeline,
    PriceBook,
    PriceBookEntry,
    Product,
    Stage,
)

PRODUCT_FIELDS = frozenset(
    {
        "name",
        "code",
        "series",
        "description",
        "list_price",
        "currency",
        "is_subscription",
        "term_months",
        "active",
        "external_id",
    }
)
PRICE_BOOK_FIELDS = frozenset(
    {"name", "currency", "is_default", "active", "valid_from", "valid_until"}
)


def _only(fields: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Unknown {what} field(s): {', '.join(sorted(unknown))}.")


def _name(value: str, what: str) -> str:
    name = (value or "").strip()
    if not name:
        raise ValidationError({"name": f"A {what} needs a name."})
    return name


# --- pipelines and stages ------------------------------------------------------------------------


@transaction.atomic
def pipeline_save(
    *,
    by: Any,
    name: str,
    order: int | None = None,
    is_default: bool = False,
    pipeline: Pipeline | None = None,
) -> Pipeline:
    """Create (``pipeline=None``) or rename a pipeline. Making one the default unmarks the
    others; the default pipeline stays the default until another takes its place."""
    name = _name(name, "pipeline")
    clash = Pipeline.objects.filter(name__iexact=name)
    if pipeline is not None:
        clash = clash.exclude(pk=pipeline.pk)
    if clash.exists():
        raise ValidationError({"name": f"There is already a pipeline named {name!r}."})
    if pipeline is None:
        last = Pipeline.objects.order_by("-order").values_list("order", flat=True).first()
        pipeline = Pipeline.objects.create(
            name=name,
            order=order if order is not None else (last or 0) + 10,
            is_default=is_default or not Pipeline.objects.exists(),
        )
        audit_event_record(actor=by, action="pipeline.create", instance=pipeline)
    else:
        values: dict[str, Any] = {"name": name}
        if order is not None:
            values["order"] = order
        if is_default:
            values["is_default"] = True
        changes = diff_fields(pipeline, values)
        if changes:
            pipeline.save()
            audit_event_record(
                actor=by, action="pipeline.update", instance=pipeline, changes=changes
            )
    if pipeline.is_default:
        Pipeline.objects.filter(is_default=True).exclude(pk=pipeline.pk).update(is_default=False)
    return pipeline


@transaction.atomic
def stage_delete(*, stage: Stage, by: Any) -> None:
    """Remove a stage no deal has ever been in; a used stage stays (history refers to it)."""
    from revline.pipeline.models import StageChange

    if stage.opportunities.exists() or StageChange.objects.filter(to_stage=stage).exists():
        raise ValidationError(
            f"Deals have been in {stage.name}: it stays, so that their history stays true."
        )
    audit_event_record(
        actor=by,
        action="stage.delete",
        instance=stage.pipeline,
        changes={"stage": (stage.name, None)},
    )
    stage.delete()


# --- products and price books ----------------------------------------------------------------


def _clean_product(values: dict[str, Any]) -> dict[str, Any]:
    if "name" in values:
        values["name"] = _name(values["name"], "product")
    if "currency" in values:
        values["currency"] = (values["currency"] or "USD").strip().upper()
    if values.get("list_price") is not None and Decimal(values["list_price"]) < 0:
        raise ValidationError({"list_price": "A price cannot be negative."})
    for key in ("code", "series", "description", "external_id"):
        if key in values:
            values[key] = (values[key] or "").strip()
    return values


@transaction.atomic
def product_save(*, by: Any, product: Product | None = None, **fields: Any) -> Product:
    """Create (``product=None``) or change a product."""
    _only(fields, PRODUCT_FIELDS, "product")
    values = _clean_product(dict(fields))
    name = values.get("name", product.name if product else "")
    clash = Product.objects.filter(name__iexact=name)
    if product is not None:
        clash = clash.exclude(pk=product.pk)
    if clash.exists():
        raise ValidationError({"name": f"There is already a product named {name!r}."})
    if product is None:
        product = Product(**values)
        product.full_clean()
        product.save()
        audit_event_record(actor=by, action="product.create", instance=product)
        return product
    changes = diff_fields(product, values)
    if changes:
        product.full_clean()
        product.save()
        audit_event_record(actor=by, action="product.update", instance=product, changes=changes)
    return product


@transaction.atomic
def price_book_save(*, by: Any, price_book: PriceBook | None = None, **fields: Any) -> PriceBook:
    """Create (``price_book=None``) or change a price book; one book is the default."""
    _only(fields, PRICE_BOOK_FIELDS, "price book")
    values = dict(fields)
    if "name" in values:
        values["name"] = _name(values["name"], "price book")
    if "currency" in values:
        values["currency"] = (values["currency"] or "USD").strip().upper()
    start: dt.date | None = values.get("valid_from", getattr(price_book, "valid_from", None))
    end: dt.date | None = values.get("valid_until", getattr(price_book, "valid_until", None))
    if start and end and end < start:
        raise ValidationError({"valid_until": "The end is after the start."})
    name = values.get("name", price_book.name if price_book else "")
    clash = PriceBook.objects.filter(name__iexact=name)
    if price_book is not None:
        clash = clash.exclude(pk=price_book.pk)
    if clash.exists():
        raise ValidationError({"name": f"There is already a price book named {name!r}."})
    if price_book is None:
        values.setdefault("is_default", not PriceBook.objects.exists())
        price_book = PriceBook.objects.create(**values)
        audit_event_record(actor=by, action="price_book.create", instance=price_book)
    else:
        changes = diff_fields(price_book, values)
        if changes:
            price_book.save()
            audit_event_record(
                actor=by, action="price_book.update", instance=price_book, changes=changes
            )
    if price_book.is_default:
        PriceBook.objects.filter(is_default=True).exclude(pk=price_book.pk).update(is_default=False)
    return price_book


@transaction.atomic
def price_entry_set(
    *, by: Any, price_book: PriceBook, product: Product, unit_price: Decimal
) -> PriceBookEntry:
    """The price of ``product`` in ``price_book`` (added or changed)."""
    if unit_price is None or Decimal(unit_price) < 0:
        raise ValidationError({"unit_price": "A price is zero or more."})
    entry, created = PriceBookEntry.objects.get_or_create(
        price_book=price_book, product=product, defaults={"unit_price": unit_price}
    )
    before = None if created else entry.unit_price
    if not created and entry.unit_price != Decimal(unit_price):
        entry.unit_price = unit_price
        entry.save(update_fields=["unit_price"])
    if created or before != entry.unit_price:
        audit_event_record(
            actor=by,
            action="price_book.price",
            instance=price_book,
            changes={f"price.{product.name}": (before, entry.unit_price)},
        )
    return entry


@transaction.atomic
def price_entry_remove(*, by: Any, entry: PriceBookEntry) -> None:
    audit_event_record(
        actor=by,
        action="price_book.price",
        instance=entry.price_book,
        changes={f"price.{entry.product.name}": (entry.unit_price, None)},
    )
    entry.delete()


# --- discount policy and competitors ----------------------------------------------------------


@transaction.atomic
def discount_policy_update(
    *, by: Any, manager_threshold: Decimal, vp_threshold: Decimal
) -> DiscountPolicy:
    """The discount approval thresholds, in %: above the first the owner's manager approves,
    above the second the VP approves as well."""
    from revline.pipeline.quoting import discount_policy

    for key, value in (("manager_threshold", manager_threshold), ("vp_threshold", vp_threshold)):
        if value is None or not Decimal(0) <= Decimal(value) <= Decimal(100):
            raise ValidationError({key: "A threshold is between 0 and 100 %."})
    if Decimal(vp_threshold) < Decimal(manager_threshold):
        raise ValidationError({"vp_threshold": "The VP threshold is at or above the manager's."})
    policy = discount_policy()
    changes = diff_fields(
        policy,
        {"manager_threshold": Decimal(manager_threshold), "vp_threshold": Decimal(vp_threshold)},
    )
    if changes:
        policy.save()
        audit_event_record(
            actor=by, action="discount_policy.update", instance=policy, changes=changes
        )
    return policy


@transaction.atomic
def competitor_save(
    *,
    by: Any,
    name: str,
    website: str = "",
    notes: str = "",
    competitor: Competitor | None = None,
) -> Competitor:
    """Create (``competitor=None``) or change a competitor of the list deals are tagged with."""
    name = _name(name, "competitor")
    clash = Competitor.objects.filter(name__iexact=name)
    if competitor is not None:
        clash = clash.exclude(pk=competitor.pk)
    if clash.exists():
        raise ValidationError({"name": f"There is already a competitor named {name!r}."})
    values = {"name": name, "website": (website or "").strip(), "notes": (notes or "").strip()}
    if competitor is None:
        competitor = Competitor.objects.create(**values)
        audit_event_record(actor=by, action="competitor.create", instance=competitor)
        return competitor
    changes = diff_fields(competitor, values)
    if changes:
        competitor.save()
        audit_event_record(
            actor=by, action="competitor.update", instance=competitor, changes=changes
        )
    return competitor
