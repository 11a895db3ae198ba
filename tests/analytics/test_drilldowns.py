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
    "accounts": crm.accounts_list,
    "prospects": crm.prospects_added,
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
NO_DRILLDOWN: set[str] = set()
# Stage conversion counts entries into stages; its list holds the deals that entered them, a
# deal once however many entries it made (``entered_deals``).
ENTRIES = {"stage_conversion"}


def entered_deals(user: Any, drill: dict[str, Any]) -> int:
    """The deals the user sees with a change into an open stage (``entered_stage``, when given)
    in the drill-down's dates, counted from the stage history."""
    from revline.pipeline.choices import StageKind
    from revline.pipeline.models import Opportunity, StageChange

    changes = StageChange.objects.filter(
        to_stage__kind=StageKind.OPEN,
        changed_at__gte=kpis.scopes.day_start(dt.date.fromisoformat(drill["entered_from"])),
        changed_at__lt=kpis.scopes.day_start(
            dt.date.fromisoformat(drill["entered_to"]) + dt.timedelta(days=1)
        ),
        opportunity__in=Opportunity.objects.visible_to(user),
    )
    if "entered_stage" in drill:
        changes = changes.filter(to_stage_id=drill["entered_stage"])
    if "under" in drill:
        from revline.org.models import PositionClosure

        below = PositionClosure.objects.filter(ancestor_id=drill["under"])
        changes = changes.filter(opportunity__owner_position_id__in=below.values("descendant_id"))
    return changes.values("opportunity_id").distinct().count()


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
        if value.key in ENTRIES:
            assert rows(user, value) == entered_deals(user, value.drilldown), value.key
            assert rows(user, value) <= counted(value), value.key
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


@pytest.mark.parametrize("who, scope", [("cso", None), ("vp", "vp"), ("ae3", "ae3")])
def test_win_loss_by_competitor_drills_to_the_deals_closed_with_one(org, who, scope):
    user = org[who].holder
    position_id = org[scope].pk if scope else None
    args = {"user": user, "start": START, "end": END, "position_id": position_id}
    (value,) = kpis.compute(keys=["competitor_win_loss"], **args)
    assert value.drilldown["has_competitor"] == "1"
    assert value.count and rows(user, value) == value.count
    closed = pipeline.opportunities_list(
        user=user, filters={k: v for k, v in value.drilldown.items() if k != "has_competitor"}
    )
    assert closed.count() > value.count  # deals closed without a competitor are left out
    result = kpis.breakdown(key="competitor_win_loss", by="competitor", **args)
    for row in result.rows:
        assert rows(user, row) == row.count, row.group
    for row in kpis.breakdown(key="competitor_win_loss", by="month", **args).rows:
        assert rows(user, row) == row.count, row.group


@pytest.mark.parametrize("who, scope", [("cso", None), ("vp", "vp"), ("ae3", "ae3")])
def test_each_stage_row_drills_to_the_deals_that_entered_it(org, who, scope):
    user = org[who].holder
    position_id = org[scope].pk if scope else None
    args = {"user": user, "start": START, "end": END, "position_id": position_id}
    result = kpis.breakdown(key="stage_conversion", by="stage", **args)
    assert result.rows
    for row in result.rows:
        assert row.drilldown["entered_stage"] == row.group
        # No deal here entered a stage twice in the period: one row per entry.
        assert rows(user, row) == row.count == entered_deals(user, row.drilldown), row.group
    total = result.total
    assert rows(user, total) == entered_deals(user, total.drilldown) > 0
    # A deal moved through two stages is one row and two entries.
    assert rows(user, total) < total.count


def test_a_deal_entering_a_stage_twice_is_one_row(org):
    from revline.pipeline import services
    from tests.analytics.helpers import at, deal, stage

    opp = deal(org["ae1"], created="2026-02-02", via=("Discovery", "Demo"))
    services.opportunity_move_stage(
        opportunity=opp, stage=stage("Discovery"), by=None, at=at("2026-02-06")
    )
    user = org["ae1"].holder
    rows_by_stage = kpis.breakdown(key="stage_conversion", by="stage", user=user, start=START,
                                   end=END).rows  # fmt: skip
    discovery = next(r for r in rows_by_stage if r.group == stage("Discovery").pk)
    assert rows(user, discovery) == entered_deals(user, discovery.drilldown)
    assert rows(user, discovery) == discovery.count - 1  # documented: entries, not deals


def test_a_rep_following_a_managers_stage_and_competitor_links_sees_their_own(org):
    vp = org["vp"].holder
    ae = org["ae3"].holder
    for key in ("stage_conversion", "competitor_win_loss"):
        (theirs,) = kpis.compute(user=vp, keys=[key], start=START, end=END,
                                 position_id=org["vp"].pk)  # fmt: skip
        (mine,) = kpis.compute(user=ae, keys=[key], start=START, end=END)
        assert rows(ae, theirs) == rows(ae, mine) < rows(vp, theirs), key
        assert rows(org["ae2"].holder, mine) == 0, key
