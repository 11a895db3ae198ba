"""Web views: the RevOps set-up of the pipeline (pipelines and stages, products and price books,
the discount policy, competitors). Organisation admins only (RevOps and superusers): 404 for
everyone else, as the organisation admin screens. Each write is one service call
(``revline.pipeline.services.stage_save`` or ``revline.pipeline.configuration``) with its audit
event. Routes are part of ``revline.web.views.pipeline.urlpatterns``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from revline.pipeline import configuration, services
from revline.pipeline.choices import REQUIREMENTS
from revline.pipeline.forms import (
    CompetitorForm,
    DiscountPolicyForm,
    PipelineForm,
    PriceBookForm,
    PriceEntryForm,
    ProductForm,
    StageForm,
    apply_service_error,
)
from revline.pipeline.models import (
    Competitor,
    Pipeline,
    PriceBook,
    PriceBookEntry,
    Product,
    Stage,
)
from revline.pipeline.quoting import discount_policy
from revline.web.views.pipeline_common import revops_required


def _form_page(
    request: HttpRequest,
    form: Any,
    *,
    active: str,
    heading: str,
    submit: str,
    back: str,
    intro: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "web/pipeline/admin/form.html",
        {
            "form": form,
            "active": active,
            "heading": heading,
            "submit": submit,
            "back": back,
            "intro": intro,
        },
        status=status,
    )


# --- pipelines and stages ------------------------------------------------------------------------


@revops_required
def pipeline_admin(request: HttpRequest) -> HttpResponse:
    form = PipelineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = configuration.pipeline_save(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the pipeline {pipeline.name}; add its stages.")
            return redirect("web:pipeline_stages", pk=pipeline.pk)
    pipelines = Pipeline.objects.annotate(
        n_stages=Count("stages", distinct=True), n_deals=Count("opportunities", distinct=True)
    )
    return render(
        request,
        "web/pipeline/admin/pipelines.html",
        {"form": form, "pipelines": pipelines, "active": "pipelines"},
        status=400 if form.is_bound and form.errors else 200,
    )


def _stage_initial(stage: Stage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "kind": stage.kind,
        "order": stage.order,
        "probability": stage.probability,
        "forecast_category": stage.forecast_category,
        "required_fields": list(stage.required_fields or []),
        "max_days": stage.max_days,
    }


def _stages_page(
    request: HttpRequest,
    pipeline: Pipeline,
    *,
    add_form: StageForm | None = None,
    bound: dict[int, StageForm] | None = None,
    pipeline_form: PipelineForm | None = None,
    status: int = 200,
) -> HttpResponse:
    bound = bound or {}
    stages = list(pipeline.stages.annotate(n_deals=Count("opportunities")))
    rows = [
        {
            "stage": stage,
            "form": bound.get(stage.pk)
            or StageForm(initial=_stage_initial(stage), prefix=f"s{stage.pk}"),
            "open": stage.pk in bound,
            "needs": [REQUIREMENTS.get(r, r) for r in stage.required_fields or []],
        }
        for stage in stages
    ]
    context = {
        "pipeline": pipeline,
        "rows": rows,
        "add_form": add_form or StageForm(prefix="new"),
        "pipeline_form": pipeline_form
        or PipelineForm(
            initial={
                "name": pipeline.name,
                "order": pipeline.order,
                "is_default": pipeline.is_default,
            }
        ),
        "active": "pipelines",
    }
    return render(request, "web/pipeline/admin/stages.html", context, status=status)


@revops_required
def pipeline_stages(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    if request.method != "POST":
        return _stages_page(request, pipeline)
    form = PipelineForm(request.POST)
    if form.is_valid():
        try:
            configuration.pipeline_save(by=request.user, pipeline=pipeline, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the pipeline {pipeline.name}.")
            return redirect("web:pipeline_stages", pk=pipeline.pk)
    return _stages_page(request, pipeline, pipeline_form=form, status=400)


def _stage_values(form: StageForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["required_fields"] = list(data.get("required_fields") or [])
    return data


@revops_required
@require_POST
def stage_add(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    form = StageForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            stage = services.stage_save(pipeline=pipeline, by=request.user, **_stage_values(form))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Added the stage {stage.name}.")
            return redirect("web:pipeline_stages", pk=pipeline.pk)
    return _stages_page(request, pipeline, add_form=form, status=400)


@revops_required
@require_POST
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    form = StageForm(request.POST, prefix=f"s{stage.pk}")
    if form.is_valid():
        try:
            services.stage_save(
                pipeline=stage.pipeline, stage=stage, by=request.user, **_stage_values(form)
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the stage {stage.name}.")
            return redirect("web:pipeline_stages", pk=stage.pipeline_id)
    return _stages_page(request, stage.pipeline, bound={stage.pk: form}, status=400)


@revops_required
@require_POST
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage.objects.select_related("pipeline"), pk=pk)
    pipeline_id, name = stage.pipeline_id, stage.name
    try:
        configuration.stage_delete(stage=stage, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Removed the stage {name}.")
    return redirect("web:pipeline_stages", pk=pipeline_id)


# --- products -------------------------------------------------------------------------------


@revops_required
def products_admin(request: HttpRequest) -> HttpResponse:
    form = ProductForm(request.POST or None, initial={"active": True})
    if request.method == "POST" and form.is_valid():
        try:
            product = configuration.product_save(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Added the product {product.name}.")
            return redirect("web:products_admin")
    products = Product.objects.annotate(n_prices=Count("prices"))
    return render(
        request,
        "web/pipeline/admin/products.html",
        {"form": form, "products": products, "active": "products"},
        status=400 if form.is_bound and form.errors else 200,
    )


@revops_required
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    initial = {f: getattr(product, f) for f in ProductForm.base_fields}
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            configuration.product_save(by=request.user, product=product, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the product {product.name}.")
            return redirect("web:products_admin")
    return _form_page(
        request,
        form,
        active="products",
        heading=f"Edit {product.name}",
        submit="Save product",
        back="web:products_admin",
        status=400 if form.is_bound and form.errors else 200,
    )


# --- price books ----------------------------------------------------------------------------


@revops_required
def price_books_admin(request: HttpRequest) -> HttpResponse:
    form = PriceBookForm(request.POST or None, initial={"active": True})
    if request.method == "POST" and form.is_valid():
        try:
            book = configuration.price_book_save(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the price book {book.name}; add its prices.")
            return redirect("web:price_book_admin", pk=book.pk)
    books = PriceBook.objects.annotate(n_entries=Count("entries"))
    return render(
        request,
        "web/pipeline/admin/price_books.html",
        {"form": form, "books": books, "active": "price_books"},
        status=400 if form.is_bound and form.errors else 200,
    )


def _price_book_page(
    request: HttpRequest,
    book: PriceBook,
    *,
    book_form: PriceBookForm | None = None,
    entry_form: PriceEntryForm | None = None,
    status: int = 200,
) -> HttpResponse:
    entries = list(book.entries.select_related("product"))
    priced = [e.product_id for e in entries]
    return render(
        request,
        "web/pipeline/admin/price_book.html",
        {
            "book": book,
            "entries": entries,
            "book_form": book_form
            or PriceBookForm(initial={f: getattr(book, f) for f in PriceBookForm.base_fields}),
            "entry_form": entry_form or PriceEntryForm(exclude=priced),
            "unpriced": Product.objects.exclude(pk__in=priced).exists(),
            "active": "price_books",
        },
        status=status,
    )


@revops_required
def price_book_admin(request: HttpRequest, pk: int) -> HttpResponse:
    book = get_object_or_404(PriceBook, pk=pk)
    if request.method != "POST":
        return _price_book_page(request, book)
    if "unit_price" in request.POST:
        entry_form = PriceEntryForm(request.POST)
        if entry_form.is_valid():
            configuration.price_entry_set(
                by=request.user, price_book=book, **entry_form.cleaned_data
            )
            messages.success(request, f"Priced {entry_form.cleaned_data['product'].name}.")
            return redirect("web:price_book_admin", pk=book.pk)
        return _price_book_page(request, book, entry_form=entry_form, status=400)
    form = PriceBookForm(request.POST)
    if form.is_valid():
        try:
            configuration.price_book_save(by=request.user, price_book=book, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the price book {book.name}.")
            return redirect("web:price_book_admin", pk=book.pk)
    return _price_book_page(request, book, book_form=form, status=400)


@revops_required
@require_POST
def price_entry_remove(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(PriceBookEntry.objects.select_related("product", "price_book"), pk=pk)
    book_id = entry.price_book_id
    configuration.price_entry_remove(by=request.user, entry=entry)
    messages.success(request, f"Removed {entry.product.name} from the price book.")
    return redirect("web:price_book_admin", pk=book_id)


# --- discounts and competitors ------------------------------------------------------------------


@revops_required
def discount_policy_admin(request: HttpRequest) -> HttpResponse:
    policy = discount_policy()
    form = DiscountPolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        try:
            configuration.discount_policy_update(
                by=request.user,
                manager_threshold=form.cleaned_data["manager_threshold"],
                vp_threshold=form.cleaned_data["vp_threshold"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, "Saved the discount thresholds.")
            return redirect("web:discount_policy_admin")
    policy.refresh_from_db()
    return render(
        request,
        "web/pipeline/admin/discounts.html",
        {"form": form, "policy": policy, "active": "discounts"},
        status=400 if form.is_bound and form.errors else 200,
    )


@revops_required
def competitors_admin(request: HttpRequest) -> HttpResponse:
    form = CompetitorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            competitor = configuration.competitor_save(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Added the competitor {competitor.name}.")
            return redirect("web:competitors_admin")
    rows = Competitor.objects.annotate(n_deals=Count("opportunities"))
    return render(
        request,
        "web/pipeline/admin/competitors.html",
        {"form": form, "competitors": rows, "active": "competitors"},
        status=400 if form.is_bound and form.errors else 200,
    )


@revops_required
def competitor_edit(request: HttpRequest, pk: int) -> HttpResponse:
    competitor = get_object_or_404(Competitor, pk=pk)
    initial = {"name": competitor.name, "website": competitor.website, "notes": competitor.notes}
    form = CompetitorForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            configuration.competitor_save(
                by=request.user, competitor=competitor, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the competitor {competitor.name}.")
            return redirect("web:competitors_admin")
    return _form_page(
        request,
        form,
        active="competitors",
        heading=f"Edit {competitor.name}",
        submit="Save competitor",
        back="web:competitors_admin",
        status=400 if form.is_bound and form.errors else 200,
    )


urlpatterns = [
    path("pipeline/admin/", pipeline_admin, name="pipeline_admin"),
    path("pipeline/admin/pipelines/<int:pk>/", pipeline_stages, name="pipeline_stages"),
    path("pipeline/admin/pipelines/<int:pk>/stages/new/", stage_add, name="stage_add"),
    path("pipeline/admin/stages/<int:pk>/", stage_edit, name="stage_edit"),
    path("pipeline/admin/stages/<int:pk>/delete/", stage_delete, name="stage_delete"),
    path("pipeline/admin/products/", products_admin, name="products_admin"),
    path("pipeline/admin/products/<int:pk>/", product_edit, name="product_edit"),
    path("pipeline/admin/price-books/", price_books_admin, name="price_books_admin"),
    path("pipeline/admin/price-books/<int:pk>/", price_book_admin, name="price_book_admin"),
    path("pipeline/admin/prices/<int:pk>/remove/", price_entry_remove, name="price_entry_remove"),
    path("pipeline/admin/discounts/", discount_policy_admin, name="discount_policy_admin"),
    path("pipeline/admin/competitors/", competitors_admin, name="competitors_admin"),
    path("pipeline/admin/competitors/<int:pk>/", competitor_edit, name="competitor_edit"),
]
