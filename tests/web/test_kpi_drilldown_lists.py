"""Drill-downs of win/loss by competitor, stage-to-stage conversion, net revenue retention and
prospects added: the web list a number links to (and its CSV export) holds exactly the records
the value counts, for two roles; someone following another's link sees only their own."""

from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import urlparse

import pytest
from django.urls import reverse

from revline.analytics import kpis
from revline.analytics.api import LIST_URLS
from revline.crm import services as crm
from revline.crm.models import ProspectListMember
from revline.web import cockpits
from tests.analytics.helpers import at, deal, grow
from tests.crm.factories import make_account, make_lead

pytestmark = pytest.mark.django_db

START, END = dt.date(2026, 2, 1), dt.date(2026, 2, 28)
KEYS = ("competitor_win_loss", "net_revenue_retention", "prospects_added")
EXPORTS = {
    "opportunities": "web:opportunities_export",
    "accounts": "web:accounts_export",
    "prospects": "web:prospects_export",
}


@pytest.fixture
def world(sales_org):
    """``grow``'s February 2026 deals (with competitors and stage moves) and prospects; recurring
    deals won in the base year of NRR (March 2024 - February 2025) and since, for AE 1a and
    AE 2a; a recurring deal won before the base year; a lead put on two lists in February and
    a third in March."""
    org = sales_org
    grow(org, 3)
    for ae, n in ((org["ae1"], 2), (org["ae3"], 1)):
        for i in range(n):
            account = make_account(ae, name=f"Customer {ae.pk} {i}")
            deal(ae, created="2024-05-01", closed=f"2024-06-1{i}", account=account,
                 term_months=12)  # fmt: skip
            deal(ae, created="2025-05-01", closed="2025-06-10", account=account, term_months=12)
    old = make_account(org["ae1"], name="Lapsed customer")
    deal(org["ae1"], created="2023-05-01", closed="2023-06-10", account=old, term_months=12)
    deal(org["ae1"], created="2024-05-01", closed="2024-06-10", account=old)  # not recurring
    lead = make_lead(org["bdr"], at=at("2026-02-03"))
    for name in ("Retail", "Wholesale", "Later"):
        plist = crm.prospect_list_create(by=None, name=name, owner_position=org["bdr"])
        crm.prospect_list_add(prospect_list=plist, leads=[lead], by=None)
    # Memberships are stamped when added: place them in February, the last one in March.
    ProspectListMember.objects.update(added_at=at("2026-02-12"))
    ProspectListMember.objects.filter(prospect_list=plist).update(added_at=at("2026-03-02"))
    return org


def compute(position, scope=None, keys=KEYS) -> dict[str, kpis.KpiValue]:
    values = kpis.compute(
        user=position.holder,
        keys=list(keys),
        start=START,
        end=END,
        position_id=scope.pk if scope is not None else None,
    )
    return {v.key: v for v in values}


def listed(client, position, value: kpis.KpiValue) -> int:
    url = cockpits.list_url(value)
    assert url, f"{value.key} has no drill-down"
    client.force_login(position.holder)
    response = client.get(url)
    assert response.status_code == 200, url
    page = response.context["page"]
    if hasattr(page, "paginator"):
        return page.paginator.count
    return len(list(response.context["state"].queryset(position.holder)))


def exported(client, position, value: kpis.KpiValue) -> list[dict[str, str]]:
    url = urlparse(cockpits.list_url(value))
    client.force_login(position.holder)
    response = client.get(f"{reverse(EXPORTS[value.drilldown_list])}?{url.query}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("who, scope", [("cso", None), ("vp", "vp"), ("m1", "m1"), ("ae1", "ae1")])
def test_each_drills_to_exactly_its_records(client, world, who, scope):
    position = world[who]
    values = compute(position, world[scope] if scope else None)
    for key in KEYS:
        value = values[key]
        want = value.count
        assert listed(client, position, value) == want, (who, key, value.drilldown)
        assert len(exported(client, position, value)) == want, (who, key)
    if who == "cso":
        assert values["net_revenue_retention"].count == 3
        assert values["prospects_added"].count == 5  # grow's 3, and one lead on two lists
        assert values["competitor_win_loss"].count == 3


def test_the_lists_are_the_expected_ones(world):
    values = compute(world["cso"], keys=(*KEYS, "stage_conversion"))
    assert values["net_revenue_retention"].drilldown_list == "accounts"
    assert values["net_revenue_retention"].drilldown == {
        "recurring_won_from": "2024-02-29",
        "recurring_won_to": "2025-02-28",
    }
    assert values["prospects_added"].drilldown == {
        "added_from": "2026-02-01",
        "added_to": "2026-02-28",
    }
    assert values["competitor_win_loss"].drilldown["has_competitor"] == "1"
    assert values["stage_conversion"].drilldown == {
        "entered_from": "2026-02-01",
        "entered_to": "2026-02-28",
    }
    for value in values.values():
        assert cockpits.list_url(value)
        assert value.drilldown_list in LIST_URLS


@pytest.mark.parametrize("who, scope", [("cso", None), ("vp", "vp")])
def test_breakdown_rows_drill_to_their_records(client, world, who, scope):
    position = world[who]
    for key, by in (
        ("net_revenue_retention", "position"),
        ("net_revenue_retention", "report"),
        ("prospects_added", "position"),
        ("competitor_win_loss", "competitor"),
        ("competitor_win_loss", "position"),
    ):
        if by == "report" and scope is None:
            continue  # a breakdown by report needs a position
        result = kpis.breakdown(
            user=position.holder,
            key=key,
            by=by,
            start=START,
            end=END,
            position_id=world[scope].pk if scope else None,
        )
        rows = [r for r in result.rows if r.group not in (None, "")]
        assert rows, (key, by)
        for row in rows:
            assert listed(client, position, row) == row.count, (key, by, row.drilldown)


def test_stage_rows_list_the_deals_that_entered_them(client, world):
    cso = world["cso"]
    result = kpis.breakdown(user=cso.holder, key="stage_conversion", by="stage", start=START,
                            end=END)  # fmt: skip
    assert result.rows
    for row in result.rows:
        assert listed(client, cso, row) == row.count == len(exported(client, cso, row))
    # The total counts entries: a deal moved through two stages is one row of its list.
    assert 0 < listed(client, cso, result.total) < result.total.count


def test_a_rep_following_a_managers_link_sees_only_their_own(client, world):
    vp = compute(world["vp"], world["vp"])
    ae1 = compute(world["ae1"], world["ae1"])
    for key in KEYS:
        if key == "prospects_added":
            continue  # the BDR's lists: the AE owns none
        assert listed(client, world["ae1"], vp[key]) == ae1[key].count < vp[key].count, key
        assert len(exported(client, world["ae1"], vp[key])) == ae1[key].count, key


def test_a_peer_following_a_reps_link_sees_nothing(client, world):
    ae1 = compute(world["ae1"], world["ae1"])
    assert ae1["net_revenue_retention"].count == 2 and ae1["competitor_win_loss"].count
    bdr = compute(world["bdr"])
    assert bdr["prospects_added"].count == 5
    for key in ("net_revenue_retention", "competitor_win_loss"):
        assert listed(client, world["ae2"], ae1[key]) == 0, key
        assert exported(client, world["ae2"], ae1[key]) == [], key
    assert listed(client, world["ae1"], bdr["prospects_added"]) == 0
    assert exported(client, world["ae1"], bdr["prospects_added"]) == []


def test_the_prospects_list_needs_a_login(client):
    for name in ("web:prospects", "web:prospects_export"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_prospects_lists_queries_do_not_grow_with_its_rows(client, sales_org):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org = sales_org
    client.force_login(org["bdr"].holder)
    url = reverse("web:prospects") + "?added_from=2026-01-01&added_to=2026-12-31"
    counts = []
    for n in (1, 6):
        plist = crm.prospect_list_create(by=None, name=f"List {n}", owner_position=org["bdr"])
        leads = [make_lead(org["bdr"], at=at("2026-02-03")) for _ in range(n)]
        crm.prospect_list_add(prospect_list=plist, leads=leads, by=None)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
