"""The org selectors: what lists and the chart read, always within what the caller may see."""

from __future__ import annotations

import pytest

from revline.org import selectors, services
from revline.org.choices import RoleType
from revline.org.models import Position
from tests.org.factories import make_position

pytestmark = pytest.mark.django_db


def test_position_get_answers_does_not_exist_outside_the_view(org):
    ae = org["ae1"].holder
    assert selectors.position_get(user=ae, pk=org["m1"].pk) == org["m1"]
    with pytest.raises(Position.DoesNotExist):
        selectors.position_get(user=ae, pk=org["ae2"].pk)  # a peer
    with pytest.raises(Position.DoesNotExist):
        selectors.position_get(user=ae, pk=org["ae1"].pk, action="change")


def test_manager_chain_and_dotted_managers(org):
    cso = org["cso"].holder
    chain = selectors.manager_chain(user=cso, position=org["ae1"])
    assert chain == [org["m1"], org["vp"], org["cso"], org["ceo"]]
    assert selectors.dotted_managers(user=cso, position=org["vp"]) == [org["cro"]]
    # an AE sees the chain above itself, not its peer's
    ae = org["ae1"].holder
    assert selectors.manager_chain(user=ae, position=org["ae1"]) == chain
    assert selectors.manager_chain(user=ae, position=org["ae2"]) == chain  # the same managers


def test_subtree_and_headcount(org):
    vp = org["vp"].holder
    below = set(selectors.subtree(user=vp, position=org["vp"]))
    assert below == {org[k] for k in ("m1", "m2", "ae1", "ae2", "ae3", "ae4")}
    services.position_assign_holder(position=org["ae4"], holder=None, by=None)
    assert selectors.headcount_below(user=vp) == {"filled": 5, "vacant": 1, "total": 6}
    # the manager's subtree as the AE sees it: only the AE's own seat
    ae = org["ae1"].holder
    assert set(selectors.subtree(user=ae, position=org["m1"])) == {org["ae1"]}


def test_org_chart_is_a_forest_of_what_the_caller_sees(org):
    m1 = org["m1"].holder
    roots = selectors.org_chart(user=m1)
    # m1 sees its chain up (CEO at the top) and its reports; not m2 nor the other AEs
    assert [r.position for r in roots] == [org["ceo"]]
    seen = []

    def walk(node):
        seen.append(node.position)
        for child in node.children:
            walk(child)

    walk(roots[0])
    assert set(seen) == {org[k] for k in ("ceo", "cso", "vp", "m1", "ae1", "ae2", "cro")}
    # a visible position whose manager is hidden is a root
    team_lead = make_position(RoleType.TEAM_LEAD)
    services.position_move(position=team_lead, reports_to=org["m2"], by=None)
    services.position_add_dotted_line(position=team_lead, manager=org["m1"], by=None)
    roots = selectors.org_chart(user=m1)
    assert {r.position for r in roots} == {org["ceo"], team_lead}
    node = next(r for r in roots if r.position == team_lead)
    assert node.dotted_to == [org["m1"].pk]


def test_org_chart_query_count_does_not_grow_with_the_org(org, django_assert_max_num_queries):
    cso = org["cso"].holder
    with django_assert_max_num_queries(2):
        small = selectors.org_chart(user=cso)
    for m in ("m1", "m2"):
        for _ in range(5):
            make_position(RoleType.AE, reports_to=org[m])
    with django_assert_max_num_queries(2):
        big = selectors.org_chart(user=cso)
    assert sum(r.size for r in big) == sum(r.size for r in small) + 10


def test_positions_search(org):
    cso = org["cso"].holder
    org["ae3"].holder.full_name = "Zed Zimmer"
    org["ae3"].holder.save()
    assert list(selectors.positions_search(user=cso, q="zimmer")) == [org["ae3"]]
    assert set(selectors.positions_search(user=cso, role=RoleType.SALES_MANAGER)) == {
        org["m1"],
        org["m2"],
    }
    services.position_assign_holder(position=org["ae2"], holder=None, by=None)
    assert list(selectors.positions_search(user=cso, vacant=True)) == [org["ae2"]]
    # search never widens the view
    ae = org["ae1"].holder
    assert list(selectors.positions_search(user=ae, q="zimmer")) == []
