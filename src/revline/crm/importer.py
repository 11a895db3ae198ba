"""CSV import of accounts, contacts, leads and opportunities.

One service does every import, whoever asks for it (``revline import``, the web page's background
job, ``POST /api/v1/imports``): ``import_job_run(job=...)`` reads the job's file and writes the
records. An ``ImportJob`` holds the options (column mapping, duplicate policy, all-or-nothing or
keep-the-good-rows, dry run, custom fields, source name, default owner) and, afterwards, the
counts, the first rows as they were (or would be) saved, and every bad row with its line number
and the reason.

How a row becomes a record
--------------------------
1. Each mapped column is converted: text (trimmed, length-checked), e-mail, whole numbers and
   amounts (tolerant of ``1,234.50``, ``$``, ``€``, ``(12)``), dates (ISO, ``d/m/Y`` or ``m/d/Y``,
   detected per column from the values; ambiguous columns read ``m/d/Y``), yes/no (``yes``,
   ``true``, ``1``, ``won`` ...), choices (value or label), and references: an owner (position
   id, the holder's e-mail or full name), an account (source id or name), a region, a campaign,
   a stage of the default pipeline, a product. Blank and placeholder values (``""``, ``NA``,
   ``N/A``, ``null``, ``Select``, ``unknown``; configurable per job) are missing.
2. Duplicate detection (``revline.crm.dedup.MatchIndex``): the same ``external_id`` first, then
   the same e-mail (contacts, leads) or normalised name (accounts; opportunities: the same name
   on the same account), then a fuzzy name match within a block. Rows of the same file are
   matched against each other too, so a re-imported file creates no duplicates.
3. The duplicate policy (per job; a column mapped to ``on_duplicate`` overrides it per row) says
   what a match does: ``skip`` the row, ``update`` the record (blank cells change nothing) or
   ``create`` a new record anyway. A matching record the importing user may not change is a
   *conflict*: the row is reported ("a lead with this e-mail address already exists that you
   cannot see or change") without naming the record.
4. New records are written in batches (``BATCH_SIZE`` rows): ``COPY`` on PostgreSQL for leads,
   ``bulk_create`` otherwise, with their first ``LeadStatusChange`` / ``StageChange`` rows in
   bulk too. Keep-the-good-rows commits batch by batch, and a batch the database refuses is
   retried row by row so no good row is lost. All-or-nothing runs in one transaction and writes
   nothing when any row is bad.

How it keeps up with large files (``bench/import_leads.py``, 1M leads)
--------------------------------------------------------------------------
- A pre-scan reads the file once for the row count, the date order of date columns and the types
  of new custom fields (each column's distinct values only).
- The rows are read a batch at a time (``_Run._read``) and converted cell by cell through each
  column's ``_Cells``: a column that repeats its values (owners, dates, amounts, choices, titles,
  first names) converts each distinct cell once and remembers the result; one whose cells hardly
  repeat (source ids, e-mail addresses) stops remembering.
- Duplicate keys: source id and e-mail first; the fuzzy key only for rows they do not settle.
  Before the batch is decided, ``_ImportIndex.narrow`` drops, for all its rows at once (numpy),
  the names of each block that cannot reach the fuzzy score (an exact bound from character
  counts), so a big block costs a few rapidfuzz comparisons instead of hundreds; the answers
  are the same as ``MatchIndex`` gives.
- On PostgreSQL outside a transaction (keep the good rows), ``WRITERS`` threads, each with its
  own connection, write the batches while the next ones are read (``_Writer``): the database
  works on two batches at once. A batch that updates records waits for every earlier batch.
  COPY rows are built from the values with dates, times and amounts as text formatted once
  per distinct value; each lead's first status change is made by the database from the copied
  rows (``INSERT ... SELECT``).
- Python's cyclic garbage collector is paused during a run (``_cyclic_gc_paused``): the run
  allocates millions of small objects without reference cycles, and every automatic
  collection walked the growing index again.

Rules that differ from the one-record services (``revline.crm.services``), on purpose:
- a lead needs a name, an e-mail address, a company *or a source id* (data sets such as the
  X Education leads identify leads by id alone);
- imported leads are not routed: they belong to the row's owner or the job's default owner;
- a ``status`` or ``outcome`` column sets the status of *new* leads (outcome yes -> converted,
  no -> disqualified with reason "other"); updates never change a lead's status or a deal's
  stage (those go through their workflows); stage requirements are not enforced on imported
  deals (they are history from another system);
- owners must be positions the importing user may assign records to: their own positions and
  those below them (every position for RevOps and superusers).

Audit: an import writes ONE audit event for the job (``import.run`` on the ``ImportJob``, with the
counts), not one per row; custom fields it creates get their own ``custom_field.create`` events.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import hashlib
import io
import json
import logging
import queue
import re
import threading
import uuid
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.text import slugify

from revline.core.services import audit_event_record
from revline.crm.choices import (
    Authority,
    CompanySize,
    CustomerStatus,
    CustomFieldType,
    DisqualifyReason,
    DuplicatePolicy,
    ImportEntity,
    ImportMode,
    ImportStatus,
    LeadSource,
    LeadStatus,
)
from revline.crm.custom_fields import FALSE, TRUE
from revline.crm.dedup import (
    ENTITY_MODELS,
    MatchIndex,
    Ref,
    account_fuzzy_key,
    contact_fuzzy_key,
    norm_company,
    norm_person,
    norm_text,
)
from revline.crm.models import (
    Account,
    Campaign,
    Contact,
    CustomFieldDefinition,
    ImportJob,
    ImportMapping,
    Lead,
    LeadStatusChange,
)
from revline.crm.names import block_key, normalize_email
from revline.org.choices import RoleType
from revline.org.models import Position, PositionClosure, RecordShare, Region
from revline.pipeline.choices import (
    LossReason,
    OpportunityStatus,
    OpportunityType,
    StageKind,
)
from revline.pipeline.models import Opportunity, Product, StageChange

logger = logging.getLogger("revline.crm.importer")

BATCH_SIZE = 5_000
PREVIEW_ROWS = 20
MAX_ERRORS = 50_000
DEFAULT_MISSING = ("", "NA", "N/A", "null", "Select", "unknown")
IMPORTED_RECORDS_TITLE = "Imported records"
OPTIONS_KEY = "__options__"  # job.mapping key holding the options ImportJob has no field for
CUSTOM_PREFIX = "custom:"
POLICY_FIELD = "on_duplicate"
TEXT_CUSTOM_MAX = 1000
QUEUED_MESSAGE = "Waiting for a worker to start…"
ANALYZE_FIRST = 20_000  # rows written before the table's statistics are first refreshed
PRELOAD_MAX = 200_000  # tables up to this size are read whole before the rows
WRITERS = 2  # threads (database connections) writing batches on PostgreSQL
CELL_CACHE = 100_000  # distinct cells remembered per column (numbers, dates, choices, owners...)
NAME_CACHE = 200_000  # normalised names remembered for the fuzzy keys
LEAD_IDENTITY = frozenset({"first_name", "last_name", "email", "company", "external_id"})

ProgressCallback = Callable[[int, int], None]


# --- values --------------------------------------------------------------------------------------

_CURRENCY_CHARS = str.maketrans("", "", "$€£¥₹ \u00a0\u202f'")
_GROUPED = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")
_SLASH_DATE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T].*)?")
_YMD_SLASH = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[ T].*)?")
_INT_TEXT = re.compile(r"[+-]?(0|[1-9]\d*)")
_NUM_TEXT = re.compile(r"[+-]?(0|[1-9]\d*)?(\.\d+)?")
_BOOL_WORDS = TRUE | FALSE


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise ValueError(f"{text!r} is not yes or no")


def parse_decimal(text: str) -> Decimal:
    """A number as people write it: ``1,234.50``, ``$1,234``, ``€ 12,5``, ``(300)``, ``15%``."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is not None:
        if number.is_finite():
            return number
        raise ValueError(f"{text!r} is not a number")
    t = text.strip().translate(_CURRENCY_CHARS)
    negative = False
    if t.startswith("(") and t.endswith(")"):
        negative, t = True, t[1:-1]
    if t.endswith("-"):
        negative, t = True, t[:-1]
    if t[:3].isalpha() and t[:3].isupper():  # USD 1,200
        t = t[3:]
    if t[-3:].isalpha() and t[-3:].isupper():  # 1,200 EUR
        t = t[:-3]
    t = t.rstrip("%").strip()
    for symbol in ("$", "€", "£"):
        t = t.replace(symbol, "")
    if "," in t and "." in t:
        if t.rfind(",") > t.rfind("."):  # 1.234,50
            t = t.replace(".", "").replace(",", ".")
        else:
            t = t.replace(",", "")
    elif "," in t:
        t = t.replace(",", "") if _GROUPED.fullmatch(t) else t.replace(",", ".")
    try:
        number = Decimal(t)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return -number if negative else number


def parse_int(text: str) -> int:
    if text.isdigit():
        return int(text)
    number = parse_decimal(text)
    if number != number.to_integral_value():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def parse_date(text: str, order: str = "mdy") -> dt.date:
    """ISO (``2024-03-31``), ``Y/m/d``, or ``d/m/Y`` / ``m/d/Y`` as ``order`` says."""
    try:
        if len(text) >= 10 and text[4] == "-":
            return dt.date.fromisoformat(text[:10])
        if m := _YMD_SLASH.fullmatch(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _SLASH_DATE.fullmatch(text):
            a, b = int(m[1]), int(m[2])
            day, month = (a, b) if order == "dmy" else (b, a)
            return dt.date(_year(m[3]), month, day)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a date")


def parse_datetime(text: str, order: str = "mdy") -> dt.datetime:
    value: dt.datetime | None = None
    if len(text) > 10 and text[4] == "-":
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value is None:
        day = parse_date(text, order)
        value = dt.datetime(day.year, day.month, day.day)
        rest = re.search(r"[ T](\d{1,2}):(\d{2})(?::(\d{2}))?", text)
        if rest:
            value = value.replace(hour=int(rest[1]), minute=int(rest[2]), second=int(rest[3] or 0))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


class DateOrder:
    """Watches a column's ``a/b/yyyy`` values: a first part above 12 means ``d/m/Y``, a second
    part above 12 means ``m/d/Y``; neither leaves the default ``m/d/Y``."""

    __slots__ = ("dmy", "mdy")

    def __init__(self) -> None:
        self.dmy = self.mdy = False

    def feed(self, text: str) -> bool:
        """False when ``text`` is no date at all."""
        if len(text) >= 10 and text[4] == "-":
            try:
                dt.date.fromisoformat(text[:10])
            except ValueError:
                return False
            return True
        if _YMD_SLASH.fullmatch(text):
            return True
        m = _SLASH_DATE.fullmatch(text)
        if m is None:
            return False
        a, b = int(m[1]), int(m[2])
        if a > 12:
            self.dmy = True
        elif b > 12:
            self.mdy = True
        return True

    @property
    def order(self) -> str:
        return "dmy" if self.dmy and not self.mdy else "mdy"


# --- fields an import can fill -------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One field a column can be mapped to. ``attr`` is where the value goes (the model's
    attribute name, or ``_name`` and the like for values the importer splits or derives)."""

    name: str
    label: str
    kind: str  # text, email, int, decimal, date, datetime, bool, choice, ref, policy, name
    aliases: tuple[str, ...] = ()
    attr: str = ""
    max_length: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    digits: int = 16

    @property
    def target(self) -> str:
        return self.attr or self.name


def _spec(
    model: type[Model] | None,
    name: str,
    label: str,
    kind: str,
    aliases: str,
    **options: Any,
) -> FieldSpec:
    """A field spec; ``aliases`` is a comma-separated list of column names that map to it, and
    text fields take their length limit from ``model``."""
    if kind in ("text", "email") and model is not None and "max_length" not in options:
        options["max_length"] = model._meta.get_field(name).max_length
    if "choices" in options:
        options["choices"] = tuple((str(v), str(lb)) for v, lb in options["choices"])
    names = tuple(a.strip() for a in aliases.split(",") if a.strip())
    return FieldSpec(name, label, kind, names, **options)


INT32 = 2_147_483_647
INT16 = 32_767
ID_ALIASES = "id, external id, source id, record id"
PERSON_NAMES = {
    "first": "first name, firstname, given name, forename",
    "last": "last name, lastname, surname, family name",
    "name": "name, full name, contact name, person",
    "email": "email, e mail, email address, mail, work email",
    "phone": "phone, phone number, telephone, mobile, tel",
    "title": "title, job title, position, job",
}


def _common(model: type[Model]) -> list[FieldSpec]:
    owner = (
        "owner, owner email, record owner, assigned to, sales rep, rep, sales agent, "
        "account owner, lead owner, deal owner, opportunity owner"
    )
    return [
        _spec(model, "owner", "Owner", "ref", owner, attr="owner_position_id"),
        _spec(
            model,
            "created_at",
            "Created",
            "datetime",
            "created, created at, created date, create date, date created, created on",
        ),
        _spec(
            model,
            POLICY_FIELD,
            "On duplicate (skip/update/create)",
            "policy",
            "on duplicate, duplicate policy, if duplicate",
            attr="_policy",
        ),
    ]


def _person(model: type[Model], id_alias: str) -> list[FieldSpec]:
    return [
        _spec(model, "external_id", "Source id", "text", f"{ID_ALIASES}, {id_alias}"),
        _spec(model, "first_name", "First name", "text", PERSON_NAMES["first"]),
        _spec(model, "last_name", "Last name", "text", PERSON_NAMES["last"]),
        _spec(None, "name", "Full name (split)", "name", PERSON_NAMES["name"], attr="_name"),
        _spec(model, "email", "E-mail", "email", PERSON_NAMES["email"]),
        _spec(model, "phone", "Phone", "text", PERSON_NAMES["phone"]),
        _spec(model, "title", "Job title", "text", PERSON_NAMES["title"]),
    ]


_L, _A, _C, _O = Lead, Account, Contact, Opportunity
# fmt: off
_FIELD_LIST: dict[str, list[FieldSpec]] = {
    ImportEntity.LEAD: [
        *_person(_L, "lead id, prospect id"),
        _spec(_L, "company", "Company", "text", "company, company name, organisation, organization, account name, employer"),
        _spec(_L, "sector", "Sector", "text", "sector, industry, vertical"),
        _spec(_L, "employees", "Employees", "int", "employees, employee count, number of employees, headcount", minimum=0, maximum=INT32),
        _spec(_L, "annual_revenue", "Annual revenue", "decimal", "annual revenue, revenue", minimum=0),
        _spec(_L, "country", "Country", "text", "country"),
        _spec(_L, "region", "Region (code or name)", "ref", "region, territory", attr="region_id"),
        _spec(_L, "status", "Status (new leads)", "choice", "status, lead status", choices=LeadStatus.choices),
        _spec(_L, "source", "Source", "choice", "source, channel", choices=LeadSource.choices),
        _spec(_L, "source_name", "Source name", "text", "source name, data source"),
        _spec(_L, "campaign", "Campaign (name or source id)", "ref", "campaign, campaign name", attr="campaign_id"),
        _spec(_L, "account", "Account (source id or name)", "ref", "account", attr="account_id"),
        _spec(_L, "outcome", "Outcome (yes: converted, no: lost)", "bool", "outcome, converted, won, result"),
        _spec(_L, "disqualify_reason", "Disqualify reason", "choice", "disqualify reason, disqualification reason", choices=DisqualifyReason.choices),
        _spec(_L, "bant_budget", "Budget", "decimal", "budget", minimum=0),
        _spec(_L, "bant_authority", "Authority", "choice", "authority", choices=Authority.choices),
        _spec(_L, "bant_need", "Need", "text", "need"),
        _spec(_L, "bant_timeline", "Timeline", "date", "timeline"),
        *_common(_L),
    ],
    ImportEntity.ACCOUNT: [
        _spec(_A, "external_id", "Source id", "text", f"{ID_ALIASES}, account id"),
        _spec(_A, "name", "Name", "text", "name, account, account name, company, company name, organisation, organization"),
        _spec(_A, "parent", "Parent account (source id or name)", "ref", "parent, parent account, subsidiary of, parent company", attr="parent_id"),
        _spec(_A, "sector", "Sector", "text", "sector, industry, vertical"),
        _spec(_A, "employees", "Employees", "int", "employees, employee count, number of employees, headcount", minimum=0, maximum=INT32),
        _spec(_A, "size", "Size band", "choice", "size, company size", choices=CompanySize.choices),
        _spec(_A, "annual_revenue", "Annual revenue", "decimal", "annual revenue, revenue", minimum=0),
        _spec(_A, "region", "Region (code or name)", "ref", "region, territory", attr="region_id"),
        _spec(_A, "country", "Country", "text", "country, office location, location"),
        _spec(_A, "website", "Website", "text", "website, web site, url, domain"),
        _spec(_A, "year_established", "Year established", "int", "year established, founded, year founded", minimum=0, maximum=INT16),
        _spec(_A, "customer_status", "Customer status", "choice", "customer status, status, type", choices=CustomerStatus.choices),
        _spec(_A, "customer_since", "Customer since", "date", "customer since"),
        *_common(_A),
    ],
    ImportEntity.CONTACT: [
        *_person(_C, "contact id"),
        _spec(_C, "account", "Account (source id or name)", "ref", "account, account name, company, company name, organisation, organization", attr="account_id"),
        *_common(_C),
    ],
    ImportEntity.OPPORTUNITY: [
        _spec(_O, "external_id", "Source id", "text", f"{ID_ALIASES}, opportunity id, deal id"),
        _spec(_O, "name", "Name", "text", "name, opportunity, opportunity name, deal, deal name"),
        _spec(_O, "account", "Account (source id or name)", "ref", "account, account name, company, company name", attr="account_id"),
        _spec(_O, "contact", "Contact (e-mail)", "ref", "contact, contact email", attr="contact_id"),
        _spec(_O, "stage", "Stage (default pipeline)", "ref", "stage, deal stage, opportunity stage, sales stage", attr="stage_id"),
        _spec(_O, "amount", "Amount", "decimal", "amount, value, deal value, close value, deal size", minimum=0, digits=14),
        _spec(_O, "currency", "Currency", "text", "currency"),
        _spec(_O, "close_date", "Close date", "date", "close date, expected close, expected close date, closed on"),
        _spec(_O, "engaged_on", "Engaged on", "date", "engage date, engaged on, engagement date, start date"),
        _spec(_O, "probability", "Probability %", "int", "probability, win probability", minimum=0, maximum=100),
        _spec(_O, "next_step", "Next step", "text", "next step"),
        _spec(_O, "product", "Product (name or code)", "ref", "product, product name", attr="product_id"),
        _spec(_O, "type", "Type", "choice", "type, opportunity type, deal type", choices=OpportunityType.choices),
        _spec(_O, "loss_reason", "Loss reason", "choice", "loss reason, lost reason", choices=LossReason.choices),
        _spec(_O, "term_months", "Term (months)", "int", "term, term months, contract term", minimum=1, maximum=INT16),
        *_common(_O),
    ],
}
# fmt: on
FIELDS: dict[str, dict[str, FieldSpec]] = {
    entity: {spec.name: spec for spec in specs} for entity, specs in _FIELD_LIST.items()
}

# Fields an update never changes (they follow workflows, or only make sense on creation).
NO_UPDATE = frozenset(
    {
        "status",
        "outcome_status",
        "disqualify_reason",
        "stage_id",
        "created_at",
        "_policy",
    }
)


def field_choices(entity: str) -> list[tuple[str, str]]:
    """(value, label) of what a column can be mapped to, for forms: standard fields, then the
    entity's custom fields (``custom:<key>``)."""
    items = [(spec.name, spec.label) for spec in FIELDS[entity].values()]
    for d in CustomFieldDefinition.objects.filter(entity=entity):
        items.append((f"{CUSTOM_PREFIX}{d.key}", f"Custom: {d.label}"))
    return items


# --- column mapping ------------------------------------------------------------------------------


def header_key(column: str) -> str:
    """A column name reduced for comparison: ``"E-mail Address "`` -> ``"emailaddress"``."""
    return "".join(norm_text(column.replace("_", " ")).split())


def header_signature(header: list[str]) -> str:
    """sha256 of the normalised header: the key of a saved mapping ("this file shape")."""
    return hashlib.sha256("\x1f".join(header_key(h) for h in header).encode()).hexdigest()


def custom_key(column: str) -> str:
    return slugify(column).replace("-", "_")[:60].strip("_") or "column"


def mapping_suggest(entity: str, header: list[str]) -> dict[str, str]:
    """A first mapping from the column names: a field whose name or alias is the column name,
    else a custom field with that key or label. Columns that match nothing are left out."""
    by_alias: dict[str, str] = {}
    for spec in FIELDS[entity].values():
        for alias in (spec.name.replace("_", " "), *spec.aliases):
            by_alias.setdefault(header_key(alias), spec.name)
    customs: dict[str, str] = {}
    for d in CustomFieldDefinition.objects.filter(entity=entity):
        customs.setdefault(header_key(d.key), d.key)
        customs.setdefault(header_key(d.label), d.key)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for column in header:
        key = header_key(column)
        target = by_alias.get(key)
        if target is None and key in customs:
            target = f"{CUSTOM_PREFIX}{customs[key]}"
        if target and target not in used:
            mapping[column] = target
            used.add(target)
    return mapping


def mapping_saved(entity: str, header: list[str]) -> dict[str, str] | None:
    saved = ImportMapping.objects.filter(
        entity=entity, header_signature=header_signature(header)
    ).first()
    return dict(saved.mapping) if saved else None


def mapping_for(entity: str, header: list[str]) -> dict[str, str]:
    """The mapping to start from: the one saved for this file shape, else a suggestion."""
    saved = mapping_saved(entity, header)
    return saved if saved is not None else mapping_suggest(entity, header)


def mapping_remember(*, entity: str, header: list[str], mapping: dict[str, str], by: Any) -> None:
    """Save ``mapping`` for this file shape (entity + header), replacing an older one."""
    columns = {c: v for c, v in mapping.items() if c != OPTIONS_KEY}
    ImportMapping.objects.update_or_create(
        entity=entity,
        header_signature=header_signature(header),
        defaults={
            "header": list(header),
            "mapping": columns,
            "created_by": by if getattr(by, "pk", None) else None,
        },
    )


def mapping_check(entity: str, header: list[str], mapping: dict[str, str]) -> None:
    """Refuse a mapping that names unknown columns or fields, or one field twice."""
    errors: dict[str, str] = {}
    fields = FIELDS[entity]
    seen: dict[str, str] = {}
    known_custom = set(
        CustomFieldDefinition.objects.filter(entity=entity).values_list("key", flat=True)
    )
    for column, target in mapping.items():
        if column == OPTIONS_KEY:
            continue
        if column not in header:
            errors[f"mapping.{column}"] = f"The file has no column {column!r}."
            continue
        if not target:
            continue
        if target.startswith(CUSTOM_PREFIX):
            key = target[len(CUSTOM_PREFIX) :]
            if key not in known_custom and not slugify(key):
                errors[f"mapping.{column}"] = f"{target!r} is not a custom field key."
        elif target not in fields:
            errors[f"mapping.{column}"] = f"{entity}s have no field {target!r}."
        if target in seen:
            errors[f"mapping.{column}"] = f"{seen[target]!r} is already mapped to {target!r}."
        seen[target] = column
    if errors:
        raise ValidationError(errors)


# --- files ---------------------------------------------------------------------------------------


def uploads_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_store(*, name: str, chunks: Any) -> Path:
    """Store an uploaded file under the data directory; returns its path."""
    suffix = Path(name).suffix.lower()[:10] or ".csv"
    path = uploads_dir() / f"{uuid.uuid4().hex}{suffix}"
    with path.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return path


def _encoding(path: Path) -> str:
    """utf-8 (with or without BOM) when the file decodes as such, else cp1252/latin-1."""
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as f:
            while f.read(1 << 20):
                pass
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "latin-1"


def sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def file_header(
    path: Path | str, delimiter: str = "", encoding: str = ""
) -> tuple[list[str], str, list[list[str]]]:
    """(header, delimiter, first five data rows) of a CSV file; raises ``ValidationError`` for a
    file without a header."""
    path = Path(path)
    encoding = encoding or _encoding(path)
    with path.open("r", encoding=encoding, newline="") as f:
        sample = f.read(64 * 1024)
    delimiter = delimiter or sniff_delimiter(sample)
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise ValidationError("The file is empty: it needs a header row.") from None
    if not any(header):
        raise ValidationError("The file's first row (the header) is empty.")
    rows = []
    with contextlib.suppress(csv.Error):
        for row in reader:
            rows.append(row)
            if len(rows) >= 5:
                break
    if len(rows) == 5 or len(sample) < 64 * 1024:
        return header, delimiter, rows
    return header, delimiter, rows[:-1]  # the last sampled row may be cut off


# --- owners --------------------------------------------------------------------------------------


def _is_admin(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return (
        user.is_superuser
        or Position.objects.filter(holder_id=user.pk, role=RoleType.REVOPS).exists()
    )


def assignable_positions(user: Any):
    """Positions ``user`` may make the owner of records they import: their own positions and
    every position below them; every position for RevOps and superusers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Position.objects.none()
    if _is_admin(user):
        return Position.objects.all()
    below = PositionClosure.objects.filter(ancestor__holder_id=user.pk).values("descendant_id")
    return Position.objects.filter(Q(id__in=below) | Q(holder_id=user.pk))


def import_default_owner(*, user: Any, owner: Any = None) -> Position:
    """The owner of imported records when a row names none.

    ``owner`` (a user) gives their first position; without one, the importing user's first
    position. A superuser who holds no position at all (a fresh installation with one admin)
    gets an "Imported records" RevOps position, created once and held by them, so records
    always have an owner in the hierarchy; they can be reassigned later in Organisation admin.
    """
    from revline.org.services import position_create

    person = owner or user
    position = Position.objects.filter(holder_id=person.pk).order_by("id").first()
    if position is not None:
        if owner is not None and owner != user:
            allowed = assignable_positions(user).filter(pk=position.pk).exists()
            if not allowed:
                raise ValidationError(
                    {"owner": f"{person.email}'s position is not one you may assign records to."}
                )
        return position
    if getattr(person, "is_superuser", False):
        return position_create(
            title=IMPORTED_RECORDS_TITLE, role=RoleType.REVOPS, by=user, holder=person
        )
    raise ValidationError(
        {"owner": f"{person.email} holds no position, so cannot own records; give one first."}
    )


# --- jobs ----------------------------------------------------------------------------------------


def import_jobs_visible(*, user: Any):
    """The imports ``user`` may see: their own; every import for RevOps and superusers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return ImportJob.objects.none()
    jobs = ImportJob.objects.select_related("owner_position", "created_by")
    return jobs if _is_admin(user) else jobs.filter(created_by_id=user.pk)


def job_options(job: ImportJob) -> dict[str, Any]:
    return dict(job.mapping.get(OPTIONS_KEY) or {})


def job_columns(job: ImportJob) -> dict[str, str]:
    return {c: v for c, v in (job.mapping or {}).items() if c != OPTIONS_KEY}


@transaction.atomic
def import_job_create(
    *,
    by: Any,
    entity: str,
    file_path: Path | str,
    file_name: str = "",
    owner_position: Position,
    mapping: dict[str, str] | None = None,
    delimiter: str = "",
    duplicate_policy: str = DuplicatePolicy.SKIP,
    mode: str = ImportMode.KEEP_GOOD,
    dry_run: bool = False,
    create_custom_fields: bool = False,
    source_name: str = "",
    missing_values: list[str] | tuple[str, ...] | None = None,
    prospect_list: Any = None,
) -> ImportJob:
    """A pending import of ``file_path``. Without a ``mapping``, the one saved for this file
    shape is used, else one suggested from the column names; a given mapping is checked.
    ``prospect_list`` (lead imports): the list every lead of the file joins once it is in."""
    if entity not in ImportEntity.values:
        raise ValidationError({"entity": f"Unknown entity {entity!r}."})
    if duplicate_policy not in DuplicatePolicy.values:
        raise ValidationError({"duplicate_policy": f"Unknown policy {duplicate_policy!r}."})
    if mode not in ImportMode.values:
        raise ValidationError({"mode": f"Unknown mode {mode!r}."})
    if not isinstance(owner_position, Position):
        raise ValidationError({"owner_position": "Choose the position that owns the records."})
    if prospect_list is not None:
        from revline.crm.models import ProspectList

        if entity != ImportEntity.LEAD:
            raise ValidationError({"prospect_list": "Only leads go on a prospect list."})
        if not ProspectList.objects.visible_to(by, "change").filter(pk=prospect_list.pk).exists():
            raise ValidationError({"prospect_list": "You may not add to that prospect list."})
    if not assignable_positions(by).filter(pk=owner_position.pk).exists():
        raise ValidationError(
            {"owner_position": "You may only import records for your positions or those below."}
        )
    path = Path(file_path)
    if not path.is_file():
        raise ValidationError({"file": f"No file at {path}."})
    header, delimiter, _ = file_header(path, delimiter)
    columns = dict(mapping) if mapping is not None else mapping_for(entity, header)
    mapping_check(entity, header, columns)
    if missing_values is not None:
        columns[OPTIONS_KEY] = {"missing": [str(v) for v in missing_values]}
    job = ImportJob.objects.create(
        entity=entity,
        file_name=(file_name or path.name)[:255],
        file_path=str(path),
        mapping=columns,
        delimiter=delimiter,
        duplicate_policy=duplicate_policy,
        mode=mode,
        dry_run=dry_run,
        create_custom_fields=create_custom_fields,
        source_name=source_name.strip()[:100],
        owner_position=owner_position,
        prospect_list=prospect_list,
        created_by=by if getattr(by, "pk", None) else None,
    )
    return job


def import_job_update(
    *,
    job: ImportJob,
    by: Any,
    mapping: dict[str, str] | None = None,
    dry_run: bool | None = None,
    create_custom_fields: bool | None = None,
) -> ImportJob:
    """Change a job that has not run yet (the web's mapping step)."""
    if job.status != ImportStatus.PENDING:
        raise ValidationError("This import has already run.")
    if mapping is not None:
        header, _, _ = file_header(job.file_path, job.delimiter)
        mapping_check(job.entity, header, mapping)
        options = job.mapping.get(OPTIONS_KEY)
        job.mapping = {**mapping, **({OPTIONS_KEY: options} if options else {})}
    if dry_run is not None:
        job.dry_run = dry_run
    if create_custom_fields is not None:
        job.create_custom_fields = create_custom_fields
    job.save(update_fields=["mapping", "dry_run", "create_custom_fields", "updated_at"])
    return job


def import_job_start(*, job: ImportJob) -> None:
    """Run ``job`` in the background (django-tasks), once the current transaction commits."""
    from revline.crm.tasks import import_run

    job.message = QUEUED_MESSAGE
    ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PENDING).update(message=job.message)
    transaction.on_commit(lambda: import_run.enqueue(job_id=job.pk))


@transaction.atomic
def import_job_copy(*, job: ImportJob, by: Any, dry_run: bool = False) -> ImportJob:
    """A new pending job with ``job``'s file and options (a dry run's "import now")."""
    return import_job_create(
        by=by,
        entity=job.entity,
        file_path=job.file_path,
        file_name=job.file_name,
        owner_position=job.owner_position,
        mapping=job_columns(job),
        delimiter=job.delimiter,
        duplicate_policy=job.duplicate_policy,
        mode=job.mode,
        dry_run=dry_run,
        create_custom_fields=job.create_custom_fields,
        source_name=job.source_name,
        missing_values=job_options(job).get("missing"),
        prospect_list=job.prospect_list,
    )


def import_job_run(*, job: ImportJob, progress: ProgressCallback | None = None) -> ImportJob:
    """Run ``job`` now (in this process): see the module docstring. Idempotent: a job that
    already ran (or is running) is returned unchanged. Unexpected errors mark the job failed
    and are raised again."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    job.refresh_from_db()
    if not claimed:
        return job
    try:
        _Run(job, progress).run()
        job.refresh_from_db()
        if job.prospect_list_id and job.status == ImportStatus.DONE and not job.dry_run:
            _add_to_prospect_list(job)
        if job.entity == ImportEntity.LEAD and job.status == ImportStatus.DONE and not job.dry_run:
            from revline.scoring.changes import leads_changed  # scoring reads the CRM

            leads_changed(lead_ids=None)  # one background rescore of the changed leads per run
    except Exception as exc:
        logger.exception("import %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED,
            message=f"The import stopped on an unexpected error: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        raise
    job.refresh_from_db()
    return job


def _add_to_prospect_list(job: ImportJob) -> int:
    """Put every lead of ``job``'s file on its prospect list: the leads its rows created or
    matched, found again by the file's source ids and e-mail addresses among the leads the
    importing user may see. Returns how many joined the list."""
    from revline.crm.models import Lead
    from revline.crm.services import prospect_list_add

    columns = job_columns(job)
    id_columns = [c for c, f in columns.items() if f == "external_id"]
    email_columns = [c for c, f in columns.items() if f == "email"]
    if not (id_columns or email_columns):
        return 0
    ids: set[str] = set()
    emails: set[str] = set()
    with open(job.file_path, newline="", encoding=_encoding(Path(job.file_path))) as fh:
        for row in csv.DictReader(fh, delimiter=job.delimiter or ","):
            ids.update((row.get(c) or "").strip() for c in id_columns)
            emails.update((row.get(c) or "").strip().lower() for c in email_columns)
    ids.discard("")
    emails.discard("")
    visible = Lead.objects.visible_to(job.created_by).filter(merged_into__isnull=True)
    found: set[int] = set()
    for chunk in _chunks(sorted(ids), 5000):
        found.update(visible.filter(external_id__in=chunk).values_list("id", flat=True))
    for chunk in _chunks(sorted(emails), 5000):
        found.update(visible.filter(email__in=chunk).values_list("id", flat=True))
    added = prospect_list_add(
        prospect_list=job.prospect_list, leads=sorted(found), by=job.created_by, how="import"
    )
    ImportJob.objects.filter(pk=job.pk).update(
        message=(job.message + f" {added:,} lead(s) added to the list {job.prospect_list}.").strip()
    )
    return added


# --- the run -------------------------------------------------------------------------------------


class _Abort(Exception):
    """The file cannot be imported at all (message for the job)."""


@dataclass
class _Column:
    index: int
    name: str  # the CSV column
    target: str  # model attribute, _name, _policy, outcome ..., or the custom key
    label: str
    convert: Callable[[str], Any] | None  # None: text kept as it is, up to ``limit``
    custom: bool = False
    limit: int = 10**9
    # "text" (kept, length-checked), "email" (checked, lower-cased) or "value" (converted;
    # the values of such columns repeat, so each distinct cell is converted once)
    kind: str = "text"


class _Missing:
    """A blank or placeholder cell: the row has no value for the column."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Bad:
    """A cell that cannot be used, with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Cells:
    """How one mapped column's cells become values: ``one(raw)`` gives the value, ``MISSING``
    for a blank or placeholder cell, or ``_Bad`` with the reason. Most columns repeat their
    values (owners, dates, amounts, choices, titles, first names...), so each distinct cell is
    converted once and remembered (``cache``); a column whose cells hardly repeat (source ids,
    e-mail addresses, phone numbers) stops remembering after a batch or two."""

    __slots__ = (
        "cache",
        "convert",
        "get",
        "kind",
        "limit",
        "misses",
        "missing",
        "missing_len",
        "room",
    )

    def __init__(self, column: _Column, missing: frozenset[str], missing_len: int) -> None:
        self.kind = column.kind
        self.convert = column.convert
        self.limit = column.limit
        self.missing = missing
        self.missing_len = missing_len
        self.cache: dict[str, Any] = {}
        self.get = self.cache.get
        self.room = CELL_CACHE  # cells it may still remember
        self.misses = 0  # cells converted in this batch

    def one(self, raw: str) -> Any:
        """One cell (not remembered)."""
        if not raw:
            return MISSING
        value = raw.strip()
        if not value or (len(value) <= self.missing_len and value.lower() in self.missing):
            return MISSING
        convert = self.convert
        if convert is None:
            if len(value) > self.limit:
                return _Bad(f"is longer than {self.limit} characters")
            return value
        try:
            return convert(value)
        except ValueError as exc:
            return _Bad(str(exc))

    def remember(self, raw: str) -> Any:
        """One cell the cache does not have: converted, and remembered while there is room."""
        self.misses += 1
        result = self.one(raw)
        if self.room > 0:
            self.cache[raw] = result
            self.room -= 1
        return result

    def batch_done(self, rows: int) -> None:
        """After a batch: a text column that converted most of its cells anew stops
        remembering them (a value column keeps its cache: conversions cost more)."""
        if self.kind != "value" and rows >= 1000 and self.misses > rows // 2:
            self.cache = {}
            self.get = _NEVER.get
            self.room = 0
        self.misses = 0


LATER: Any = object()  # a fuzzy key not worked out yet
# plain strings for the choices every row compares with
_NEW, _CONVERTED, _DISQUALIFIED = (
    LeadStatus.NEW.value,
    LeadStatus.CONVERTED.value,
    LeadStatus.DISQUALIFIED.value,
)
_IMPORT = LeadSource.IMPORT.value
_CREATE, _SKIP = DuplicatePolicy.CREATE.value, DuplicatePolicy.SKIP.value
_NEVER: dict[str, Any] = {}  # the "cache" of columns that do not remember: always empty
_NOT_SEEN = object()


class _Progress:
    """Writes ``rows_done`` where a polling page sees it. Inside the all-or-nothing transaction
    the job row is written through a second connection on PostgreSQL (on SQLite the page sees
    the count when the transaction ends)."""

    def __init__(self, job: ImportJob, callback: ProgressCallback | None) -> None:
        self.job = job
        self.callback = callback
        self.side: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.callback is not None:
            self.callback(done, total)
        values = {"rows_done": done, "rows_total": max(total, done)}
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job.pk).update(**values)
        elif connection.vendor == "postgresql":
            try:
                if self.side is None:
                    self.side = connections.create_connection(DEFAULT_DB_ALIAS)
                with self.side.cursor() as cur:
                    cur.execute(
                        f"UPDATE {ImportJob._meta.db_table} SET rows_done = %s, "  # noqa: S608
                        "rows_total = %s WHERE id = %s",
                        [values["rows_done"], values["rows_total"], self.job.pk],
                    )
            except DatabaseError:  # progress is a nicety; the import goes on
                logger.warning("import %s: could not report progress", self.job.pk)

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


class _Run:
    def __init__(self, job: ImportJob, callback: ProgressCallback | None) -> None:
        self.job = job
        self.user = job.created_by
        self.entity = job.entity
        self.is_lead = job.entity == ImportEntity.LEAD
        self.default_owner = job.owner_position_id
        self.model = ENTITY_MODELS[job.entity]
        self.specs = FIELDS[job.entity]
        self.dry = job.dry_run
        self.all_or_nothing = job.mode == ImportMode.ALL_OR_NOTHING
        self.policy = job.duplicate_policy
        self.now = timezone.now()
        self.progress = _Progress(job, callback)
        options = job_options(job)
        missing = options.get("missing")
        self.missing = frozenset(
            v.strip().lower() for v in (DEFAULT_MISSING if missing is None else missing)
        )
        self.missing_len = max((len(v) for v in self.missing), default=0)
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0
        self.counts = {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
        self.preview: list[dict[str, Any]] = []
        self.index = _ImportIndex(
            addresses=self.entity in (ImportEntity.LEAD, ImportEntity.CONTACT)
        )
        self.creates: list[tuple[int, Ref]] = []
        self.updates: dict[int, tuple[int, dict[str, Any]]] = {}
        self.created_ids: set[int] = set()
        self.writing = not self.dry
        self.lookups: dict[str, dict[str, int]] = {}
        self.new_definitions: list[CustomFieldDefinition] = []
        self.rows_done = 0
        self.rows_total = 0
        self.required_custom: list[tuple[str, str]] = []
        self.writer: _Writer | None = None
        self.lock = threading.Lock()
        self.db_failures: list[tuple[int, str, str]] = []
        self.written = 0
        self.analyzed_at = 0
        self.preloaded = False
        self.persons: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self.json_texts: dict[tuple, str] = {}
        self.copy_texts: dict[str, dict[Any, str]] = {}  # column -> value -> COPY text
        self.companies: dict[str, tuple[str, list[str]]] = {}
        self._visibility()

    # ---- visibility -------------------------------------------------------------------------

    def _visibility(self) -> None:
        from revline.org.visibility import CHANGE, record_owner_positions

        user = self.user
        active = bool(user and user.is_active)
        self.all_change = bool(active and user.is_superuser)
        self.change_owner_ids: set[int] = set()
        self.shared_change_ids: set[int] = set()
        if active and not self.all_change:
            domain = getattr(self.model, "visibility_domain", "revenue")
            self.change_owner_ids = set(
                record_owner_positions(user, CHANGE, domain).values_list("id", flat=True)
            )
            from django.contrib.contenttypes.models import ContentType

            ct = ContentType.objects.get_for_model(self.model)
            self.shared_change_ids = set(
                RecordShare.objects.filter(
                    content_type=ct, position__holder_id=user.pk, access=CHANGE
                ).values_list("object_id", flat=True)
            )
        self.assignable = set(assignable_positions(user).values_list("id", flat=True))

    def _changeable(self, pk: int, owner_id: int) -> bool:
        return self.all_change or owner_id in self.change_owner_ids or pk in self.shared_change_ids

    # ---- errors -----------------------------------------------------------------------------

    def _error(self, line: int, reason: str, column: str = "") -> None:
        self.error_count += 1
        self.counts["failed"] += 1
        if len(self.errors) < MAX_ERRORS:
            entry: dict[str, Any] = {"line": line, "reason": reason}
            if column:
                entry["column"] = column
            self.errors.append(entry)
        if self.all_or_nothing:
            self.writing = False

    # ---- the whole run ----------------------------------------------------------------------

    def run(self) -> None:
        with _cyclic_gc_paused():
            try:
                self._run()
            finally:
                self._release()

    def _release(self) -> None:
        """Let go of what the run built (the duplicate index, caches, converters) while the
        collector is still paused: reference counting frees it here and now. Left to the
        collector (converters and the writer point back at the run), the first collection
        after the run would walk millions of objects to find them."""
        writer = self.__dict__.get("writer")
        if writer is not None and any(thread.is_alive() for thread in writer.threads):
            return  # interrupted while closing: the writer threads still use the run
        self.__dict__.clear()

    def _run(self) -> None:
        job = self.job
        path = Path(job.file_path)
        try:
            if not path.is_file():
                raise _Abort(f"The file {job.file_name} is no longer there.")
            self.encoding = _encoding(path)
            header, delimiter, _ = file_header(path, job.delimiter, self.encoding)
            self.delimiter = delimiter
            self.header = header
            self._plan(header)
            self._prescan(path)
        except (_Abort, ValidationError) as exc:
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            self._finish(ImportStatus.FAILED, message)
            return
        try:
            if self.all_or_nothing and not self.dry:
                with transaction.atomic():
                    self._rows(path)
                    if self.error_count:
                        transaction.set_rollback(True)
            else:
                if self._threaded():
                    self.writer = _Writer(self)
                try:
                    self._rows(path)
                finally:
                    if self.writer is not None:
                        self.writer.close()
                self._merge_db_failures()
        finally:
            self.progress.close()
        self._conclude()

    def _threaded(self) -> bool:
        """Write on a second connection while reading on: PostgreSQL, keep-the-good-rows, and
        not inside a transaction (which the second connection could not see into)."""
        return (
            connection.vendor == "postgresql"
            and not connection.in_atomic_block
            and not self.dry
            and not self.all_or_nothing
            and getattr(settings, "REVLINE_IMPORT_WRITER_THREAD", True)
        )

    def _conclude(self) -> None:
        job = self.job
        created, updated, skipped = (self.counts[k] for k in ("created", "updated", "skipped"))
        bad = self.error_count
        rows = "row" if bad == 1 else "rows"
        if self.all_or_nothing and bad and not self.dry:
            status = ImportStatus.FAILED
            message = (
                f"{bad} bad {rows}: nothing was imported (all or nothing). "
                f"Without them it would create {created}, update {updated} and skip {skipped}."
            )
            self.counts.update(created=0, updated=0, skipped=0)
        elif self.all_or_nothing and bad:
            status = ImportStatus.DONE
            message = (
                f"Dry run: {bad} bad {rows} would stop this all-or-nothing import; without them "
                f"it would create {created}, update {updated} and skip {skipped}."
            )
        else:
            status = ImportStatus.DONE
            verb = "would create" if self.dry else "created"
            message = (
                f"{'Dry run: ' if self.dry else ''}{self.rows_done} rows read; {verb} "
                f"{created}, {'would update' if self.dry else 'updated'} {updated}, "
                f"skipped {skipped}, {bad} bad."
            )
        if self.new_definitions:
            names = ", ".join(f"{d.key} ({d.field_type})" for d in self.new_definitions)
            message += f" Custom fields {'to create' if self.dry else 'created'}: {names}."
        self._finish(status, message)
        if status == ImportStatus.DONE and not self.dry:
            mapping_remember(
                entity=job.entity,
                header=self.header,
                mapping=job_columns(job),
                by=self.user,
            )
            audit_event_record(
                actor=self.user,
                action="import.run",
                instance=job,
                changes={
                    "created": (0, self.counts["created"]),
                    "updated": (0, self.counts["updated"]),
                    "skipped": (0, self.counts["skipped"]),
                    "failed": (0, self.counts["failed"]),
                },
            )

    def _finish(self, status: str, message: str) -> None:
        job = self.job
        job.status = status
        job.message = message
        job.rows_done = self.rows_done
        job.rows_total = max(self.rows_total, self.rows_done)
        job.created = self.counts["created"]
        job.updated = self.counts["updated"]
        job.skipped = self.counts["skipped"]
        job.failed = self.counts["failed"]
        job.errors = sorted(self.errors, key=lambda e: e["line"])
        job.preview = self.preview
        job.finished_at = timezone.now()
        job.save()

    # ---- planning: which column goes where --------------------------------------------------

    def _plan(self, header: list[str]) -> None:
        job = self.job
        mapping = job_columns(job)
        mapping_check(self.entity, header, mapping)
        defs = {d.key: d for d in CustomFieldDefinition.objects.filter(entity=self.entity)}
        self.defs = defs
        self.columns: list[_Column] = []
        self.date_columns: dict[int, DateOrder] = {}
        self.infer: dict[int, _Inference] = {}
        seen_names: dict[str, int] = {}
        for index, raw in enumerate(header):
            column = raw or f"column {index + 1}"
            if column in seen_names:
                continue  # a repeated column name: the first one counts
            seen_names[column] = index
            target = mapping.get(raw, None)
            if target is None:
                if job.create_custom_fields and raw:
                    key = custom_key(raw)
                    if key in defs:
                        self._custom_column(index, raw, defs[key])
                    else:
                        self.infer[index] = _Inference(raw, key)
                continue
            if not target:
                continue
            if target.startswith(CUSTOM_PREFIX):
                key = target[len(CUSTOM_PREFIX) :]
                definition = defs.get(key)
                if definition is None:
                    self.infer[index] = _Inference(raw, custom_key(key))
                else:
                    self._custom_column(index, raw, definition)
                continue
            spec = self.specs[target]
            if spec.kind in ("text", "name"):
                column = _Column(index, raw, spec.target, spec.label, None)
                column.limit = spec.max_length or column.limit
            else:
                convert = self._make_converter(spec, index)
                kind = "email" if spec.kind == "email" else "value"
                column = _Column(index, raw, spec.target, spec.label, convert, kind=kind)
            self.columns.append(column)
        self.mapped = {c.target for c in self.columns if not c.custom}
        self.policy_mapped = "_policy" in self.mapped
        self.required_custom = [(d.key, d.label) for d in defs.values() if d.required]
        self.width = len(header)

    def _custom_column(self, index: int, name: str, definition: CustomFieldDefinition) -> None:
        text = definition.field_type == CustomFieldType.TEXT
        convert = None if text else self._make_custom_converter(definition, index)
        column = _Column(
            index,
            name,
            definition.key,
            definition.label,
            convert,
            custom=True,
            limit=TEXT_CUSTOM_MAX,
            kind="text" if text else "value",
        )
        self.columns.append(column)

    # ---- pre-scan: count rows, read date orders, infer custom field types -------------------

    def _reader(self, f: Any) -> Iterator[list[str]]:
        return csv.reader(f, delimiter=self.delimiter)

    def _prescan(self, path: Path) -> None:
        watch_dates = dict(self.date_columns)
        infer = self.infer
        if not watch_dates and not infer:
            self.rows_total = _count_lines(path) - 1
            return
        # Each column's distinct values are gathered (``set.add`` per cell) and fed to the
        # date orders and type guesses afterwards: a file repeats its dates and flags.
        total = 0
        distinct: dict[int, set[str]] = {index: set() for index in (*watch_dates, *infer)}
        adds = [(index, values.add) for index, values in distinct.items()]
        top = max(distinct)
        every = max(CELL_CACHE // 5, 1)  # rows between two looks at how much is gathered
        with path.open("r", encoding=self.encoding, newline="") as f:
            reader = self._reader(f)
            with contextlib.suppress(StopIteration):
                next(reader)
            while True:
                try:
                    for row in reader:
                        total += 1
                        if len(row) > top:
                            for index, add in adds:
                                add(row[index])
                        else:
                            for index, add in adds:
                                if index < len(row):
                                    add(row[index])
                        if not total % every and any(
                            len(values) > CELL_CACHE for values in distinct.values()
                        ):
                            self._feed(distinct, watch_dates, infer)
                    break
                except csv.Error:
                    total += 1
        self._feed(distinct, watch_dates, infer)
        self.rows_total = total
        for index, inference in infer.items():
            definition = inference.definition(self.entity)
            self.new_definitions.append(definition)
            self.defs[definition.key] = definition
            self.date_columns[index] = inference.date
            self._custom_column(index, inference.column, definition)

    def _feed(
        self,
        distinct: dict[int, set[str]],
        watch_dates: dict[int, DateOrder],
        infer: dict[int, _Inference],
    ) -> None:
        """Feed the values gathered so far to the date orders and type guesses; forget them."""
        missing, mlen = self.missing, self.missing_len
        for index, values in distinct.items():
            order = watch_dates.get(index)
            inference = infer.get(index)
            for raw in values:
                value = raw.strip()
                if not value:
                    continue
                if order is not None:
                    order.feed(value)
                if inference is not None and not (len(value) <= mlen and value.lower() in missing):
                    inference.feed(value)
            values.clear()

    def _create_definitions(self) -> None:
        """Save the inferred custom fields (not on a dry run)."""
        from revline.crm.custom_fields import custom_field_save

        for i, definition in enumerate(self.new_definitions):
            saved = custom_field_save(
                by=self.user,
                entity=self.entity,
                key=definition.key,
                label=definition.label,
                field_type=definition.field_type,
            )
            self.new_definitions[i] = saved

    # ---- converters -------------------------------------------------------------------------

    def _date_order(self, index: int) -> DateOrder:
        order = self.date_columns.get(index)
        if order is None:
            order = self.date_columns[index] = DateOrder()
        return order

    def _make_converter(self, spec: FieldSpec, index: int) -> Callable[[str], Any]:
        kind = spec.kind
        if kind == "text":
            limit = spec.max_length

            def text(value: str) -> str:
                if limit and len(value) > limit:
                    raise ValueError(f"is longer than {limit} characters")
                return value

            return text
        if kind == "name":
            return lambda value: value
        if kind == "email":
            limit = spec.max_length or 254

            def email(value: str) -> str:
                if len(value) > limit or not _EMAIL.fullmatch(value):
                    raise ValueError(f"{value!r} is not an e-mail address")
                return value.lower()

            return email
        if kind == "int":
            low, high = spec.minimum, spec.maximum

            def integer(value: str) -> int:
                number = parse_int(value)
                if (low is not None and number < low) or (high is not None and number > high):
                    raise ValueError(f"{value!r} is out of range ({low} to {high})")
                return number

            return integer
        if kind == "decimal":
            low = spec.minimum
            ceiling = Decimal(10) ** (spec.digits - 2)
            cent = Decimal("0.01")

            def amount(value: str) -> Decimal:
                number = parse_decimal(value).quantize(cent, rounding=ROUND_HALF_UP)
                if low is not None and number < low:
                    raise ValueError(f"{value!r} cannot be negative")
                if abs(number) >= ceiling:
                    raise ValueError(f"{value!r} is too large")
                return number

            return amount
        if kind in ("date", "datetime"):
            order = self._date_order(index)
            parse = parse_date if kind == "date" else parse_datetime
            return lambda value: parse(value, order.order)
        if kind == "bool":
            return parse_bool
        if kind == "choice":
            table: dict[str, str] = {}
            for value, label in spec.choices:
                for word in (value, label):
                    table.setdefault(word.lower(), value)
                    table.setdefault(re.sub(r"[\s\-]+", "_", word.lower()), value)
            allowed = ", ".join(v for v, _ in spec.choices if v)

            def choice(value: str) -> str:
                low = value.lower()
                found = table.get(low)
                if found is None:
                    found = table.get(re.sub(r"[\s\-]+", "_", low))
                if found is None:
                    raise ValueError(f"{value!r} is not one of {allowed}")
                return found

            return choice
        if kind == "policy":

            def policy(value: str) -> str:
                low = value.lower()
                if low not in DuplicatePolicy.values:
                    raise ValueError(f"{value!r} is not skip, update or create")
                return low

            return policy
        if kind == "ref":
            return self._ref_converter(spec)
        raise ValueError(f"unknown field kind {kind}")  # pragma: no cover

    def _make_custom_converter(
        self, definition: CustomFieldDefinition, index: int
    ) -> Callable[[str], Any]:
        kind = definition.field_type
        if kind == CustomFieldType.INTEGER:
            return parse_int
        if kind == CustomFieldType.NUMBER:
            return lambda value: float(parse_decimal(value))
        if kind == CustomFieldType.BOOLEAN:
            return parse_bool
        if kind == CustomFieldType.DATE:
            order = self._date_order(index)
            return lambda value: parse_date(value, order.order).isoformat()
        if kind == CustomFieldType.CHOICE:
            allowed = {str(c).lower(): str(c) for c in definition.choices or []}
            shown = ", ".join(str(c) for c in definition.choices or [])

            def choice(value: str) -> str:
                found = allowed.get(value.lower())
                if found is None:
                    raise ValueError(f"{value!r} is not one of {shown}")
                return found

            return choice

        def text(value: str) -> str:
            if len(value) > TEXT_CUSTOM_MAX:
                raise ValueError(f"is longer than {TEXT_CUSTOM_MAX} characters")
            return value

        return text

    def _ref_converter(self, spec: FieldSpec) -> Callable[[str], Any]:
        table = self._lookup_table(spec.name)
        what = {
            "owner": "no position you may assign records to is",
            "account": "no account you can see is",
            "parent": "no account you can see is",
            "region": "no region is",
            "campaign": "no campaign you can see is",
            "stage": "the default pipeline has no stage",
            "product": "no product is",
            "contact": "no contact you can see has the e-mail",
        }[spec.name]

        if spec.name in ("account", "parent"):

            def account(value: str) -> int:
                found = table.get(value) or table.get(norm_company(value))
                if found is None:
                    raise ValueError(f"{what} {value!r}")
                return found

            return account
        if spec.name == "contact":

            def contact(value: str) -> int:
                email = normalize_email(value)
                if email not in table:
                    found = (
                        Contact.objects.visible_to(self.user, "view")
                        .filter(email__in={email, value.strip()}, merged_into__isnull=True)
                        .order_by("id")
                        .values_list("id", flat=True)
                        .first()
                    )
                    table[email] = found or 0
                if not table[email]:
                    raise ValueError(f"{what} {value!r}")
                return table[email]

            return contact

        def lookup(value: str) -> int:
            found = table.get(value.lower())
            if found is None:
                raise ValueError(f"{what} {value!r}")
            return found

        return lookup

    def _lookup_table(self, name: str) -> dict[str, int]:
        user = self.user
        table: dict[str, int] = {}

        def put(key: Any, pk: int) -> None:
            if key:
                table.setdefault(str(key).strip().lower(), pk)

        if name == "owner":
            rows = (
                Position.objects.filter(id__in=self.assignable)
                .order_by("id")
                .values_list("id", "holder__email", "holder__full_name")
            )
            for pk, email, full_name in rows:
                put(pk, pk)
                put(email, pk)
                put(full_name, pk)
        elif name in ("account", "parent"):
            rows = (
                Account.objects.visible_to(user, "view")
                .filter(merged_into__isnull=True)
                .order_by("id")
                .values_list("id", "external_id", "normalized_name")
            )
            for pk, ext, norm in rows:
                if ext:
                    table.setdefault(ext, pk)
                if norm:
                    table.setdefault(norm, pk)
        elif name == "region":
            for pk, code, label in Region.objects.values_list("id", "code", "name"):
                put(code, pk)
                put(label, pk)
        elif name == "campaign":
            rows = Campaign.objects.visible_to(user, "view").order_by("id")
            for pk, ext, label in rows.values_list("id", "external_id", "name"):
                put(ext, pk)
                put(label, pk)
        elif name == "stage":
            self.stages = {s.pk: s for s in self._pipeline().stages.all()}
            for stage in sorted(self.stages.values(), key=lambda s: (s.order, s.pk)):
                put(stage.name, stage.pk)
                if stage.kind != StageKind.OPEN:
                    put(stage.kind, stage.pk)  # "won", "lost"
                    put(StageKind(stage.kind).label, stage.pk)  # "closed won"
        elif name == "product":
            for pk, label, code in Product.objects.values_list("id", "name", "code"):
                put(label, pk)
                put(code, pk)
        return table

    def _pipeline(self):
        if not hasattr(self, "pipeline"):
            from revline.pipeline.services import pipeline_default

            self.pipeline = pipeline_default()
            self.stages = {s.pk: s for s in self.pipeline.stages.all()}
        return self.pipeline

    # ---- rows -------------------------------------------------------------------------------

    def _rows(self, path: Path) -> None:
        if self.new_definitions and not self.dry:
            self._create_definitions()
        if self.entity == ImportEntity.OPPORTUNITY:
            self._pipeline()
        self.plan = [(c, _Cells(c, self.missing, self.missing_len)) for c in self.columns]
        self.std_plan = [(c, cells) for c, cells in self.plan if not c.custom]
        self.custom_plan = [(c, cells) for c, cells in self.plan if c.custom]
        self.needs_prepare = "_name" in self.mapped or self.entity in (
            ImportEntity.ACCOUNT,
            ImportEntity.OPPORTUNITY,
        )
        self._constants()
        self._preload()
        for lines, rows, problems, count in self._read(path):
            self._batch(lines, rows, problems, count)

    def _read(
        self, path: Path
    ) -> Iterator[tuple[list[int], list[list[str]], list[tuple[int, str]], int]]:
        """The file in batches of ``BATCH_SIZE`` rows: (line numbers, rows of the header's
        width, (line, reason) of the rows that cannot be used as they are, rows in the batch).
        Blank lines are no rows."""
        width = self.width
        with path.open("r", encoding=self.encoding, newline="") as f:
            reader = self._reader(f)
            with contextlib.suppress(StopIteration, csv.Error):
                next(reader)
            lines: list[int] = []
            rows: list[list[str]] = []
            problems: list[tuple[int, str]] = []
            count = 0
            previous = 1
            while True:
                try:
                    for row in reader:
                        line = previous + 1
                        previous = reader.line_num
                        if not any(row):
                            continue  # blank line
                        if len(row) == width:
                            lines.append(line)
                            rows.append(row)
                        else:
                            problems.append(
                                (line, f"The row has {len(row)} columns; the header has {width}.")
                            )
                        count += 1
                        if count >= BATCH_SIZE:
                            yield lines, rows, problems, count
                            lines, rows, problems, count = [], [], [], 0
                    break
                except csv.Error as exc:
                    line = previous + 1
                    previous = reader.line_num
                    problems.append((line, f"The row cannot be read: {exc}."))
                    count += 1
                    if count >= BATCH_SIZE:
                        yield lines, rows, problems, count
                        lines, rows, problems, count = [], [], [], 0
            if count:
                yield lines, rows, problems, count

    def _batch(
        self,
        lines: list[int],
        rows: list[list[str]],
        problems: list[tuple[int, str]],
        count: int,
    ) -> None:
        converted = self._convert(lines, rows, problems)
        self._lookup_existing(converted)
        index = self.index
        queries: list[tuple[int, tuple[str, str], str]] = []
        if index.fuzzy_loaded:
            by_ext, by_key = index.by_ext, index.by_key
            fuzzy_key = self._fuzzy_key
            for i, (_, values, _, keys) in enumerate(converted):
                if keys[2] is LATER and keys[0] not in by_ext and keys[1] not in by_key:
                    fuzzy = fuzzy_key(values)
                    converted[i] = (
                        converted[i][0],
                        values,
                        converted[i][2],
                        (*keys[:2], fuzzy, keys[3]),
                    )
                    if fuzzy is not None:
                        queries.append((i, fuzzy, keys[3]))
        index.narrow(queries)
        decide = self._decide
        for i, (line, values, custom, keys) in enumerate(converted):
            decide(line, values, custom, keys, i)
        self.rows_done += count
        if self.writing:
            self._hand_off()
        else:
            self._forget()
        self.progress(self.rows_done, self.rows_total)

    def _convert(
        self, lines: list[int], rows: list[list[str]], problems: list[tuple[int, str]]
    ) -> list[tuple[int, dict[str, Any], dict[str, Any], tuple]]:
        """The batch's rows as (line, values, custom values, duplicate keys). A row with bad
        cells is reported, every bad cell of it in the order of the columns, and left out."""
        reports: list[tuple[int, str, str]] = [(line, reason, "") for line, reason in problems]
        std = [(c.index, c.target, cells.get, cells.remember) for c, cells in self.std_plan]
        custom_plan = [
            (c.index, c.target, cells.get, cells.remember) for c, cells in self.custom_plan
        ]
        prepare = self._prepare if self.needs_prepare else None
        keys = self._keys
        converted = []
        append = converted.append
        for line, row in zip(lines, rows, strict=True):
            values: dict[str, Any] = {}
            bad = False
            for index, target, get, remember in std:
                raw = row[index]
                value = get(raw, _NOT_SEEN)
                if value is _NOT_SEEN:
                    value = remember(raw)
                if value is MISSING:
                    continue
                if type(value) is _Bad:
                    bad = True
                    continue
                values[target] = value
            custom: dict[str, Any] = {}
            for index, target, get, remember in custom_plan:
                raw = row[index]
                value = get(raw, _NOT_SEEN)
                if value is _NOT_SEEN:
                    value = remember(raw)
                if value is MISSING:
                    continue
                if type(value) is _Bad:
                    bad = True
                    continue
                custom[target] = value
            if bad:
                reports.append(self._bad_row(line, row))
                continue
            if prepare is not None:
                prepare(values)
            append((line, values, custom, keys(values)))
        for _, cells in self.plan:
            cells.batch_done(len(rows))
        for line, reason, column_name in sorted(reports, key=lambda r: r[0]):
            self._error(line, reason, column_name)
        return converted

    def _bad_row(self, line: int, row: list[str]) -> tuple[int, str, str]:
        """(line, every bad cell's column and reason, the first bad column) of a row."""
        found: list[str] = []
        first = ""
        for column, cells in self.plan:  # in the order of the columns
            value = cells.one(row[column.index])
            if type(value) is _Bad:
                if not found:
                    first = column.name
                found.append(f"{column.name}: {value.reason}")
        return line, "; ".join(found), first

    # ---- entity rules -----------------------------------------------------------------------

    def _prepare(self, v: dict[str, Any]) -> str:
        """Rules for created and updated records alike: split names, normalise; a reason when
        the row cannot be used."""
        entity = self.entity
        if "_name" in v:
            full = v.pop("_name")
            first, _, last = full.rpartition(" ") if " " in full else ("", "", full)
            v.setdefault("first_name", first.strip()[:100])
            v.setdefault("last_name", last.strip()[:100])
        if entity == ImportEntity.ACCOUNT and "name" in v:
            v["normalized_name"] = norm_company(v["name"])[:200]
        if entity == ImportEntity.OPPORTUNITY and "currency" in v:
            v["currency"] = v["currency"].upper()
        return ""

    def _create_values(self, v: dict[str, Any], custom: dict[str, Any]) -> str:
        """Defaults and requirements of a new record; a reason when it cannot be created."""
        entity = self.entity
        if self.required_custom:
            missing_custom = [label for key, label in self.required_custom if key not in custom]
            if missing_custom:
                verb = "is" if len(missing_custom) == 1 else "are"
                return f"{', '.join(missing_custom)} {verb} required"
        if "owner_position_id" not in v:
            v["owner_position_id"] = self.default_owner
        v["custom"] = custom
        v.pop("_policy", None)
        if self.is_lead:
            if LEAD_IDENTITY.isdisjoint(v):  # present values are never blank
                return "a lead needs a name, an e-mail address, a company or a source id"
            status = v.get("status")
            if status is None:
                outcome = v.get("outcome")
                status = _NEW if outcome is None else _CONVERTED if outcome else _DISQUALIFIED
                v["status"] = status
            if status == _DISQUALIFIED:
                v.setdefault("disqualify_reason", DisqualifyReason.OTHER)
                v.setdefault("disqualify_note", "Imported as not converted.")
            elif status == _CONVERTED:
                v.setdefault("converted_at", v.get("created_at") or self.now)
            if "source" not in v:
                v["source"] = _IMPORT
            if "source_name" not in v:
                v["source_name"] = self.source_name
            if self.generated_by:
                v.setdefault("generated_by_id", self.generated_by)
        elif entity == ImportEntity.ACCOUNT:
            if not v.get("name") or not v.get("normalized_name"):
                return "an account needs a name"
            if "employees" in v and "size" not in v:
                v["size"] = CompanySize.for_employees(v["employees"])
        elif entity == ImportEntity.CONTACT:
            if not v.get("last_name"):
                return "a contact needs a last name"
        elif entity == ImportEntity.OPPORTUNITY:
            if not v.get("name"):
                if v.get("external_id"):
                    v["name"] = f"Opportunity {v['external_id']}"[:200]
                else:
                    return "an opportunity needs a name (or a source id)"
            pipeline = self._pipeline()
            stage = self.stages.get(v.get("stage_id")) if "stage_id" in v else None
            if stage is None:
                stage = min(
                    (s for s in self.stages.values() if s.kind == StageKind.OPEN),
                    key=lambda s: (s.order, s.pk),
                    default=None,
                )
                if stage is None:
                    return f"the pipeline {pipeline} has no open stage"
            v["pipeline_id"] = pipeline.pk
            v["stage_id"] = stage.pk
            v["status"] = {
                StageKind.WON: OpportunityStatus.WON,
                StageKind.LOST: OpportunityStatus.LOST,
            }.get(stage.kind, OpportunityStatus.OPEN)
            v.setdefault("probability", stage.probability)
            v["forecast_category"] = stage.forecast_category
            v["stage_entered_at"] = v.get("created_at") or self.now
            if stage.kind != StageKind.OPEN:
                v.setdefault("closed_on", v.get("close_date") or self.now.date())
            if self.user is not None:
                v.setdefault("created_by_id", self.user.pk)
        return ""

    def _update_values(self, v: dict[str, Any], custom: dict[str, Any]) -> dict[str, Any]:
        values = {k: val for k, val in v.items() if k not in NO_UPDATE and not k.startswith("_")}
        if custom:
            values["custom"] = custom
        return values

    def _constants(self) -> None:
        """Values every created record shares, worked out once."""
        self.source_name = self.job.source_name or Path(self.job.file_name).stem[:100]
        self.generated_by = (
            Position.objects.filter(holder_id=self.user.pk, role=RoleType.BDR)
            .order_by("id")
            .values_list("id", flat=True)
            .first()
            if self.user is not None and self.entity == ImportEntity.LEAD
            else None
        )

    # ---- duplicate keys ---------------------------------------------------------------------

    def _keys(self, v: dict[str, Any]) -> tuple[str, Any, Any, str]:
        """(external id, exact key, fuzzy key, e-mail) of a row's values. The fuzzy key,
        (block, text), is worked out when a row needs it (``_fuzzy_key``): ``LATER`` until
        then; most rows of a file imported again match by source id or e-mail."""
        entity = self.entity
        get = v.get
        ext = get("external_id", "")
        if entity == ImportEntity.LEAD or entity == ImportEntity.CONTACT:
            email = get("email", "")
            return ext, email, LATER, email
        if entity == ImportEntity.ACCOUNT:
            return ext, get("normalized_name", ""), LATER, ""
        name = get("name", "")
        return ext, ((get("account_id") or 0, norm_text(name)) if name else None), None, ""

    def _fuzzy_key(self, v: dict[str, Any]) -> tuple[str, str] | None:
        """(block, text) of a row's values for fuzzy matching; None when it has no name."""
        entity = self.entity
        get = v.get
        if entity == ImportEntity.LEAD:
            first, last = get("first_name", ""), get("last_name", "")
            return self._lead_fuzzy_key(first, last, get("company", "")) if first or last else None
        if entity == ImportEntity.CONTACT:
            first, last = get("first_name", ""), get("last_name", "")
            return contact_fuzzy_key(first, last, get("account_id")) if first or last else None
        if entity == ImportEntity.ACCOUNT:
            return account_fuzzy_key(get("normalized_name", ""))
        return None

    def custom_json(self, custom: dict[str, Any] | None) -> str:
        """A record's custom values as JSON text (the same few combinations repeat)."""
        if not custom:
            return "{}"
        try:
            key = tuple(custom.items())  # one column, one type: no True/1 confusion
            text = self.json_texts.get(key)
        except TypeError:  # an unhashable value
            return _encode_json(custom)
        if text is None:
            text = _encode_json(custom)
            if len(self.json_texts) < CELL_CACHE:
                self.json_texts[key] = text
        return text

    def _lead_fuzzy_key(self, first: str, last: str, company: str) -> tuple[str, str] | None:
        """``dedup.lead_fuzzy_key``, remembering the normalised person and company names
        (they repeat across a file)."""
        person = self.persons.get((first, last))
        if person is None:
            norm = norm_person(first, last)
            person = (block_key(norm), norm.split()) if norm else ("", [])
            if len(self.persons) < NAME_CACHE:
                self.persons[first, last] = person
        if not person[1]:
            return None
        comp = self.companies.get(company)
        if comp is None:
            norm = norm_company(company) if company else ""
            comp = (block_key(norm), norm.split())
            if len(self.companies) < NAME_CACHE:
                self.companies[company] = comp
        return f"{comp[0]}|{person[0]}", " ".join(sorted(person[1] + comp[1]))

    def _fetch(self, column: str, values: set[str], cols: list[str]) -> list[tuple]:
        """Rows of the entity's table whose ``column`` is one of ``values`` (merged-away
        records included: the caller follows them to the record they were merged into)."""
        if not values:
            return []
        model = self.model
        if connection.vendor == "postgresql":
            names = ", ".join(
                connection.ops.quote_name(model._meta.get_field(c).column) for c in cols
            )
            table = connection.ops.quote_name(model._meta.db_table)
            where = connection.ops.quote_name(model._meta.get_field(column).column)
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT {names} FROM {table} WHERE {where} = ANY(%s)",  # noqa: S608
                    [sorted(values)],
                )
                return cur.fetchall()
        found: list[tuple] = []
        for chunk in _chunks(sorted(values), 2000):
            found += model._base_manager.filter(**{f"{column}__in": chunk}).values_list(*cols)
        return found

    def _columns(self) -> tuple[list[str], bool, bool]:
        """(columns, people?, merges?) that ``_index_found`` reads."""
        people = self.entity in (ImportEntity.LEAD, ImportEntity.CONTACT)
        merges = any(f.name == "merged_into" for f in self.model._meta.concrete_fields)
        cols = ["id", "owner_position_id", "merged_into_id" if merges else "id", "external_id"]
        if people:
            cols.append("email")
        elif self.entity == ImportEntity.ACCOUNT:
            cols.append("normalized_name")
        else:
            cols += ["account_id", "name"]
        return cols, people, merges

    def _preload(self) -> None:
        """A table of at most ``PRELOAD_MAX`` records is read whole, once (source ids, exact
        keys and names), so that batches need no lookups at all."""
        if self.model._base_manager.count() > PRELOAD_MAX:
            return
        cols, _, _ = self._columns()
        found = list(self.model._base_manager.values_list(*cols))
        self._index_found(found, None, None)
        self.preloaded = True
        if self.entity in (ImportEntity.LEAD, ImportEntity.CONTACT, ImportEntity.ACCOUNT):
            self._load_fuzzy()

    def _lookup_existing(
        self, rows: list[tuple[int, dict[str, Any], dict[str, Any], tuple]]
    ) -> None:
        """Load the existing records this batch's source ids and exact keys name."""
        if self.preloaded:
            return
        index = self.index
        exts = {keys[0] for _, _, _, keys in rows if keys[0] and keys[0] not in index.by_ext}
        cols, people, _ = self._columns()
        found = self._fetch("external_id", exts, cols)
        if found:  # indexed first: a source id whose record cannot be followed is not found
            self._index_found(found, exts, set())
        found_exts = {ext for ext in exts if ext in index.by_ext}
        keys = {
            key
            for _, _, _, (ext, key, _, _) in rows
            if key and key not in index.by_key and not (ext and ext in found_exts)
        }
        if keys:
            if people:
                found += self._fetch("email", {str(k) for k in keys}, cols)
            elif self.entity == ImportEntity.ACCOUNT:
                found += self._fetch("normalized_name", {str(k) for k in keys}, cols)
            else:
                names = {v["name"] for _, v, _, _ in rows if v.get("name")}
                found += self._fetch("name", names, cols)
        if found and keys:
            self._index_found(found, set(), keys)

    def _index_found(self, found: list[tuple], exts: set | None, keys: set | None) -> None:
        """Put existing records in the index under their source id and exact key (those in
        ``exts`` and ``keys``; every one when None). A merged-away record stands for the
        record it was merged into."""
        _, people, merges = self._columns()
        index = self.index
        found.sort(key=lambda r: r[0])  # the oldest record wins
        survivors = self._survivors({r[2] for r in found if r[2]}) if merges else {}
        for rec in found:
            pk, owner, merged_into, ext = rec[0], rec[1], rec[2] if merges else None, rec[3]
            if merged_into:
                target = survivors.get(merged_into)
                if target is None:
                    continue
                pk, owner = target
            if people:
                key = normalize_email(rec[4])
            elif self.entity == ImportEntity.ACCOUNT:
                key = rec[4]
            else:
                key = (rec[4] or 0, norm_text(rec[5])) if rec[5] else None
            ref = Ref(
                id=pk,
                owner_id=owner,
                changeable=self._changeable(pk, owner),
                email=key if people else "",
            )
            if ext and (exts is None or ext in exts):
                index.by_ext.setdefault(ext, ref)
            if key and (keys is None or key in keys):
                index.by_key.setdefault(key, ref)

    def _survivors(self, ids: set[int]) -> dict[int, tuple[int, int]]:
        """merged-away id -> (id, owner) of the record it was merged into, following chains."""
        result: dict[int, tuple[int, int]] = {}
        pending = {i: i for i in ids}  # current -> original
        for _ in range(10):
            if not pending:
                break
            rows = self.model._base_manager.filter(pk__in=list(pending)).values_list(
                "id", "owner_position_id", "merged_into_id"
            )
            nxt: dict[int, int] = {}
            for pk, owner, merged_into in rows:
                original = pending[pk]
                if merged_into:
                    nxt[merged_into] = original
                else:
                    result[original] = (pk, owner)
            pending = nxt
        return result

    def _load_fuzzy(self) -> None:
        """Every existing record's name, by block (once, when a row first needs it)."""
        index = self.index
        index.fuzzy_loaded = True
        live = self.model._base_manager.filter(merged_into__isnull=True)
        created = self.created_ids
        if self.entity == ImportEntity.LEAD:
            rows = live.exclude(first_name="", last_name="").values_list(
                "id", "owner_position_id", "first_name", "last_name", "company", "email"
            )
            for pk, owner, first, last, company, email in rows.iterator(chunk_size=20_000):
                if pk in created:
                    continue
                key = self._lead_fuzzy_key(first, last, company) if first or last else None
                if key:
                    self._index_person(pk, owner, email, key)
        elif self.entity == ImportEntity.CONTACT:
            rows = live.values_list(
                "id", "owner_position_id", "first_name", "last_name", "account_id", "email"
            )
            for pk, owner, first, last, account_id, email in rows.iterator(chunk_size=20_000):
                if pk in created:
                    continue
                key = contact_fuzzy_key(first, last, account_id)
                if key:
                    self._index_person(pk, owner, email, key)
        elif self.entity == ImportEntity.ACCOUNT:
            rows = live.values_list("id", "owner_position_id", "normalized_name")
            for pk, owner, norm in rows.iterator(chunk_size=20_000):
                if pk in created:
                    continue
                key = account_fuzzy_key(norm)
                if key:
                    ref = Ref(id=pk, owner_id=owner, changeable=self._changeable(pk, owner))
                    index.add(ref, fuzzy=key)
        self.created_ids = set()

    def _index_person(self, pk: int, owner: int, email: str, key: tuple[str, str]) -> None:
        """An existing lead or contact, for matching by name. An address stored otherwise than
        the importer compares addresses (capitals) is not found by it: ``findable``."""
        address = normalize_email(email)
        ref = Ref(id=pk, owner_id=owner, changeable=self._changeable(pk, owner), email=address)
        self.index.add(ref, fuzzy=key, findable=address == email)

    # ---- decisions --------------------------------------------------------------------------

    def _decide(
        self, line: int, v: dict[str, Any], custom: dict[str, Any], keys: tuple, row: int = -1
    ) -> None:
        ext, key, fuzzy, email = keys
        policy = (v.pop("_policy", None) if self.policy_mapped else None) or self.policy
        create_anyway = policy == _CREATE
        index = self.index
        ref: Ref | None = None
        if ext:
            ref, how = index.by_ext.get(ext), "external_id"
        if ref is None and key:
            ref, how = index.by_key.get(key), "key"
        if fuzzy is LATER:  # needed to match by name, or to add a new record to the index
            fuzzy = self._fuzzy_key(v) if ref is None or create_anyway else None
        if ref is None and fuzzy is not None:
            if not index.fuzzy_loaded:
                self._load_fuzzy()
            ref, how = index.match_row(row, fuzzy, email)
        if ref is None or create_anyway:
            problem = self._create_values(v, custom)
            if problem:
                self._error(line, problem)
                return
            new = Ref(owner_id=v["owner_position_id"], email=email, pending=v, line=line)
            index.add(new, ext=ext, key=key, fuzzy=fuzzy)
            self.creates.append((line, new))
            self.counts["created"] += 1
            if len(self.preview) < PREVIEW_ROWS:
                self._show(line, "create", v)
            return
        if not ref.changeable:
            what = {"external_id": "source id", "key": self._key_label(), "name": "name"}[how]
            self._error(
                line,
                f"a {self.entity} with this {what} already exists that you cannot see or change",
            )
            return
        if policy == _SKIP:
            self.counts["skipped"] += 1
            if len(self.preview) < PREVIEW_ROWS:
                self._show(line, "skip", v)
            return
        values = self._update_values(v, custom)
        if ref.pending is not None and not ref.sent:
            for k, val in values.items():
                if k == "custom":
                    ref.pending["custom"] = {**ref.pending.get("custom", {}), **val}
                else:
                    ref.pending[k] = val
        elif values:
            previous = self.updates.get(ref)
            if previous is not None:
                values = _merge_values(previous[1], values)
            self.updates[ref] = (line, values)
        if values.get("email"):
            if ref.email and ref.email != values["email"]:
                # a later row with the old address is still this record (as when the table
                # was read whole): the database will not find it by that address any more
                index.by_key.setdefault(ref.email, ref)
            ref.email = values["email"]
        index.add(ref, ext=ext, key=key)
        self.counts["updated"] += 1
        if len(self.preview) < PREVIEW_ROWS:
            self._show(line, "update", v)

    def _key_label(self) -> str:
        if self.entity in (ImportEntity.LEAD, ImportEntity.CONTACT):
            return "e-mail address"
        return "name"

    def _show(self, line: int, action: str, v: dict[str, Any]) -> None:
        shown = {}
        for k, val in v.items():
            if k.startswith("_") or k == "normalized_name" or val in (None, "", {}):
                continue
            shown[k] = val if isinstance(val, (str, int, float, bool, dict)) else str(val)
        self.preview.append({"line": line, "action": action, "values": shown})

    # ---- writing ----------------------------------------------------------------------------

    def _forget(self) -> None:
        """A dry run (or an all-or-nothing import that already failed) writes nothing: drop
        the pending values but keep the records in the index."""
        for _, ref in self.creates:
            ref.pending = None
            ref.id = ref.id or -1
        self.creates = []
        self.updates = {}

    def _hand_off(self) -> None:
        """Write this batch: on the writer thread when there is one, else here and now."""
        creates, updates = self.creates, self.updates
        self.creates, self.updates = [], {}
        for _, ref in creates:
            ref.sent = True
        if self.writer is not None:
            self.writer.submit(creates, updates)
        else:
            self._write_batch(creates, updates)
            self._merge_db_failures()

    def _write_batch(
        self, creates: list[tuple[int, Ref]], updates: dict[Ref, tuple[int, dict[str, Any]]]
    ) -> None:
        """One batch in one transaction (a savepoint inside all-or-nothing); when the database
        refuses it, each row again on its own, so only the rows it refuses are lost. Runs on
        the writer thread or the main one; failures are collected for the main thread."""
        try:
            with transaction.atomic():
                self._write_creates(creates)
                self._write_updates(updates)
        except DatabaseError as exc:
            logger.warning("import %s: a batch failed (%s)", self.job.pk, exc)
            for _, ref in creates:
                ref.id = None
            if self.all_or_nothing:
                reason = f"the database refused the row: {_db_reason(exc)}"
                with self.lock:
                    self.db_failures += [(line, reason, "created") for line, _ in creates]
                    self.db_failures += [(line, reason, "updated") for line, _ in updates.values()]
                for _, ref in creates:
                    ref.id = -1
            else:
                self._rowwise(creates, updates)
        created = self.created_ids if not self.index.fuzzy_loaded else None
        for _, ref in creates:
            ref.pending = None
            if created is not None and ref.id and ref.id > 0:
                created.add(ref.id)
        with self.lock:
            self.written += len(creates)
            analyze = self._analyze_due()
        if analyze:
            self._analyze()

    def _analyze_due(self) -> bool:
        """Whether to refresh PostgreSQL's statistics of the table now (called under
        ``lock``): planned from a table it believed nearly empty, the batch lookups of a
        growing table would scan it whole."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return False
        if self.written < max(ANALYZE_FIRST, 3 * self.analyzed_at):
            return False
        self.analyzed_at = self.written
        return True

    def _analyze(self) -> None:
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {connection.ops.quote_name(self.model._meta.db_table)}")

    def _rowwise(
        self, creates: list[tuple[int, Ref]], updates: dict[Ref, tuple[int, dict[str, Any]]]
    ) -> None:
        for line, ref in creates:
            try:
                with transaction.atomic():
                    self._write_creates([(line, ref)], copy=False)
            except DatabaseError as exc:
                ref.id = -1
                with self.lock:
                    self.db_failures.append(
                        (line, f"the database refused the row: {_db_reason(exc)}", "created")
                    )
        for ref, (line, values) in updates.items():
            try:
                with transaction.atomic():
                    self._write_updates({ref: (line, values)})
            except DatabaseError as exc:
                with self.lock:
                    self.db_failures.append(
                        (line, f"the database refused the update: {_db_reason(exc)}", "updated")
                    )

    def _merge_db_failures(self) -> None:
        with self.lock:
            failures, self.db_failures = self.db_failures, []
        for line, reason, kind in failures:
            self.counts[kind] -= 1
            self._error(line, reason)

    def _write_creates(self, creates: list[tuple[int, Ref]], copy: bool = True) -> None:
        if not creates:
            return
        if self.entity == ImportEntity.LEAD:
            if copy and connection.vendor == "postgresql":
                self._copy_leads(creates)
            else:
                self._bulk_leads(creates)
            return
        model = self.model
        objs = [model(**ref.pending) for _, ref in creates]
        model.objects.bulk_create(objs, batch_size=1000)
        for (_, ref), obj in zip(creates, objs, strict=True):
            ref.id = obj.pk
        _restore_created(model, objs, creates)
        if self.entity == ImportEntity.OPPORTUNITY:
            by_id = self.user.pk if self.user is not None else None
            StageChange.objects.bulk_create(
                [
                    StageChange(
                        opportunity_id=obj.pk,
                        from_stage=None,
                        to_stage_id=obj.stage_id,
                        changed_at=obj.stage_entered_at or self.now,
                        changed_by_id=by_id,
                        amount=obj.amount,
                        probability=obj.probability,
                        owner_position_id=obj.owner_position_id,
                        advanced=False,  # a new deal's only change: it has not moved on
                    )
                    for obj in objs
                ],
                batch_size=1000,
            )

    def _status_rows(self, creates: list[tuple[int, Ref]]) -> list[tuple]:
        by_id = self.user.pk if self.user is not None else None
        now = self.now
        rows = []
        for _, ref in creates:
            v = ref.pending
            rows.append(
                (
                    ref.id,
                    "",
                    v.get("status", LeadStatus.NEW),
                    v.get("created_at") or now,
                    by_id,
                    v["owner_position_id"],
                    "Imported",
                )
            )
        return rows

    def _bulk_leads(self, creates: list[tuple[int, Ref]]) -> None:
        objs = [Lead(**ref.pending) for _, ref in creates]
        Lead.objects.bulk_create(objs, batch_size=1000)
        for (_, ref), obj in zip(creates, objs, strict=True):
            ref.id = obj.pk
        _restore_created(Lead, objs, creates)
        LeadStatusChange.objects.bulk_create(
            [
                LeadStatusChange(
                    lead_id=lead_id,
                    from_status=from_status,
                    to_status=to_status,
                    at=at,
                    by_id=by_id,
                    owner_position_id=owner_id,
                    note=note,
                )
                for lead_id, from_status, to_status, at, by_id, owner_id, note in self._status_rows(
                    creates
                )
            ],
            batch_size=1000,
        )

    def _copy_leads(self, creates: list[tuple[int, Ref]]) -> None:
        """Leads through PostgreSQL's COPY, with ids taken from the table's sequence first."""
        present: set[str] = set()
        for _, ref in creates:
            present.update(ref.pending)
        # Columns the batch leaves empty default to NULL: leave them out of the COPY.
        fields = [
            f
            for f in _copy_fields(Lead)
            if not f.null or f.attname in present or f.get_default() is not None
        ]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        names = [f.attname for f in fields]
        defaults = [f.get_default() for f in fields]
        defaults[names.index("created_at")] = self.now
        i_custom, i_updated = names.index("custom") + 1, names.index("updated_at") + 1
        # Dates, times and amounts go as text, each distinct value formatted once (the
        # driver's own formatting of a datetime costs more than the rest of the row).
        as_text = [
            (i, self.copy_texts.setdefault(f.attname, {}))
            for i, f in enumerate(fields, start=1)
            if f.get_internal_type() in _COPY_AS_TEXT and f.attname in present
        ]
        table = Lead._meta.db_table
        now = _copy_text(self.now)
        custom_json = self.custom_json
        with connection.cursor() as cur:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(creates)],
            )
            ids = [r[0] for r in cur.fetchall()]
            with cur.copy(f"COPY {quote(table)} (id, {columns}) FROM STDIN") as copy:
                write = copy.write_row
                for pk, (_, ref) in zip(ids, creates, strict=True):
                    ref.id = pk
                    row = [pk, *map(ref.pending.get, names, defaults)]
                    row[i_custom] = custom_json(row[i_custom])
                    row[i_updated] = now
                    for i, texts in as_text:
                        value = row[i]
                        if value is not None:
                            text = texts.get(value)
                            if text is None:
                                text = _copy_text(value)
                                if len(texts) < CELL_CACHE:
                                    texts[value] = text
                            row[i] = text
                    write(row)
            # Each lead's first status change is made by the database from the rows just
            # copied (the same values _status_rows gives), so building it costs no Python time.
            # The sequence nearly always hands out one unbroken run of ids: then the rows are
            # found by one index range (the ids in it are all ours), else id by id.
            status_table = quote(LeadStatusChange._meta.db_table)
            by = self.user.pk if self.user is not None else None
            span = _id_span(ids)
            if span is not None:
                where, params = "id BETWEEN %s AND %s", [by, *span]
            else:
                where, params = "id = ANY(%s)", [by, ids]
            # table names come from the models (quoted); values go as parameters
            sql = (
                f"INSERT INTO {status_table} (lead_id, from_status, to_status, at, by_id, "  # noqa: S608
                "owner_position_id, note) SELECT id, '', status, created_at, %s, "
                f"owner_position_id, 'Imported' FROM {quote(table)} WHERE {where} ORDER BY id"
            )
            cur.execute(sql, params)

    def _write_updates(self, updates: dict[Ref, tuple[int, dict[str, Any]]]) -> None:
        by_id: dict[int, dict[str, Any]] = {}
        for ref, (_, values) in updates.items():
            if ref.id and ref.id > 0:
                by_id[ref.id] = _merge_values(by_id.get(ref.id, {}), values)
        if not by_id:
            return
        model = self.model
        objs = model._base_manager.in_bulk(list(by_id))
        changed_fields: set[str] = set()
        changed = []
        for pk, values in by_id.items():
            obj = objs.get(pk)
            if obj is None:
                continue
            dirty = False
            for name, value in values.items():
                if name == "custom":
                    value = {**(obj.custom or {}), **value}
                if getattr(obj, name) != value:
                    setattr(obj, name, value)
                    changed_fields.add(name)
                    dirty = True
            if dirty:
                obj.updated_at = self.now
                changed.append(obj)
        if changed:
            fields = sorted(_field_names(model, changed_fields) | {"updated_at"})
            model._base_manager.bulk_update(changed, fields, batch_size=500)


def _restore_created(model: type[Model], objs: list[Model], creates: list[tuple[int, Ref]]) -> None:
    """Put back the creation dates the file gave: ``bulk_create`` stamps ``auto_now_add``
    fields with the time of saving (the COPY path writes the file's dates directly)."""
    dated = []
    for obj, (_, ref) in zip(objs, creates, strict=True):
        when = ref.pending.get("created_at")
        if when is not None and when != obj.created_at:
            obj.created_at = when
            dated.append(obj)
    if dated:
        model.objects.bulk_update(dated, ["created_at"], batch_size=500)


class _Writer:
    """Writes batches on ``WRITERS`` threads, each with its own database connection
    (PostgreSQL, keep the good rows): reading and checking the next batch overlaps the
    database's work on the last ones, and the database writes two batches at once (one
    server process each). Batches of new records go in any order; a batch that updates
    records waits until every batch handed off before it is written, so that an update finds
    the record an earlier batch created and two updates of one record keep their order."""

    def __init__(self, run: _Run, threads: int = 0) -> None:
        self.run = run
        threads = threads or WRITERS
        self.queue: queue.Queue = queue.Queue(maxsize=threads)
        self.failure: BaseException | None = None
        self.submitted = 0
        self.written = 0  # batches done, in order: every batch before this number is written
        self.finished: set[int] = set()
        self.turn = threading.Condition()
        self.threads = [
            threading.Thread(target=self._loop, name=f"revline-import-writer-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def _loop(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                number, creates, updates = item
                try:
                    if updates:
                        with self.turn:
                            self.turn.wait_for(lambda n=number: self.written >= n or self.failure)
                    if self.failure is None:
                        self.run._write_batch(creates, updates)
                finally:
                    with self.turn:
                        self.finished.add(number)
                        while self.written in self.finished:
                            self.finished.discard(self.written)
                            self.written += 1
                        self.turn.notify_all()
        except BaseException as exc:
            with self.turn:
                self.failure = exc
                self.turn.notify_all()
            while self.queue.get() is not None:  # let the main thread finish handing off
                pass
        finally:
            connections.close_all()

    def submit(self, creates: list, updates: dict) -> None:
        self._check()
        item = (self.submitted, creates, updates)
        self.submitted += 1
        while True:
            try:
                self.queue.put(item, timeout=1)
                return
            except queue.Full:
                self._check()

    def _check(self) -> None:
        if self.failure is not None or not all(t.is_alive() for t in self.threads):
            raise RuntimeError(f"the import's writer stopped: {self.failure}") from self.failure

    def close(self) -> None:
        for thread in self.threads:
            if thread.is_alive():
                self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.failure is not None:
            raise RuntimeError(f"the import's writer stopped: {self.failure}") from self.failure


HISTOGRAM_BINS = 32  # characters are counted in this many bins (code point modulo 32)
NARROW_FROM = 16  # names per block on average from which batches are narrowed
RECENT_MAX = 50_000  # entries kept apart from the big sorted arrays before they are merged in


class _ImportIndex(MatchIndex):
    """The importer's ``MatchIndex``: before a batch's rows are decided, their fuzzy look-ups
    are narrowed for the whole batch at once (numpy) to the names of their blocks that can
    still reach the score; the decisions then compare only those (and the names the batch
    itself added since), so a block of hundreds of names costs a few comparisons.

    Narrowing is exact. Two texts a and b at least ``score`` % alike (``fuzz.ratio``) are at
    most (100 - score) % of len(a) + len(b) insertions and deletions apart, and that distance
    is at least the difference of their character counts: len(a) + len(b) - 2·m, with m the
    sum over characters of min(count in a, count in b). Counting characters in fewer bins only
    raises m. So a name with 200·m < score·(len(a) + len(b)) cannot match, and the names that
    remain are compared in their original order, which keeps "the first of equals".

    The character counts live in arrays sorted by block, so that a batch reads each block it
    looks in as one stretch of memory: a big part (``_Sorted``) merged into now and then, and
    the entries added since, sorted again at every batch."""

    def __init__(self, *, addresses: bool = False) -> None:
        super().__init__()
        # The entries a row with an e-mail address may match by name, again: the records
        # without an address, and those a row with their address would not find by it (an
        # address stored in capitals). ``best_name`` passes over the records with another
        # address, and a row with a record's own address matched it by that address before
        # any name was compared; so such a row looks among these alone (most files: few).
        self.name_only: _ImportIndex | None = _ImportIndex() if addresses else None
        self.texts: list[str] = []  # every fuzzy name added, in order (entry ids)
        self.entry_codes = array("i")  # each entry's block, as a number
        self.entry_pos = array("i")  # each entry's position in its block
        self.codes: dict[str, int] = {}
        self.main: _Sorted | None = None  # entries [0, main.size)
        self.recent: _Sorted | None = None  # entries [main.size, synced)
        self.synced = 0
        self.long_texts = False  # an entry of more than 255 characters
        self.narrowed: dict[int, tuple[list[int], int]] = {}

    def add(
        self,
        ref: Ref,
        *,
        ext: str = "",
        key: Any = None,
        fuzzy: tuple[str, str] | None = None,
        findable: bool = True,
    ) -> None:
        """``MatchIndex.add``; ``findable``: a row with the record's e-mail address finds it
        by the address (it is stored as the importer compares addresses)."""
        if ext and ext not in self.by_ext:
            self.by_ext[ext] = ref
        if key and key not in self.by_key:
            self.by_key[key] = ref
        if fuzzy is not None:
            names, refs = self.blocks[fuzzy[0]]
            self.entry_pos.append(len(names))
            names.append(fuzzy[1])
            refs.append(ref)
            code = self.codes.get(fuzzy[0])
            if code is None:
                code = self.codes[fuzzy[0]] = len(self.codes)
            self.texts.append(fuzzy[1])
            self.entry_codes.append(code)
            if len(fuzzy[1]) > 255:
                self.long_texts = True
            if self.name_only is not None and not (ref.email and findable):
                self.name_only.add(ref, fuzzy=fuzzy)

    def narrow(self, queries: list[tuple[int, tuple[str, str], str]]) -> None:
        """Narrow the fuzzy look-ups of a batch: ``queries`` are (row, (block, text), e-mail)
        of its rows that may need one; ``match_row`` then answers them."""
        if self.name_only is None:
            self._narrow([(row, fuzzy) for row, fuzzy, _ in queries])
            return
        self._narrow([(row, fuzzy) for row, fuzzy, email in queries if not email])
        self.name_only._narrow([(row, fuzzy) for row, fuzzy, email in queries if email])

    def _narrow(self, queries: list[tuple[int, tuple[str, str]]]) -> None:
        import numpy as np

        self.narrowed = {}
        if not queries or len(self.texts) < NARROW_FROM * len(self.codes):
            return  # small blocks: comparing every name costs less
        self._sync()
        codes = self.codes
        qcodes = np.array([codes.get(block, -1) for _, (block, _) in queries], dtype=np.int32)
        qhist, qlens = _char_counts([text for _, (_, text) in queries])
        check_long = self.long_texts or int(qlens.max()) > 255
        survivors: dict[int, list[int]] = {}
        sizes = np.zeros(len(queries), dtype=np.int64)
        for part in (self.main, self.recent):  # older entries first: the order added
            if part is None:
                continue
            count = part.hits(qcodes, qhist, qlens, self.score, check_long, survivors)
            sizes += count
        for q, ((row, _), n) in enumerate(zip(queries, sizes.tolist(), strict=True)):
            self.narrowed[row] = (survivors.get(q, []), n)

    def match_row(self, row: int, fuzzy: tuple[str, str], email: str) -> tuple[Ref | None, str]:
        """``match(fuzzy=..., email=...)`` for a row of the batch ``narrow`` saw."""
        if email and self.name_only is not None:
            return self.name_only.match_row(row, fuzzy, email)
        narrowed = self.narrowed.get(row)
        if narrowed is None:
            return self.match(fuzzy=fuzzy, email=email)
        positions, before = narrowed
        block = self.blocks.get(fuzzy[0])
        if block is None:
            return None, ""
        names, refs = block
        if len(names) > before:  # names this batch added, not narrowed
            positions = [*positions, *range(before, len(names))]
        if not positions:
            return None, ""
        ref = self.best_name(
            fuzzy[1], [names[p] for p in positions], [refs[p] for p in positions], email
        )
        return (ref, "name") if ref is not None else (None, "")

    def _sync(self) -> None:
        """Bring the arrays up to the entries added so far."""
        n = len(self.texts)
        if n == self.synced:
            return
        new = _Sorted.of(self, self.synced, n)
        self.recent = new if self.recent is None else self.recent.merged(new)
        self.synced = n
        if self.main is None or self.recent.size - self.main.size > RECENT_MAX:
            self.main = self.recent if self.main is None else self.main.merged(self.recent)
            self.recent = None


class _Sorted:
    """Character counts, lengths and block positions of the entries [first, first + size) of
    an ``_ImportIndex``, sorted by block (then as added); ``start[code]`` is where a block
    begins."""

    __slots__ = ("codes", "hist", "lens", "pos", "size", "start")

    def __init__(self, codes: Any, hist: Any, lens: Any, pos: Any, size: int) -> None:
        import numpy as np

        self.codes, self.hist, self.lens, self.pos, self.size = codes, hist, lens, pos, size
        top = int(codes[-1]) + 1 if len(codes) else 0
        self.start = np.searchsorted(codes, np.arange(top + 1), side="left")

    @classmethod
    def of(cls, index: _ImportIndex, first: int, last: int) -> _Sorted:
        import numpy as np

        hist = np.zeros((last - first, HISTOGRAM_BINS), dtype=np.uint8)
        lens = np.zeros(last - first, dtype=np.int32)
        for a in range(first, last, 100_000):
            b = min(a + 100_000, last)
            hist[a - first : b - first], lens[a - first : b - first] = _char_counts(
                index.texts[a:b]
            )
        codes = np.frombuffer(index.entry_codes, dtype=np.int32)[first:last].copy()
        pos = np.frombuffer(index.entry_pos, dtype=np.int32)[first:last].copy()
        order = np.argsort(codes, kind="stable")
        return cls(codes[order], hist[order], lens[order], pos[order], last)

    def merged(self, later: _Sorted) -> _Sorted:
        """These entries and ``later``'s (added after them), sorted as one."""
        import numpy as np

        at = np.searchsorted(self.codes, later.codes, side="right")
        return _Sorted(
            np.insert(self.codes, at, later.codes),
            np.insert(self.hist, at, later.hist, axis=0),
            np.insert(self.lens, at, later.lens),
            np.insert(self.pos, at, later.pos),
            later.size,
        )

    def hits(
        self,
        qcodes: Any,
        qhist: Any,
        qlens: Any,
        score: int,
        check_long: bool,
        survivors: dict[int, list[int]],
    ) -> Any:
        """Add to ``survivors`` (query -> block positions) the entries of each query's block
        that may reach ``score``; returns how many entries each query's block has here."""
        import numpy as np

        known = (qcodes >= 0) & (qcodes < len(self.start) - 1)
        safe = np.where(known, qcodes, 0)
        start = np.where(known, self.start[safe], 0)
        count = np.where(known, self.start[safe + 1] - start, 0)
        total = int(count.sum())
        if not total:
            return count
        which = np.repeat(np.arange(len(qcodes)), count)
        at = np.repeat(start - np.cumsum(count) + count, count) + np.arange(total)
        both = np.minimum(self.hist[at], np.repeat(qhist, count, axis=0))
        # sum of the 32 byte counts per pair: four 8-byte lanes added, then the bytes of the
        # lane summed by one multiplication (no carries: a text of at most 255 characters)
        lanes = both.view(np.uint64)
        folded = lanes[:, 0] + lanes[:, 1] + lanes[:, 2] + lanes[:, 3]
        common = ((folded * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)
        lens = self.lens[at] + qlens[which]
        keep = 200 * common >= score * lens
        if check_long:  # counts above 255 were cut and the byte sums wrap: keep those
            keep |= lens > 255
        hits = np.flatnonzero(keep)
        for q, p in zip(which[hits].tolist(), self.pos[at[hits]].tolist(), strict=True):
            survivors.setdefault(q, []).append(p)
        return count


def _char_counts(texts: list[str]) -> tuple[Any, Any]:
    """(character counts in ``HISTOGRAM_BINS`` bins, lengths) of ``texts``, as arrays."""
    import numpy as np

    lens = np.fromiter(map(len, texts), dtype=np.int32, count=len(texts))
    chars = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    which = np.repeat(np.arange(len(texts), dtype=np.int64), lens)
    flat = which * HISTOGRAM_BINS + (chars & (HISTOGRAM_BINS - 1))
    counts = np.bincount(flat, minlength=len(texts) * HISTOGRAM_BINS)
    # only a text of more than 255 characters can count more than 255 in a bin: those are
    # never narrowed away (``_Sorted.hits``)
    return np.minimum(counts, 255).astype(np.uint8).reshape(len(texts), HISTOGRAM_BINS), lens


def _merge_values(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged = dict(old)
    for k, val in new.items():
        merged[k] = {**merged.get(k, {}), **val} if k == "custom" else val
    return merged


class _Inference:
    """Guesses a custom field's type from every value of an unmapped column."""

    __slots__ = ("column", "date", "is_bool", "is_date", "is_int", "is_num", "key", "seen")

    def __init__(self, column: str, key: str) -> None:
        self.column = column
        self.key = key
        self.is_bool = self.is_int = self.is_num = self.is_date = True
        self.date = DateOrder()
        self.seen = 0

    def feed(self, value: str) -> None:
        self.seen += 1
        if self.is_bool and value.lower() not in _BOOL_WORDS:
            self.is_bool = False
        if self.is_int and not _INT_TEXT.fullmatch(value):
            self.is_int = _tolerant_number(value, whole=True)
        if self.is_num and not (_NUM_TEXT.fullmatch(value) and value not in ("+", "-", ".")):
            self.is_num = _tolerant_number(value, whole=False)
        if self.is_date and not self.date.feed(value):
            self.is_date = False

    @property
    def field_type(self) -> str:
        if not self.seen:
            return CustomFieldType.TEXT
        if self.is_bool:
            return CustomFieldType.BOOLEAN
        if self.is_int:
            return CustomFieldType.INTEGER
        if self.is_num:
            return CustomFieldType.NUMBER
        if self.is_date:
            return CustomFieldType.DATE
        return CustomFieldType.TEXT

    def definition(self, entity: str) -> CustomFieldDefinition:
        return CustomFieldDefinition(
            entity=entity, key=self.key, label=self.column[:100], field_type=self.field_type
        )


def _tolerant_number(value: str, *, whole: bool) -> bool:
    """Numbers written with thousands separators or currency signs; no leading zeros (codes
    such as ``00123`` stay text)."""
    digits = value.lstrip("+-$€£(")
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        return False
    if not any(c.isdigit() for c in value):
        return False
    try:
        number = parse_decimal(value)
    except ValueError:
        return False
    return not whole or number == number.to_integral_value()


def _id_span(ids: list[int]) -> tuple[int, int] | None:
    """(first, last) when ``ids`` (distinct) are one unbroken run first..last, else None."""
    return (ids[0], ids[-1]) if ids and ids[-1] - ids[0] == len(ids) - 1 else None


_COPY_AS_TEXT = frozenset({"DateTimeField", "DateField", "DecimalField"})


def _copy_text(value: Any) -> str:
    """A date, time or amount as PostgreSQL reads it."""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps`` without its per-call set-up (it builds a new encoder at every call),
    when the C encoder is there."""
    from json import encoder

    if encoder.c_make_encoder is None:  # pragma: no cover - CPython has it
        return json.dumps
    encode = encoder.c_make_encoder(
        None,  # no check for cycles: these are values read from a file
        json.JSONEncoder().default,
        encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    return lambda value: "".join(encode(value, 0))


_encode_json = _json_encoder()


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an import runs. The run allocates
    millions of small containers (rows, values, index entries) that hold no reference cycles
    (reference counting frees them), and each automatic collection would walk the growing
    duplicate index again: about a third of the importer's CPU time on 200k rows. Whatever
    cyclic garbage the run leaves is collected once it is over."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _count_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _copy_fields(model: type[Model]) -> list:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _field_names(model: type[Model], attnames: set[str]) -> set[str]:
    by_attname = {f.attname: f.name for f in model._meta.concrete_fields}
    return {by_attname.get(a, a) for a in attnames}


def _db_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
