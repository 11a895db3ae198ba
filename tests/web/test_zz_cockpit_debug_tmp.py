from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.web.test_cockpit_numbers import *  # noqa

def test_debug(client, world):
    for who in ("m1",):
        client.force_login(world[who].holder)
        client.get("/", {"period": Q})
        with CaptureQueriesContext(connection) as ctx:
            client.get("/", {"period": Q})
        print(who, len(ctx.captured_queries))
        for q in ctx.captured_queries:
            print("  ", q["sql"][:150])
    assert 0
