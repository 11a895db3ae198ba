"""KPI values on small hand-built data: each definition, the scope and the filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from revline.analytics import kpis
from revline.org.models import Position
from tests.analytics.helpers import deal

pytestmark = pytest.mark.django_db

Q1 = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def values(user, keys, position=None, filters=None, period=Q1):
    out = kpis.compute(
        user=user,
        keys=keys,
        start=period[0],
        end=period[1],
        position_id=position.pk if position else None,
        filters=filters,
    )
    return {v.key: v for v in out}


@pytest.fixture
def deals(sales_org):
    o = sales_org
    deal(o["ae1"], amount=1000, created="2025-12-20", engaged="2026-01-01", closed="2026-01-11")
    deal(o["ae1"], amount=3000, created="2025-12-01", engaged="2026-01-01", closed="2026-01-31")
    deal(o["ae1"], amount=500, created="2026-01-05", closed="2026-02-01", won=False)
    deal(o["ae3"], amount=2000, created="2026-02-01", closed="2026-02-10")
    deal(o["ae3"], amount=700, created="2026-01-10", closed="2026-03-01", won=False)
    deal(o["ae3"], amount=900, created="2026-01-10", closed="2026-03-02", won=False)
    deal(o["ae3"], amount=5000, created="2025-10-01", closed="2025-12-15")  # before Q1
    deal(o["ae4"], amount=4000, created="2026-03-01")  # open
    return o


def test_closed_deal_kpis_for_the_whole_view(deals):
    cso = deals["cso"].holder
    v = values(
        cso,
        ["win_rate", "deals_won", "deals_lost", "bookings", "avg_deal_size",
         "sales_cycle_median_days", "sales_cycle_p75_days"],
    )  # fmt: skip
    assert v["deals_won"].value == 3
    assert v["deals_lost"].value == 3
    assert v["win_rate"].value == pytest.approx(0.5)
    assert v["bookings"].value == Decimal("6000.00")
    assert v["avg_deal_size"].value == Decimal("2000.00")
    # cycles: 10 and 30 days (from engagement), 9 days (from creation): median 10, p75 20
    assert v["sales_cycle_median_days"].value == pytest.approx(10)
    assert v["sales_cycle_median_days"].parts["p75_days"] == pytest.approx(20)
    assert v["sales_cycle_p75_days"].value == pytest.approx(20)
    assert v["win_rate"].drilldown == {"closed_from": "2026-01-01", "closed_to": "2026-03-31"}
    assert v["bookings"].drilldown["status"] == "won"


def test_a_position_scopes_to_its_subtree(deals):
    cso = deals["cso"].holder
    v = values(cso, ["win_rate", "bookings", "sales_cycle_median_days"], position=deals["m1"])
    assert v["win_rate"].value == pytest.approx(2 / 3)
    assert v["bookings"].value == Decimal("4000.00")
    assert v["sales_cycle_median_days"].value == pytest.approx(20)
    assert v["bookings"].drilldown["under"] == deals["m1"].pk


def test_a_manager_sees_only_their_team_and_not_a_peer(deals):
    m1 = deals["m1"].holder
    v = values(m1, ["deals_won", "deals_lost"])
    assert (v["deals_won"].value, v["deals_lost"].value) == (2, 1)
    with pytest.raises(Position.DoesNotExist):
        values(m1, ["deals_won"], position=deals["m2"])
    with pytest.raises(Position.DoesNotExist):
        values(deals["ae1"].holder, ["deals_won"], position=deals["ae2"])  # a peer


def test_unknown_keys_and_bad_filters_are_refused(deals):
    cso = deals["cso"].holder
    with pytest.raises(kpis.UnknownKpi):
        values(cso, ["win_rate", "nope"])
    with pytest.raises(ValidationError):
        values(cso, ["win_rate"], filters={"type": "bogus"})
    with pytest.raises(ValidationError):
        values(cso, ["win_rate"], filters={"colour": "red"})


def test_breakdown_by_position_and_quarter(deals):
    cso = deals["cso"].holder
    b = kpis.breakdown(user=cso, key="win_rate", by="position", start=Q1[0], end=Q1[1])
    rows = {r.group: r for r in b.rows}
    assert rows[deals["ae1"].pk].value == pytest.approx(2 / 3)
    assert rows[deals["ae3"].pk].value == pytest.approx(1 / 3)
    assert rows[deals["ae1"].pk].drilldown["owner"] == deals["ae1"].pk
    b = kpis.breakdown(user=cso, key="bookings", by="month", start=dt.date(2025, 10, 1), end=Q1[1])
    months = {r.group: r.value for r in b.rows}
    assert months["2025-M12"] == Decimal("5000.00")
    assert months["2026-M01"] == Decimal("4000.00")
    b = kpis.breakdown(user=cso, key="deals_won", by="report", start=Q1[0], end=Q1[1],
                       position_id=deals["vp"].pk)  # fmt: skip
    assert {r.group: r.value for r in b.rows} == {deals["m1"].pk: 2, deals["m2"].pk: 1}


def test_stage_conversion_from_the_history(deals):
    cso = deals["cso"].holder
    o = deals
    deal(o["ae2"], amount=100, created="2026-01-02", via=("Discovery", "Demo"), closed="2026-01-20")
    deal(o["ae2"], amount=100, created="2026-01-02", via=("Discovery",), closed="2026-01-20",
         won=False)  # fmt: skip
    v = values(cso, ["stage_conversion"])["stage_conversion"]
    stages = {s["name"]: s for s in v.parts["stages"]}
    assert stages["Discovery"]["entered"] == 2 and stages["Discovery"]["advanced"] == 1
    assert stages["Demo"]["entered"] == 1 and stages["Demo"]["advanced"] == 1
