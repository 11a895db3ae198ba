"""``StageChange.advanced``: whether the deal later moved on from the stage a change entered (to
a won stage, or to an open stage of a higher order). Kept by the stage moves, worked out again in
bulk by ``stage_changes_mark_advanced``, backfilled by the migration that added it."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.utils import timezone

from revline.pipeline import services
from revline.pipeline.models import StageChange
from tests.crm.factories import make_opportunity

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("revline.pipeline.migrations.0002_stagechange_advanced")


def at(day: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, 3, 1, 10) + dt.timedelta(days=day))


def deal(sales_org, **fields):
    fields.setdefault("close_date", dt.date(2026, 6, 30))
    return make_opportunity(sales_org["ae1"], **fields)


def move(opp, name, when=None, **kw):
    stage = opp.pipeline.stages.get(name=name)
    return services.opportunity_move_stage(opportunity=opp, stage=stage, by=None, at=when, **kw)


def flags(opp) -> list[tuple[str, bool]]:
    return [
        (c.to_stage.name, c.advanced)
        for c in StageChange.objects.filter(opportunity=opp)
        .select_related("to_stage")
        .order_by("changed_at", "id")
    ]


def expected(opp) -> list[bool]:
    """The definition, from the history in Python."""
    changes = list(
        StageChange.objects.filter(opportunity=opp).select_related("to_stage").order_by("id")
    )
    out = {}
    for c in changes:
        out[c.pk] = any(
            later.changed_at > c.changed_at
            and (
                later.to_stage.kind == "won"
                or (later.to_stage.kind == "open" and later.to_stage.order > c.to_stage.order)
            )
            for later in changes
        )
    return [out[c.pk] for c in sorted(changes, key=lambda c: (c.changed_at, c.pk))]


def test_moving_forward_marks_the_entries_it_moves_on_from(sales_org):
    opp = deal(sales_org)
    assert flags(opp) == [("Prospecting", False)]
    opp = move(opp, "Discovery")
    assert flags(opp) == [("Prospecting", True), ("Discovery", False)]
    opp = move(opp, "Demo")
    assert flags(opp) == [("Prospecting", True), ("Discovery", True), ("Demo", False)]


def test_moving_back_marks_nothing_then_forward_again(sales_org):
    opp = deal(sales_org)
    opp = move(opp, "Demo")
    opp = move(opp, "Discovery")  # a slip back: Demo has not moved on
    assert flags(opp) == [("Prospecting", True), ("Demo", False), ("Discovery", False)]
    opp = move(opp, "Demo")  # forward again: Discovery moved on, the first Demo did not
    assert flags(opp) == [
        ("Prospecting", True),
        ("Demo", False),
        ("Discovery", True),
        ("Demo", False),
    ]
    opp = move(opp, "Proposal")
    assert [f for _, f in flags(opp)] == [True, True, True, True, False]


def test_won_marks_every_entry_and_lost_none(sales_org):
    won = deal(sales_org)
    won = move(won, "Discovery")
    won = move(won, "Prospecting")
    won = move(won, "Closed won")
    assert flags(won) == [
        ("Prospecting", True),
        ("Discovery", True),
        ("Prospecting", True),
        ("Closed won", False),
    ]
    lost = deal(sales_org)
    lost = move(lost, "Discovery")
    lost = move(lost, "Closed lost", loss_reason="price")
    assert flags(lost) == [("Prospecting", True), ("Discovery", False), ("Closed lost", False)]
    lost = move(lost, "Discovery")  # reopened at the same stage: nothing moved on
    assert [f for _, f in flags(lost)] == [True, False, False, False]


def test_a_backdated_move_works_out_the_deal_again(sales_org):
    opp = deal(sales_org, at=at(0))
    opp = move(opp, "Demo", at(10))
    opp = move(opp, "Discovery", at(5))  # recorded late: it happened before the Demo
    assert flags(opp) == [("Prospecting", True), ("Discovery", True), ("Demo", False)]
    assert [f for _, f in flags(opp)] == expected(opp)


def _history(sales_org) -> list:
    """Deals moved through many paths, some back-dated, one won and one lost."""
    paths = [
        ["Discovery", "Demo", "Closed won"],
        ["Demo", "Discovery", "Demo", "Proposal", "Closed lost"],
        ["Proposal", "Demo", "Proposal"],
        ["Closed lost", "Discovery", "Closed won"],
        [],
    ]
    deals = []
    for i, path in enumerate(paths):
        opp = deal(sales_org, at=at(0))
        for j, name in enumerate(path):
            extra = {"loss_reason": "price"} if name == "Closed lost" else {}
            opp = move(opp, name, at(1 + j) if i % 2 else None, **extra)
        deals.append(opp)
    return deals


def test_bulk_recompute_equals_the_moves(sales_org):
    deals = _history(sales_org)
    kept = {opp.pk: flags(opp) for opp in deals}
    for opp in deals:
        assert [f for _, f in kept[opp.pk]] == expected(opp)
    StageChange.objects.update(advanced=False)
    assert services.stage_changes_mark_advanced(opportunity_ids=[deals[0].pk]) == len(
        kept[deals[0].pk]
    )
    assert flags(deals[0]) == kept[deals[0].pk]
    StageChange.objects.update(advanced=True)
    services.stage_changes_mark_advanced(
        opportunity_ids=type(deals[0]).objects.filter(pk__in=[d.pk for d in deals]).values("pk")
    )
    assert {opp.pk: flags(opp) for opp in deals} == kept
    StageChange.objects.update(advanced=True)
    services.stage_changes_mark_advanced()
    assert {opp.pk: flags(opp) for opp in deals} == kept
    assert services.stage_changes_mark_advanced(opportunity_ids=[]) == 0


def test_the_migration_backfills_the_same_flags(sales_org):
    deals = _history(sales_org)
    kept = {opp.pk: flags(opp) for opp in deals}
    StageChange.objects.update(advanced=False)
    with connection.cursor() as cursor:  # the migration's statement, on this database
        cursor.execute(MIGRATION.BACKFILL)
    assert {opp.pk: flags(opp) for opp in deals} == kept
    # one definition: the migration runs the statement the service runs
    statement = f"UPDATE pipeline_stagechange SET advanced = {services.ADVANCED_SQL}"
    assert statement == MIGRATION.BACKFILL
    operations = [type(op).__name__ for op in MIGRATION.Migration.operations]
    assert operations[:2] == ["AddField", "RunSQL"]


def test_reordering_stages_works_the_flags_out_again(sales_org):
    pipeline = sales_org["pipeline"]
    opp = deal(sales_org)
    opp = move(opp, "Demo")
    opp = move(opp, "Discovery")
    assert [f for _, f in flags(opp)] == [True, False, False]
    discovery = pipeline.stages.get(name="Discovery")
    demo = pipeline.stages.get(name="Demo")
    services.stage_save(
        pipeline=pipeline,
        by=None,
        stage=discovery,
        name=discovery.name,
        kind=discovery.kind,
        probability=discovery.probability,
        order=demo.order + 1,  # Discovery now comes after Demo
        forecast_category=discovery.forecast_category,
        required_fields=discovery.required_fields,
        max_days=discovery.max_days,
    )
    assert [f for _, f in flags(opp)] == [True, True, False] == expected(opp)


def test_a_live_move_before_a_future_dated_change_works_the_deal_out_again(sales_org):
    """A history may hold a change dated after now (an imported deal created in the future):
    a live move then gets its flag from the whole history, not only its own earlier entries."""
    opp = deal(sales_org)
    move(opp, "Demo", timezone.now() + dt.timedelta(days=3))
    move(opp, "Discovery")  # now, before the Demo entry: it moves on to Demo later
    assert [flag for _, flag in flags(opp)] == expected(opp)
    assert ("Discovery", True) in flags(opp)
