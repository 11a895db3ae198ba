import pytest
from django.contrib.auth.models import AnonymousUser

from revline.org import services
from revline.org.models import Position
from tests.scoped_app.models import Deal, Prospect

pytestmark = pytest.mark.django_db


def seen(user, model=Deal, action="view"):
    return set(model.objects.visible_to(user, action).values_list("name", flat=True))


def test_owner_and_managers_see_record_peers_do_not(org):
    Deal.objects.create(name="d1", owner_position=org["ae1"])
    assert seen(org["ae1"].holder) == {"d1"}
    assert seen(org["m1"].holder) == {"d1"}
    assert seen(org["vp"].holder) == {"d1"}
    assert seen(org["cro"].holder) == {"d1"}  # dotted line and org-wide revenue
    assert seen(org["ae2"].holder) == set()  # peer
    assert seen(org["m2"].holder) == set()  # other manager
    assert seen(AnonymousUser()) == set()


def test_move_subtree_is_reflected_at_once(org):
    Deal.objects.create(name="d1", owner_position=org["ae1"])
    services.position_move(position=org["m1"], reports_to=org["m2"], by=None)
    assert seen(org["m2"].holder) == {"d1"}
    with pytest.raises(Exception):
        services.position_move(position=org["m2"], reports_to=org["ae1"], by=None)


def test_positions_visibility(org):
    ae = org["ae1"].holder
    visible = set(Position.objects.visible_to(ae).values_list("title", flat=True))
    assert visible == {"AE 1a", "Manager 1", "VP East", "CSO", "CRO", "CEO"}
    assert Position.objects.visible_to(org["cso"].holder).count() == Position.objects.count()
    assert not Position.objects.visible_to(ae, "change").exists()
    assert (
        Position.objects.visible_to(org["revops"].holder, "change").count()
        == Position.objects.count()
    )


def test_marketing_sees_leads_not_deals(org):
    Deal.objects.create(name="d1", owner_position=org["ae1"])
    Prospect.objects.create(name="p1", owner_position=org["ae1"])
    assert seen(org["mkt"].holder) == set()
    assert seen(org["mkt"].holder, Prospect) == {"p1"}
    assert seen(org["mkt"].holder, Prospect, "change") == set()
