"""Quotes and their discount approvals.

A quote prices products from a price book. Its ``effective_discount`` (the whole discount against
list prices) decides who must approve it (``DiscountPolicy``): nobody up to the manager
threshold, the owner's manager above it, and the nearest VP of Sales as well above the VP
threshold. Approval steps are decided in order; a rejection ends the round. Only an approved quote
can be sent. Editing a quote that is waiting, approved or sent makes a new version (same number)
and supersedes the old one.

Re-exported by ``revline.pipeline.services``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from revline.core.services import audit_event_record
from revline.org.choices import RoleType
from revline.org.models import Position, PositionClosure
from revline.pipeline.choices import ApprovalLevel, ApprovalStatus, OpportunityStatus, QuoteStatus
from revline.pipeline.models import (
    ApprovalRequest,
    DiscountPolicy,
    Opportunity,
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
    QuoteLine,
)

__all__ = [
    "VP_FALLBACK_ROLES",
    "approval_decide",
    "approval_may_decide",
    "discount_policy",
    "quote_approvers",
    "quote_create",
    "quote_mark_accepted",
    "quote_mark_declined",
    "quote_revise",
    "quote_send",
    "quote_submit",
]

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
# Effective discounts are stored in a 5-digit, 2-decimal field; a large mark-up is clamped.
MIN_EFFECTIVE_DISCOUNT = Decimal("-999.99")
# Who approves at the VP level when nobody above the owner is a VP of Sales, nearest first.
VP_FALLBACK_ROLES = (RoleType.CSO, RoleType.CRO, RoleType.CEO)

# Statuses a quote may be revised from, and how.
EDIT_IN_PLACE = frozenset({QuoteStatus.DRAFT, QuoteStatus.REJECTED})
NEW_VERSION = frozenset(
    {QuoteStatus.PENDING_APPROVAL, QuoteStatus.APPROVED, QuoteStatus.SENT, QuoteStatus.DECLINED}
)
_UNSET: Any = object()


# --- pricing -----------------------------------------------------------------------------------


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool):
        raise ValidationError({field: f"{value!r} is not a number."})
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f"{value!r} is not a number."}) from None
    if not number.is_finite():
        raise ValidationError({field: f"{value!r} is not a number."})
    return number


def _percent(value: Any, field: str) -> Decimal:
    number = _decimal(value if value not in (None, "") else 0, field)
    if not Decimal(0) <= number <= HUNDRED:
        raise ValidationError({field: "A discount is between 0 and 100 %."})
    return _cents(number)


def _price_book(price_book: PriceBook | None) -> PriceBook:
    if price_book is not None:
        if not price_book.active:
            raise ValidationError({"price_book": f"The price book {price_book} is not active."})
        return price_book
    book = PriceBook.objects.filter(is_default=True, active=True).first()
    if book is None:
        raise ValidationError({"price_book": "There is no default price book to price from."})
    return book


def _priced_lines(lines: Iterable[Mapping[str, Any]], book: PriceBook) -> list[QuoteLine]:
    """Unsaved ``QuoteLine``s for the line dicts, priced from ``book``."""
    lines = list(lines or [])
    if not lines:
        raise ValidationError({"lines": "A quote needs at least one line."})
    wanted: list[Any] = []
    for i, line in enumerate(lines):
        if not isinstance(line, Mapping) or line.get("product") in (None, ""):
            raise ValidationError({f"lines.{i}.product": "Each line needs a product."})
        wanted.append(line["product"])
    ids = [p.pk if isinstance(p, Product) else p for p in wanted]
    try:
        products = Product.objects.in_bulk([int(pk) for pk in ids])
    except (TypeError, ValueError):
        raise ValidationError({"lines": "A product is given by its id."}) from None
    prices = dict(
        PriceBookEntry.objects.filter(price_book=book, product_id__in=products).values_list(
            "product_id", "unit_price"
        )
    )
    priced = []
    for i, (line, pk) in enumerate(zip(lines, ids, strict=True)):
        prefix = f"lines.{i}"
        product = products.get(int(pk))
        if product is None:
            raise ValidationError({f"{prefix}.product": f"There is no product {pk}."})
        quantity = _decimal(line.get("quantity", 1), f"{prefix}.quantity")
        if quantity <= 0:
            raise ValidationError({f"{prefix}.quantity": "A quantity is more than zero."})
        discount = _percent(line.get("discount_percent"), f"{prefix}.discount_percent")
        book_price = prices.get(product.pk)
        given = line.get("unit_price")
        unit_price = None if given in (None, "") else _decimal(given, f"{prefix}.unit_price")
        if unit_price is not None and unit_price < 0:
            raise ValidationError({f"{prefix}.unit_price": "A price cannot be negative."})
        if book_price is None:
            if unit_price is None:
                raise ValidationError(
                    {f"{prefix}.product": f"{product} is not in the price book {book}."}
                )
            # Off the book: the product's own list price when it is in the book's currency.
            same_currency = product.currency == book.currency and product.list_price > 0
            list_price = product.list_price if same_currency else unit_price
        else:
            list_price = book_price
        unit_price = _cents(unit_price if unit_price is not None else list_price)
        priced.append(
            QuoteLine(
                product=product,
                description=str(line.get("description") or "")[:255],
                quantity=_cents(quantity),
                list_price=_cents(list_price),
                unit_price=unit_price,
                discount_percent=discount,
                line_total=_cents(quantity * unit_price * (1 - discount / HUNDRED)),
                order=i + 1,
            )
        )
    return priced


def _apply_totals(quote: Quote, lines: list[QuoteLine]) -> None:
    """Set ``subtotal``, ``total`` and ``effective_discount`` of ``quote`` from its lines."""
    subtotal = sum((line.line_total for line in lines), Decimal(0))
    quote.subtotal = _cents(subtotal)
    quote.total = _cents(subtotal * (1 - Decimal(quote.discount_percent) / HUNDRED))
    at_list = sum((line.quantity * line.list_price for line in lines), Decimal(0))
    effective = _cents((1 - quote.total / at_list) * HUNDRED) if at_list > 0 else Decimal(0)
    quote.effective_discount = max(effective, MIN_EFFECTIVE_DISCOUNT)


def _save_lines(quote: Quote, lines: list[QuoteLine]) -> None:
    for line in lines:
        line.pk = None
        line.quote = quote
    QuoteLine.objects.bulk_create(lines)


def _lines_repr(lines: list[QuoteLine]) -> list[str]:
    return [
        f"{line.quantity} x {line.product_id} @ {line.unit_price} -{line.discount_percent}%"
        for line in lines
    ]


def _user(by: Any) -> Any:
    return by if getattr(by, "pk", None) else None


def _locked(quote: Quote) -> Quote:
    return Quote.objects.select_for_update().get(pk=quote.pk)


# --- quotes ------------------------------------------------------------------------------------


@transaction.atomic
def quote_create(
    *,
    opportunity: Opportunity,
    by: Any,
    lines: list[Mapping[str, Any]],
    price_book: PriceBook | None = None,
    discount_percent: Any = 0,
    valid_until: dt.date | None = None,
    terms: str = "",
) -> Quote:
    """A draft quote on ``opportunity``, priced from ``price_book`` (default: the default book).

    ``lines``: dicts with ``product`` (a Product or its id), ``quantity`` (default 1),
    ``discount_percent`` (default 0), ``unit_price`` (default: the book's price; required for a
    product that is not in the book) and an optional ``description``.
    """
    book = _price_book(price_book)
    priced = _priced_lines(lines, book)
    quote = Quote(
        opportunity=opportunity,
        owner_position_id=opportunity.owner_position_id,
        # A placeholder until the id is known: numbers are Q-<first version's id>.
        number=f"Q-new-{uuid.uuid4().hex[:20]}",
        version=1,
        status=QuoteStatus.DRAFT,
        price_book=book,
        currency=book.currency,
        discount_percent=_percent(discount_percent, "discount_percent"),
        valid_until=valid_until,
        terms=terms or "",
        created_by=_user(by),
    )
    _apply_totals(quote, priced)
    quote.save()
    quote.number = f"Q-{quote.pk:06d}"
    quote.save(update_fields=["number"])
    _save_lines(quote, priced)
    audit_event_record(
        actor=by,
        action="quote.create",
        instance=quote,
        changes={
            "total": (None, quote.total),
            "effective_discount": (None, quote.effective_discount),
            "lines": (None, _lines_repr(priced)),
        },
    )
    return quote


@transaction.atomic
def quote_revise(
    *,
    quote: Quote,
    by: Any,
    lines: list[Mapping[str, Any]] | None = None,
    discount_percent: Any = None,
    valid_until: Any = _UNSET,
    terms: str | None = None,
) -> Quote:
    """Change a quote. A draft (or rejected) quote changes in place and is a draft again; a quote
    waiting for approval, approved, sent or declined gets a new version with the same number,
    which is returned: the old one is superseded (a declined one stays declined) and its
    pending approvals are cancelled. ``lines=None`` keeps the lines as they are."""
    quote = _locked(quote)
    if quote.status not in EDIT_IN_PLACE | NEW_VERSION:
        raise ValidationError(
            f"A quote that is {quote.get_status_display().lower()} cannot change."
        )
    book = quote.price_book
    new_lines = _priced_lines(lines, book) if lines is not None else list(quote.lines.all())
    values: dict[str, Any] = {}
    if discount_percent is not None:
        values["discount_percent"] = _percent(discount_percent, "discount_percent")
    if valid_until is not _UNSET:
        values["valid_until"] = valid_until
    if terms is not None:
        values["terms"] = terms

    if quote.status in EDIT_IN_PLACE:
        tracked = ["status", "discount_percent", "valid_until", "terms", "total"]
        tracked.append("effective_discount")
        before = {field: getattr(quote, field) for field in tracked}
        for field, value in values.items():
            setattr(quote, field, value)
        quote.status = QuoteStatus.DRAFT
        _apply_totals(quote, new_lines)
        quote.save()
        if lines is not None:
            quote.lines.all().delete()
            _save_lines(quote, new_lines)
        _cancel_pending(quote)
        changes: dict[str, Any] = {
            field: (old, getattr(quote, field))
            for field, old in before.items()
            if old != getattr(quote, field)
        }
        if lines is not None:
            changes["lines"] = (None, _lines_repr(new_lines))
        if changes:
            audit_event_record(actor=by, action="quote.revise", instance=quote, changes=changes)
        return quote

    latest = Quote.objects.filter(number=quote.number).order_by("-version").first()
    if latest is not None and latest.pk != quote.pk:
        raise ValidationError(f"Revise the latest version of {quote.number} (v{latest.version}).")
    new = Quote(
        opportunity_id=quote.opportunity_id,
        owner_position_id=quote.owner_position_id,
        number=quote.number,
        version=quote.version + 1,
        status=QuoteStatus.DRAFT,
        price_book=book,
        currency=quote.currency,
        discount_percent=values.get("discount_percent", quote.discount_percent),
        valid_until=values.get("valid_until", quote.valid_until),
        terms=values.get("terms", quote.terms),
        created_by=_user(by),
        is_generated=quote.is_generated,
    )
    _apply_totals(new, new_lines)
    new.save()
    _save_lines(new, new_lines)
    old_status = quote.status
    if old_status != QuoteStatus.DECLINED:
        quote.status = QuoteStatus.SUPERSEDED
        quote.save(update_fields=["status", "updated_at"])
    _cancel_pending(quote)
    audit_event_record(
        actor=by,
        action="quote.supersede",
        instance=quote,
        changes={"status": (old_status, quote.status), "superseded_by": (None, new.version)},
    )
    audit_event_record(
        actor=by,
        action="quote.version",
        instance=new,
        changes={
            "version": (quote.version, new.version),
            "total": (quote.total, new.total),
            "effective_discount": (quote.effective_discount, new.effective_discount),
        },
    )
    return new


def _cancel_pending(quote: Quote) -> int:
    return quote.approvals.filter(status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.CANCELLED, updated_at=timezone.now()
    )


# --- approvals ---------------------------------------------------------------------------------


def discount_policy() -> DiscountPolicy:
    """The discount thresholds (the one row, created with the defaults when missing)."""
    policy = DiscountPolicy.objects.order_by("pk").first()
    if policy is None:
        policy = DiscountPolicy.objects.create()
    return policy


def _solid_chain(position: Position) -> list[Position]:
    """The positions above ``position`` along solid lines, nearest first (one query)."""
    above = {
        p.pk: p
        for p in Position.objects.filter(
            pk__in=PositionClosure.objects.filter(descendant=position, depth__gt=0).values(
                "ancestor_id"
            )
        )
    }
    chain: list[Position] = []
    current = above.get(position.reports_to_id) if position.reports_to_id else None
    while current is not None and current not in chain:
        chain.append(current)
        current = above.get(current.reports_to_id) if current.reports_to_id else None
    return chain


def quote_approvers(
    *, owner_position: Position, discount: Decimal, policy: DiscountPolicy | None = None
) -> list[tuple[str, Position]]:
    """Who must approve a quote of ``owner_position`` at ``discount`` %, in order, as
    ``(level, position)``: nobody up to the manager threshold; the owner's manager above it; and
    above the VP threshold also the nearest VP of Sales up the solid line (else the nearest CSO,
    CRO or CEO). When that VP is the manager, one VP-level step does both."""
    policy = policy or discount_policy()
    if discount <= policy.manager_threshold:
        return []
    chain = _solid_chain(owner_position)
    if not chain:
        raise ValidationError(
            f"A {discount}% discount needs approval, but {owner_position.title} reports to nobody."
        )
    manager = chain[0]
    if discount <= policy.vp_threshold:
        return [(ApprovalLevel.MANAGER, manager)]
    vp = next((p for p in chain if p.role == RoleType.VP_SALES), None)
    if vp is None:
        for role in VP_FALLBACK_ROLES:
            vp = next((p for p in chain if p.role == role), None)
            if vp is not None:
                break
    if vp is None:
        raise ValidationError(
            f"A {discount}% discount needs a VP's approval, but there is no VP of Sales (or "
            f"CSO, CRO, CEO) above {owner_position.title}."
        )
    if vp.pk == manager.pk:
        return [(ApprovalLevel.VP, vp)]
    return [(ApprovalLevel.MANAGER, manager), (ApprovalLevel.VP, vp)]


@transaction.atomic
def quote_submit(*, quote: Quote, by: Any) -> Quote:
    """Ask for the approvals the quote's discount needs; with none needed it is approved now."""
    quote = _locked(quote)
    if quote.status != QuoteStatus.DRAFT:
        raise ValidationError(
            f"Only a draft is submitted; this quote is {quote.get_status_display().lower()}."
        )
    if not quote.lines.exists():
        raise ValidationError({"lines": "A quote needs at least one line."})
    policy = discount_policy()
    approvers = quote_approvers(
        owner_position=quote.owner_position,
        discount=Decimal(quote.effective_discount),
        policy=policy,
    )
    if not approvers:
        quote.status = QuoteStatus.APPROVED
        quote.save(update_fields=["status", "updated_at"])
        audit_event_record(
            actor=by,
            action="quote.submit",
            instance=quote,
            changes={
                "status": (QuoteStatus.DRAFT, QuoteStatus.APPROVED),
                "approval": (None, f"not needed at {quote.effective_discount}%"),
            },
        )
        return quote
    ApprovalRequest.objects.bulk_create(
        ApprovalRequest(
            quote=quote,
            level=level,
            step=step,
            approver_position=position,
            status=ApprovalStatus.PENDING,
            discount_percent=quote.effective_discount,
        )
        for step, (level, position) in enumerate(approvers, start=1)
    )
    quote.status = QuoteStatus.PENDING_APPROVAL
    quote.save(update_fields=["status", "updated_at"])
    audit_event_record(
        actor=by,
        action="quote.submit",
        instance=quote,
        changes={
            "status": (QuoteStatus.DRAFT, QuoteStatus.PENDING_APPROVAL),
            "approvers": (None, [f"{level}: {position.title}" for level, position in approvers]),
        },
    )
    return quote


def approval_may_decide(*, user: Any, approval: ApprovalRequest) -> bool:
    """Whether ``user`` may decide ``approval``: a superuser, the holder of the approver position
    or of a position above it (solid or dotted)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return PositionClosure.objects.filter(
        ancestor__holder_id=user.pk, descendant_id=approval.approver_position_id
    ).exists()


@transaction.atomic
def approval_decide(
    *, approval: ApprovalRequest, by: Any, approve: bool, comment: str = ""
) -> ApprovalRequest:
    """Approve or reject the current step of a quote's approval. A rejection rejects the quote
    and cancels the later steps; approving the last step approves the quote.

    Raises ``PermissionDenied`` unless ``by`` may decide (``approval_may_decide``); ``by=None``
    is the system (demo data, scripts)."""
    quote = _locked(approval.quote)
    approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if by is not None and not approval_may_decide(user=by, approval=approval):
        raise PermissionDenied("Only the approver or someone above them may decide this.")
    if approval.status != ApprovalStatus.PENDING:
        raise ValidationError(f"This approval is already {approval.get_status_display().lower()}.")
    if quote.status != QuoteStatus.PENDING_APPROVAL:
        raise ValidationError("This quote is not waiting for approval.")
    steps = list(quote.approvals.exclude(status=ApprovalStatus.CANCELLED).order_by("step", "id"))
    current = next((s for s in steps if s.status == ApprovalStatus.PENDING), None)
    if current is None or current.pk != approval.pk:
        raise ValidationError(
            f"Step {current.step if current else '?'} must be decided before step {approval.step}."
        )
    now = timezone.now()
    approval.status = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
    approval.decided_by = _user(by)
    approval.decided_at = now
    approval.comment = (comment or "").strip()
    approval.save()
    later = [s.pk for s in steps if s.step > approval.step and s.status == ApprovalStatus.PENDING]
    before = quote.status
    if not approve:
        ApprovalRequest.objects.filter(pk__in=later).update(
            status=ApprovalStatus.CANCELLED, updated_at=now
        )
        quote.status = QuoteStatus.REJECTED
    elif not later:
        quote.status = QuoteStatus.APPROVED
    if quote.status != before:
        quote.save(update_fields=["status", "updated_at"])
    changes: dict[str, Any] = {
        f"approval.step{approval.step}": (ApprovalStatus.PENDING, approval.status),
        "level": (None, approval.level),
        "approver_position": (None, approval.approver_position_id),
    }
    if approval.comment:
        changes["comment"] = (None, approval.comment)
    if quote.status != before:
        changes["status"] = (before, quote.status)
    audit_event_record(
        actor=by,
        action="quote.approve" if approve else "quote.reject",
        instance=quote,
        changes=changes,
    )
    return approval


# --- sending and the buyer's answer ------------------------------------------------------------


def _transition(
    quote: Quote, *, by: Any, allowed: frozenset[str], to: str, action: str, refusal: str
) -> Quote:
    quote = _locked(quote)
    if quote.status not in allowed:
        raise ValidationError(
            f"{refusal} This quote is {quote.get_status_display().lower()}.", code="quote_status"
        )
    before = quote.status
    quote.status = to
    fields = ["status", "updated_at"]
    changes: dict[str, Any] = {"status": (before, to)}
    if to == QuoteStatus.SENT:
        quote.sent_at = timezone.now()
        fields.append("sent_at")
        changes["sent_at"] = (None, quote.sent_at.isoformat())
    quote.save(update_fields=fields)
    audit_event_record(actor=by, action=action, instance=quote, changes=changes)
    return quote


@transaction.atomic
def quote_send(*, quote: Quote, by: Any) -> Quote:
    """Mark an approved quote as sent to the buyer. An unapproved quote is never sent."""
    return _transition(
        quote,
        by=by,
        allowed=frozenset({QuoteStatus.APPROVED}),
        to=QuoteStatus.SENT,
        action="quote.send",
        refusal="Only an approved quote can be sent.",
    )


@transaction.atomic
def quote_mark_accepted(*, quote: Quote, by: Any) -> Quote:
    """The buyer accepted a sent quote. An open deal takes the accepted quote's total and
    currency as its amount (recorded like any other change of the deal); a closed deal keeps
    the amount it closed with."""
    from revline.pipeline.services import opportunity_update

    quote = _transition(
        quote,
        by=by,
        allowed=frozenset({QuoteStatus.SENT}),
        to=QuoteStatus.ACCEPTED,
        action="quote.accept",
        refusal="Only a sent quote can be accepted.",
    )
    deal = Opportunity.objects.get(pk=quote.opportunity_id)
    if deal.status == OpportunityStatus.OPEN:
        opportunity_update(opportunity=deal, by=by, amount=quote.total, currency=quote.currency)
    return quote


@transaction.atomic
def quote_mark_declined(*, quote: Quote, by: Any) -> Quote:
    """The buyer declined a sent quote."""
    return _transition(
        quote,
        by=by,
        allowed=frozenset({QuoteStatus.SENT}),
        to=QuoteStatus.DECLINED,
        action="quote.decline",
        refusal="Only a sent quote can be declined.",
    )
