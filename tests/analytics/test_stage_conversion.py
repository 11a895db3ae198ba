"""Stage-to-stage conversion from the ``advanced`` flag of the stage history, and the stage
history's scope: through the deals' visibility predicate, with no subquery when it leaves every
deal in (an org-wide role without filters) and the subquery for everyone else."""

from __future__ import annotations

import datetime as dt

import pytest

from revline.analytics import kpis
from revline.analytics import scope as scopes
from revline.analytics.scope import scope_resolve
from revline.planning.calendar import fiscal_rule
from tests.analytics.helpers import deal

pytestmark = pytest.mark.django_db

Q1 = (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def conversion(user, position=None, filters=None):
    (value,) = kpis.compute(
        user=user,
        keys=["stage_conversion"],
        start=Q1[0],
        end=Q1[1],
        position_id=position.pk if position else None,
        filters=filters,
    )
    return value


def _scope(user, position=None, filters=None):
    return scope_resolve(
        user=user,
        start=Q1[0],
        end=Q1[1],
        rule=fiscal_rule(),
        position_id=position.pk if position else None,
        filters=filters,
    )


def history_sql(user, position=None, filters=None) -> str:
    return str(scopes.STAGE_CHANGES.records(_scope(user, position, filters)).query)


@pytest.fixture
def history(sales_org):
    o = sales_org
    # AE 1 (Manager 1's team): one deal moves on from Discovery, one is lost from it.
    deal(o["ae1"], created="2026-01-02", via=("Discovery", "Demo"), closed="2026-01-20")
    deal(o["ae1"], created="2026-01-02", via=("Discovery",), closed="2026-01-20", won=False)
    # AE 3 (Manager 2's team): slips back from Demo to Discovery, then is won.
    deal(o["ae3"], created="2026-02-01", via=("Demo", "Discovery", "Demo"), closed="2026-02-20")
    return o


def test_conversion_per_stage_and_in_total(history):
    value = conversion(history["cso"].holder)
    stages = {s["name"]: s for s in value.parts["stages"]}
    assert (stages["Prospecting"]["entered"], stages["Prospecting"]["advanced"]) == (3, 3)
    assert (stages["Discovery"]["entered"], stages["Discovery"]["advanced"]) == (3, 2)
    # AE 3's first Demo slipped back to Discovery, but the deal was won later: it moved on
    assert (stages["Demo"]["entered"], stages["Demo"]["advanced"]) == (3, 3)
    assert value.count == 9 and value.parts["advanced"] == 8
    assert value.value == pytest.approx(8 / 9)
    assert [s["name"] for s in value.parts["stages"]] == ["Prospecting", "Discovery", "Demo"]


def test_a_breakdown_by_stage_matches_the_per_stage_rows(history):
    got = kpis.breakdown(
        user=history["cso"].holder, key="stage_conversion", by="stage", start=Q1[0], end=Q1[1]
    )
    rows = {r.label: (r.count, r.parts["advanced"]) for r in got.rows}
    assert rows == {"Prospecting": (3, 3), "Discovery": (3, 2), "Demo": (3, 3)}
    assert got.total.count == 9


def test_a_rep_and_a_peer_manager_see_only_their_deals(history):
    ae1 = conversion(history["ae1"].holder)
    assert ae1.count == 5 and ae1.parts["advanced"] == 4  # the lost deal's Discovery did not
    # Manager 2 sees AE 3's deal only, not Manager 1's team
    m2 = conversion(history["m2"].holder)
    assert m2.count == 4 and m2.parts["advanced"] == 4
    assert conversion(history["ae4"].holder).count == 0


def test_the_deals_subquery_only_where_the_predicate_narrows(history):
    o = history
    assert "pipeline_opportunity" not in history_sql(o["cso"].holder)
    assert "pipeline_opportunity" not in history_sql(o["cro"].holder)
    # a position, a filter, or a viewer who does not see every deal keeps the subquery
    assert "pipeline_opportunity" in history_sql(o["cso"].holder, position=o["m1"])
    assert "pipeline_opportunity" in history_sql(o["cso"].holder, filters={"type": "renewal"})
    assert "pipeline_opportunity" in history_sql(o["ae1"].holder)
    assert "pipeline_opportunity" in history_sql(o["m1"].holder)
    # and the figures agree: the CSO scoped to Manager 1 sees what Manager 1 sees
    scoped = conversion(o["cso"].holder, position=o["m1"])
    assert (scoped.count, scoped.parts["advanced"]) == (5, 4)


def test_an_anonymous_or_inactive_user_counts_nothing(history):
    from django.contrib.auth.models import AnonymousUser

    assert conversion(AnonymousUser()).count == 0
    user = history["cso"].holder
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert scopes.OPPORTUNITIES.records(_scope(user)).query.where  # narrowed to nothing
    assert conversion(user).count == 0
