import pytest

from revline.org import services as org_services
from revline.org.models import Region, Team


@pytest.fixture
def plan_org(sales_org):
    """``sales_org`` with regions and teams: the VP heads region East; Manager 1's team (East:
    One) holds AE 1a and 1b, Manager 2's (East: Two) AE 2a and 2b; a second VP (West) with a
    manager and an AE of their own, in region West."""
    from revline.org.choices import RoleType
    from tests.org.factories import make_position

    org = sales_org
    east = Region.objects.create(name="East", code="east")
    west = Region.objects.create(name="West", code="west")
    one = Team.objects.create(name="East: One", region=east)
    two = Team.objects.create(name="East: Two", region=east)
    org["vp"].region = east
    org["vp"].save(update_fields=["region"])
    for key, team in (
        ("m1", one),
        ("ae1", one),
        ("ae2", one),
        ("m2", two),
        ("ae3", two),
        ("ae4", two),
    ):
        org[key].team = team
        org[key].region = east
        org[key].save(update_fields=["team", "region"])
    west_team = Team.objects.create(name="West: Three", region=west)
    org["vp_w"] = make_position(
        RoleType.VP_SALES, reports_to=org["cso"], title="VP West", region=west
    )
    org_services.position_add_dotted_line(position=org["vp_w"], manager=org["cro"], by=None)
    org["m3"] = make_position(
        RoleType.SALES_MANAGER,
        reports_to=org["vp_w"],
        title="Manager 3",
        region=west,
        team=west_team,
    )
    org["ae5"] = make_position(
        RoleType.AE, reports_to=org["m3"], title="AE 3a", region=west, team=west_team
    )
    org.update(east=east, west=west, one=one, two=two, three=west_team)
    return org
