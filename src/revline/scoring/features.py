"""What the lead score learns from: each lead as it looked before its outcome was known.

``load_frame`` reads leads into a table of raw values, one column per candidate feature:
the lead's own fields, its custom fields (typed by their definitions: numbers stay numbers,
yes/no becomes 1/0, dates become days from the lead's creation, text is a category), its
source, campaign and referral, and its engagement (activity counts and recency, counted only
up to the moment the outcome was known, so a closed lead is seen as it was while open).

Never features: the lead's status and everything that follows from it (conversion dates and
links, the disqualify reason, who received it), its owner, its name, and its ids.

``spec_build`` decides, from the training leads alone, which columns become features and how:
a column left out by the user, empty, constant or identifier-like (nearly every value
different) is dropped with its reason; a category seen fewer than ``min_count`` times is pooled
into "other"; missing values stay missing (LightGBM learns where they go). ``encode`` turns a
table into the numeric matrix the models read, the same way for training and for scoring.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from django.db.models import FloatField, Max, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.text import slugify

from revline.crm.choices import ActivityKind, CustomFieldType, LeadSource, LeadStatus
from revline.crm.models import Activity, CustomFieldDefinition, Lead, LeadStatusChange, Referral

NUMERIC = "numeric"
CATEGORICAL = "categorical"
CUSTOM = "custom:"
CLOSED = (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)
MAX_CATEGORIES = 250
DAY = 86400.0

# key, label, type
STANDARD: tuple[tuple[str, str, str], ...] = (
    ("sector", "Sector", CATEGORICAL),
    ("employees", "Employees", NUMERIC),
    ("annual_revenue", "Annual revenue", NUMERIC),
    ("region", "Region", CATEGORICAL),
    ("country", "Country", CATEGORICAL),
    ("source", "Lead source", CATEGORICAL),
    ("source_name", "Data source", CATEGORICAL),
    ("campaign", "Campaign", CATEGORICAL),
    ("campaign_kind", "Campaign type", CATEGORICAL),
    ("referred", "Referred by someone", NUMERIC),
    ("title", "Job title", CATEGORICAL),
    ("email_domain", "E-mail domain", CATEGORICAL),
    ("company", "Company", CATEGORICAL),
    ("has_email", "Has an e-mail address", NUMERIC),
    ("has_phone", "Has a phone number", NUMERIC),
    ("known_account", "Works at a known account", NUMERIC),
    ("bant_budget", "Budget", NUMERIC),
    ("bant_authority", "Authority", CATEGORICAL),
    ("bant_need", "Need stated", NUMERIC),
    ("bant_timeline_days", "Days to the buying timeline", NUMERIC),
)
ENGAGEMENT: tuple[tuple[str, str, str], ...] = (
    ("activities", "Activities logged", NUMERIC),
    *((f"activities_{k}", f"{label}s logged", NUMERIC) for k, label in ActivityKind.choices),
    ("days_since_activity", "Days since the last activity", NUMERIC),
    ("days_to_first_activity", "Days from creation to the first activity", NUMERIC),
)
BOOLEAN_KEYS = frozenset({"referred", "has_email", "has_phone", "known_account", "bant_need"})

_LEAD_COLUMNS = (
    "id",
    "sector",
    "employees",
    "annual_revenue",
    "region__name",
    "country",
    "source",
    "source_name",
    "campaign__name",
    "campaign__kind",
    "title",
    "email",
    "phone",
    "company",
    "account_id",
    "bant_budget",
    "bant_authority",
    "bant_need",
    "bant_timeline",
    "created_at",
    "converted_at",
    "outcome",
    "status",
    "custom",
)
_SPACES = re.compile(r"\s+")


# --- which leads ---------------------------------------------------------------------------------


def live_leads(source_name: str | None) -> QuerySet[Lead]:
    """Leads that are not merged away, of one source (``None`` or blank: every lead)."""
    qs = Lead.objects.filter(merged_into__isnull=True)
    if source_name:
        qs = qs.filter(source_name=source_name)
    return qs


def labelled_q() -> Q:
    """Leads whose outcome is known: an imported outcome, or a lead closed in Revline."""
    return Q(outcome__isnull=False) | Q(status__in=CLOSED)


def label_of(outcome: bool | None, status: str) -> int | None:
    if outcome is not None:
        return int(outcome)
    if status == LeadStatus.CONVERTED:
        return 1
    if status == LeadStatus.DISQUALIFIED:
        return 0
    return None


# --- reading leads -------------------------------------------------------------------------------


def field_key(name: str) -> str:
    """A user's name for a field (``Tags``, ``tags``, ``custom:tags``, ``Lead Quality``) as a
    feature key candidate: lower-case slug with underscores."""
    name = name.strip()
    if name.lower().startswith(CUSTOM):
        name = name[len(CUSTOM) :]
    return slugify(name).replace("-", "_")


def labels() -> dict[str, str]:
    out = {key: label for key, label, _ in (*STANDARD, *ENGAGEMENT)}
    for d in CustomFieldDefinition.objects.filter(entity="lead"):
        out[CUSTOM + d.key] = d.label
    return out


def _days(delta: dt.timedelta | None) -> float:
    return math.nan if delta is None else delta.total_seconds() / DAY


def _text(values: Iterable[Any]) -> list[Any]:
    return [v if v else None for v in values]


def _number(values: Iterable[Any]) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=float)


def _flag(values: Iterable[Any]) -> np.ndarray:
    return np.array([1.0 if v else 0.0 for v in values])


def _timeline(c: dict[str, Any]) -> np.ndarray:
    return np.array(
        [
            _days(dt.datetime.combine(t, dt.time.min, tzinfo=dt.UTC) - created) if t else math.nan
            for t, created in zip(c["bant_timeline"], c["created_at"], strict=True)
        ],
        dtype=float,
    )


_SOURCE_LABELS = dict(LeadSource.choices)
# feature key -> (lead columns it reads, how)
_BUILDERS: dict[str, tuple[tuple[str, ...], Any]] = {
    "sector": (("sector",), lambda c: _text(c["sector"])),
    "employees": (("employees",), lambda c: _number(c["employees"])),
    "annual_revenue": (("annual_revenue",), lambda c: _number(c["annual_revenue"])),
    "region": (("region__name",), lambda c: _text(c["region__name"])),
    "country": (("country",), lambda c: _text(c["country"])),
    "source": (
        ("source",),
        lambda c: [_SOURCE_LABELS.get(v, v) if v else None for v in c["source"]],
    ),
    "source_name": (("source_name",), lambda c: _text(c["source_name"])),
    "campaign": (("campaign__name",), lambda c: _text(c["campaign__name"])),
    "campaign_kind": (("campaign__kind",), lambda c: _text(c["campaign__kind"])),
    "title": (("title",), lambda c: _text(c["title"])),
    "email_domain": (
        ("email",),
        lambda c: [(e.rpartition("@")[2] or None) if e else None for e in c["email"]],
    ),
    "company": (("company",), lambda c: _text(c["company"])),
    "has_email": (("email",), lambda c: _flag(c["email"])),
    "has_phone": (("phone",), lambda c: _flag(c["phone"])),
    "known_account": (("account_id",), lambda c: _flag(v is not None for v in c["account_id"])),
    "bant_budget": (("bant_budget",), lambda c: _number(c["bant_budget"])),
    "bant_authority": (("bant_authority",), lambda c: _text(c["bant_authority"])),
    "bant_need": (("bant_need",), lambda c: _flag(c["bant_need"])),
    "bant_timeline_days": (("bant_timeline", "created_at"), _timeline),
}
_ENGAGEMENT_KEYS = frozenset(k for k, _, _ in ENGAGEMENT)


def load_frame(
    qs: QuerySet[Lead],
    *,
    now: dt.datetime | None = None,
    keys: Iterable[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The raw candidate features of the leads in ``qs``, indexed by lead id, with each lead's
    label (1, 0, or -1 for open) and the time it was created (seconds since the epoch).

    ``keys``: only these features (a trained model's); None reads every candidate, and the
    engagement features only when some of these leads have activities."""
    now = now or timezone.now()
    wanted = None if keys is None else set(keys)
    builders = {k: b for k, b in _BUILDERS.items() if wanted is None or k in wanted}
    needs_custom = wanted is None or any(k.startswith(CUSTOM) for k in wanted)
    engagement = wanted is not None and bool(wanted & _ENGAGEMENT_KEYS)
    dated = wanted is None or engagement or "bant_timeline_days" in wanted
    if not dated and needs_custom:
        date_keys = CustomFieldDefinition.objects.filter(
            entity="lead", field_type=CustomFieldType.DATE
        ).values_list("key", flat=True)
        dated = any(CUSTOM + k in wanted for k in date_keys)
    columns = ["id", "outcome", "status", *(["created_at"] if dated else [])]
    for cols, _ in builders.values():
        columns += [col for col in cols if col not in columns]
    if wanted is None or engagement:
        columns += ["converted_at"]
    select = qs.order_by("id")
    # money as floats straight from the database (no Decimal per value)
    casts = {c: f"{c}_float" for c in ("annual_revenue", "bant_budget") if c in columns}
    if casts:
        select = select.annotate(
            **{alias: Cast(c, output_field=FloatField()) for c, alias in casts.items()}
        )
    if needs_custom:
        select = select.annotate(custom_text=Cast("custom", output_field=TextField()))
    fetched = [casts.get(c, c) for c in columns]
    rows = list(select.values_list(*fetched, *(["custom_text"] if needs_custom else [])))
    n = len(rows)
    names = [*columns, *(["custom"] if needs_custom else [])]
    c = dict(zip(names, zip(*rows, strict=True) if rows else [()] * len(names), strict=True))
    ids = np.fromiter(c["id"], dtype=np.int64, count=n)
    created = (
        np.array([ts.timestamp() for ts in c["created_at"]], dtype=float) if dated else np.zeros(n)
    )
    data: dict[str, Any] = {key: build(c) for key, (_, build) in builders.items()}
    if wanted is None or "referred" in wanted:
        referred = set(
            Referral.objects.filter(lead__in=qs.values("pk")).values_list("lead_id", flat=True)
        )
        data["referred"] = np.array([1.0 if i in referred else 0.0 for i in ids.tolist()])
    y = np.array(
        [
            -1 if (lb := label_of(o, s)) is None else lb
            for o, s in zip(c["outcome"], c["status"], strict=True)
        ],
        dtype=np.int8,
    )
    if needs_custom and n:
        customs = json.loads("[" + ",".join(t or "{}" for t in c["custom"]) + "]")
        custom = _custom_columns(customs, created)
        data.update({k: v for k, v in custom.items() if wanted is None or k in wanted})
    frame = pd.DataFrame(data, index=pd.Index(ids, name="lead_id"))
    if wanted is None:
        engagement = n > 0 and Activity.objects.filter(lead__in=qs.values("pk")).exists()
    if engagement:
        for key, values in _engagement(qs, ids, c, now).items():
            if wanted is None or key in wanted:
                frame[key] = values
    return frame, y, created


def _custom_columns(customs: Iterable[dict], created: np.ndarray) -> dict[str, Any]:
    """Custom field values as typed columns (``custom:<key>``)."""
    records = [v or {} for v in customs]
    if not records:
        return {}
    raw = pd.DataFrame.from_records(records)
    if raw.empty:
        return {}
    defs = {d.key: d for d in CustomFieldDefinition.objects.filter(entity="lead")}
    out: dict[str, Any] = {}
    for key in raw.columns:
        s = raw[key]
        d = defs.get(key)
        kind = d.field_type if d else None
        if kind is None:  # a value without a definition: numbers stay numbers
            as_num = pd.to_numeric(s, errors="coerce")
            kind = CustomFieldType.NUMBER if as_num.notna().sum() == s.notna().sum() else "text"
        if kind in (CustomFieldType.NUMBER, CustomFieldType.INTEGER):
            col = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        elif kind == CustomFieldType.BOOLEAN:
            col = s.map({True: 1.0, False: 0.0}).astype(float).to_numpy()
        elif kind == CustomFieldType.DATE:
            stamps = pd.to_datetime(s, errors="coerce", utc=True)
            col = ((stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()).to_numpy(
                dtype=float
            )
            col = (col - created) / DAY
        else:
            col = s.astype(object).to_numpy()  # missing values stay NaN
        out[CUSTOM + str(key)] = col
    return out


def _outcome_times(qs: QuerySet[Lead], ids: np.ndarray, c: dict, now: dt.datetime) -> np.ndarray:
    """When each lead's outcome became known (seconds); now for open leads."""
    closed = dict(
        LeadStatusChange.objects.filter(lead__in=qs.values("pk"), to_status__in=CLOSED)
        .values("lead_id")
        .annotate(at=Max("at"))
        .values_list("lead_id", "at")
    )
    out = np.empty(len(ids), dtype=float)
    for i, (pk, converted, outcome, status, created) in enumerate(
        zip(
            ids.tolist(), c["converted_at"], c["outcome"], c["status"], c["created_at"], strict=True
        )
    ):
        known = label_of(outcome, status) is not None
        out[i] = ((converted or closed.get(pk) or created) if known else now).timestamp()
    return out


def _engagement(qs: QuerySet[Lead], ids: np.ndarray, c: dict, now: dt.datetime) -> dict:
    cutoff = _outcome_times(qs, ids, c, now)
    created = np.array([ts.timestamp() for ts in c["created_at"]], dtype=float)
    acts = list(
        Activity.objects.filter(lead__in=qs.values("pk"))
        .order_by()
        .values_list("lead_id", "kind", "occurred_at")
    )
    n = len(ids)
    out: dict[str, np.ndarray] = {"activities": np.zeros(n)}
    for k in ActivityKind.values:
        out[f"activities_{k}"] = np.zeros(n)
    last = np.full(n, -np.inf)
    first = np.full(n, np.inf)
    if acts:
        lead_ids, kinds, at = zip(*acts, strict=True)
        pos = np.searchsorted(ids, np.array(lead_ids, dtype=np.int64))
        when = np.array([t.timestamp() for t in at], dtype=float)
        keep = when <= cutoff[pos]
        pos, when = pos[keep], when[keep]
        kinds_arr = np.array(kinds, dtype=object)[keep]
        np.add.at(out["activities"], pos, 1)
        for k in ActivityKind.values:
            mask = kinds_arr == k
            np.add.at(out[f"activities_{k}"], pos[mask], 1)
        np.maximum.at(last, pos, when)
        np.minimum.at(first, pos, when)
    seen = np.isfinite(last)
    out["days_since_activity"] = np.where(seen, (cutoff - last) / DAY, np.nan)
    out["days_to_first_activity"] = np.where(seen, (first - created) / DAY, np.nan)
    return out


# --- the feature specification -------------------------------------------------------------------


def _fold(value: Any) -> str | None:
    text = _SPACES.sub(" ", str(value)).strip().casefold()
    return text or None


def normalize(values: pd.Series) -> pd.Series:
    """Category values compared without case or spacing differences ("Google" is "google").
    Each distinct value is folded once."""
    codes, uniques = pd.factorize(values.astype("object"), use_na_sentinel=True)
    folded = np.array([None, *(_fold(v) for v in uniques)], dtype=object)
    return pd.Series(folded[codes + 1], index=values.index, dtype=object)


def is_numeric_column(key: str, values: Any) -> bool:
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "fiub"
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def spec_build(
    frame: pd.DataFrame,
    *,
    excluded: Iterable[str] = (),
    names: dict[str, str] | None = None,
    min_count: int | None = None,
) -> dict[str, Any]:
    """Which columns of the training table become features, and how (module docstring)."""
    names = labels() if names is None else names
    n = len(frame)
    min_count = min_count or max(5, math.ceil(0.002 * n))
    excluded_keys = {field_key(e) for e in excluded}
    features: list[dict[str, Any]] = []
    dropped: list[dict[str, str]] = []
    for key in frame.columns:
        label = names.get(key, key.removeprefix(CUSTOM).replace("_", " ").capitalize())
        bare = key.removeprefix(CUSTOM)
        if bare in excluded_keys or field_key(label) in excluded_keys:
            dropped.append({"key": key, "label": label, "reason": "excluded"})
            continue
        s = frame[key]
        present = int(s.notna().sum())
        if present == 0:
            dropped.append({"key": key, "label": label, "reason": "empty"})
            continue
        if is_numeric_column(key, s):
            distinct = s.nunique(dropna=True) + (1 if present < n else 0)
            if distinct <= 1:
                dropped.append({"key": key, "label": label, "reason": "the same for every lead"})
                continue
            features.append({"key": key, "label": label, "type": NUMERIC})
            continue
        norm = normalize(s)
        counts = norm.value_counts()
        if len(counts) > 50 and len(counts) > 0.5 * present:
            dropped.append(
                {"key": key, "label": label, "reason": "nearly every value different (an id?)"}
            )
            continue
        kept = counts[counts >= min_count].index[:MAX_CATEGORIES].tolist()
        pooled = len(counts) > len(kept)
        distinct = len(kept) + (1 if pooled else 0) + (1 if present < n else 0)
        if not kept or distinct <= 1:
            reason = "too few leads share a value" if not kept else "the same for every lead"
            dropped.append({"key": key, "label": label, "reason": reason})
            continue
        display = (
            pd.DataFrame({"norm": norm, "raw": s.astype("object")})
            .dropna()
            .groupby("norm")["raw"]
            .agg(lambda v: v.value_counts().index[0])
        )
        features.append(
            {
                "key": key,
                "label": label,
                "type": CATEGORICAL,
                "categories": kept,
                "display": [str(display.get(k, k)) for k in kept],
                "other": pooled,
            }
        )
    return {"features": features, "dropped": dropped, "min_count": min_count, "rows": n}


def categorical_indices(spec: dict[str, Any]) -> list[int]:
    return [i for i, f in enumerate(spec["features"]) if f["type"] == CATEGORICAL]


def encode(frame: pd.DataFrame, spec: dict[str, Any]) -> np.ndarray:
    """The feature matrix (float32; categories as codes, "other" = the last code, missing =
    NaN) of ``frame`` under ``spec``. Columns the frame lacks are all missing."""
    n = len(frame)
    X = np.full((n, len(spec["features"])), np.nan, dtype=np.float32)
    for j, f in enumerate(spec["features"]):
        if f["key"] not in frame.columns:
            continue
        s = frame[f["key"]]
        if f["type"] == NUMERIC:
            X[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float32)
            continue
        codes = {v: i for i, v in enumerate(f["categories"])}
        norm = normalize(s)
        mapped = norm.map(codes)
        other = norm.notna() & mapped.isna()
        col = mapped.to_numpy(dtype=np.float32, na_value=np.nan)
        col[other.to_numpy()] = len(f["categories"])
        X[:, j] = col
    return X


def describe(f: dict[str, Any], value: Any) -> str:
    """A feature's value in words, for the factors shown with a score."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not given"
    if f["type"] == CATEGORICAL:
        return str(value)
    if f["key"] in BOOLEAN_KEYS or _is_yes_no(f):
        return "yes" if value else "no"
    number = float(value)
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")


def describe_numbers(f: dict[str, Any], values: np.ndarray) -> np.ndarray:
    """``describe`` for many values of a numeric feature at once."""
    v = np.asarray(values, dtype=float)
    out = np.full(len(v), "not given", dtype=object)
    present = ~np.isnan(v)
    if f["key"] in BOOLEAN_KEYS or _is_yes_no(f):
        out[present] = np.where(v[present] != 0, "yes", "no")
        return out
    numbers = v[present]
    whole = (numbers == np.round(numbers)).tolist()
    out[present] = [
        f"{int(x):,}" if w else f"{x:,.2f}".rstrip("0").rstrip(".")
        for x, w in zip(numbers.tolist(), whole, strict=True)
    ]
    return out


def _is_yes_no(f: dict[str, Any]) -> bool:
    return bool(f.get("yes_no"))


def mark_yes_no(spec: dict[str, Any], frame: pd.DataFrame) -> None:
    """Numeric features holding only 0/1 are described as yes/no."""
    for f in spec["features"]:
        if f["type"] != NUMERIC or f["key"] not in frame.columns:
            continue
        values = pd.unique(frame[f["key"]].dropna())
        if len(values) and set(np.asarray(values, dtype=float).tolist()) <= {0.0, 1.0}:
            f["yes_no"] = True
