"""The org chart and the position page: what each user sees, search, and query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import Position, Responsibility, RoleTemplate
from tests.org.factories import RegionFactory, TeamFactory, UserFactory, make_position

pytestmark = pytest.mark.django_db

CHART = reverse("web:org_chart")


def detail(position: Position) -> str:
    return reverse("web:position_detail", args=[position.pk])


def as_user(client, position_or_user):
    user = getattr(position_or_user, "holder", position_or_user)
    client.force_login(user)
    return client


def node(position: Position) -> str:
    return f'id="pos-{position.pk}"'


def name_holders(org) -> None:
    """Give every holder a distinctive name, so that page text tests cannot hit by accident."""
    for key, position in org.items():
        position.holder.full_name = f"Holder {key.upper()} Zq"
        position.holder.save(update_fields=["full_name"])


def chart_rows(response):
    return [row for row in response.context["rows"] if row.kind == "node"]


# --- the chart --------------------------------------------------------------------------------


def test_chart_requires_login(client):
    response = client.get(CHART)
    assert response.status_code == 302
    assert reverse("web:login") in response["Location"]


def test_chart_for_cso_shows_everyone(client, org):
    name_holders(org)
    response = as_user(client, org["cso"]).get(CHART)
    assert response.status_code == 200
    html = response.content.decode()
    for key, position in org.items():
        assert node(position) in html, key
        assert f"Holder {key.upper()} Zq" in html
    rows = chart_rows(response)
    assert len(rows) == len(org)
    ceo = next(r for r in rows if r.position == org["ceo"])
    assert ceo.reports == 2  # CSO and CRO
    assert ceo.team_size == len(org) - 1
    assert response.context["total"] == len(org)


def test_chart_for_ae_shows_only_chain_up_and_self(client, org):
    name_holders(org)
    response = as_user(client, org["ae1"]).get(CHART)
    html = response.content.decode()
    for key in ("ae1", "m1", "vp", "cso", "cro", "ceo"):
        assert node(org[key]) in html, key
    for key in ("ae2", "ae3", "ae4", "m2", "mkt", "revops"):
        assert node(org[key]) not in html, key
        assert f"Holder {key.upper()} Zq" not in html, key
    assert {r.position.pk for r in chart_rows(response)} == {
        org[k].pk for k in ("ae1", "m1", "vp", "cso", "cro", "ceo")
    }


def test_chart_opens_the_path_to_the_viewer(client, org):
    """Without a search the first levels are open, and so is every node above the viewer."""
    rows = {r.position.pk: r for r in chart_rows(as_user(client, org["m2"]).get(CHART))}
    for key in ("ceo", "cso", "vp", "m2"):  # the path down to Manager 2, and their own team
        assert rows[org[key].pk].is_open, key
    rows = {r.position.pk: r for r in chart_rows(as_user(client, org["cso"]).get(CHART))}
    assert not rows[org["m1"].pk].is_open  # deeper than the first levels, not on the path


def test_chart_notes_dotted_lines_and_vacancies(client, org):
    services.position_assign_holder(position=org["m2"], holder=None, by=None)
    response = as_user(client, org["cso"]).get(CHART)
    rows = {r.position.pk: r for r in chart_rows(response)}
    assert [p.pk for p in rows[org["vp"].pk].dotted] == [org["cro"].pk]
    assert [p.pk for p in rows[org["cro"].pk].oversees] == [org["vp"].pk]
    html = response.content.decode()
    assert "also reports to" in html
    assert "Vacant" in html
    # every node links to its position page
    assert detail(org["ae3"]) in html


def test_chart_renders_nested_details_without_js(client, org):
    html = as_user(client, org["cso"]).get(CHART).content.decode()
    assert html.count("<details") == html.count("</details>")
    # positions with reports are collapsible, the others are leaves
    branches = sum(1 for p in org.values() if p.direct_reports.exists())
    assert html.count("<details") == branches


def test_search_highlights_matches_and_opens_the_path(client, org):
    org["ae3"].holder.full_name = "Quentin Needle"
    org["ae3"].holder.save()
    response = as_user(client, org["cso"]).get(CHART, {"q": "needle"})
    assert response.status_code == 200
    rows = {r.position.pk: r for r in chart_rows(response)}
    assert [p.pk for p in response.context["matches"]] == [org["ae3"].pk]
    assert rows[org["ae3"].pk].is_match
    assert not rows[org["ae4"].pk].is_match
    for key in ("ceo", "cso", "vp", "m2"):  # the path to the match is open
        assert rows[org[key].pk].is_open, key
    for key in ("m1", "cro"):  # the other branches are closed
        assert not rows[org[key].pk].is_open, key
    html = response.content.decode()
    assert "is-match" in html
    assert 'value="needle"' in html  # the form keeps the query


def test_search_by_role_and_region(client, org):
    region = RegionFactory(name="Nordics", code="nordics")
    services.position_update(position=org["ae2"], region=region, by=None)
    response = as_user(client, org["cso"]).get(CHART, {"role": RoleType.SALES_MANAGER})
    assert {p.pk for p in response.context["matches"]} == {org["m1"].pk, org["m2"].pk}
    response = client.get(CHART, {"region": "nordics"})
    assert [p.pk for p in response.context["matches"]] == [org["ae2"].pk]
    assert "Nordics" in response.content.decode()


def test_search_never_reveals_invisible_positions(client, org):
    org["ae2"].holder.full_name = "Peer Needle"
    org["ae2"].holder.save()
    response = as_user(client, org["ae1"]).get(CHART, {"q": "needle"})
    assert response.context["matches"] == []
    html = response.content.decode()
    assert "Peer Needle" not in html
    assert "No position matches" in html


def test_search_with_htmx_returns_the_partial(client, org):
    response = as_user(client, org["cso"]).get(CHART, {"q": "AE"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "org-tree" in html
    assert response.templates[0].name == "web/org/_chart.html"
    assert "HX-Request" in response["Vary"]
    full = client.get(CHART, {"q": "AE"})
    assert "<html" in full.content.decode()


def test_root_shows_one_team(client, org):
    response = as_user(client, org["cso"]).get(CHART, {"root": org["vp"].pk})
    assert {r.position.pk for r in chart_rows(response)} == {
        org[k].pk for k in ("vp", "m1", "m2", "ae1", "ae2", "ae3", "ae4")
    }
    assert [p.pk for p in response.context["root_chain"]] == [org["ceo"].pk, org["cso"].pk]
    assert response.context["total"] == 7


def test_root_outside_view_is_404(client, org):
    as_user(client, org["ae1"])
    assert client.get(CHART, {"root": org["m2"].pk}).status_code == 404
    assert client.get(CHART, {"root": "nonsense"}).status_code == 404


def _wide_org(n_aes: int):
    ceo = make_position(RoleType.CEO, title="CEO")
    cso = make_position(RoleType.CSO, reports_to=ceo, title="CSO")
    region, team = RegionFactory(), TeamFactory()
    managers = [
        make_position(RoleType.SALES_MANAGER, reports_to=cso, region=region, team=team)
        for _ in range(2)
    ]
    for i in range(n_aes):
        make_position(RoleType.AE, reports_to=managers[i % 2], region=region, team=team)
    services.position_add_dotted_line(position=managers[0], manager=ceo, by=None)
    return cso


def _queries(client, url, data=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, data or {})
    assert response.status_code == 200
    return len(ctx)


def test_chart_query_count_does_not_grow_with_the_org(client):
    cso = _wide_org(5)
    as_user(client, cso)
    small = _queries(client, CHART)
    small_search = _queries(client, CHART, {"q": "Account"})
    assert Position.objects.count() == 9
    for _ in range(45):
        make_position(RoleType.AE, reports_to=cso)
    assert Position.objects.count() == 54
    assert _queries(client, CHART) == small
    assert _queries(client, CHART, {"q": "Account"}) == small_search
    assert small <= 12


# --- the position page ------------------------------------------------------------------------


def test_position_page_shows_holder_role_chain_and_reports(client, org):
    name_holders(org)
    template = RoleTemplate.objects.create(role=RoleType.VP_SALES, name="VP of Sales")
    Responsibility.objects.create(
        template=template, title="Set team targets", capability="org.chart", kpi="win_rate"
    )
    response = as_user(client, org["cso"]).get(detail(org["vp"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Holder VP Zq" in html
    assert org["vp"].holder.email in html
    assert "VP of Sales" in html
    # responsibilities with their capability and KPI names from the catalogue
    assert "Set team targets" in html
    assert "Org chart" in html and "Win rate" in html
    # chain up (top first) and the dotted manager
    assert [p.pk for p in response.context["chain"]] == [org["ceo"].pk, org["cso"].pk]
    assert [p.pk for p in response.context["dotted_managers"]] == [org["cro"].pk]
    # reports and team down
    assert {p.pk for p in response.context["reports"]} == {org["m1"].pk, org["m2"].pk}
    assert response.context["team_size"] == 6
    assert f"{CHART}?root={org['vp'].pk}" in html
    # history: the solid and the dotted line, the holder, the audit trail
    kinds = sorted(line.kind for line, _ in response.context["lines"])
    assert kinds == ["dotted", "solid"]
    assert len(response.context["holdings"]) == 1
    actions = [row.action for row in response.context["audit"]]
    assert "Created" in actions and "Dotted line added" in actions


def test_position_page_history_hides_managers_outside_the_view(client, org):
    name_holders(org)
    services.position_move(position=org["ae1"], reports_to=org["m2"], by=None)
    services.position_move(position=org["ae1"], reports_to=org["m1"], by=None)
    response = as_user(client, org["ae1"]).get(detail(org["ae1"]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Manager 2" not in html
    assert "Holder M2 Zq" not in html
    assert "a position you cannot see" in html
    assert "Moved" in [row.action for row in response.context["audit"]]


def test_peer_position_is_404_not_403(client, org):
    as_user(client, org["ae1"])
    assert client.get(detail(org["ae1"])).status_code == 200
    assert client.get(detail(org["m1"])).status_code == 200
    assert client.get(detail(org["ae2"])).status_code == 404
    assert client.get(detail(org["m2"])).status_code == 404
    assert client.get(reverse("web:position_detail", args=[999999])).status_code == 404


def test_position_page_admin_buttons_only_for_revops(client, org):
    html = as_user(client, org["m1"]).get(detail(org["ae1"])).content.decode()
    assert reverse("web:position_move", args=[org["ae1"].pk]) not in html
    html = as_user(client, org["revops"]).get(detail(org["ae1"])).content.decode()
    for name in ("position_edit", "position_move", "position_holder", "position_reassign"):
        assert reverse(f"web:{name}", args=[org["ae1"].pk]) in html


def test_user_without_a_position_sees_an_empty_chart(client, db):
    user = UserFactory()
    make_position(RoleType.CEO)
    response = as_user(client, user).get(CHART)
    assert response.status_code == 200
    assert chart_rows(response) == []
