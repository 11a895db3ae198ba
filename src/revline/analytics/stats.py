"""Aggregates the KPIs share: grouped sums and counts, and percentiles computed by the database.

Percentiles (medians, 75th percentiles) are computed the same way on SQLite and PostgreSQL,
with window functions both support: each group's values are numbered in order
(``ROW_NUMBER() OVER (PARTITION BY group ORDER BY value)``) and counted (``COUNT(*) OVER
(PARTITION BY group)``), and only the one or two rows around each wanted quantile's position
``h = (n - 1) * q`` leave the database. The value is then interpolated linearly between them,
which is the definition of PostgreSQL's ``percentile_cont`` and of pandas' default ``quantile``
(the median of an even count is the mean of the two middle values). So one query answers any
number of groups, and it returns at most two rows per group and quantile whatever the number of
records; no per-record loop runs in Python.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, F, FloatField, Q, QuerySet, Value, Window
from django.db.models.functions import RowNumber

from revline.analytics.scope import expression

TOTAL = None  # the group key of an aggregate without a breakdown


def grouped(qs: QuerySet, group: Any, **aggregates: Any) -> dict[Any, dict[str, Any]]:
    """``aggregates`` over ``qs``, per value of ``group`` (an expression or lookup path), or once
    (key ``TOTAL``) when ``group`` is None. One query."""
    if group is None:
        return {TOTAL: qs.order_by().aggregate(**aggregates)}
    rows = (
        qs.order_by()
        .annotate(_group=expression(group))
        .values("_group")
        .annotate(**aggregates)
        .order_by()
    )
    return {row.pop("_group"): row for row in rows}


def to_number(value: Any) -> float | None:
    """A database value (number or timedelta, in days for the latter) as a float."""
    if value is None:
        return None
    if hasattr(value, "total_seconds"):
        return value.total_seconds() / 86400
    return float(value)


def quantiles(
    qs: QuerySet, value: Any, group: Any = None, qs_wanted: Iterable[float] = (0.5,)
) -> dict[Any, dict[Any, Any]]:
    """For each group: ``{"n": count, q: value-at-quantile-q, ...}`` of ``value`` (an
    expression; a duration comes back in days) over the rows of ``qs`` where it is not null.
    One query. See the module docstring for the method."""
    wanted = list(qs_wanted)
    partition = [expression(group)] if group is not None else None
    rows = (
        qs.order_by()
        .annotate(_value=expression(value))
        .filter(_value__isnull=False)
        .annotate(
            _group=expression(group) if group is not None else Value(None, FloatField()),
            _n=Window(Count("pk"), partition_by=partition),
            _rn=Window(RowNumber(), partition_by=partition, order_by=F("_value").asc()),
        )
    )
    keep = Q()
    for q in wanted:
        # Keep rows numbered (1-based) floor(h) + 1 and floor(h) + 2, h = (n - 1) * q:
        # those are the rows with rn - 2 <= h < rn.
        position = (F("_n") - 1) * Value(float(q), FloatField())
        keep |= Q(_rn__gt=position, _rn__lte=position + 2)
    picked = rows.filter(keep).values_list("_group", "_n", "_rn", "_value")
    by_group: dict[Any, dict[int, float]] = defaultdict(dict)
    counts: dict[Any, int] = {}
    for g, n, rn, v in picked:
        by_group[g][rn] = to_number(v)  # type: ignore[assignment]
        counts[g] = n
    out: dict[Any, dict[Any, Any]] = {}
    for g, values in by_group.items():
        n = counts[g]
        result: dict[Any, Any] = {"n": n}
        for q in wanted:
            h = (n - 1) * q
            low = math.floor(h)
            lo = values.get(low + 1)
            hi = values.get(low + 2)
            if hi is None:
                hi = lo
            result[q] = None if lo is None or hi is None else lo + (h - low) * (hi - lo)
        out[g] = result
    return out


def ratio(numerator: Any, denominator: Any) -> float | None:
    if not denominator or numerator is None:
        return None
    return float(numerator) / float(denominator)
