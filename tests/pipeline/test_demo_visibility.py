"""Who sees which Maven opportunity once ``revline demo`` has loaded them: an agent exactly their
own rows of the file, a manager exactly those of their agents, the CSO all 8,800; a peer's deal
is invisible, and answers 404 in the web and the API.

The demo is loaded once for the module (``demo``) inside a transaction rolled back at the end;
each test runs in a savepoint of it.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

import revline
from revline.org import services as org_services
from revline.org.choices import RoleType
from revline.org.demo import demo_email
from revline.org.models import Position, User
from revline.org.visibility import can
from revline.pipeline.models import Opportunity

pytestmark = pytest.mark.django_db

MAVEN = Path(revline.__file__).parent / "demo_data" / "maven_crm"


def maven(name: str) -> list[dict[str, str]]:
    with (MAVEN / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def rows_by_agent() -> dict[str, set[str]]:
    rows = defaultdict(set)
    for row in maven("sales_pipeline.csv"):
        rows[row["sales_agent"]].add(row["opportunity_id"])
    return dict(rows)


@pytest.fixture(scope="module")
def teams() -> dict[str, list[str]]:
    agents = defaultdict(list)
    for row in maven("sales_teams.csv"):
        agents[row["manager"]].append(row["sales_agent"])
    return agents


def user(name: str) -> User:
    return User.objects.get(email=demo_email(name))


def maven_ids_visible_to(who: User, action: str = "view") -> set[str]:
    """The Maven opportunities (not the generated renewals) ``who`` sees."""
    return set(
        Opportunity.objects.visible_to(who, action)
        .filter(is_generated=False)
        .values_list("external_id", flat=True)
    )


@pytest.mark.parametrize(
    "agent", ["Darcel Schlecht", "Anna Snelling", "Violet Mclelland", "Hayden Neloms"]
)
def test_an_agent_sees_exactly_their_own_rows(demo, rows_by_agent, agent):
    who = user(agent)
    mine = maven_ids_visible_to(who)
    assert mine == rows_by_agent[agent]
    assert mine  # every one of these agents has deals
    assert maven_ids_visible_to(who, "change") == mine
    # The renewals generated for their deals are theirs too, and nothing else is.
    position = Position.objects.get(holder=who, role=RoleType.AE)
    assert set(Opportunity.objects.visible_to(who).values_list("owner_position_id", flat=True)) == {
        position.pk
    }


def test_an_agent_without_deals_sees_none(demo, rows_by_agent):
    idle = sorted({r["sales_agent"] for r in maven("sales_teams.csv")} - set(rows_by_agent))
    assert len(idle) == 5
    assert "Mei-Mei Johns" in idle
    for agent in idle:
        assert not Opportunity.objects.visible_to(user(agent)).exists()


@pytest.mark.parametrize("manager", ["Dustin Brinkmann", "Cara Losch", "Summer Sewald"])
def test_a_manager_sees_exactly_their_agents_rows(demo, rows_by_agent, teams, manager):
    expected = set().union(*(rows_by_agent.get(a, set()) for a in teams[manager]))
    who = user(manager)
    assert maven_ids_visible_to(who) == expected
    assert maven_ids_visible_to(who, "change") == expected


def test_a_vp_sees_their_region_and_the_cso_everything(demo, rows_by_agent):
    region = {r["sales_agent"]: r["regional_office"] for r in maven("sales_teams.csv")}
    vp = Position.objects.get(role=RoleType.VP_SALES, region__name="West").holder
    assert maven_ids_visible_to(vp) == {
        oid for agent, ids in rows_by_agent.items() if region[agent] == "West" for oid in ids
    }
    cso = Position.objects.get(role=RoleType.CSO).holder
    assert len(maven_ids_visible_to(cso)) == 8800
    assert Opportunity.objects.visible_to(cso).count() == Opportunity.objects.count()


@pytest.fixture
def peers(demo):
    """Two agents under the same manager, and a deal of the second one."""
    me, peer = user("Anna Snelling"), user("Cecily Lampkin")
    deal = Opportunity.objects.filter(owner_position__holder=peer, is_generated=False).order_by(
        "external_id"
    )[0]
    return me, peer, deal


def test_a_peers_opportunity_is_invisible(peers):
    me, peer, deal = peers
    assert can(peer, "view", deal)
    assert not can(me, "view", deal)
    assert not can(me, "change", deal)
    assert not Opportunity.objects.visible_to(me).filter(pk=deal.pk).exists()
    assert can(user("Dustin Brinkmann"), "change", deal)  # their manager
    assert not can(user("Melvin Marxen"), "view", deal)  # another manager

    from revline.pipeline.selectors import opportunity_get

    assert opportunity_get(user=peer, pk=deal.pk) == deal
    with pytest.raises(Opportunity.DoesNotExist):
        opportunity_get(user=me, pk=deal.pk)


def test_a_peers_opportunity_answers_404_on_the_web(peers):
    me, peer, deal = peers
    try:
        url = reverse("web:opportunity_detail", args=[deal.pk])
    except NoReverseMatch:  # pragma: no cover - the page is not there yet
        pytest.skip("no opportunity page yet")
    client = Client()
    client.force_login(peer)
    assert client.get(url).status_code == 200
    client.force_login(me)
    assert client.get(url).status_code == 404


def test_a_peers_opportunity_answers_404_in_the_api(peers):
    me, peer, deal = peers
    path = f"/api/v1/opportunities/{deal.pk}"
    try:
        resolve(path)
    except Resolver404:  # pragma: no cover - the endpoint is not there yet
        pytest.skip("no opportunity endpoint yet")

    def get(who):
        _, raw = org_services.api_token_create(user=who, name="demo visibility test")
        return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = get(peer)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["external_id"] == deal.external_id
    response = get(me)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
