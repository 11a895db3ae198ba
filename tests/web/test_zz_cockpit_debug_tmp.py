import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.web.test_cockpit_numbers import *  # noqa

def qs(client, position):
    client.force_login(position.holder)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/", {"period": Q})
    return [q["sql"] for q in ctx.captured_queries]

def test_debug(client, world):
    a = qs(client, world["cs"])
    deal(world["ae1"], "1001", "2025-04-11", "2025-05-11", won=False)
    b0 = qs(client, world["cs"]); print("after lost", len(b0))
    rep = make_position(RoleType.AE, reports_to=world["m1"], region=world["m1"].region)
    b1 = qs(client, world["cs"]); print("after rep", len(b1))
    deal(rep, "1500", "2025-04-20", "2025-05-20")
    b = qs(client, world["cs"])
    import difflib
    print(len(a), len(b))
    for l in difflib.unified_diff([x[:250] for x in a], [x[:250] for x in b], lineterm=""):
        print(l)
    assert 0
