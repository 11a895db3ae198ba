import pytest

from revline.org.choices import RoleType
from tests.org.factories import make_position


@pytest.fixture
def org(db):
    """A small sales org: CEO -> CSO -> VP -> two managers with two AEs each; CRO dotted over
    the VP; a RevOps admin. Returned as a dict of positions by name."""
    ceo = make_position(RoleType.CEO, title="CEO")
    cso = make_position(RoleType.CSO, reports_to=ceo, title="CSO")
    cro = make_position(RoleType.CRO, reports_to=ceo, title="CRO")
    revops = make_position(RoleType.REVOPS, reports_to=cro, title="RevOps")
    vp = make_position(RoleType.VP_SALES, reports_to=cso, title="VP East")
    from revline.org import services

    services.position_add_dotted_line(position=vp, manager=cro, by=None)
    m1 = make_position(RoleType.SALES_MANAGER, reports_to=vp, title="Manager 1")
    m2 = make_position(RoleType.SALES_MANAGER, reports_to=vp, title="Manager 2")
    ae1 = make_position(RoleType.AE, reports_to=m1, title="AE 1a")
    ae2 = make_position(RoleType.AE, reports_to=m1, title="AE 1b")
    ae3 = make_position(RoleType.AE, reports_to=m2, title="AE 2a")
    ae4 = make_position(RoleType.AE, reports_to=m2, title="AE 2b")
    mkt = make_position(RoleType.MARKETING, reports_to=cro, title="Marketing")
    return {
        "ceo": ceo,
        "cso": cso,
        "cro": cro,
        "revops": revops,
        "vp": vp,
        "m1": m1,
        "m2": m2,
        "ae1": ae1,
        "ae2": ae2,
        "ae3": ae3,
        "ae4": ae4,
        "mkt": mkt,
    }


@pytest.fixture
def sales_org(org):
    """``org`` plus the hand-off roles under Manager 1: a BDR, an SDR and a Customer Success rep;
    and the default pipeline with its stages."""
    from revline.pipeline.services import pipeline_ensure_default

    org["bdr"] = make_position(RoleType.BDR, reports_to=org["m1"], title="BDR 1")
    org["sdr"] = make_position(RoleType.SDR, reports_to=org["m1"], title="SDR 1")
    org["cs"] = make_position(RoleType.CUSTOMER_SUCCESS, reports_to=org["vp"], title="CS 1")
    org["pipeline"] = pipeline_ensure_default()
    return org
