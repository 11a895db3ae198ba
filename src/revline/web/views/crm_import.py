"""Web views: CSV imports (upload, map the columns, dry run or import, follow the progress) and
the duplicate review where two look-alike records are merged.

An import runs in the background (``revline.crm.tasks.import_run``); its page polls itself with
htmx every second while the job runs, and shows the counts, every bad row and a preview when it
is done. Each write calls one service of ``revline.crm.importer`` or ``revline.crm.merge``.
Imports are seen by their creator only (and by RevOps admins); anyone else gets a 404.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from revline.core.export import Column, csv_response
from revline.crm import importer
from revline.crm.choices import DuplicatePolicy, ImportEntity, ImportMode, ImportStatus
from revline.crm.dedup import ENTITY_MODELS, MERGEABLE, duplicate_candidates
from revline.crm.merge import MERGERS
from revline.crm.models import ImportJob
from revline.web.htmx import htmx_render

NEW_CUSTOM = "__custom__"
SHOWN_ERRORS = 500
DELIMITERS = [("", "Detect"), (",", "Comma ,"), (";", "Semicolon ;"), ("\t", "Tab"), ("|", "Bar |")]


# --- forms ---------------------------------------------------------------------------------------


class ImportUploadForm(forms.Form):
    entity = forms.ChoiceField(
        label="Records", choices=ImportEntity.choices, initial=ImportEntity.LEAD
    )
    file = forms.FileField(label="CSV file", help_text="With a header row. UTF-8 or Windows.")
    owner_position = forms.ModelChoiceField(
        label="Owner",
        queryset=None,
        help_text="Owns the rows whose file names no owner (an owner column may name one by "
        "position id, e-mail or full name).",
    )
    duplicate_policy = forms.ChoiceField(
        label="When a row matches an existing record",
        choices=DuplicatePolicy.choices,
        initial=DuplicatePolicy.SKIP,
        help_text="Matching: the same source id, then the same e-mail (people) or name, then a "
        "close name.",
    )
    mode = forms.ChoiceField(
        label="Bad rows",
        choices=ImportMode.choices,
        initial=ImportMode.KEEP_GOOD,
        widget=forms.RadioSelect,
    )
    create_custom_fields = forms.BooleanField(
        label="Keep unmapped columns as new custom fields (type guessed from the values)",
        required=False,
    )
    source_name = forms.CharField(
        label="Source name",
        max_length=100,
        required=False,
        help_text="The data set's name; leads keep it. Default: the file name.",
    )
    delimiter = forms.ChoiceField(choices=DELIMITERS, required=False, initial="")
    missing = forms.CharField(
        label="Values meaning 'missing'",
        required=False,
        initial=", ".join(v for v in importer.DEFAULT_MISSING if v),
        help_text="Comma-separated; blank cells are always missing.",
    )
    prospect_list = forms.ModelChoiceField(
        label="Add the leads to the prospect list",
        queryset=None,
        required=False,
        help_text="Every lead of the file, new or matched, joins the list.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from revline.crm.selectors import prospect_lists

        self.fields["prospect_list"].queryset = prospect_lists(user=user, action="change")
        positions = importer.assignable_positions(user).select_related("holder")
        field = self.fields["owner_position"]
        field.queryset = positions.order_by("title", "id")
        field.label_from_instance = lambda p: str(p)
        mine = positions.filter(holder_id=user.pk).order_by("id").first()
        if mine is not None:
            field.initial = mine.pk

    def missing_values(self) -> list[str]:
        raw = self.cleaned_data.get("missing") or ""
        return ["", *[v.strip() for v in raw.split(",") if v.strip()]]


def mapping_form_rows(job: ImportJob) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The mapping step: each column with sample values and its current target."""
    header, _, sample = importer.file_header(job.file_path, job.delimiter)
    columns = importer.job_columns(job)
    rows = []
    for i, column in enumerate(header):
        if column in columns:
            current = columns[column]
        else:
            current = NEW_CUSTOM if job.create_custom_fields else ""
        values = [r[i] for r in sample if i < len(r) and r[i].strip()][:3]
        rows.append({"index": i, "column": column, "current": current, "samples": values})
    choices = [
        ("", "Don't import"),
        (NEW_CUSTOM, "New custom field"),
        *importer.field_choices(job.entity),
    ]
    return rows, choices


# --- helpers -------------------------------------------------------------------------------------


def _job(request: HttpRequest, pk: int) -> ImportJob:
    job = importer.import_jobs_visible(user=request.user).filter(pk=pk).first()
    if job is None:
        raise Http404("No such import.")
    return job


def _awaiting_mapping(job: ImportJob) -> bool:
    return job.status == ImportStatus.PENDING and not job.message


def _queue(job: ImportJob) -> None:
    importer.import_job_start(job=job)


# --- imports -------------------------------------------------------------------------------------


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = importer.import_jobs_visible(user=request.user).order_by("-id")
    page = Paginator(jobs, 50).get_page(request.GET.get("page"))
    return render(request, "web/crm_import/list.html", {"page": page})


@login_required
def import_new(request: HttpRequest) -> HttpResponse:
    initial = {"prospect_list": request.GET.get("list")} if request.GET.get("list") else None
    form = ImportUploadForm(
        request.POST or None, request.FILES or None, user=request.user, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data["file"]
        path = importer.upload_store(name=upload.name, chunks=upload.chunks())
        try:
            job = importer.import_job_create(
                by=request.user,
                entity=data["entity"],
                file_path=path,
                file_name=upload.name,
                owner_position=data["owner_position"],
                delimiter=data["delimiter"] or "",
                duplicate_policy=data["duplicate_policy"],
                mode=data["mode"],
                dry_run=True,
                create_custom_fields=data["create_custom_fields"],
                source_name=data["source_name"],
                missing_values=form.missing_values(),
                prospect_list=data.get("prospect_list"),
            )
        except ValidationError as error:
            path.unlink(missing_ok=True)
            for message in error.messages:
                form.add_error(None, message)
        else:
            return redirect("web:import_detail", pk=job.pk)
    has_position = form.fields["owner_position"].queryset.exists()
    return render(request, "web/crm_import/new.html", {"form": form, "has_position": has_position})


@login_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if _awaiting_mapping(job):
        return _mapping_step(request, job)
    errors = job.errors[:SHOWN_ERRORS]
    context = {
        "job": job,
        "running": job.status in (ImportStatus.PENDING, ImportStatus.RUNNING),
        "percent": _percent(job),
        "errors": errors,
        "more_errors": max(0, len(job.errors) - len(errors)),
        "preview": job.preview,
    }
    return htmx_render(
        request, "web/crm_import/detail.html", "web/crm_import/_progress.html", context
    )


def _percent(job: ImportJob) -> int:
    if job.status == ImportStatus.DONE:
        return 100
    return min(100, round(100 * job.rows_done / job.rows_total)) if job.rows_total else 0


def _mapping_step(request: HttpRequest, job: ImportJob) -> HttpResponse:
    try:
        rows, choices = mapping_form_rows(job)
    except ValidationError as error:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, message=" ".join(error.messages)
        )
        return redirect("web:import_detail", pk=job.pk)
    problems: list[str] = []
    if request.method == "POST":
        allowed = {value for value, _ in choices}
        mapping: dict[str, str] = {}
        custom = False
        for row in rows:
            target = request.POST.get(f"col_{row['index']}", "")
            if target not in allowed:
                problems.append(f"{row['column']}: unknown field {target!r}.")
                continue
            row["current"] = target
            if target == NEW_CUSTOM:
                custom = True
            else:
                mapping[row["column"]] = target
        if not problems:
            dry_run = request.POST.get("action") != "import"
            try:
                with transaction.atomic():
                    importer.import_job_update(
                        job=job,
                        by=request.user,
                        mapping=mapping,
                        dry_run=dry_run,
                        create_custom_fields=custom,
                    )
                    _queue(job)
            except ValidationError as error:
                problems += error.messages
            else:
                return redirect("web:import_detail", pk=job.pk)
    context = {"job": job, "rows": rows, "choices": choices, "problems": problems}
    return render(request, "web/crm_import/mapping.html", context)


@login_required
@require_POST
def import_again(request: HttpRequest, pk: int) -> HttpResponse:
    """After a dry run: run the same file and options for real."""
    job = _job(request, pk)
    if job.status != ImportStatus.DONE or not job.dry_run:
        messages.error(request, "Only a finished dry run can be imported.")
        return redirect("web:import_detail", pk=job.pk)
    try:
        with transaction.atomic():
            new = importer.import_job_copy(job=job, by=request.user, dry_run=False)
            _queue(new)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("web:import_detail", pk=job.pk)
    messages.success(request, "The import has started.")
    return redirect("web:import_detail", pk=new.pk)


@login_required
def import_errors_csv(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    columns: list[Column] = [
        ("line", lambda e: e["line"]),
        ("column", lambda e: e.get("column", "")),
        ("reason", lambda e: e["reason"]),  # quotes the file's values: neutralised like exports
    ]
    return csv_response(job.errors, columns, filename=f"import-{job.pk}-bad-rows.csv")


# --- duplicates ----------------------------------------------------------------------------------


@login_required
def duplicates(request: HttpRequest) -> HttpResponse:
    entity = request.GET.get("entity", "lead")
    if entity not in MERGEABLE:
        entity = "lead"
    groups = duplicate_candidates(user=request.user, entity=entity, limit=50)
    ids = [r.pk for g in groups for r in g.records]
    model = ENTITY_MODELS[entity]
    changeable = set(
        model.objects.visible_to(request.user, "change")
        .filter(pk__in=ids)
        .values_list("id", flat=True)
    )
    context = {
        "entity": entity,
        "entities": [(e, ImportEntity(e).label) for e in MERGEABLE],
        "groups": groups,
        "changeable": changeable,
    }
    return render(request, "web/crm_import/duplicates.html", context)


@login_required
@require_POST
def duplicates_merge(request: HttpRequest) -> HttpResponse:
    entity = request.POST.get("entity", "")
    if entity not in MERGEABLE:
        raise Http404("Unknown record kind.")
    back = f"{reverse('web:duplicates')}?entity={entity}"
    model = ENTITY_MODELS[entity]
    live = model.objects.filter(merged_into__isnull=True).visible_to(request.user, "change")
    try:
        keep_id = int(request.POST.get("keep", ""))
        merge_ids = [int(v) for v in request.POST.getlist("merge") if int(v) != keep_id]
    except ValueError:
        messages.error(request, "Choose the record to keep.")
        return redirect(back)
    keep = live.filter(pk=keep_id).first()
    others = list(live.filter(pk__in=merge_ids))
    if keep is None or len(others) != len(set(merge_ids)) or not others:
        messages.error(request, "You need the right to change every record you merge.")
        return redirect(back)
    try:
        with transaction.atomic():
            for other in others:
                MERGERS[entity](keep=keep, merge=other, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(back)
    count = len(others)
    messages.success(request, f"Merged {count} record{'s' if count != 1 else ''} into {keep}.")
    return redirect(back)


urlpatterns = [
    path("crm/imports/", import_list, name="imports"),
    path("crm/imports/new/", import_new, name="import_new"),
    path("crm/imports/<int:pk>/", import_detail, name="import_detail"),
    path("crm/imports/<int:pk>/again/", import_again, name="import_again"),
    path("crm/imports/<int:pk>/bad-rows.csv", import_errors_csv, name="import_errors"),
    path("crm/duplicates/", duplicates, name="duplicates"),
    path("crm/duplicates/merge/", duplicates_merge, name="duplicates_merge"),
]
