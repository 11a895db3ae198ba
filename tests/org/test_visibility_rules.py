"""Each visibility rule on its own, with its forbidden path (the property test covers their
combinations): shares, teams, org-wide roles by domain, inactive and anonymous callers,
superusers, vacancies, several positions, and the one-query promise."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import Position, RecordShare
from revline.org.visibility import can
from tests.org.factories import TeamFactory, UserFactory, make_position
from tests.scoped_app.models import CoachingNote, Deal, Prospect

pytestmark = pytest.mark.django_db


def names(user, model=Deal, action="view"):
    return set(model.objects.visible_to(user, action).values_list("name", flat=True))


def share(record, position, access):
    return RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(type(record)),
        object_id=record.pk,
        position=position,
        access=access,
    )


def test_unknown_action_is_an_error(org):
    with pytest.raises(ValueError):
        Deal.objects.visible_to(org["ae1"].holder, "delete")


def test_owner_and_every_manager_above_may_edit_peers_and_others_may_not(org):
    Deal.objects.create(name="d", owner_position=org["ae1"])
    for key in ("ae1", "m1", "vp", "cso", "ceo"):
        assert names(org[key].holder, action="view") == {"d"}, key
    for key in ("ae1", "m1", "vp", "cso"):
        assert names(org[key].holder, action="change") == {"d"}, key
    # the CRO manages the VP by a dotted line: sees and edits through the hierarchy
    assert names(org["cro"].holder, action="change") == {"d"}
    for key in ("ae2", "ae3", "ae4", "m2", "mkt"):
        assert names(org[key].holder, action="view") == set(), key
        assert names(org[key].holder, action="change") == set(), key


def test_dotted_line_alone_gives_the_hierarchy_rule():
    """A sales manager (no org-wide role) with a dotted report sees that report's records."""
    m1 = make_position(RoleType.SALES_MANAGER)
    m2 = make_position(RoleType.SALES_MANAGER)
    ae = make_position(RoleType.AE, reports_to=m1)
    Prospect.objects.create(name="p", owner_position=ae)
    assert names(m2.holder, Prospect) == set()
    services.position_add_dotted_line(position=ae, manager=m2, by=None)
    assert names(m2.holder, Prospect, "change") == {"p"}
    services.position_remove_dotted_line(position=ae, manager=m2, by=None)
    assert names(m2.holder, Prospect) == set()


def test_view_share_lets_view_not_edit_change_share_both(org):
    deal = Deal.objects.create(name="d", owner_position=org["ae1"])
    share(deal, org["ae3"], "view")
    share(deal, org["ae4"], "change")
    assert names(org["ae3"].holder) == {"d"}
    assert names(org["ae3"].holder, action="change") == set()
    assert names(org["ae4"].holder, action="change") == {"d"}
    # a share is for that one record, and that model only
    Deal.objects.create(name="other", owner_position=org["ae1"])
    CoachingNote.objects.create(pk=deal.pk, name="same id", owner_position=org["ae1"])
    assert names(org["ae4"].holder) == {"d"}
    assert names(org["ae4"].holder, CoachingNote) == set()
    # the share goes with the position: the next holder has it, the previous one not
    before = org["ae3"].holder
    services.position_assign_holder(position=org["ae3"], holder=UserFactory(), by=None)
    assert names(before) == set()


def test_team_sharing_gives_view_only_and_only_when_switched_on():
    team = TeamFactory(share_records=False)
    a = make_position(RoleType.AE, team=team)
    b = make_position(RoleType.AE, team=team)
    outsider = make_position(RoleType.AE)
    Deal.objects.create(name="a's", owner_position=a)
    assert names(b.holder) == set()
    team.share_records = True
    team.save()
    assert names(b.holder) == {"a's"}
    assert names(b.holder, action="change") == set()
    assert names(outsider.holder) == set()


@pytest.mark.parametrize(
    ("role", "deal", "prospect", "note"),
    [
        # what each org-wide role sees of records it has no hierarchy path to: view / change
        (RoleType.REVOPS, "vc", "vc", "vc"),
        (RoleType.CEO, "v", "v", "v"),
        (RoleType.CSO, "v", "v", ""),
        (RoleType.CRO, "v", "v", ""),
        (RoleType.MARKETING, "", "v", ""),
        (RoleType.CUSTOMER_SUCCESS, "", "", ""),
        (RoleType.VP_SALES, "", "", ""),
        (RoleType.SDR, "", "", ""),
    ],
)
def test_org_wide_roles_by_domain(role, deal, prospect, note):
    owner = make_position(RoleType.AE)
    viewer = make_position(role).holder
    for model, expected in ((Deal, deal), (Prospect, prospect), (CoachingNote, note)):
        record = model.objects.create(name="r", owner_position=owner)
        assert bool(names(viewer, model, "view")) == ("v" in expected), model
        assert bool(names(viewer, model, "change")) == ("c" in expected), model
        assert can(viewer, "view", record) == ("v" in expected)
        assert can(viewer, "change", record) == ("c" in expected)


def test_inactive_anonymous_and_none_see_nothing_superusers_everything(org):
    Deal.objects.create(name="d", owner_position=org["ae1"])
    manager = org["m1"].holder
    manager.is_active = False
    manager.save()
    assert names(manager) == set()
    assert not Position.objects.visible_to(manager).exists()
    assert names(AnonymousUser()) == set()
    assert not Deal.objects.visible_to(None).exists()
    root = UserFactory(is_superuser=True, is_staff=True)
    assert names(root, action="change") == {"d"}
    assert Position.objects.visible_to(root, "change").count() == Position.objects.count()
    root.is_active = False
    root.save()
    assert names(root) == set()


def test_vacant_position_records_stay_visible_above_and_a_person_sees_all_their_seats(org):
    deal = Deal.objects.create(name="d", owner_position=org["ae1"])
    note = CoachingNote.objects.create(name="n", owner_position=org["ae3"])
    services.position_assign_holder(position=org["ae1"], holder=None, by=None)
    assert names(org["m1"].holder) == {"d"}
    # one person holding two seats sees what each seat sees
    person = org["ae2"].holder
    services.position_assign_holder(position=org["ae3"], holder=person, by=None)
    assert names(person, CoachingNote) == {"n"}
    assert names(person) == set()
    services.position_assign_holder(position=org["ae1"], holder=person, by=None)
    assert names(person) == {"d"}
    assert can(person, "change", deal) and can(person, "change", note)


def test_org_chart_visibility():
    team = TeamFactory()
    ceo = make_position(RoleType.CEO)
    vp = make_position(RoleType.VP_SALES, reports_to=ceo)
    m1 = make_position(RoleType.SALES_MANAGER, reports_to=vp, team=team)
    m2 = make_position(RoleType.SALES_MANAGER, reports_to=vp)
    ae1 = make_position(RoleType.AE, reports_to=m1)
    ae2 = make_position(RoleType.AE, reports_to=m2, team=team)  # team-mate of m1
    cs = make_position(RoleType.CUSTOMER_SUCCESS, reports_to=ceo)

    def seen(position, action="view"):
        return set(Position.objects.visible_to(position.holder, action))

    assert seen(m1) == {ceo, vp, m1, ae1, ae2}  # chain up, reports down, team-mate
    assert seen(ae1) == {ceo, vp, m1, ae1}
    assert seen(cs) == {ceo, cs}
    assert seen(ceo) == set(Position.objects.all())
    for position in (ceo, vp, m1, ae1):
        assert seen(position, "change") == set()
    revops = make_position(RoleType.REVOPS)
    assert seen(revops, "change") == set(Position.objects.all())
    assert can(m1.holder, "view", ae2) and not can(m1.holder, "view", m2)
    assert not can(m1.holder, "change", ae1)


def test_visible_to_is_one_query_at_any_depth():
    top = make_position(RoleType.VP_SALES)
    chain = [top]
    for _ in range(8):
        chain.append(make_position(RoleType.SALES_MANAGER, reports_to=chain[-1]))
    for position in chain:
        Deal.objects.create(name=str(position.pk), owner_position=position)
    user = top.holder
    list(Deal.objects.visible_to(user))  # warm the content-type cache
    with CaptureQueriesContext(connection) as ctx:
        assert len(list(Deal.objects.visible_to(user, "change"))) == 9
        assert len(list(Position.objects.visible_to(user))) == 9
    assert len(ctx.captured_queries) == 2
