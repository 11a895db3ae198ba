"""The ideal-customer-profile fit: weighted rules on firmographics, evaluated on many leads or
accounts at once.

A record's fit is the weight of the positive rules it matches over the weight of every
positive rule that applies to its kind, minus the weight of the negative rules it matches,
as 0-100. Text compares without case; a missing value matches nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from revline.crm.custom_fields import FALSE, TRUE
from revline.crm.models import Account
from revline.org.models import Region
from revline.scoring.choices import IcpAppliesTo, IcpOperator
from revline.scoring.features import CUSTOM, normalize
from revline.scoring.models import IcpRule

STANDARD_FIELDS = {
    "sector": "Sector",
    "employees": "Employees",
    "annual_revenue": "Annual revenue",
    "region": "Region",
    "country": "Country",
}
NUMERIC_FIELDS = frozenset({"employees", "annual_revenue"})


def rule_clean(*, field: str, operator: str, value: Any) -> tuple[str, Any]:
    """The rule's field and value as stored; raises ``ValidationError`` on a bad rule."""
    field = (field or "").strip()
    if field not in STANDARD_FIELDS and not (field.startswith(CUSTOM) and len(field) > 7):
        raise ValidationError(
            {"field": f"Unknown field {field!r}: {', '.join(STANDARD_FIELDS)} or custom:<key>."}
        )
    if operator not in IcpOperator.values:
        raise ValidationError({"operator": f"Unknown operator {operator!r}."})
    if operator == IcpOperator.RANGE:
        if not isinstance(value, dict) or not ({"min", "max"} & set(value)):
            raise ValidationError({"value": 'A range is {"min": .., "max": ..} (either end).'})
        out = {}
        for end in ("min", "max"):
            if value.get(end) not in (None, ""):
                try:
                    out[end] = float(value[end])
                except (TypeError, ValueError):
                    raise ValidationError(
                        {"value": f"The range's {end} is not a number."}
                    ) from None
        if not out:
            raise ValidationError({"value": "A range needs a min or a max."})
        return field, out
    if operator == IcpOperator.IN:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")]
        if not isinstance(value, list) or not [v for v in value if str(v).strip()]:
            raise ValidationError({"value": "'is one of' needs a list of values."})
        return field, [v for v in value if str(v).strip()]
    if value in (None, "") or isinstance(value, (list, dict)):
        raise ValidationError({"value": "The rule needs one value."})
    return field, value


def _regions() -> dict[str, str]:
    """Region code and name (folded) -> name (folded), so a rule may name either."""
    out: dict[str, str] = {}
    for name, code in Region.objects.values_list("name", "code"):
        out[name.casefold()] = name.casefold()
        out[code.casefold()] = name.casefold()
    return out


def _as_number(v: Any) -> float | None:
    """A rule value as a number; yes/no words as 1/0 (yes/no fields are read as 1/0)."""
    if isinstance(v, bool):
        return float(v)
    word = str(v).strip().lower()
    if word in TRUE:
        return 1.0
    if word in FALSE:
        return 0.0
    try:
        number = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _match(rule: IcpRule, column: pd.Series | None, regions: dict[str, str], n: int) -> np.ndarray:
    if column is None or not n:
        return np.zeros(n, dtype=bool)
    op, value = rule.operator, rule.value
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if op == IcpOperator.RANGE:
        nums = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(nums)
        if "min" in value:
            ok &= nums >= float(value["min"])
        if "max" in value:
            ok &= nums <= float(value["max"])
        return ok
    values = value if op == IcpOperator.IN else [value]
    if numeric and op != IcpOperator.CONTAINS:
        targets = [t for t in (_as_number(v) for v in values) if t is not None]
        nums = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        return np.isin(nums, targets) if targets else np.zeros(n, dtype=bool)
    text = normalize(column if not pd.api.types.is_bool_dtype(column) else column.map(str))
    wanted = [str(v).strip().casefold() for v in values]
    if rule.field == "region":
        wanted = [regions.get(w, w) for w in wanted]
    if op == IcpOperator.CONTAINS:
        needle = wanted[0]
        return np.array([isinstance(t, str) and needle in t for t in text], dtype=bool)
    return text.isin(wanted).to_numpy()


def evaluate(
    rules: Sequence[IcpRule], frame: pd.DataFrame, *, kind: str
) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
    """(fit scores 0-100, matched rules per row) of the records in ``frame`` (columns named as
    the rule fields: ``sector``, ..., ``custom:<key>``); ``kind`` is "leads" or "accounts"."""
    n = len(frame)
    rules = [r for r in rules if r.active and r.applies_to in (IcpAppliesTo.BOTH, kind)]
    scores = np.zeros(n)
    matched: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    if not rules or not n:
        return scores.astype(int), matched
    regions = _regions()
    positive_total = float(sum(r.weight for r in rules if r.weight > 0))
    gained = np.zeros(n)
    lost = np.zeros(n)
    for rule in rules:
        column = frame[rule.field] if rule.field in frame.columns else None
        hits = _match(rule, column, regions, n)
        if rule.weight > 0:
            gained += hits * rule.weight
        else:
            lost += hits * -rule.weight
        entry = {"rule": rule.pk, "name": rule.name, "weight": rule.weight}
        for i in np.flatnonzero(hits):
            matched[i].append(entry)
    scores = 100.0 * (gained - lost) / positive_total if positive_total > 0 else 100.0 - lost
    return np.clip(np.rint(scores), 0, 100).astype(int), matched


def account_frame(qs: QuerySet[Account]) -> pd.DataFrame:
    """Accounts' firmographics as rule columns, indexed by account id."""
    rows = list(
        qs.order_by("id").values_list(
            "id", "sector", "employees", "annual_revenue", "region__name", "country", "custom"
        )
    )
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="account_id", dtype=np.int64))
    ids, sector, employees, revenue, region, country, custom = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "sector": [v or None for v in sector],
            "employees": [math.nan if v is None else float(v) for v in employees],
            "annual_revenue": [math.nan if v is None else float(v) for v in revenue],
            "region": [v or None for v in region],
            "country": [v or None for v in country],
        },
        index=pd.Index(ids, name="account_id"),
    )
    extra = pd.DataFrame.from_records([c or {} for c in custom], index=frame.index)
    for key in extra.columns:
        frame[CUSTOM + str(key)] = extra[key]
    return frame
