"""The organisation admin screens: RevOps and superusers only (404 for everyone else), every
write through a service with its audit event, plain POST forms (no JavaScript needed)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from revline.core.models import AuditEvent
from revline.org import services
from revline.org.choices import LineKind, RoleType
from revline.org.models import (
    ApiToken,
    DottedLine,
    Position,
    PositionHolding,
    Region,
    ReportingLine,
    Responsibility,
    RoleTemplate,
    Team,
    User,
)
from tests.org.factories import PASSWORD, RegionFactory, TeamFactory, UserFactory, make_position
from tests.scoped_app.models import Deal

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"web:{name}", args=args)


@pytest.fixture
def admin_client(client, org):
    client.force_login(org["revops"].holder)
    return client


def actions(instance) -> list[str]:
    from django.contrib.contenttypes.models import ContentType

    ct = ContentType.objects.get_for_model(instance)
    return list(
        AuditEvent.objects.filter(content_type=ct, object_id=instance.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )


def success_message(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def position_urls(org) -> list[str]:
    pk = org["ae1"].pk
    template = RoleTemplate.objects.create(role=RoleType.AE, name="AE")
    item = Responsibility.objects.create(template=template, title="Close deals")
    return [
        url("org_admin"),
        url("position_create"),
        url("position_edit", pk),
        url("position_move", pk),
        url("position_dotted", pk),
        url("position_dotted_remove", pk, org["m1"].pk),
        url("position_holder", pk),
        url("position_reassign", pk),
        url("position_delete", pk),
        url("person_create"),
        url("person_offboard"),
        url("role_templates"),
        url("role_template_edit", RoleType.AE),
        url("responsibility_add", RoleType.AE),
        url("responsibility_edit", item.pk),
        url("responsibility_delete", item.pk),
        url("responsibility_move", item.pk),
        url("regions"),
        url("teams"),
    ]


# --- who may use the admin screens ------------------------------------------------------------


@pytest.mark.parametrize("who", ["m1", "vp", "cso", "ceo", "ae1"])
def test_admin_screens_are_404_for_everyone_but_revops(client, org, who):
    client.force_login(org[who].holder)
    for target in position_urls(org):
        assert client.get(target).status_code == 404, target
        assert client.post(target, {"title": "x"}).status_code == 404, target
    assert Position.objects.count() == len(org)


def test_admin_screens_redirect_anonymous_to_login(client, org):
    response = client.get(url("org_admin"))
    assert response.status_code == 302
    assert reverse("web:login") in response["Location"]


def test_admin_screens_open_for_revops(admin_client, org):
    post_only = ("/remove/", "/responsibilities/")
    for target in position_urls(org):
        expected = 405 if any(part in target for part in post_only) else 200
        assert admin_client.get(target).status_code == expected, target


def test_superuser_without_position_may_administer(client, org):
    root = User.objects.create_superuser(email="root@example.test", password=PASSWORD)
    client.force_login(root)
    assert client.get(url("org_admin")).status_code == 200


# --- the list ---------------------------------------------------------------------------------


def test_admin_list_filters(admin_client, org):
    services.position_assign_holder(position=org["ae4"], holder=None, by=None)
    response = admin_client.get(url("org_admin"), {"vacant": "yes"})
    assert [p.pk for p in response.context["page"].object_list] == [org["ae4"].pk]
    response = admin_client.get(url("org_admin"), {"role": RoleType.SALES_MANAGER})
    assert {p.pk for p in response.context["page"].object_list} == {org["m1"].pk, org["m2"].pk}
    team = TeamFactory()
    services.position_update(position=org["m2"], team=team, by=None)
    response = admin_client.get(url("org_admin"), {"team": team.pk})
    assert [p.pk for p in response.context["page"].object_list] == [org["m2"].pk]
    response = admin_client.get(url("org_admin"), {"q": "VP"}, HTTP_HX_REQUEST="true")
    assert "<html" not in response.content.decode()
    assert [p.pk for p in response.context["page"].object_list] == [org["vp"].pk]


def _admin_list_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url("org_admin"))
    assert response.status_code == 200
    return len(ctx)


def test_admin_list_query_count_is_bounded(client):
    revops = make_position(RoleType.REVOPS, title="RevOps")
    region, team = RegionFactory(), TeamFactory()
    manager = make_position(RoleType.SALES_MANAGER, reports_to=revops, region=region, team=team)
    for _ in range(3):
        make_position(RoleType.AE, reports_to=manager, region=region, team=team)
    cro = make_position(RoleType.CRO, title="CRO")
    services.position_add_dotted_line(position=manager, manager=cro, by=None)
    client.force_login(revops.holder)
    assert Position.objects.count() == 6
    small = _admin_list_queries(client)
    for _ in range(44):
        make_position(RoleType.AE, reports_to=manager, region=region, team=team)
    assert Position.objects.count() == 50
    assert _admin_list_queries(client) == small


def test_admin_list_paginates(admin_client, org):
    for _ in range(50):
        make_position(RoleType.AE, reports_to=org["m1"], holder=None)
    first = admin_client.get(url("org_admin"))
    assert len(first.context["page"].object_list) == 50
    assert "page=2" in first.content.decode()
    second = admin_client.get(url("org_admin"), {"page": 2})
    assert len(second.context["page"].object_list) == len(org) + 50 - 50


# --- positions --------------------------------------------------------------------------------


def test_create_position(admin_client, org):
    region, team = RegionFactory(), TeamFactory()
    response = admin_client.post(
        url("position_create"),
        {
            "title": "AE 1c",
            "role": RoleType.AE,
            "reports_to": org["m1"].pk,
            "holder": "",
            "region": region.pk,
            "team": team.pk,
        },
    )
    created = Position.objects.get(title="AE 1c")
    assert response.status_code == 302
    assert response["Location"] == url("position_detail", created.pk)
    assert created.reports_to == org["m1"] and created.holder is None
    assert created.region == region and created.team == team
    assert "position.create" in actions(created)
    assert "Created the position AE 1c" in success_message(response)
    # the manager now sees it
    assert Position.objects.visible_to(org["m1"].holder).filter(pk=created.pk).exists()


def test_create_position_prefills_manager_and_shows_errors(admin_client, org):
    response = admin_client.get(url("position_create"), {"reports_to": org["m2"].pk})
    assert response.context["form"].initial["reports_to"] == str(org["m2"].pk)
    response = admin_client.post(url("position_create"), {"title": "", "role": "wizard"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "title" in errors and "role" in errors
    assert Position.objects.count() == len(org)


def test_edit_position(admin_client, org):
    region = RegionFactory(name="East")
    response = admin_client.post(
        url("position_edit", org["ae1"].pk),
        {"title": "Senior AE", "role": RoleType.AE, "region": region.pk, "team": ""},
    )
    assert response.status_code == 302
    org["ae1"].refresh_from_db()
    assert org["ae1"].title == "Senior AE" and org["ae1"].region == region
    assert "position.update" in actions(org["ae1"])


def test_move_takes_the_subtree(admin_client, org):
    response = admin_client.post(url("position_move", org["m1"].pk), {"reports_to": org["cro"].pk})
    assert response.status_code == 302
    org["m1"].refresh_from_db()
    assert org["m1"].reports_to == org["cro"]
    # the team below moved along: the CRO's marketing head is no manager of theirs, but the
    # old VP no longer sees the AEs below Manager 1 through the solid line
    vp_sees = set(Position.objects.visible_to(org["vp"].holder).values_list("pk", flat=True))
    assert org["ae1"].pk not in vp_sees and org["m1"].pk not in vp_sees
    lines = ReportingLine.objects.filter(position=org["m1"], kind=LineKind.SOLID)
    assert lines.filter(ended_at__isnull=False, manager=org["vp"]).exists()
    assert lines.filter(ended_at__isnull=True, manager=org["cro"]).exists()
    assert "position.move" in actions(org["m1"])
    assert "Moved Manager 1" in success_message(response)


def test_move_refuses_a_cycle_with_a_form_error(admin_client, org):
    response = admin_client.post(url("position_move", org["vp"].pk), {"reports_to": org["ae1"].pk})
    assert response.status_code == 200
    assert "cannot report to itself or to someone below it" in response.content.decode()
    assert response.context["form"].errors["reports_to"]
    org["vp"].refresh_from_db()
    assert org["vp"].reports_to == org["cso"]
    assert "position.move" not in actions(org["vp"])


def test_move_to_the_top(admin_client, org):
    response = admin_client.post(url("position_move", org["mkt"].pk), {"reports_to": ""})
    assert response.status_code == 302
    org["mkt"].refresh_from_db()
    assert org["mkt"].reports_to is None


def test_dotted_line_add_and_remove(admin_client, org):
    ae1, m2 = org["ae1"], org["m2"]
    response = admin_client.post(url("position_dotted", ae1.pk), {"manager": m2.pk})
    assert response.status_code == 302
    assert DottedLine.objects.filter(position=ae1, manager=m2).exists()
    assert ReportingLine.objects.filter(
        position=ae1, manager=m2, kind=LineKind.DOTTED, ended_at__isnull=True
    ).exists()
    assert Position.objects.visible_to(m2.holder).filter(pk=ae1.pk).exists()
    page = admin_client.get(url("position_dotted", ae1.pk)).content.decode()
    assert url("position_dotted_remove", ae1.pk, m2.pk) in page

    response = admin_client.post(url("position_dotted_remove", ae1.pk, m2.pk))
    assert response.status_code == 302
    assert not DottedLine.objects.filter(position=ae1, manager=m2).exists()
    assert ReportingLine.objects.get(position=ae1, manager=m2, kind=LineKind.DOTTED).ended_at
    assert not Position.objects.visible_to(m2.holder).filter(pk=ae1.pk).exists()
    assert actions(ae1)[-2:] == ["position.dotted_add", "position.dotted_remove"]
    # removing is POST only
    assert admin_client.get(url("position_dotted_remove", ae1.pk, m2.pk)).status_code == 405


def test_dotted_line_errors_are_shown(admin_client, org):
    response = admin_client.post(url("position_dotted", org["vp"].pk), {"manager": org["ae1"].pk})
    assert response.status_code == 200
    assert response.context["form"].errors["manager"]
    response = admin_client.post(url("position_dotted", org["ae1"].pk), {"manager": org["m1"].pk})
    assert "already the solid reporting line" in response.content.decode()


def test_vacate_and_assign_keep_history(admin_client, org):
    ae1 = org["ae1"]
    first = ae1.holder
    response = admin_client.post(url("position_holder", ae1.pk), {"holder": ""})
    assert response.status_code == 302
    ae1.refresh_from_db()
    assert ae1.holder is None
    assert "is now vacant" in success_message(response)

    newcomer = UserFactory(full_name="New Comer")
    response = admin_client.post(url("position_holder", ae1.pk), {"holder": newcomer.pk})
    assert response.status_code == 302
    ae1.refresh_from_db()
    assert ae1.holder == newcomer
    holdings = list(PositionHolding.objects.filter(position=ae1).order_by("id"))
    assert [(h.user, h.ended_at is None) for h in holdings] == [(first, False), (newcomer, True)]
    assert actions(ae1)[-2:] == ["position.vacate", "position.assign"]
    page = admin_client.get(url("position_holder", ae1.pk)).content.decode()
    assert "New Comer" in page and first.get_full_name() in page


def test_reassign_records(admin_client, org):
    Deal.objects.create(name="Big deal", owner_position=org["ae1"])
    Deal.objects.create(name="Small deal", owner_position=org["ae1"])
    page = admin_client.get(url("position_reassign", org["ae1"].pk))
    assert ("deals", 2) in page.context["counts"]
    response = admin_client.post(
        url("position_reassign", org["ae1"].pk), {"to_position": org["ae2"].pk}
    )
    assert response.status_code == 302
    assert set(Deal.objects.values_list("owner_position", flat=True)) == {org["ae2"].pk}
    assert "Moved 2 records" in success_message(response)
    assert "position.records_reassign" in actions(org["ae1"])
    # to itself is not offered, and refused
    response = admin_client.post(
        url("position_reassign", org["ae1"].pk), {"to_position": org["ae1"].pk}
    )
    assert response.status_code == 200
    assert response.context["form"].errors


def test_delete_only_when_the_service_allows(admin_client, org):
    response = admin_client.post(url("position_delete", org["ae1"].pk))
    assert response.status_code == 400
    assert "Vacate the position" in response.content.decode()
    assert Position.objects.filter(pk=org["ae1"].pk).exists()

    response = admin_client.post(url("position_delete", org["m1"].pk))
    assert response.status_code == 400
    assert Position.objects.filter(pk=org["m1"].pk).exists()

    spare = make_position(RoleType.AE, reports_to=org["m1"], holder=None, title="Spare seat")
    assert admin_client.get(url("position_delete", spare.pk)).status_code == 200
    response = admin_client.post(url("position_delete", spare.pk))
    assert response.status_code == 302
    assert not Position.objects.filter(pk=spare.pk).exists()
    assert "Removed the position Spare seat" in success_message(response)


# --- people -----------------------------------------------------------------------------------


def test_create_person(admin_client, org):
    response = admin_client.post(
        url("person_create"),
        {"email": "New.Hire@Example.test", "full_name": "New Hire", "password": PASSWORD},
    )
    assert response.status_code == 302
    person = User.objects.get(email="new.hire@example.test")
    assert person.full_name == "New Hire" and person.check_password(PASSWORD)
    assert "user.create" in actions(person)

    response = admin_client.post(
        url("person_create"), {"email": "new.hire@example.test", "full_name": "Again"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["email"]

    response = admin_client.post(
        url("person_create"), {"email": "weak@example.test", "full_name": "W", "password": "123"}
    )
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(email="weak@example.test").exists()


def test_create_person_without_password(admin_client, org):
    response = admin_client.post(
        url("person_create"), {"email": "nopass@example.test", "full_name": "No Pass"}
    )
    assert response.status_code == 302
    assert not User.objects.get(email="nopass@example.test").has_usable_password()


def test_offboard_person(admin_client, org):
    leaving = org["ae1"].holder
    second = make_position(RoleType.BDR, reports_to=org["m1"], holder=leaving, title="BDR 1")
    Deal.objects.create(name="d1", owner_position=org["ae1"])
    Deal.objects.create(name="d2", owner_position=second)
    token, _ = services.api_token_create(user=leaving, name="script")

    review = admin_client.get(url("person_offboard"), {"person": leaving.pk})
    assert review.status_code == 200
    held = {h["position"].pk: h["total"] for h in review.context["held"]}
    assert held == {org["ae1"].pk: 1, second.pk: 1}
    assert review.context["tokens"] == 1
    successors = review.context["form"].fields["successor"].queryset
    assert org["ae1"] not in successors and second not in successors

    response = admin_client.post(
        url("person_offboard"), {"person": leaving.pk, "successor": org["ae2"].pk}
    )
    assert response.status_code == 302
    leaving.refresh_from_db()
    assert not leaving.is_active
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not ApiToken.objects.filter(user=leaving, revoked_at__isnull=True).exists()
    assert set(Deal.objects.values_list("owner_position", flat=True)) == {org["ae2"].pk}
    assert not Position.objects.filter(holder=leaving).exists()
    assert "Offboarded" in success_message(response)
    assert "2 record(s) moved" in success_message(response)


def test_offboard_refuses_self_and_missing_successor(admin_client, org):
    me = org["revops"].holder
    response = admin_client.post(
        url("person_offboard"), {"person": me.pk, "successor": org["ae2"].pk}
    )
    assert response.status_code == 200
    assert "You cannot offboard yourself" in response.content.decode()
    me.refresh_from_db()
    assert me.is_active

    leaving = org["ae1"].holder
    response = admin_client.post(url("person_offboard"), {"person": leaving.pk, "successor": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["successor"]
    leaving.refresh_from_db()
    assert leaving.is_active


# --- role templates ---------------------------------------------------------------------------


@pytest.fixture
def ae_template(db):
    template = RoleTemplate.objects.create(role=RoleType.AE, name="Account Executive")
    for order, title in enumerate(["Discovery", "Demo", "Close"]):
        Responsibility.objects.create(template=template, title=title, order=order)
    return template


def titles(template) -> list[str]:
    return list(template.responsibilities.order_by("order", "id").values_list("title", flat=True))


def test_role_templates_list_every_role(admin_client, ae_template):
    response = admin_client.get(url("role_templates"))
    assert [row["role"] for row in response.context["rows"]] == list(RoleType.values)
    html = response.content.decode()
    assert "Discovery" in html
    assert url("role_template_edit", RoleType.AE) in html
    assert admin_client.get(url("role_template_edit", "nonsense")).status_code == 404


def test_role_template_edit_name_and_summary(admin_client, ae_template):
    response = admin_client.post(
        url("role_template_edit", RoleType.AE), {"name": "AE", "summary": "Closes deals."}
    )
    assert response.status_code == 302
    ae_template.refresh_from_db()
    assert (ae_template.name, ae_template.summary) == ("AE", "Closes deals.")
    assert "role_template.update" in actions(ae_template)


def test_responsibility_add_edit_delete_write_audit_events(admin_client, ae_template):
    response = admin_client.post(
        url("responsibility_add", RoleType.AE),
        {
            "new-title": "Negotiate terms",
            "new-description": "Price and conditions.",
            "new-capability": "pipeline.quotes",
            "new-kpi": "discounts",
        },
    )
    assert response.status_code == 302
    added = ae_template.responsibilities.get(title="Negotiate terms")
    assert (added.capability, added.kpi) == ("pipeline.quotes", "discounts")
    assert titles(ae_template)[-1] == "Negotiate terms"

    page = admin_client.get(url("role_template_edit", RoleType.AE)).content.decode()
    assert "Quotes and approvals" in page and "Discounts given" in page

    response = admin_client.post(
        url("responsibility_edit", added.pk),
        {
            f"r{added.pk}-title": "Negotiate",
            f"r{added.pk}-description": "",
            f"r{added.pk}-capability": "",
            f"r{added.pk}-kpi": "win_rate",
        },
    )
    assert response.status_code == 302
    added.refresh_from_db()
    assert (added.title, added.capability, added.kpi) == ("Negotiate", "", "win_rate")

    response = admin_client.post(url("responsibility_delete", added.pk))
    assert response.status_code == 302
    assert not Responsibility.objects.filter(pk=added.pk).exists()
    assert actions(ae_template) == [
        "responsibility.create",
        "responsibility.update",
        "responsibility.delete",
    ]


def test_responsibility_reorder(admin_client, ae_template):
    demo = ae_template.responsibilities.get(title="Demo")
    response = admin_client.post(url("responsibility_move", demo.pk), {"direction": "up"})
    assert response.status_code == 302
    assert titles(ae_template) == ["Demo", "Discovery", "Close"]
    admin_client.post(url("responsibility_move", demo.pk), {"direction": "up"})  # already first
    assert titles(ae_template) == ["Demo", "Discovery", "Close"]
    admin_client.post(url("responsibility_move", demo.pk), {"direction": "down"})
    admin_client.post(url("responsibility_move", demo.pk), {"direction": "down"})
    assert titles(ae_template) == ["Discovery", "Close", "Demo"]
    assert actions(ae_template) == ["responsibility.reorder"] * 3


def test_responsibility_form_errors(admin_client, ae_template):
    response = admin_client.post(
        url("responsibility_add", RoleType.AE),
        {"new-title": "", "new-capability": "no.such.screen", "new-kpi": ""},
    )
    assert response.status_code == 400
    errors = response.context["add_form"].errors
    assert "title" in errors and "capability" in errors
    item = ae_template.responsibilities.first()
    response = admin_client.post(url("responsibility_edit", item.pk), {f"r{item.pk}-title": ""})
    assert response.status_code == 400
    assert any(row["open"] for row in response.context["items"])
    assert actions(ae_template) == []


# --- regions and teams ------------------------------------------------------------------------


def test_create_region_and_team(admin_client, org):
    response = admin_client.post(url("regions"), {"name": "Nordics", "code": "nordics"})
    assert response.status_code == 302
    region = Region.objects.get(code="nordics")
    assert "region.create" in actions(region)
    response = admin_client.post(
        url("regions"), {"name": "Sweden", "code": "se", "parent": region.pk}
    )
    assert Region.objects.get(code="se").parent == region
    response = admin_client.post(url("regions"), {"name": "Nordics", "code": "nordics"})
    assert response.status_code == 200
    assert response.context["form"].errors

    response = admin_client.post(
        url("teams"), {"name": "Hunters", "region": region.pk, "share_records": "on"}
    )
    assert response.status_code == 302
    team = Team.objects.get(name="Hunters")
    assert team.region == region and team.share_records
    page = admin_client.get(url("teams")).content.decode()
    assert "Hunters" in page
    assert "Nordics" in admin_client.get(url("regions")).content.decode()


def test_move_can_take_or_keep_the_team(admin_client, org):
    """The move form's join_team takes the new manager's team (the old team-mates then lose
    sight of it); unticked, the team stays."""
    old_team, new_team = TeamFactory(), TeamFactory()
    for key in ("m1", "ae1", "ae2"):
        Position.objects.filter(pk=org[key].pk).update(team=old_team)
    Position.objects.filter(pk=org["m2"].pk).update(team=new_team)
    ae1, ae2 = org["ae1"], org["ae2"]
    assert Position.objects.visible_to(ae2.holder).filter(pk=ae1.pk).exists()

    admin_client.post(url("position_move", ae1.pk), {"reports_to": org["m2"].pk})
    ae1.refresh_from_db()
    assert (ae1.reports_to_id, ae1.team_id) == (org["m2"].pk, old_team.pk)

    admin_client.post(url("position_move", ae1.pk), {"reports_to": org["m1"].pk, "join_team": "on"})
    admin_client.post(url("position_move", ae1.pk), {"reports_to": org["m2"].pk, "join_team": "on"})
    ae1.refresh_from_db()
    assert (ae1.reports_to_id, ae1.team_id) == (org["m2"].pk, new_team.pk)
    assert not Position.objects.visible_to(ae2.holder).filter(pk=ae1.pk).exists()
    assert not Position.objects.visible_to(org["m1"].holder).filter(pk=ae1.pk).exists()
    assert "team" in AuditEvent.objects.filter(action="position.move").first().changes
