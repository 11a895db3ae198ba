"""A real sales manager, set up from the default role templates, finds lead scoring in the
sidebar and sees the score distribution and how scored leads converted for their team's leads
only; a peer team's leads are neither counted nor reachable."""

import pytest
from django.test import Client
from django.urls import reverse

from revline.org.demo import role_templates_install
from revline.org.role_catalog import DEFAULT_ROLE_TEMPLATES
from revline.scoring import selectors, services
from revline.scoring.synthetic import generate_leads
from tests.api.conftest import ApiClient, assert_error, token_for


@pytest.fixture
def teams(org, admin):
    role_templates_install()
    services.icp_rule_save(
        by=admin, name="Software", field="sector", operator="eq", value="Software", weight=50
    )
    team_a, _ = generate_leads(n=30, owner=org["ae1"], source_name="m", seed=61)
    team_b, _ = generate_leads(n=20, owner=org["ae2"], source_name="m", seed=62)
    open_team, _ = generate_leads(n=5, owner=org["ae1"], source_name="m", seed=63, labelled=False)
    peer, _ = generate_leads(n=25, owner=org["ae3"], source_name="m", seed=64)
    services.leads_score()
    return {
        "team": {*team_a.tolist(), *team_b.tolist(), *open_team.tolist()},
        "peer": set(peer.tolist()),
    }


@pytest.mark.parametrize("role", ["sales_manager", "revops"])
def test_the_role_templates_link_lead_scoring(role):
    capabilities = [item[2] for item in DEFAULT_ROLE_TEMPLATES[role][2]]
    assert "scoring.leads" in capabilities


def test_a_manager_sees_scores_and_conversion_of_their_team_only(org, teams):
    manager = org["m1"].holder
    web = Client()
    web.force_login(manager)
    home = web.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("web:scoring")}"' in home  # the sidebar, from the role template

    page = web.get(reverse("web:scoring"), {"source": "m"})
    assert page.status_code == 200
    distribution = page.context["distribution"]
    assert distribution["scored"] == len(teams["team"]) == 55
    assert sum(t["closed"] for t in distribution["tiers"]) == 50  # the open ones have no outcome
    assert sum(b["leads"] for b in page.context["bands"]) == 55
    assert page.context["may_read_models"] is True

    api = ApiClient(token_for(manager))
    body = api.get("/scoring/distribution", {"source": "m"}).json()
    assert body["scored"] == 55 and body == selectors.score_distribution(manager, source_name="m")

    # the peer team's leads: not counted, and answered 404
    peer_lead = next(iter(teams["peer"]))
    assert web.get(reverse("web:lead_detail", args=[peer_lead])).status_code == 404
    assert web.get(reverse("web:lead_score_explain", args=[peer_lead])).status_code == 404
    assert_error(api.get(f"/scoring/leads/{peer_lead}"), 404, "not_found")
    peer = selectors.score_distribution(org["m2"].holder, source_name="m")
    assert peer["scored"] == 25
    everyone = selectors.score_distribution(org["cso"].holder, source_name="m")
    assert everyone["scored"] == 80
