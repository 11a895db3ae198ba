"""The organisation's services: history kept, cycles refused, one transaction each, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from revline.core.models import AuditEvent
from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import (
    ApiToken,
    DottedLine,
    LoginAttempt,
    Position,
    PositionClosure,
    PositionHolding,
    RecordShare,
    ReportingLine,
    RoleTemplate,
    User,
)
from tests.org.factories import PASSWORD, UserFactory, make_position
from tests.scoped_app.models import CoachingNote, Deal, Prospect

pytestmark = pytest.mark.django_db

SCOPED_MODELS = (Deal, Prospect, CoachingNote)


def lines(position, kind=None):
    qs = ReportingLine.objects.filter(position=position).order_by("started_at", "id")
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs)


def open_managers(position, kind):
    return set(
        ReportingLine.objects.filter(
            position=position, kind=kind, ended_at__isnull=True
        ).values_list("manager_id", flat=True)
    )


def closure(position):
    """(ancestor id -> depth) of ``position`` in the closure table."""
    return dict(
        PositionClosure.objects.filter(descendant=position).values_list("ancestor_id", "depth")
    )


def audit_actions(instance=None):
    qs = AuditEvent.objects.order_by("id")
    if instance is not None:
        qs = qs.filter(object_id=instance.pk)
    return [e.action for e in qs]


# --- positions and reporting lines -------------------------------------------------------------


def test_position_create_opens_solid_line_holding_closure_and_audit():
    admin = UserFactory()
    boss = make_position(RoleType.SALES_MANAGER)
    person = UserFactory()
    ae = services.position_create(
        title="  AE North  ", role=RoleType.AE, by=admin, reports_to=boss, holder=person
    )
    assert ae.title == "AE North"
    assert ae.holder == person
    (line,) = lines(ae)
    assert (line.manager, line.kind, line.ended_at, line.changed_by) == (
        boss,
        "solid",
        None,
        admin,
    )
    (holding,) = PositionHolding.objects.filter(position=ae)
    assert (holding.user, holding.ended_at) == (person, None)
    assert closure(ae) == {ae.pk: 0, boss.pk: 1}
    events = AuditEvent.objects.filter(object_id=ae.pk, action__startswith="position.")
    assert [e.action for e in events.order_by("id")] == ["position.create", "position.assign"]
    create = events.get(action="position.create")
    assert create.actor == admin
    assert create.changes["reports_to"] == [None, boss.pk]
    assert create.changes["role"] == [None, "ae"]


def test_position_create_refuses_unknown_role():
    with pytest.raises(ValidationError):
        services.position_create(title="Wizard", role="wizard", by=None)
    assert not Position.objects.exists()


def test_position_move_ends_old_line_opens_new_and_moves_the_subtree():
    admin = UserFactory()
    vp = make_position(RoleType.VP_SALES)
    m1 = make_position(RoleType.SALES_MANAGER, reports_to=vp)
    m2 = make_position(RoleType.SALES_MANAGER, reports_to=vp)
    lead = make_position(RoleType.TEAM_LEAD, reports_to=m1)
    ae = make_position(RoleType.AE, reports_to=lead)

    services.position_move(position=lead, reports_to=m2, by=admin)

    lead.refresh_from_db()
    assert lead.reports_to == m2
    old, new = lines(lead)
    assert (old.manager, old.ended_at is not None) == (m1, True)
    assert (new.manager, new.ended_at, new.changed_by) == (m2, None, admin)
    assert new.started_at >= old.ended_at
    # the whole subtree moved with it, at once
    assert closure(ae) == {ae.pk: 0, lead.pk: 1, m2.pk: 2, vp.pk: 3}
    assert m1.pk not in closure(ae)
    event = AuditEvent.objects.get(action="position.move")
    assert (event.actor, event.object_id, event.changes) == (
        admin,
        lead.pk,
        {"reports_to": [m1.pk, m2.pk]},
    )


def test_position_move_to_the_same_manager_changes_nothing():
    m = make_position(RoleType.SALES_MANAGER)
    ae = make_position(RoleType.AE, reports_to=m)
    before = AuditEvent.objects.count()
    services.position_move(position=ae, reports_to=m, by=None)
    assert len(lines(ae)) == 1
    assert AuditEvent.objects.count() == before


def test_position_move_to_top_level_ends_the_line_without_opening_one():
    m = make_position(RoleType.SALES_MANAGER)
    ae = make_position(RoleType.AE, reports_to=m)
    services.position_move(position=ae, reports_to=None, by=None)
    (line,) = lines(ae)
    assert line.ended_at is not None
    assert closure(ae) == {ae.pk: 0}


def test_position_move_onto_a_dotted_manager_makes_that_line_solid():
    """A position never has a dotted line to its solid manager (position_add_dotted_line
    refuses it), so a move onto a dotted manager turns that line solid."""
    cso = make_position(RoleType.CSO)
    cro = make_position(RoleType.CRO)
    vp = make_position(RoleType.VP_SALES, reports_to=cso)
    services.position_add_dotted_line(position=vp, manager=cro, by=None)

    services.position_move(position=vp, reports_to=cro, by=None)

    assert not DottedLine.objects.filter(position=vp).exists()
    assert open_managers(vp, "solid") == {cro.pk}
    assert open_managers(vp, "dotted") == set()
    assert closure(vp) == {vp.pk: 0, cro.pk: 1}


def test_cycles_are_refused_solid_and_dotted():
    ceo = make_position(RoleType.CEO)
    vp = make_position(RoleType.VP_SALES, reports_to=ceo)
    m = make_position(RoleType.SALES_MANAGER, reports_to=vp)
    other = make_position(RoleType.SALES_MANAGER, reports_to=ceo)
    ae = make_position(RoleType.AE, reports_to=other)
    services.position_add_dotted_line(position=ae, manager=m, by=None)
    snapshot = (
        set(Position.objects.values_list("id", "reports_to_id")),
        set(DottedLine.objects.values_list("position_id", "manager_id")),
        set(PositionClosure.objects.values_list("ancestor_id", "descendant_id", "depth")),
        ReportingLine.objects.count(),
    )

    refused = [
        lambda: services.position_move(position=vp, reports_to=vp, by=None),  # itself
        lambda: services.position_move(position=vp, reports_to=m, by=None),  # below (solid)
        lambda: services.position_move(position=vp, reports_to=ae, by=None),  # below via dotted
        lambda: services.position_move(position=m, reports_to=ae, by=None),  # dotted report
        lambda: services.position_add_dotted_line(position=vp, manager=vp, by=None),
        lambda: services.position_add_dotted_line(position=vp, manager=m, by=None),
        lambda: services.position_add_dotted_line(position=m, manager=ae, by=None),
        lambda: services.position_add_dotted_line(position=ceo, manager=ae, by=None),
    ]
    for attempt in refused:
        with pytest.raises(ValidationError):
            attempt()
    assert snapshot == (
        set(Position.objects.values_list("id", "reports_to_id")),
        set(DottedLine.objects.values_list("position_id", "manager_id")),
        set(PositionClosure.objects.values_list("ancestor_id", "descendant_id", "depth")),
        ReportingLine.objects.count(),
    )


def test_dotted_line_add_and_remove_keep_history():
    admin = UserFactory()
    cso = make_position(RoleType.CSO)
    cro = make_position(RoleType.CRO)
    vp = make_position(RoleType.VP_SALES, reports_to=cso)
    ae = make_position(RoleType.AE, reports_to=vp)

    line = services.position_add_dotted_line(position=vp, manager=cro, by=admin)
    assert (line.position, line.manager) == (vp, cro)
    assert services.position_add_dotted_line(position=vp, manager=cro, by=admin) == line
    assert open_managers(vp, "dotted") == {cro.pk}
    assert closure(ae)[cro.pk] == 2
    with pytest.raises(ValidationError):  # the solid line is not also a dotted one
        services.position_add_dotted_line(position=vp, manager=cso, by=admin)

    services.position_remove_dotted_line(position=vp, manager=cro, by=admin)
    assert not DottedLine.objects.exists()
    (dotted,) = lines(vp, "dotted")
    assert (dotted.manager, dotted.changed_by) == (cro, admin)
    assert dotted.ended_at is not None
    assert open_managers(vp, "solid") == {cso.pk}  # the solid line is untouched
    assert cro.pk not in closure(ae)
    # removing it again is a no-op
    services.position_remove_dotted_line(position=vp, manager=cro, by=admin)
    assert audit_actions(vp).count("position.dotted_remove") == 1
    assert audit_actions(vp).count("position.dotted_add") == 1


def test_holder_history_is_kept():
    alice, bob = UserFactory(), UserFactory()
    ae = make_position(RoleType.AE, holder=alice)
    services.position_assign_holder(position=ae, holder=bob, by=None)
    services.position_assign_holder(position=ae, holder=None, by=None)
    ae.refresh_from_db()
    assert ae.holder is None
    holdings = list(PositionHolding.objects.filter(position=ae).order_by("started_at", "id"))
    assert [h.user for h in holdings] == [alice, bob]
    assert all(h.ended_at is not None for h in holdings)
    assert holdings[0].ended_at <= holdings[1].started_at
    assert audit_actions(ae)[-2:] == ["position.assign", "position.vacate"]
    # assigning the current holder again changes nothing
    before = PositionHolding.objects.count()
    services.position_assign_holder(position=ae, holder=None, by=None)
    assert PositionHolding.objects.count() == before


def test_position_update_audits_only_real_changes():
    ae = make_position(RoleType.AE, title="AE")
    services.position_update(position=ae, title="AE", by=None)
    assert "position.update" not in audit_actions(ae)
    services.position_update(position=ae, title="Senior AE", role=RoleType.TEAM_LEAD, by=None)
    event = AuditEvent.objects.get(action="position.update")
    assert event.changes == {"title": ["AE", "Senior AE"], "role": ["ae", "team_lead"]}
    with pytest.raises(ValidationError):
        services.position_update(position=ae, role="wizard", by=None)


# --- deleting a position -----------------------------------------------------------------------


def test_position_delete_refuses_held_positions_reports_and_records():
    m = make_position(RoleType.SALES_MANAGER)
    with pytest.raises(ValidationError, match="Vacate"):
        services.position_delete(position=m, by=None)
    services.position_assign_holder(position=m, holder=None, by=None)

    ae = make_position(RoleType.AE, reports_to=m, holder=False)
    with pytest.raises(ValidationError, match="Move"):
        services.position_delete(position=m, by=None)
    services.position_move(position=ae, reports_to=None, by=None)

    services.position_add_dotted_line(position=ae, manager=m, by=None)
    with pytest.raises(ValidationError, match="Move"):  # a dotted report counts too
        services.position_delete(position=m, by=None)
    services.position_remove_dotted_line(position=ae, manager=m, by=None)

    for model in SCOPED_MODELS:
        record = model.objects.create(name="r", owner_position=m)
        with pytest.raises(ValidationError, match="Reassign"):
            services.position_delete(position=m, by=None)
        record.delete()

    # Someone once reported to it: their history names it, so it stays (vacant).
    with pytest.raises(ValidationError, match="history"):
        services.position_delete(position=m, by=None)
    assert ReportingLine.objects.filter(manager=m).count() == 2

    spare = make_position(RoleType.AE, holder=False)
    services.position_delete(position=spare, by=None)
    assert not Position.objects.filter(pk=spare.pk).exists()
    assert not PositionClosure.objects.filter(ancestor_id=spare.pk).exists()
    assert not PositionClosure.objects.filter(descendant_id=spare.pk).exists()
    assert AuditEvent.objects.filter(action="position.delete", object_id=spare.pk).exists()


# --- records and people ------------------------------------------------------------------------


def make_records(position, n=2):
    return {
        model: [
            model.objects.create(name=f"{model.__name__}{i}", owner_position=position)
            for i in range(n)
        ]
        for model in SCOPED_MODELS
    }


def test_records_reassign_moves_every_scoped_model_and_audits():
    admin = UserFactory()
    leaving = make_position(RoleType.AE)
    successor = make_position(RoleType.AE)
    bystander = make_position(RoleType.AE)
    make_records(leaving, 2)
    make_records(bystander, 1)

    moved = services.records_reassign(from_position=leaving, to_position=successor, by=admin)

    assert moved == {"scoped_app.Deal": 2, "scoped_app.Prospect": 2, "scoped_app.CoachingNote": 2}
    for model in SCOPED_MODELS:
        assert model.objects.filter(owner_position=leaving).count() == 0
        assert model.objects.filter(owner_position=successor).count() == 2
        assert model.objects.filter(owner_position=bystander).count() == 1
    event = AuditEvent.objects.get(action="position.records_reassign")
    assert event.actor == admin
    assert event.object_id == leaving.pk
    assert event.changes["records_to"] == [None, successor.pk]
    assert event.changes["counts"] == [None, moved]
    with pytest.raises(ValidationError):
        services.records_reassign(from_position=successor, to_position=successor, by=admin)


def offboarding_setup():
    admin = UserFactory()
    leaver = UserFactory()
    p1 = make_position(RoleType.AE, holder=leaver)
    p2 = make_position(RoleType.BDR, holder=leaver)
    successor = make_position(RoleType.AE)
    make_records(p1, 2)
    make_records(p2, 1)
    services.api_token_create(user=leaver, name="laptop")
    services.api_token_create(user=leaver, name="ci")
    return admin, leaver, p1, p2, successor


def test_person_offboard_vacates_moves_revokes_and_deactivates():
    admin, leaver, p1, p2, successor = offboarding_setup()

    result = services.person_offboard(user=leaver, successor=successor, by=admin)

    assert {p.pk for p in result.vacated} == {p1.pk, p2.pk}
    assert result.moved == {
        "scoped_app.Deal": 3,
        "scoped_app.Prospect": 3,
        "scoped_app.CoachingNote": 3,
    }
    assert result.tokens_revoked == 2
    assert not Position.objects.filter(holder=leaver).exists()
    assert not PositionHolding.objects.filter(user=leaver, ended_at__isnull=True).exists()
    for model in SCOPED_MODELS:
        assert model.objects.filter(owner_position=successor).count() == 3
    assert not ApiToken.objects.filter(user=leaver, revoked_at__isnull=True).exists()
    leaver.refresh_from_db()
    assert not leaver.is_active
    assert authenticate(None, username=leaver.email, password=PASSWORD) is None
    actions = audit_actions()
    assert actions.count("position.records_reassign") == 2
    assert actions.count("position.vacate") == 2
    assert "user.deactivate" in actions
    assert all(e.actor == admin for e in AuditEvent.objects.filter(action="user.deactivate"))


def test_person_offboard_refuses_a_successor_the_leaver_holds():
    admin, leaver, _, p2, _ = offboarding_setup()
    with pytest.raises(ValidationError):
        services.person_offboard(user=leaver, successor=p2, by=admin)
    assert Position.objects.filter(holder=leaver).count() == 2


def test_person_offboard_is_one_transaction(monkeypatch):
    """If the last step fails, the earlier ones (records moved, positions vacated, tokens
    revoked) are rolled back too."""
    admin, leaver, _, _, successor = offboarding_setup()

    def snapshot():
        return (
            sorted(Position.objects.values_list("id", "holder_id")),
            sorted(PositionHolding.objects.values_list("id", "ended_at")),
            {m: sorted(m.objects.values_list("id", "owner_position_id")) for m in SCOPED_MODELS},
            sorted(ApiToken.objects.values_list("id", "revoked_at")),
            User.objects.get(pk=leaver.pk).is_active,
            AuditEvent.objects.count(),
        )

    before = snapshot()
    real_record = services.audit_event_record

    def failing_record(**kwargs):
        if kwargs["action"] == "user.deactivate":
            raise RuntimeError("disk full")
        return real_record(**kwargs)

    monkeypatch.setattr(services, "audit_event_record", failing_record)
    with pytest.raises(RuntimeError):
        services.person_offboard(user=leaver, successor=successor, by=admin)
    assert snapshot() == before


# --- API tokens --------------------------------------------------------------------------------


def test_api_token_is_stored_hashed_only():
    user = UserFactory()
    token, raw = services.api_token_create(user=user, name="script")
    assert raw.startswith("rvl_") and len(raw) > 40
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    for value in row.values():
        assert raw not in str(value)
    assert token.digest != raw
    assert raw.startswith(token.prefix)
    assert services.api_token_authenticate(raw=raw) == user
    assert AuditEvent.objects.filter(action="api_token.create", object_id=token.pk).exists()


def test_api_token_authenticate_refuses_unknown_expired_revoked_and_inactive():
    user = UserFactory()
    token, raw = services.api_token_create(user=user, name="script", days=1)
    assert services.api_token_authenticate(raw=raw) == user
    token.refresh_from_db()
    assert token.last_used_at is not None

    assert services.api_token_authenticate(raw=raw + "x") is None
    assert services.api_token_authenticate(raw="rvl_") is None
    assert services.api_token_authenticate(raw=raw.removeprefix("rvl_")) is None
    assert services.api_token_authenticate(raw="") is None

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.api_token_authenticate(raw=raw) is None

    token2, raw2 = services.api_token_create(user=user, name="other")
    services.api_token_revoke(token=token2, by=user)
    assert services.api_token_authenticate(raw=raw2) is None
    assert AuditEvent.objects.filter(action="api_token.revoke", object_id=token2.pk).exists()

    _, raw3 = services.api_token_create(user=user, name="third")
    user.is_active = False
    user.save()
    assert services.api_token_authenticate(raw=raw3) is None


@pytest.mark.parametrize("days", [0, -1, 367])
def test_api_token_lifetime_is_bounded(days):
    with pytest.raises(ValidationError):
        services.api_token_create(user=UserFactory(), name="x", days=days)
    assert not ApiToken.objects.exists()


# --- login -------------------------------------------------------------------------------------


def login(email, password, ip="10.0.0.1"):
    return services.login_authenticate(request=None, email=email, password=password, ip=ip)


def test_login_succeeds_and_records_attempts():
    user = UserFactory(email="ana@example.test")
    assert login("  ANA@example.test ", PASSWORD) == user
    assert login("ana@example.test", "wrong") is None
    attempts = list(LoginAttempt.objects.order_by("id").values_list("email", "succeeded"))
    assert attempts == [("ana@example.test", True), ("ana@example.test", False)]


def test_login_inactive_user_fails():
    UserFactory(email="gone@example.test", is_active=False)
    assert login("gone@example.test", PASSWORD) is None


def test_login_throttled_per_email(settings):
    settings.REVLINE_LOGIN_MAX_FAILURES_PER_EMAIL = 3
    user = UserFactory(email="ana@example.test")
    other = UserFactory(email="bo@example.test")
    for i in range(3):
        assert login("ana@example.test", "wrong", ip=f"10.0.0.{i}") is None
    with pytest.raises(services.LoginThrottled):
        login("ana@example.test", PASSWORD, ip="10.9.9.9")  # even the right password
    assert login("bo@example.test", PASSWORD, ip="10.0.0.1") == other
    # failures older than the window no longer count
    LoginAttempt.objects.update(
        at=timezone.now() - timedelta(seconds=settings.REVLINE_LOGIN_WINDOW_SECONDS + 1)
    )
    assert login("ana@example.test", PASSWORD) == user


def test_login_success_resets_the_email_count(settings):
    settings.REVLINE_LOGIN_MAX_FAILURES_PER_EMAIL = 3
    user = UserFactory(email="ana@example.test")
    for _ in range(2):
        assert login("ana@example.test", "wrong") is None
    assert login("ana@example.test", PASSWORD) == user
    for _ in range(2):
        assert login("ana@example.test", "wrong") is None
    assert login("ana@example.test", PASSWORD) == user  # 4 failures, but 2 since the success
    for _ in range(3):
        assert login("ana@example.test", "wrong") is None
    with pytest.raises(services.LoginThrottled):
        login("ana@example.test", PASSWORD)


def test_login_throttled_per_ip(settings):
    settings.REVLINE_LOGIN_MAX_FAILURES_PER_IP = 4
    UserFactory(email="ana@example.test")
    for i in range(4):
        assert login(f"guess{i}@example.test", "wrong", ip="192.0.2.7") is None
    with pytest.raises(services.LoginThrottled):
        login("ana@example.test", PASSWORD, ip="192.0.2.7")
    assert login("ana@example.test", PASSWORD, ip="192.0.2.8") is not None


# --- passwords ---------------------------------------------------------------------------------


def test_production_password_hasher_is_argon2():
    from revline import settings as production

    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        user = UserFactory(email="argon@example.test")
        user.set_password("a long passphrase, really")
        user.save()
        user.refresh_from_db()
        assert identify_hasher(user.password).algorithm == "argon2"
        assert user.password.startswith("argon2$argon2id$")
        assert check_password("a long passphrase, really", user.password)
        assert not check_password("a long passphrase, reallY", user.password)
        assert login("argon@example.test", "a long passphrase, really") == user


def test_password_changed_audits_and_queues_the_notice(django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.password_changed(user=user)
    assert AuditEvent.objects.filter(action="user.password_change", object_id=user.pk).exists()
    (task,) = DBTaskResult.objects.all()
    assert task.task_path == "revline.org.tasks.send_password_changed_notice"
    assert task.args_kwargs["kwargs"] == {"user_id": user.pk}


# --- the rest of the services: each one audited -------------------------------------------------


def test_every_other_service_writes_an_audit_event():
    admin = UserFactory()
    user = services.user_create(email=" New@Example.test ", full_name="New Person", by=admin)
    assert user.email == "new@example.test"
    with pytest.raises(ValidationError):
        services.user_create(email="new@example.test", full_name="Again", by=admin)
    region = services.region_create(name="North", code="north", by=admin)
    team = services.team_create(name="Hunters", region=region, share_records=True, by=admin)
    template = RoleTemplate.objects.create(role=RoleType.AE, name="AE")
    services.role_template_update(template=template, name="Account Executive", by=admin)
    item = services.responsibility_save(
        template=template, title="Close deals", capability="pipeline.board", by=admin
    )
    services.responsibility_save(
        template=template, title="Close more deals", responsibility=item, by=admin
    )
    services.responsibility_delete(responsibility=item, by=admin)

    events = {(e.action, e.object_id) for e in AuditEvent.objects.filter(actor=admin)}
    assert {
        ("user.create", user.pk),
        ("region.create", region.pk),
        ("team.create", team.pk),
        ("role_template.update", template.pk),
        ("responsibility.create", template.pk),
        ("responsibility.update", template.pk),
        ("responsibility.delete", template.pk),
    } <= events


# --- the closure table itself ------------------------------------------------------------------


def test_closure_rebuild_repairs_the_table_and_is_a_no_op_when_right():
    ceo = make_position(RoleType.CEO)
    vp = make_position(RoleType.VP_SALES, reports_to=ceo)
    ae = make_position(RoleType.AE, reports_to=vp)
    right = set(PositionClosure.objects.values_list("ancestor_id", "descendant_id", "depth"))
    assert right == {
        (ceo.pk, ceo.pk, 0),
        (vp.pk, vp.pk, 0),
        (ae.pk, ae.pk, 0),
        (ceo.pk, vp.pk, 1),
        (vp.pk, ae.pk, 1),
        (ceo.pk, ae.pk, 2),
    }
    assert services.closure_rebuild() == 0
    PositionClosure.objects.filter(ancestor=ceo, descendant=ae).delete()
    PositionClosure.objects.filter(ancestor=vp, descendant=ae).update(depth=5)
    PositionClosure.objects.create(ancestor=ae, descendant=ceo, depth=1)
    # 1 missing row, 1 wrong depth (deleted and written again), 1 that should not be there
    assert services.closure_rebuild() == 4
    assert (
        set(PositionClosure.objects.values_list("ancestor_id", "descendant_id", "depth")) == right
    )


def test_shares_survive_records_reassign():
    """An explicit share is about the record, not its owner: it stays after a reassignment."""
    a, b, c = (make_position(RoleType.AE) for _ in range(3))
    deal = Deal.objects.create(name="d", owner_position=a)
    from django.contrib.contenttypes.models import ContentType

    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Deal), object_id=deal.pk, position=c
    )
    services.records_reassign(from_position=a, to_position=b, by=None)
    assert list(Deal.objects.visible_to(c.holder)) == [deal]
    assert list(Deal.objects.visible_to(b.holder)) == [deal]
    assert list(Deal.objects.visible_to(a.holder)) == []


# --- rules the services enforce for every caller (web form and API alike) -----------------------


def test_user_create_validates_the_password():
    with pytest.raises(ValidationError) as error:
        services.user_create(email="new@example.test", full_name="New", password="123", by=None)
    assert "password" in error.value.message_dict
    assert not User.objects.filter(email="new@example.test").exists()
    user = services.user_create(
        email="new@example.test", full_name="New", password="a sound passphrase", by=None
    )
    assert user.check_password("a sound passphrase")


def test_offboarding_yourself_is_refused(org):
    admin = org["revops"].holder
    with pytest.raises(ValidationError, match="yourself"):
        services.person_offboard(user=admin, successor=org["cro"], by=admin)
    admin.refresh_from_db()
    assert admin.is_active


def test_a_deactivated_login_gets_no_position():
    gone = UserFactory(is_active=False)
    position = make_position(RoleType.AE, holder=False)
    with pytest.raises(ValidationError):
        services.position_assign_holder(position=position, holder=gone, by=None)
    position.refresh_from_db()
    assert position.holder_id is None


def test_offboarding_audits_the_token_revocation(org):
    leaver = org["ae1"].holder
    services.api_token_create(user=leaver, name="script")
    services.person_offboard(user=leaver, successor=org["ae2"], by=org["revops"].holder)
    event = AuditEvent.objects.get(action="user.tokens_revoke", object_id=leaver.pk)
    assert event.changes == {"tokens": [1, 0]}


def test_join_team_never_leaves_a_position_without_a_team(org):
    from tests.org.factories import TeamFactory

    team = TeamFactory()
    Position.objects.filter(pk=org["m1"].pk).update(team=team)
    # The VP has no team: moving the manager under another VP keeps the manager's team.
    services.position_move(position=org["m1"], reports_to=org["cso"], by=None, join_team=True)
    org["m1"].refresh_from_db()
    assert org["m1"].team_id == team.pk
