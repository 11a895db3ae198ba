"""Changing the organisation through the API: RevOps may, others get 403 or 404."""

import pytest

from revline.core.models import AuditEvent
from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import (
    ApiToken,
    DottedLine,
    Position,
    Region,
    ReportingLine,
    Responsibility,
    RoleTemplate,
    Team,
    User,
)
from tests.api.conftest import assert_error, token_for
from tests.org.factories import PASSWORD, RegionFactory, TeamFactory, UserFactory, make_position
from tests.scoped_app.models import Deal

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(api_as, org):
    return api_as(org["revops"].holder)


@pytest.fixture
def template(db):
    template = RoleTemplate.objects.create(role="sdr", name="SDR", summary="Qualifies leads")
    Responsibility.objects.create(template=template, title="Qualify leads", order=0)
    return template


# --- positions ---------------------------------------------------------------------------------


def test_create_position(admin, org):
    region = RegionFactory(code="north")
    team = TeamFactory()
    person = UserFactory()
    response = admin.post(
        "/org/positions",
        {
            "title": "AE 1c",
            "role": "ae",
            "reports_to": org["m1"].pk,
            "holder": person.pk,
            "region": "north",
            "team": team.pk,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    position = Position.objects.get(pk=body["id"])
    assert (position.title, position.role, position.holder, position.region, position.team) == (
        "AE 1c",
        "ae",
        person,
        region,
        team,
    )
    assert body["reports_to"] == org["m1"].pk
    assert body["holder"]["id"] == person.pk
    # the closure is current: the manager sees the new position at once
    assert Position.objects.visible_to(org["m1"].holder).filter(pk=position.pk).exists()
    assert AuditEvent.objects.filter(action="position.create", object_id=position.pk).exists()


def test_create_position_unknown_references_are_422(admin, org):
    body = assert_error(
        admin.post("/org/positions", {"title": "x", "role": "ae", "reports_to": 999999}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "reports_to"
    body = assert_error(
        admin.post("/org/positions", {"title": "x", "role": "ae", "region": "atlantis"}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "region"
    assert not Position.objects.filter(title="x").exists()


def test_update_position(admin, org):
    region = RegionFactory(code="south")
    response = admin.patch(
        f"/org/positions/{org['ae1'].pk}",
        {"title": "Senior AE", "role": "team_lead", "region": "south"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Senior AE"
    org["ae1"].refresh_from_db()
    assert (org["ae1"].title, org["ae1"].role, org["ae1"].region) == (
        "Senior AE",
        "team_lead",
        region,
    )
    # only sent fields change; null clears
    admin.patch(f"/org/positions/{org['ae1'].pk}", {"region": None})
    org["ae1"].refresh_from_db()
    assert org["ae1"].region is None and org["ae1"].title == "Senior AE"


def test_move_position_and_history(admin, org):
    response = admin.post(f"/org/positions/{org['m1'].pk}/move", {"reports_to": org["cro"].pk})
    assert response.status_code == 200, response.content
    assert response.json()["reports_to"] == org["cro"].pk
    # the subtree moved with it: the VP no longer sees AE 1a, the CRO's chain does
    assert not Position.objects.visible_to(org["vp"].holder).filter(pk=org["ae1"].pk).exists()
    history = admin.get(f"/org/positions/{org['m1'].pk}/reporting-lines").json()["items"]
    assert [line["manager"]["id"] for line in history] == [org["cro"].pk, org["vp"].pk]
    assert history[1]["ended_at"] is not None


def test_move_with_join_team(admin, org):
    from tests.org.factories import TeamFactory

    team = TeamFactory()
    Position.objects.filter(pk=org["m2"].pk).update(team=team)
    body = {"reports_to": org["m2"].pk, "join_team": True}
    response = admin.post(f"/org/positions/{org['ae1'].pk}/move", body)
    assert response.status_code == 200, response.content
    assert response.json()["team"]["id"] == team.pk


def test_move_into_own_subtree_is_422(admin, org):
    response = admin.post(f"/org/positions/{org['vp'].pk}/move", {"reports_to": org["ae1"].pk})
    body = assert_error(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "reports_to"
    org["vp"].refresh_from_db()
    assert org["vp"].reports_to == org["cso"]


def test_move_to_root(admin, org):
    response = admin.post(f"/org/positions/{org['mkt'].pk}/move", {"reports_to": None})
    assert response.status_code == 200
    assert response.json()["reports_to"] is None


def test_assign_and_vacate_holder(admin, org):
    person = UserFactory()
    url = f"/org/positions/{org['ae1'].pk}/holder"
    response = admin.put(url, {"user": person.pk})
    assert response.status_code == 200, response.content
    assert response.json()["holder"]["id"] == person.pk
    response = admin.put(url, {"user": None})
    assert response.json()["holder"] is None and response.json()["is_vacant"] is True
    assert_error(admin.put(url, {"user": 999999}), 422, "validation_error")


def test_dotted_lines(admin, org):
    url = f"/org/positions/{org['m2'].pk}/dotted-lines"
    response = admin.post(url, {"manager": org["cro"].pk})
    assert response.status_code == 201, response.content
    assert response.json()["dotted_to"] == [org["cro"].pk]
    assert ReportingLine.objects.filter(
        position=org["m2"], manager=org["cro"], kind="dotted", ended_at=None
    ).exists()
    # a dotted line into its own subtree is refused
    assert_error(
        admin.post(f"/org/positions/{org['vp'].pk}/dotted-lines", {"manager": org["ae1"].pk}),
        422,
        "validation_error",
    )
    response = admin.delete(f"{url}/{org['cro'].pk}")
    assert response.status_code == 204
    assert not DottedLine.objects.filter(position=org["m2"]).exists()


def test_delete_position(admin, org):
    spare = make_position(RoleType.SDR, reports_to=org["m2"], holder=None, title="Spare")
    assert admin.delete(f"/org/positions/{spare.pk}").status_code == 204
    assert not Position.objects.filter(pk=spare.pk).exists()


def test_delete_position_refused_by_service_rules_is_409(admin, org):
    body = assert_error(admin.delete(f"/org/positions/{org['ae1'].pk}"), 409, "conflict")
    assert "Vacate" in body["message"]
    services.position_assign_holder(position=org["m1"], holder=None, by=None)
    body = assert_error(admin.delete(f"/org/positions/{org['m1'].pk}"), 409, "conflict")
    assert "reporting" in body["message"]
    assert Position.objects.filter(pk=org["m1"].pk).exists()


def test_reassign_records(admin, org):
    Deal.objects.create(name="d1", owner_position=org["ae1"])
    Deal.objects.create(name="d2", owner_position=org["ae1"])
    response = admin.post(f"/org/positions/{org['ae1'].pk}/reassign", {"to": org["ae2"].pk})
    assert response.status_code == 200, response.content
    assert response.json()["total"] == 2
    assert Deal.objects.filter(owner_position=org["ae2"]).count() == 2
    assert_error(
        admin.post(f"/org/positions/{org['ae1'].pk}/reassign", {"to": org["ae1"].pk}),
        422,
        "validation_error",
    )


# --- the forbidden paths -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["ae1", "m1", "cso", "ceo"])
def test_non_admins_cannot_change_positions(api_as, org, who):
    client = api_as(org[who].holder)
    own = org[who].pk
    target = org["ae1"].pk  # visible to every caller here
    before = Position.objects.get(pk=target).title
    assert_error(client.post("/org/positions", {"title": "x", "role": "ae"}), 403, "forbidden")
    assert_error(client.patch(f"/org/positions/{target}", {"title": "x"}), 403, "forbidden")
    assert_error(client.patch(f"/org/positions/{own}", {"title": "x"}), 403, "forbidden")
    assert_error(client.delete(f"/org/positions/{target}"), 403, "forbidden")
    assert_error(
        client.post(f"/org/positions/{target}/move", {"reports_to": None}), 403, "forbidden"
    )
    assert_error(client.put(f"/org/positions/{target}/holder", {"user": None}), 403, "forbidden")
    assert_error(
        client.post(f"/org/positions/{target}/dotted-lines", {"manager": org["ceo"].pk}),
        403,
        "forbidden",
    )
    assert_error(
        client.post(f"/org/positions/{target}/reassign", {"to": org["ceo"].pk}), 403, "forbidden"
    )
    assert Position.objects.get(pk=target).title == before
    assert Position.objects.get(pk=target).holder is not None


def test_invisible_positions_are_404_even_for_writes(api_as, org):
    client = api_as(org["ae1"].holder)
    peer = org["ae2"].pk
    assert_error(client.patch(f"/org/positions/{peer}", {"title": "x"}), 404, "not_found")
    assert_error(client.delete(f"/org/positions/{peer}"), 404, "not_found")
    assert_error(client.post(f"/org/positions/{peer}/move", {"reports_to": None}), 404, "not_found")
    assert_error(client.put(f"/org/positions/{peer}/holder", {"user": None}), 404, "not_found")
    assert_error(
        client.delete(f"/org/positions/{peer}/dotted-lines/{org['m1'].pk}"), 404, "not_found"
    )
    assert_error(client.patch("/org/positions/999999", {"title": "x"}), 404, "not_found")


def test_non_admin_people_regions_teams_templates_are_403(api_as, org, template):
    client = api_as(org["m1"].holder)
    assert_error(client.get("/org/people"), 403, "forbidden")
    assert_error(
        client.post("/org/people", {"email": "n@example.test", "full_name": "N"}),
        403,
        "forbidden",
    )
    assert_error(
        client.post(f"/org/people/{org['ae1'].holder.pk}/offboard", {"successor": org["m1"].pk}),
        403,
        "forbidden",
    )
    assert_error(client.post("/org/regions", {"name": "X", "code": "x"}), 403, "forbidden")
    assert_error(client.post("/org/teams", {"name": "X"}), 403, "forbidden")
    assert_error(client.patch("/org/role-templates/sdr", {"name": "X"}), 403, "forbidden")
    responsibility = template.responsibilities.get()
    url = f"/org/role-templates/sdr/responsibilities/{responsibility.pk}"
    assert_error(client.patch(url, {"title": "X"}), 403, "forbidden")
    assert_error(client.delete(url), 403, "forbidden")
    assert_error(
        client.post("/org/role-templates/sdr/responsibilities", {"title": "X"}), 403, "forbidden"
    )
    assert not User.objects.filter(email="n@example.test").exists()
    assert not Region.objects.exists() and not Team.objects.exists()
    template.refresh_from_db()
    assert template.name == "SDR"
    assert org["ae1"].holder.is_active


def test_superuser_without_position_is_admin(api_as, org):
    root = User.objects.create_superuser(email="root@example.test", password=PASSWORD)
    client = api_as(root)
    assert client.get("/org/positions").json()["total"] == 12
    response = client.patch(f"/org/positions/{org['ae1'].pk}", {"title": "Renamed"})
    assert response.status_code == 200
    assert client.get("/me").json()["is_org_admin"] is True


# --- people ------------------------------------------------------------------------------------


def test_people_list_and_create(admin, org):
    body = admin.get("/org/people").json()
    assert body["total"] == User.objects.count()
    me = next(p for p in body["items"] if p["id"] == org["revops"].holder.pk)
    assert me["positions"] == [org["revops"].pk]
    response = admin.post(
        "/org/people",
        {"email": "New.Person@Example.test", "full_name": "New Person", "password": PASSWORD},
    )
    assert response.status_code == 201, response.content
    created = User.objects.get(email="new.person@example.test")
    assert created.check_password(PASSWORD)
    assert response.json()["positions"] == []
    assert admin.get("/org/people", {"q": "new.person"}).json()["total"] == 1
    duplicate = admin.post("/org/people", {"email": "new.person@example.test", "full_name": "Dup"})
    assert assert_error(duplicate, 422, "validation_error")["errors"][0]["field"] == "email"


def test_offboard(admin, org):
    leaver = org["ae1"].holder
    raw = token_for(leaver)
    Deal.objects.create(name="d1", owner_position=org["ae1"])
    response = admin.post(f"/org/people/{leaver.pk}/offboard", {"successor": org["ae2"].pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["vacated"] == [org["ae1"].pk]
    assert sum(body["moved"].values()) == 1
    assert body["tokens_revoked"] == 1
    leaver.refresh_from_db()
    assert not leaver.is_active
    assert not ApiToken.objects.filter(user=leaver, revoked_at=None).exists()
    assert_error(admin.__class__(raw).get("/me"), 401, "unauthorized")
    assert_error(
        admin.post("/org/people/999999/offboard", {"successor": org["ae2"].pk}), 404, "not_found"
    )


# --- regions, teams, role templates ------------------------------------------------------------


def test_regions_and_teams(admin):
    response = admin.post("/org/regions", {"name": "Europe", "code": "eu"})
    assert response.status_code == 201, response.content
    response = admin.post("/org/regions", {"name": "Nordics", "code": "nordics", "parent": "eu"})
    assert response.json()["parent"] == "eu"
    assert_error(
        admin.post("/org/regions", {"name": "Europe", "code": "eu"}), 422, "validation_error"
    )
    response = admin.post(
        "/org/teams", {"name": "Vikings", "region": "nordics", "share_records": True}
    )
    assert response.status_code == 201, response.content
    assert response.json()["region"] == {"code": "nordics", "name": "Nordics"}
    assert admin.get("/org/teams").json()["items"][0]["share_records"] is True
    assert admin.get("/org/regions").json()["total"] == 2


def test_role_template_edits(admin, template):
    response = admin.patch("/org/role-templates/sdr", {"summary": "Works the leads BDRs find"})
    assert response.status_code == 200, response.content
    assert response.json()["summary"] == "Works the leads BDRs find"
    assert response.json()["name"] == "SDR"

    response = admin.post(
        "/org/role-templates/sdr/responsibilities",
        {"title": "Hand SQLs to AEs", "kpi": "sql_handed", "capability": "leads.handoff"},
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["order"] == 1
    url = f"/org/role-templates/sdr/responsibilities/{created['id']}"
    response = admin.patch(url, {"title": "Hand qualified leads to AEs"})
    assert response.status_code == 200
    assert response.json()["title"] == "Hand qualified leads to AEs"
    assert response.json()["kpi"] == "sql_handed"  # untouched
    assert admin.delete(url).status_code == 204
    assert template.responsibilities.count() == 1
    assert_error(admin.delete(url), 404, "not_found")
    assert_error(admin.patch("/org/role-templates/wizard", {"name": "x"}), 404, "not_found")
