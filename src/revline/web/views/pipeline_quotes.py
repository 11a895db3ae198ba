"""Web views: quotes (the list and its CSV export, the builder, the quote page, sending, the
printable copy) and the approvals queue. Routes are part of ``revline.web.views.pipeline.urlpatterns``.

A quote is visible with its opportunity (the same predicate); a quote outside the user's view is
404; one they see but may not change is 403 on a POST. Approvals are decided by the approver (or
someone above them): anyone else who sees the quote gets 403. Every write is one service of
``revline.pipeline.services`` (quotes and approvals are in ``revline.pipeline.quoting``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from revline.core.export import Column, dated_csv_response
from revline.org.visibility import can
from revline.pipeline import selectors, services
from revline.pipeline.choices import ApprovalStatus, QuoteStatus
from revline.pipeline.forms import (
    ApprovalDecisionForm,
    QuoteForm,
    QuoteLineFormSet,
    QuoteOutcomeForm,
    line_preview,
)
from revline.pipeline.models import (
    ApprovalRequest,
    Opportunity,
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
)
from revline.pipeline.quoting import EDIT_IN_PLACE, NEW_VERSION
from revline.web.views import drill
from revline.web.views.pipeline_common import (
    changeable_opportunity,
    holder_name,
    require_change,
    safe_next,
)

LINES = "lines"
PAGE_SIZE = 50


def quote_or_404(request: HttpRequest, pk: int) -> Quote:
    """A quote the user may see (the one visibility predicate), with its lines and approvals;
    else 404."""
    try:
        return selectors.quote_get(user=request.user, pk=pk)
    except Quote.DoesNotExist:
        raise Http404("No such quote.") from None


# --- the builder --------------------------------------------------------------------------------


def _price_map() -> dict[str, Any]:
    """What the builder's live totals need: each active book's prices and each product's list
    price, as {"books": {book id: {product id: price}}, "list": {product id: price}}."""
    books: dict[str, dict[str, str]] = {}
    for book_id, product_id, price in PriceBookEntry.objects.filter(
        price_book__active=True
    ).values_list("price_book_id", "product_id", "unit_price"):
        books.setdefault(str(book_id), {})[str(product_id)] = str(price)
    listed = {
        str(pk): str(price)
        for pk, price in Product.objects.filter(active=True).values_list("pk", "list_price")
    }
    return {"books": books, "list": listed}


def _book_prices(book: PriceBook | None) -> dict[int, Decimal]:
    if book is None:
        return {}
    return dict(book.entries.values_list("product_id", "unit_price"))


def _lines_initial(quote: Quote) -> list[dict[str, Any]]:
    return [
        {
            "product": line.product_id,
            "quantity": line.quantity,
            "unit_price": line.unit_price if line.unit_price != line.list_price else None,
            "discount_percent": line.discount_percent or None,
        }
        for line in quote.lines.all()
    ]


def _with_extra_row(data: Any) -> Any:
    data = data.copy()
    total = int(data.get(f"{LINES}-TOTAL_FORMS") or 0)
    data[f"{LINES}-TOTAL_FORMS"] = str(total + 1)
    return data


def _builder(
    request: HttpRequest, *, opportunity: Opportunity, quote: Quote | None
) -> HttpResponse:
    """New quote (``quote=None``) or a change to one: a draft changes in place, anything else
    becomes a new version. Without JavaScript "Add a line" and "Recalculate" post back here."""
    if request.method == "POST":
        data = request.POST
        if "add_line" in data:
            data = _with_extra_row(data)
        form = QuoteForm(data)
        formset = QuoteLineFormSet(data, prefix=LINES)
    else:
        if quote is None:
            book = PriceBook.objects.filter(active=True, is_default=True).first()
            initial = {"price_book": book.pk if book else None, "discount_percent": Decimal(0)}
            lines = (
                [{"product": opportunity.product_id, "quantity": 1}]
                if opportunity.product_id
                else []
            )
        else:
            initial = {
                "price_book": quote.price_book_id,
                "discount_percent": quote.discount_percent,
                "valid_until": quote.valid_until,
                "terms": quote.terms,
            }
            lines = _lines_initial(quote)
        form = QuoteForm(initial=initial)
        formset = QuoteLineFormSet(initial=lines, prefix=LINES)
    if quote is not None:
        form.fields["price_book"].disabled = True
        form.fields["price_book"].initial = quote.price_book_id
        form.fields[
            "price_book"
        ].help_text = "A quote keeps its price book; start a new quote to change it."

    preview = None
    status = 200
    if request.method == "POST" and "add_line" not in request.POST:
        valid = form.is_valid() and formset.is_valid()
        if valid:
            book = quote.price_book if quote else form.cleaned_data["price_book"]
            discount = form.cleaned_data.get("discount_percent") or Decimal(0)
            preview = line_preview(formset.lines(), _book_prices(book), discount)
        if valid and "recalculate" not in request.POST:
            saved = _save_quote(request, form, formset, opportunity=opportunity, quote=quote)
            if saved is not None:
                return redirect("web:quote_detail", pk=saved.pk)
        if not valid or "recalculate" not in request.POST:
            status = 400
    if quote is None:
        heading = "New quote"
        submit = "Create quote"
    elif quote.status in EDIT_IN_PLACE:
        heading = f"Edit {quote.number} v{quote.version}"
        submit = "Save quote"
    else:
        heading = f"New version of {quote.number}"
        submit = f"Create version {quote.version + 1}"
    return render(
        request,
        "web/pipeline/quote_form.html",
        {
            "opportunity": opportunity,
            "quote": quote,
            "account_visible": getattr(quote if quote else opportunity, "account_visible", False),
            "form": form,
            "formset": formset,
            "preview": preview,
            "prices": _price_map(),
            "heading": heading,
            "submit": submit,
            "has_books": PriceBook.objects.filter(active=True).exists(),
            "policy": services.discount_policy(),
        },
        status=status,
    )


def _save_quote(
    request: HttpRequest,
    form: QuoteForm,
    formset: Any,
    *,
    opportunity: Opportunity,
    quote: Quote | None,
) -> Quote | None:
    data = form.cleaned_data
    try:
        if quote is None:
            saved = services.quote_create(
                opportunity=opportunity,
                by=request.user,
                lines=formset.lines(),
                price_book=data["price_book"],
                discount_percent=data.get("discount_percent") or 0,
                valid_until=data.get("valid_until"),
                terms=data.get("terms") or "",
            )
            messages.success(request, f"Created the quote {saved.number}.")
        else:
            saved = services.quote_revise(
                quote=quote,
                by=request.user,
                lines=formset.lines(),
                discount_percent=data.get("discount_percent") or 0,
                valid_until=data.get("valid_until"),
                terms=data.get("terms") or "",
            )
            if saved.pk == quote.pk:
                messages.success(request, f"Saved {saved.number}.")
            else:
                messages.success(
                    request,
                    f"Created version {saved.version} of {saved.number}; the old one "
                    "is superseded.",
                )
    except ValidationError as error:
        _apply_line_errors(form, formset, error)
        return None
    return saved


def _apply_line_errors(form: QuoteForm, formset: Any, error: ValidationError) -> None:
    """Service errors name fields like ``lines.2.product``: show them on that row."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    rows = [f for f in formset.forms if (getattr(f, "cleaned_data", None) or {}).get("product")]
    rows = [f for f in rows if not f.cleaned_data.get("DELETE")]
    for key, errors in error.error_dict.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(rows) and parts[2] in rows[index].fields:
                rows[index].add_error(parts[2], errors)
                continue
        if key in form.fields:
            form.add_error(key, errors)
        else:
            form.add_error(None, [m for e in errors for m in e.messages])


@login_required
def quote_new(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = changeable_opportunity(request, pk)
    return _builder(request, opportunity=opportunity, quote=None)


@login_required
def quote_edit(request: HttpRequest, pk: int) -> HttpResponse:
    quote = quote_or_404(request, pk)
    require_change(request, quote)
    if quote.status not in EDIT_IN_PLACE | NEW_VERSION:
        messages.error(
            request, f"A quote that is {quote.get_status_display().lower()} cannot change."
        )
        return redirect("web:quote_detail", pk=quote.pk)
    return _builder(request, opportunity=quote.opportunity, quote=quote)


# --- the quote page -------------------------------------------------------------------------


def quote_context(request: HttpRequest, quote: Quote, **extra: Any) -> dict[str, Any]:
    user = request.user
    versions = list(Quote.objects.visible_to(user).filter(number=quote.number).order_by("-version"))
    latest = versions[0] if versions else quote
    approvals = list(quote.approvals.all())
    may_change = can(user, "change", quote)
    pending = next((a for a in approvals if a.status == ApprovalStatus.PENDING), None)
    may_decide = bool(pending and services.approval_may_decide(user=user, approval=pending))
    context = {
        "quote": quote,
        "opportunity": quote.opportunity,
        "lines": list(quote.lines.all()),
        "approvals": approvals,
        "pending": pending,
        "may_decide": may_decide,
        "decision_form": ApprovalDecisionForm(),
        "versions": versions,
        "is_latest": latest.pk == quote.pk,
        "may_change": may_change,
        "can_edit": may_change and quote.status in EDIT_IN_PLACE,
        "can_version": may_change and quote.status in NEW_VERSION and latest.pk == quote.pk,
        "can_submit": may_change and quote.status == QuoteStatus.DRAFT,
        "can_send": may_change and quote.status == QuoteStatus.APPROVED,
        "can_mark": may_change and quote.status == QuoteStatus.SENT,
        "policy": services.discount_policy(),
        "send_error": None,
    }
    context.update(extra)
    return context


@login_required
def quote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    quote = quote_or_404(request, pk)
    return render(request, "web/pipeline/quote_detail.html", quote_context(request, quote))


def _changeable_quote(request: HttpRequest, pk: int) -> Quote:
    quote = quote_or_404(request, pk)
    require_change(request, quote)
    return quote


@login_required
@require_POST
def quote_submit(request: HttpRequest, pk: int) -> HttpResponse:
    quote = _changeable_quote(request, pk)
    try:
        quote = services.quote_submit(quote=quote, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if quote.status == QuoteStatus.APPROVED:
            messages.success(request, "Approved: the discount is within your authority.")
        else:
            messages.success(request, "Submitted for approval.")
    return redirect("web:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    quote = _changeable_quote(request, pk)
    try:
        services.quote_send(quote=quote, by=request.user)
    except ValidationError as error:
        return render(
            request,
            "web/pipeline/quote_detail.html",
            quote_context(request, quote, send_error=" ".join(error.messages)),
            status=400,
        )
    messages.success(request, "Marked as sent to the buyer.")
    return redirect("web:quote_detail", pk=quote.pk)


@login_required
@require_POST
def quote_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    quote = _changeable_quote(request, pk)
    form = QuoteOutcomeForm(request.POST)
    if form.is_valid():
        accepted = form.cleaned_data["outcome"] == "accepted"
        service = services.quote_mark_accepted if accepted else services.quote_mark_declined
        try:
            service(quote=quote, by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, "The buyer accepted the quote." if accepted else "Marked as declined."
            )
    return redirect("web:quote_detail", pk=quote.pk)


@login_required
def quote_print(request: HttpRequest, pk: int) -> HttpResponse:
    """A clean printable copy; the browser's Print -> Save as PDF makes the PDF."""
    quote = quote_or_404(request, pk)
    return render(
        request,
        "web/pipeline/quote_print.html",
        {
            "quote": quote,
            "opportunity": quote.opportunity,
            "lines": list(quote.lines.all()),
            "discount_amount": quote.subtotal - quote.total,
        },
    )


# --- approvals ------------------------------------------------------------------------------


# --- the quote list (a KPI drill-down: discounts) ------------------------------------------------

QUOTE_FILTERS = (
    "status",
    "opportunity",
    "account",
    "latest",
    "created_from",
    "created_to",
    "sent_from",
    "sent_to",
    "product",
    "type",
    *drill.OWNED,
    *drill.ACCOUNT,
)


def _quotes_query(request: HttpRequest) -> tuple[dict[str, str], Any]:
    """The quote list's filters and rows (the page and its CSV): the quotes the user sees
    (``selectors.quotes_list``), newest first."""
    found = drill.read(request.GET, QUOTE_FILTERS)
    qs = selectors.quotes_list(
        user=request.user, q=request.GET.get("q", "").strip(), filters=found
    ).annotate(account_visible=selectors.account_visible(request.user, "opportunity__account_id"))
    return found, qs


@login_required
@require_GET
def quotes(request: HttpRequest) -> HttpResponse:
    found, qs = _quotes_query(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": request.GET.get("q", "").strip(),
        "statuses": QuoteStatus.choices,
        "status_values": QuoteStatus.values,
        "status": found.get("status", ""),  # a drill-down may ask for several: "sent,accepted"
        "drill_hidden": {k: v for k, v in found.items() if k != "status"},
        **drill.context(request, found, reverse("web:quotes_export")),
    }
    return render(request, "web/pipeline/quotes.html", context)


QUOTE_COLUMNS: list[Column] = [
    ("id", "id"),
    ("number", "number"),
    ("version", "version"),
    ("status", "status"),
    ("opportunity", "opportunity.name"),
    (
        "account",
        lambda q: (
            q.opportunity.account.name if q.opportunity.account_id and q.account_visible else ""
        ),
    ),
    ("subtotal", "subtotal"),
    ("discount_percent", "discount_percent"),
    ("effective_discount", "effective_discount"),
    ("total", "total"),
    ("currency", "currency"),
    ("sent_at", "sent_at"),
    ("created_at", "created_at"),
    ("owner_position", "owner_position.title"),
    ("owner", holder_name),
]


@login_required
@require_GET
def quotes_export(request: HttpRequest) -> HttpResponse:
    """The quote list as CSV: the same filters, selector and visibility as the page."""
    _, qs = _quotes_query(request)
    return dated_csv_response(qs, QUOTE_COLUMNS, "quotes")


@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    rows = list(
        selectors.approvals_queue(user=request.user).annotate(
            account_visible=selectors.account_visible(
                request.user, "quote__opportunity__account_id"
            )
        )
    )
    return render(
        request,
        "web/pipeline/approvals.html",
        {"rows": rows, "policy": services.discount_policy(), "form": ApprovalDecisionForm()},
    )


@login_required
@require_POST
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    approval = ApprovalRequest.objects.select_related("quote").filter(pk=pk).first()
    if approval is None:
        raise Http404("No such approval.")
    # A quote outside the user's view is 404 even to its approver (its deal may have moved to
    # another team since the request was made).
    if not Quote.objects.visible_to(request.user).filter(pk=approval.quote_id).exists():
        raise Http404("No such approval.")
    if not services.approval_may_decide(user=request.user, approval=approval):
        raise PermissionDenied("Only the approver or someone above them decides this.")
    form = ApprovalDecisionForm(request.POST)
    back = safe_next(request, reverse("web:approvals"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.approval_decide(
            approval=approval,
            by=request.user,
            approve=approve,
            comment=form.cleaned_data.get("comment") or "",
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        quote = approval.quote
        messages.success(
            request,
            f"{'Approved' if approve else 'Rejected'} {quote.number} v{quote.version}.",
        )
    return redirect(back)


urlpatterns = [
    path("pipeline/quotes/", quotes, name="quotes"),
    path("pipeline/quotes/export.csv", quotes_export, name="quotes_export"),
    path("pipeline/opportunities/<int:pk>/quotes/new/", quote_new, name="quote_new"),
    path("pipeline/quotes/<int:pk>/", quote_detail, name="quote_detail"),
    path("pipeline/quotes/<int:pk>/edit/", quote_edit, name="quote_edit"),
    path("pipeline/quotes/<int:pk>/submit/", quote_submit, name="quote_submit"),
    path("pipeline/quotes/<int:pk>/send/", quote_send, name="quote_send"),
    path("pipeline/quotes/<int:pk>/outcome/", quote_outcome, name="quote_outcome"),
    path("pipeline/quotes/<int:pk>/print/", quote_print, name="quote_print"),
    path("pipeline/approvals/", approvals, name="approvals"),
    path("pipeline/approvals/<int:pk>/decide/", approval_decide, name="approval_decide"),
]
