"""Reading the organisation through the API: only what the caller may see."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import Position
from tests.api.conftest import assert_error
from tests.org.factories import RegionFactory, TeamFactory, UserFactory, make_position

pytestmark = pytest.mark.django_db

CONTRACT_KEYS = {"id", "title", "role", "holder", "reports_to", "dotted_to"}
ROLES = {
    "ceo", "cso", "cro", "vp_sales", "sales_manager", "team_lead", "ae", "bdr", "sdr",
    "marketing", "customer_success", "revops",
}  # fmt: skip


def titles(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["title"] for item in response.json()["items"]}


def walk(client, path, **params) -> list[dict]:
    """Every item of a list endpoint, following ``next``."""
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = client.get(path, query).json()
        items.extend(body["items"])
        cursor = body["next"]
        if not cursor:
            return items


# --- /me ---------------------------------------------------------------------------------------


def test_me_shows_positions_with_manager(api_as, org):
    ae = org["ae1"].holder
    region = RegionFactory(code="east", name="East")
    second = make_position(
        RoleType.BDR, reports_to=org["m2"], holder=ae, title="BDR", region=region
    )
    body = api_as(ae).get("/me").json()
    assert body["id"] == ae.pk
    assert body["email"] == ae.email
    assert body["name"] == ae.full_name
    assert body["is_superuser"] is False
    positions = {p["id"]: p for p in body["positions"]}
    assert set(positions) == {org["ae1"].pk, second.pk}
    first = positions[org["ae1"].pk]
    assert first["title"] == "AE 1a" and first["role"] == "ae"
    m1 = org["m1"]
    assert first["manager"] == {
        "id": m1.pk,
        "title": "Manager 1",
        "holder": {"id": m1.holder.pk, "name": m1.holder.full_name, "email": m1.holder.email},
    }
    assert positions[second.pk]["manager"]["id"] == org["m2"].pk
    assert positions[second.pk]["region"] == {"code": "east", "name": "East"}


def test_me_with_no_positions_and_root_position(api_as, org):
    assert api_as(UserFactory()).get("/me").json()["positions"] == []
    ceo = api_as(org["ceo"].holder).get("/me").json()["positions"][0]
    assert ceo["manager"] is None
    vp = api_as(org["vp"].holder).get("/me").json()["positions"][0]
    assert vp["dotted_to"] == [org["cro"].pk]


# --- the list: visibility ----------------------------------------------------------------------


def test_cso_sees_every_position(api_as, org):
    body = api_as(org["cso"].holder).get("/org/positions").json()
    assert body["total"] == Position.objects.count() == 12
    assert len(body["items"]) == 12 and body["next"] is None


def test_manager_sees_subtree_and_chain_up(api_as, org):
    seen = titles(api_as(org["m1"].holder).get("/org/positions"))
    assert seen == {"Manager 1", "AE 1a", "AE 1b", "VP East", "CSO", "CRO", "CEO"}


def test_ae_sees_self_and_chain_up_only(api_as, org):
    seen = titles(api_as(org["ae1"].holder).get("/org/positions"))
    assert seen == {"AE 1a", "Manager 1", "VP East", "CSO", "CRO", "CEO"}


def test_peer_position_by_id_is_404(api_as, org):
    client = api_as(org["ae1"].holder)
    for name in ["ae2", "ae3", "m2", "mkt", "revops"]:
        assert_error(client.get(f"/org/positions/{org[name].pk}"), 404, "not_found")
        assert_error(client.get(f"/org/positions/{org[name].pk}/reporting-lines"), 404, "not_found")
    assert client.get(f"/org/positions/{org['ae1'].pk}").status_code == 200
    assert client.get(f"/org/positions/{org['m1'].pk}").status_code == 200


def test_inactive_user_sees_nothing(api_as, org):
    client = api_as(org["ae1"].holder)
    user = org["ae1"].holder
    user.is_active = False
    user.save()
    assert_error(client.get("/org/positions"), 401, "unauthorized")


def test_list_items_keep_the_contract(api_as, org):
    services.position_assign_holder(position=org["ae4"], holder=None, by=None)
    items = api_as(org["cso"].holder).get("/org/positions").json()["items"]
    by_id = {item["id"]: item for item in items}
    for item in items:
        assert item.keys() >= CONTRACT_KEYS
        assert item["role"] in ROLES
        assert isinstance(item["dotted_to"], list)
        assert item["reports_to"] is None or isinstance(item["reports_to"], int)
    vp = by_id[org["vp"].pk]
    assert vp["reports_to"] == org["cso"].pk
    assert vp["dotted_to"] == [org["cro"].pk]
    assert vp["holder"] == {
        "id": org["vp"].holder.pk,
        "name": org["vp"].holder.full_name,
        "email": org["vp"].holder.email,
    }
    assert by_id[org["ceo"].pk]["reports_to"] is None
    assert by_id[org["ae4"].pk]["holder"] is None
    assert by_id[org["ae4"].pk]["is_vacant"] is True


# --- pagination and filters --------------------------------------------------------------------


def test_cursor_walks_every_item_once(api_as, org):
    client = api_as(org["cso"].holder)
    first = client.get("/org/positions", {"limit": 5}).json()
    assert len(first["items"]) == 5 and first["total"] == 12 and first["next"]
    items = walk(client, "/org/positions", limit=5)
    ids = [item["id"] for item in items]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert ids == sorted(ids)
    assert set(ids) == set(Position.objects.values_list("id", flat=True))


def test_cursor_with_filters_and_visibility(api_as, org):
    client = api_as(org["m1"].holder)
    items = walk(client, "/org/positions", limit=2, role="ae")
    assert {i["title"] for i in items} == {"AE 1a", "AE 1b"}
    body = client.get("/org/positions", {"limit": 1, "role": "ae"}).json()
    assert body["total"] == 2


def test_filters(api_as, org):
    region = RegionFactory(code="west", name="West")
    team = TeamFactory(name="Hunters")
    services.position_update(position=org["ae3"], region=region, team=team, by=None)
    services.position_assign_holder(position=org["ae4"], holder=None, by=None)
    client = api_as(org["cso"].holder)
    assert titles(client.get("/org/positions", {"role": "sales_manager"})) == {
        "Manager 1",
        "Manager 2",
    }
    assert titles(client.get("/org/positions", {"region": "west"})) == {"AE 2a"}
    assert titles(client.get("/org/positions", {"team": team.pk})) == {"AE 2a"}
    assert titles(client.get("/org/positions", {"vacant": "true"})) == {"AE 2b"}
    assert "AE 2b" not in titles(client.get("/org/positions", {"vacant": "false"}))
    assert titles(client.get("/org/positions", {"reports_to": org["m2"].pk})) == {
        "AE 2a",
        "AE 2b",
    }
    assert titles(client.get("/org/positions", {"q": "manager 2"})) == {"Manager 2"}
    holder = org["ae1"].holder
    assert titles(client.get("/org/positions", {"q": holder.email})) == {"AE 1a"}
    body = assert_error(client.get("/org/positions", {"role": "wizard"}), 422, "validation_error")
    assert body["errors"][0]["field"] == "role"


def test_filters_never_widen_visibility(api_as, org):
    client = api_as(org["ae1"].holder)
    assert titles(client.get("/org/positions", {"reports_to": org["m2"].pk})) == set()
    assert titles(client.get("/org/positions", {"q": "AE"})) == {"AE 1a"}


def test_list_query_count_is_constant(api_as, org):
    for n in range(20):
        make_position(RoleType.AE, reports_to=org["m1"], title=f"Extra AE {n}")
    for position in Position.objects.filter(title__startswith="Extra AE")[:5]:
        services.position_add_dotted_line(position=position, manager=org["m2"], by=None)
    client = api_as(org["cso"].holder)
    client.get("/org/positions", {"limit": 1})  # token's last_used_at is written once

    def count(limit: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/org/positions", {"limit": limit})
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        return len(ctx.captured_queries)

    small, large = count(2), count(30)
    assert small == large
    assert large <= 6  # token, count, page, dotted lines (+ savepoint noise on some backends)


# --- detail, history, chart --------------------------------------------------------------------


def test_detail_has_manager_chain_and_direct_reports(api_as, org):
    body = api_as(org["cso"].holder).get(f"/org/positions/{org['m1'].pk}").json()
    assert [p["title"] for p in body["manager_chain"]] == ["VP East", "CSO", "CEO"]
    assert body["manager_chain"][0]["holder"]["id"] == org["vp"].holder.pk
    assert body["direct_reports"] == sorted([org["ae1"].pk, org["ae2"].pk])
    assert body.keys() >= CONTRACT_KEYS


def test_detail_shows_only_visible_reports(api_as, org):
    body = api_as(org["ae1"].holder).get(f"/org/positions/{org['m1'].pk}").json()
    assert body["direct_reports"] == [org["ae1"].pk]


def test_reporting_lines_history(api_as, org):
    services.position_move(position=org["ae1"], reports_to=org["m2"], by=None)
    client = api_as(org["ae1"].holder)
    lines = client.get(f"/org/positions/{org['ae1'].pk}/reporting-lines").json()
    assert lines["total"] == 2
    current, previous = lines["items"]
    assert current["manager"]["id"] == org["m2"].pk and current["ended_at"] is None
    # the AE no longer sees Manager 1: the old line stays, its manager is not disclosed
    assert previous["manager"] is None and previous["ended_at"] is not None
    cso_view = api_as(org["cso"].holder).get(f"/org/positions/{org['ae1'].pk}/reporting-lines")
    assert cso_view.json()["items"][1]["manager"]["id"] == org["m1"].pk


def test_chart_nests_what_the_caller_sees(api_as, org):
    body = api_as(org["cso"].holder).get("/org/chart").json()
    assert body["total"] == 12
    (ceo,) = body["items"]
    assert ceo["title"] == "CEO" and ceo["size"] == 12
    children = {c["title"]: c for c in ceo["children"]}
    assert set(children) == {"CSO", "CRO"}
    vp = children["CSO"]["children"][0]
    assert vp["title"] == "VP East" and vp["dotted_to"] == [org["cro"].pk]
    managers = {m["title"]: m for m in vp["children"]}
    assert {a["title"] for a in managers["Manager 1"]["children"]} == {"AE 1a", "AE 1b"}
    assert managers["Manager 1"]["children"][0]["children"] == []


def test_chart_for_a_manager_and_with_root(api_as, org):
    client = api_as(org["m1"].holder)
    body = client.get("/org/chart").json()
    assert body["total"] == 7

    def flat(nodes):
        for node in nodes:
            yield node["title"]
            yield from flat(node["children"])

    assert set(flat(body["items"])) == {
        "CEO", "CSO", "CRO", "VP East", "Manager 1", "AE 1a", "AE 1b"
    }  # fmt: skip
    rooted = client.get("/org/chart", {"root": org["m1"].pk}).json()
    assert [n["title"] for n in rooted["items"]] == ["Manager 1"]
    assert set(flat(rooted["items"])) == {"Manager 1", "AE 1a", "AE 1b"}
    assert_error(client.get("/org/chart", {"root": org["m2"].pk}), 404, "not_found")


def test_reference_lists_are_readable_by_anyone_signed_in(api_as, org):
    from revline.org.models import Responsibility, RoleTemplate

    RegionFactory(code="emea", name="EMEA")
    TeamFactory(name="Closers")
    template = RoleTemplate.objects.create(role="ae", name="Account Executive", summary="Closes")
    Responsibility.objects.create(template=template, title="Run demos", kpi="win_rate")
    client = api_as(org["ae1"].holder)
    assert client.get("/org/regions").json()["items"][0]["code"] == "emea"
    assert client.get("/org/teams").json()["items"][0]["name"] == "Closers"
    templates = client.get("/org/role-templates").json()
    assert templates["total"] == 1
    assert templates["items"][0]["responsibilities"][0]["title"] == "Run demos"
    assert client.get("/org/role-templates/ae").json()["name"] == "Account Executive"
    assert_error(client.get("/org/role-templates/cso"), 404, "not_found")
