"""Each KPI's drill-down, through the list selectors the web lists and exports use: the
selector given the value's ``drilldown`` returns exactly the records the value counts, for the
total, the filters and every breakdown row, as each role sees them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from revline.analytics import kpis
from revline.analytics.registry import KPIS
from revline.crm import selectors as crm
from revline.pipeline import selectors as pipeline
from tests.analytics.helpers import grow

pytestmark = pytest.mark.django_db

START, END = dt.date(2026, 2, 1), dt.date(2026, 2, 28)

SELECTORS: dict[str, Callable[..., Any]] = {
    "opportunities": pipeline.opportunities_list,
    "leads": crm.leads_list,
    "activities": crm.activities_for,
    "quotes": pipeline.quotes_list,
    "complaints": crm.complaints_list,
    "surveys": crm.surveys_list,
    "campaigns": crm.campaigns_list,
}
# How many records a value counts, where that is not ``count``.
COUNTED: dict[str, Callable[[kpis.KpiValue], Any]] = {
    "activity_volume": lambda v: v.value,
    "overdue_tasks": lambda v: v.value,
    "open_complaints": lambda v: v.value,
    "meetings_booked": lambda v: v.value,
    "task_completion": lambda v: v.parts.get("due"),
    "csat_nps": lambda v: v.parts.get("csat_answers", 0) + v.parts.get("nps_answers", 0),
    "campaign_roi": lambda v: v.parts.get("campaigns"),
    "lead_conversion": lambda v: v.parts.get("leads"),
    "speed_to_lead": lambda v: v.parts.get("touched", 0) + v.parts.get("untouched", 0),
}
# KPIs whose records are not one list's rows (see docs/kpis.md, "Drill-down").
NO_DRILLDOWN = {"stage_conversion", "net_revenue_retention", "prospects_added"}
# Counted among the rows of their list, but not all of them: the deals closed with a competitor
# named, among all the deals closed (the opportunity list has no "any competitor" filter).
SUBSET = {"competitor_win_loss"}


@pytest.fixture
def org(sales_org):
    grow(sales_org, 3)
    return sales_org


def rows(user: Any, value: kpis.KpiValue) -> int:
    assert value.drilldown_list is not None, value.key
    return SELECTORS[value.drilldown_list](user=user, filters=value.drilldown).count()


def counted(value: kpis.KpiValue) -> int:
    got = COUNTED.get(value.key, lambda v: v.count)(value)
    return int(got or 0)


def test_every_measured_kpi_has_a_drilldown_but_the_documented_ones():
    without = {
        key
        for key, definition in kpis.DEFINITIONS.items()
        if KPIS[key].measured and definition.drill_list is None
    }
    assert without == NO_DRILLDOWN


@pytest.mark.parametrize("who, scope", [("cso", None), ("vp", "vp"), ("m1", "m1"), ("ae3", "ae3")])
def test_each_drilldown_lists_exactly_the_records_counted(org, who, scope):
    user = org[who].holder
    values = kpis.compute(
        user=user,
        keys=kpis.measured_keys(),
        start=START,
        end=END,
        position_id=org[scope].pk if scope else None,
    )
    checked = 0
    for value in values:
        if value.key in NO_DRILLDOWN:
            assert value.drilldown is None, value.key
            continue
        if value.key in SUBSET:
            assert rows(user, value) >= counted(value), value.key
            continue
        assert rows(user, value) == counted(value), (who, value.key, value.drilldown)
        checked += counted(value) > 0
    assert checked >= 5, who


@pytest.mark.parametrize(
    "key, by",
    [
        ("activity_volume", "kind"),
        ("activity_volume", "position"),
        ("meetings_booked", "report"),
        ("task_completion", "position"),
        ("overdue_tasks", "report"),
        ("overdue_tasks", "month"),
        ("discounts", "report"),
        ("open_complaints", "severity"),
        ("open_complaints", "sector"),
        ("open_complaints", "month"),
        ("csat", "position"),
        ("nps", "size"),
        ("csat_nps", "report"),
        ("campaign_roi", "campaign"),
        ("leads_generated", "month"),
    ],
)
def test_each_breakdown_row_drills_to_its_records(org, key, by):
    user = org["cso"].holder
    result = kpis.breakdown(
        user=user, key=key, by=by, start=START, end=END, position_id=org["vp"].pk
    )
    got = [r for r in result.rows if r.group not in (None, "")]
    for row in got:
        assert row.drilldown is not None, (key, by, row.group)
        assert rows(user, row) == counted(row), (key, by, row.group, row.drilldown)


def test_a_filter_the_list_cannot_apply_is_never_in_a_drilldown(org):
    """A KPI's drill-down carries only the filters its records honour: the list never narrows
    by one the value ignored."""
    values = kpis.compute(
        user=org["cso"].holder,
        keys=["discounts", "open_complaints", "activity_volume", "csat"],
        start=START,
        end=END,
        filters={"product": 1, "type": "renewal"},
    )
    for value in values:
        assert not set(value.ignored_filters) & set(value.drilldown or {}), value.key
    by_key = {v.key: v for v in values}
    assert by_key["discounts"].drilldown["type"] == "renewal"
    assert "type" not in by_key["csat"].drilldown
