"""``/api/v1/imports``, ``/api/v1/duplicates`` and ``/api/v1/{accounts,contacts,leads}/merge``.

- ``POST /imports`` (multipart: ``file`` and the options as form fields) stores the file and
  answers 202 with the job; the import runs in the background (``revline.crm.tasks``) and
  ``GET /imports/{id}`` follows its progress, counts and bad rows. ``dry_run=true`` checks and
  previews without writing.
- Only the job's creator sees a job (RevOps admins and superusers see every job); anyone else's
  job answers 404.
- ``POST /<entity>/merge`` ``{"keep": id, "merge": id}`` merges two records the caller may
  change (404 for a record outside their view, 403 for one they see but may not change).
- ``GET /duplicates?entity=lead`` lists groups of records the caller sees that look alike.

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations.)
"""

import json
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from revline.api.errors import Forbidden, NotFound
from revline.api.pagination import paginated
from revline.api.schemas import with_errors
from revline.crm import importer
from revline.crm.choices import DuplicatePolicy, ImportEntity, ImportMode
from revline.crm.dedup import ENTITY_MODELS, duplicate_candidates
from revline.crm.merge import MERGERS
from revline.crm.models import ImportJob
from revline.org.models import Position

router = Router(tags=["imports"])

ENTITY_NAMES = {
    "account": "account",
    "accounts": "account",
    "contact": "contact",
    "contacts": "contact",
    "lead": "lead",
    "leads": "lead",
    "opportunity": "opportunity",
    "opportunities": "opportunity",
}


# --- schemas -------------------------------------------------------------------------------------


class RowError(Schema):
    line: int
    reason: str
    column: str | None = None


class PreviewRow(Schema):
    line: int
    action: str = Field(..., description="create, update or skip")
    values: dict[str, Any]


class ImportJobOut(Schema):
    """One import (or dry run). While ``status`` is ``pending`` or ``running``, poll it:
    ``rows_done`` of ``rows_total`` are through."""

    id: int
    entity: str
    file_name: str
    status: str
    dry_run: bool
    mode: str
    duplicate_policy: str
    create_custom_fields: bool
    source_name: str
    owner_position: int
    prospect_list: int | None = Field(None, alias="prospect_list_id")
    mapping: dict[str, str]
    rows_total: int
    rows_done: int
    progress: int = Field(..., description="Percent of the rows read, 0-100.")
    created: int
    updated: int
    skipped: int
    failed: int
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_owner_position(obj: ImportJob) -> int:
        return obj.owner_position_id

    @staticmethod
    def resolve_mapping(obj: ImportJob) -> dict[str, str]:
        return importer.job_columns(obj)

    @staticmethod
    def resolve_progress(obj: ImportJob) -> int:
        if obj.status == "done":
            return 100
        return min(100, round(100 * obj.rows_done / obj.rows_total)) if obj.rows_total else 0


class ImportJobDetailOut(ImportJobOut):
    errors: list[RowError] = Field(..., description="Every bad row: line number and reason.")
    preview: list[PreviewRow] = Field(..., description="The first rows as saved (or to be).")


class ImportIn(Schema):
    entity: str = Field(..., description="accounts, contacts, leads or opportunities")
    mapping: str = Field(
        "",
        description='JSON object column -> field (or "custom:<key>", or "" to skip). '
        "Default: the mapping saved for this file shape, else one suggested from the header.",
    )
    delimiter: str = Field("", max_length=1, description="Default: detected.")
    on_duplicate: DuplicatePolicy = DuplicatePolicy.SKIP
    all_or_nothing: bool = False
    dry_run: bool = False
    custom_fields: bool = Field(False, description="Unmapped columns become custom fields.")
    source_name: str = Field("", max_length=100)
    owner: int | None = Field(None, description="Position id owning rows that name no owner.")
    prospect_list: int | None = Field(
        None, description="Lead imports: a prospect list (id) every lead of the file joins."
    )
    missing: str = Field(
        "", description="JSON list of values meaning 'missing' (default: '', NA, N/A, ...)."
    )


class MergeIn(Schema):
    keep: int
    merge: int


class MergeOut(Schema):
    entity: str
    keep: int
    merged: int
    filled: list[str]
    moved: dict[str, int]


class DuplicateRecord(Schema):
    id: int
    name: str
    email: str
    owner_position: int
    created_at: datetime

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return str(obj)

    @staticmethod
    def resolve_email(obj: Any) -> str:
        return getattr(obj, "email", "")

    @staticmethod
    def resolve_owner_position(obj: Any) -> int:
        return obj.owner_position_id


class DuplicateGroupOut(Schema):
    entity: str
    reason: str = Field(..., description="email or name")
    score: int = Field(..., description="Lowest similarity in the group, 0-100.")
    records: list[DuplicateRecord]


class DuplicatesOut(Schema):
    items: list[DuplicateGroupOut]
    next: str | None = None
    total: int


class DuplicateFilters(Schema):
    entity: Literal["account", "contact", "lead"] = "lead"
    limit: int = Field(50, ge=1, le=200)


# --- helpers -------------------------------------------------------------------------------------


def _json(field: str, raw: str, kind: type) -> Any:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValidationError({field: "Not valid JSON."}) from None
    if not isinstance(value, kind):
        raise ValidationError({field: f"Expected a JSON {kind.__name__}."})
    return value


def _job(request: HttpRequest, job_id: int) -> ImportJob:
    job = importer.import_jobs_visible(user=request.auth).filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such import.")
    return job


# --- imports -------------------------------------------------------------------------------------


@router.post(
    "/imports",
    response=with_errors({202: ImportJobDetailOut}, 403),
    summary="Upload a CSV file and import it (or dry-run it) in the background",
)
def import_create(request: HttpRequest, file: File[UploadedFile], payload: Form[ImportIn]):
    user = request.auth
    entity = ENTITY_NAMES.get(payload.entity.strip().lower())
    if entity is None:
        raise ValidationError({"entity": f"Choose one of {', '.join(ImportEntity.values)}."})
    mapping = _json("mapping", payload.mapping, dict)
    missing = _json("missing", payload.missing, list)
    if payload.owner is not None:
        owner = importer.assignable_positions(user).filter(pk=payload.owner).first()
        if owner is None:
            if Position.objects.filter(pk=payload.owner).exists():
                raise Forbidden("You may not import records for that position.")
            raise ValidationError({"owner": f"Unknown position {payload.owner}."})
    else:
        owner = importer.import_default_owner(user=user)
    prospect_list = None
    if payload.prospect_list is not None:
        from revline.crm.selectors import prospect_lists

        prospect_list = (
            prospect_lists(user=user, action="change").filter(pk=payload.prospect_list).first()
        )
        if prospect_list is None:
            raise ValidationError({"prospect_list": f"Unknown list {payload.prospect_list}."})
    path = importer.upload_store(name=file.name or "upload.csv", chunks=file.chunks())
    with transaction.atomic():
        job = importer.import_job_create(
            by=user,
            entity=entity,
            file_path=path,
            file_name=file.name or path.name,
            owner_position=owner,
            mapping={str(k): str(v or "") for k, v in mapping.items()} if mapping else None,
            delimiter=payload.delimiter,
            duplicate_policy=payload.on_duplicate.value,
            mode=ImportMode.ALL_OR_NOTHING if payload.all_or_nothing else ImportMode.KEEP_GOOD,
            dry_run=payload.dry_run,
            create_custom_fields=payload.custom_fields,
            source_name=payload.source_name,
            missing_values=[str(v) for v in missing] if missing is not None else None,
            prospect_list=prospect_list,
        )
        importer.import_job_start(job=job)
    return Status(202, job)


@router.get(
    "/imports",
    response=with_errors({200: list[ImportJobOut]}),
    summary="Your imports, newest first",
)
@paginated(key="-id")
def import_list(request: HttpRequest):
    return importer.import_jobs_visible(user=request.auth)


@router.get(
    "/imports/{int:job_id}",
    response=with_errors({200: ImportJobDetailOut}, 404),
    summary="One import: progress, counts, bad rows and preview",
)
def import_detail(request: HttpRequest, job_id: int):
    return _job(request, job_id)


# --- duplicates and merges -----------------------------------------------------------------------


@router.get(
    "/duplicates",
    response=with_errors({200: DuplicatesOut}),
    summary="Groups of records you can see that look like duplicates",
)
def duplicates(request: HttpRequest, filters: Query[DuplicateFilters]):
    groups = duplicate_candidates(user=request.auth, entity=filters.entity, limit=filters.limit)
    items = [
        {"entity": g.entity, "reason": g.reason, "score": g.score, "records": g.records}
        for g in groups
    ]
    return {"items": items, "next": None, "total": len(items)}


def _merge(request: HttpRequest, entity: str, payload: MergeIn) -> dict[str, Any]:
    model = ENTITY_MODELS[entity]
    records = {}
    for name, pk in (("keep", payload.keep), ("merge", payload.merge)):
        live = model.objects.filter(merged_into__isnull=True)
        found = live.visible_to(request.auth, "change").filter(pk=pk).first()
        if found is None:
            if live.visible_to(request.auth, "view").filter(pk=pk).exists():
                raise Forbidden(f"You may see the {entity} {pk} but not change it.")
            raise NotFound(f"No such {entity}: {pk}.")
        records[name] = found
    result = MERGERS[entity](keep=records["keep"], merge=records["merge"], by=request.auth)
    return {
        "entity": entity,
        "keep": result.keep.pk,
        "merged": result.merged.pk,
        "filled": result.filled,
        "moved": result.moved,
    }


@router.post(
    "/accounts/merge",
    response=with_errors({200: MergeOut}, 403, 404),
    summary="Merge one account into another",
)
def account_merge(request: HttpRequest, payload: MergeIn):
    return _merge(request, "account", payload)


@router.post(
    "/contacts/merge",
    response=with_errors({200: MergeOut}, 403, 404),
    summary="Merge one contact into another",
)
def contact_merge(request: HttpRequest, payload: MergeIn):
    return _merge(request, "contact", payload)


@router.post(
    "/leads/merge",
    response=with_errors({200: MergeOut}, 403, 404),
    summary="Merge one lead into another",
)
def lead_merge(request: HttpRequest, payload: MergeIn):
    return _merge(request, "lead", payload)
