"""The cockpit (home page) and the navigation around it."""

from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from revline.core import catalog
from revline.org import services
from revline.org.choices import RoleType
from revline.org.demo import role_templates_install
from revline.org.models import RoleTemplate
from revline.org.role_catalog import DEFAULT_ROLE_TEMPLATES
from tests.org.factories import RegionFactory, TeamFactory, UserFactory, make_position

pytestmark = pytest.mark.django_db

HOME = "/"


def template_with(role, items, name=None):
    """A role template with ``items`` = [(title, capability, kpi), ...]."""
    template = RoleTemplate.objects.create(role=role, name=name or f"{role} template", summary="")
    for title, capability, kpi in items:
        services.responsibility_save(
            template=template, by=None, title=title, capability=capability, kpi=kpi
        )
    return template


def home(client, user, **params):
    client.force_login(user)
    response = client.get(HOME, params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    "role", [RoleType.CSO, RoleType.SALES_MANAGER, RoleType.AE, RoleType.SDR, RoleType.REVOPS]
)
def test_cockpit_lists_the_responsibilities_of_the_users_role(client, role):
    role_templates_install()
    position = make_position(role, title=f"My {role} seat")
    body = home(client, position.holder)
    name, _summary, items = DEFAULT_ROLE_TEMPLATES[role]
    assert escape(name) in body
    for title, description, _capability, _kpi in items:
        assert escape(title) in body
        assert escape(description) in body
    others = {r for r in DEFAULT_ROLE_TEMPLATES if r != role}
    foreign = [
        t
        for r in others
        for t, *_ in DEFAULT_ROLE_TEMPLATES[r][2]
        if t not in {i[0] for i in items}
    ]
    assert not any(f">{escape(t)}</h3>" in body for t in foreign)


def planned_capability() -> catalog.Capability:
    """A capability whose screen is not built yet (the catalogue fills in as apps arrive)."""
    return next(c for c in catalog.CAPABILITIES.values() if not c.url)


def test_capability_links_when_built_and_says_planned_otherwise(client):
    planned = planned_capability()
    template_with(
        RoleType.AE,
        [
            ("Know the organisation", "org.chart", ""),
            ("Do the planned thing", planned.key, ""),
        ],
    )
    body = home(client, make_position(RoleType.AE).holder)
    chart = body[body.index("Know the organisation") :]
    chart = chart[: chart.index("</li>")]
    assert f'href="{reverse("web:org_chart")}"' in chart
    board = body[body.index("Do the planned thing") :]
    board = board[: board.index("</li>")]
    assert escape(planned.label) in board and "planned" in board and "href" not in board


def test_kpis_are_live_headcount_too_and_the_rest_say_not_measured_yet(client):
    """A KPI the analytics app measures shows its value for the period, one the planning app
    measures its figure (or why there is none), headcount comes from the organisation; a key
    the registry does not know yet says it is not measured yet."""
    template_with(
        RoleType.SALES_MANAGER,
        [
            ("Close deals", "", "win_rate"),
            ("Build the team", "", "headcount"),
            ("Hit the target", "", "target_vs_actual"),
            ("Do the rest", "", "not_a_kpi_yet"),
        ],
    )
    manager = make_position(RoleType.SALES_MANAGER)
    make_position(RoleType.AE, reports_to=manager)
    make_position(RoleType.AE, reports_to=manager)
    make_position(RoleType.AE, reports_to=manager, holder=None)
    body = home(client, manager.holder)
    win = body[body.index("Close deals") :]
    win = win[: win.index("</li>")]
    assert "Win rate" in win and "Not measured yet" not in win
    assert 'resp-kpi is-live" data-kpi="win_rate"' in win
    assert 'class="kpi-link"' in win and ">—</a>" in win  # no deal closed: no rate, yet a link
    assert escape(catalog.KPIS["win_rate"].definition) in win  # the definition as help text
    team = body[body.index("Build the team") :]
    team = team[: team.index("</li>")]
    assert "Not measured yet" not in team
    assert 'resp-kpi-value">3<' in team and "2 filled · 1 vacant" in team
    target = body[body.index("Hit the target") :]
    target = target[: target.index("</li>")]
    assert "No target is set for" in target and "Not measured yet" not in target
    rest = body[body.index("Do the rest") :]
    rest = rest[: rest.index("</li>")]
    assert "not_a_kpi_yet" in rest and "Not measured yet" in rest


def test_cockpit_shows_the_position_context(client):
    region, team = RegionFactory(name="East"), TeamFactory(name="Hunters")
    boss = make_position(RoleType.SALES_MANAGER, title="Manager East")
    me = make_position(RoleType.TEAM_LEAD, reports_to=boss, title="Lead East", region=region)
    services.position_update(position=me, by=None, team=team)
    make_position(RoleType.AE, reports_to=me)
    make_position(RoleType.AE, reports_to=me)
    body = home(client, me.holder)
    assert "Lead East" in body
    assert f'href="{reverse("web:position_detail", args=[boss.pk])}">Manager East</a>' in body
    assert escape(boss.holder.get_full_name()) in body
    assert "East" in body and "Hunters" in body
    assert "<dt>Direct reports</dt>\n            <dd>2</dd>" in body
    assert f'href="{reverse("web:position_detail", args=[me.pk])}"' in body
    assert f'href="{reverse("web:org_chart")}"' in body


def test_a_person_with_two_positions_can_switch(client):
    template_with(RoleType.AE, [("Close new business", "", "")])
    template_with(RoleType.BDR, [("Build prospect lists", "", "")])
    user = UserFactory()
    ae = make_position(RoleType.AE, holder=user, title="AE West")
    bdr = make_position(RoleType.BDR, holder=user, title="BDR West")

    body = home(client, user)  # the more senior role first
    assert "Close new business" in body and "Build prospect lists" not in body
    assert f'href="/?position={bdr.pk}"' in body and f'href="/?position={ae.pk}"' in body

    body = home(client, user, position=bdr.pk)
    assert "Build prospect lists" in body and "Close new business" not in body
    assert f'href="/?position={bdr.pk}" hx-get' in body

    partial = client.get(HOME, {"position": ae.pk}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    text = partial.content.decode()
    assert "<html" not in text
    assert 'id="cockpit"' in text and "Close new business" in text
    assert "HX-Request" in partial["Vary"]


def test_htmx_history_restore_gets_the_full_page(client):
    client.force_login(make_position(RoleType.AE).holder)
    response = client.get(HOME, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_switching_to_a_position_you_do_not_hold_is_404(client):
    mine = make_position(RoleType.AE)
    theirs = make_position(RoleType.AE)
    client.force_login(mine.holder)
    assert client.get(HOME, {"position": theirs.pk}).status_code == 404
    assert client.get(HOME, {"position": "nope"}).status_code == 404


def test_a_user_without_position_gets_an_empty_state(client):
    body = home(client, UserFactory())
    assert "You do not hold a position yet" in body
    assert reverse("web:org_admin") not in body  # not an admin: no admin link anywhere


def test_a_bare_superuser_is_pointed_to_organisation_admin(client):
    admin = UserFactory(is_superuser=True, is_staff=True)
    body = home(client, admin)
    assert "You do not hold a position yet" in body
    assert f'href="{reverse("web:org_admin")}"' in body
    assert "Superuser" in body


def test_top_bar_shows_the_user_and_their_roles(client):
    user = UserFactory(full_name="Ada Example")
    make_position(RoleType.SALES_MANAGER, holder=user)
    make_position(RoleType.AE, holder=user)
    body = home(client, user)
    topbar = body[body.index('<header class="topbar">') :]
    topbar = topbar[: topbar.index("</header>")]
    assert "Ada Example" in topbar
    assert "Sales Manager" in topbar and "Account Executive" in topbar


def test_navigation_depends_on_the_role(client):
    ae = make_position(RoleType.AE)
    body = home(client, ae.holder)
    sidebar = body[body.index('<aside class="sidebar"') : body.index("</aside>")]
    assert f'href="{reverse("web:home")}"' in sidebar
    assert f'href="{reverse("web:org_chart")}"' in sidebar
    for name in ("web:org_admin", "web:role_templates", "web:system_status"):
        assert f'href="{reverse(name)}"' not in sidebar

    revops = make_position(RoleType.REVOPS)
    body = home(client, revops.holder)
    sidebar = body[body.index('<aside class="sidebar"') : body.index("</aside>")]
    for name in ("web:org_admin", "web:role_templates", "web:system_status"):
        assert f'href="{reverse(name)}"' in sidebar
    assert 'class="nav-link is-active" href="/"' in sidebar


def test_navigation_lists_role_capabilities_that_have_a_screen(client, monkeypatch):
    """A capability appears in the sidebar once it has a URL, and admin screens never show
    to a non-admin even when their template links to one."""
    capabilities = dict(catalog.CAPABILITIES)
    capabilities["crm.leads"] = replace(capabilities["crm.leads"], url="web:tokens")
    monkeypatch.setattr("revline.web.selectors.CAPABILITIES", capabilities)
    planned = planned_capability()
    template_with(
        RoleType.SDR,
        [
            ("Work the leads", "crm.leads", ""),
            ("Do the planned thing", planned.key, ""),  # planned: no URL yet
            ("Peek at the system", "system.status", ""),
        ],
    )
    body = home(client, make_position(RoleType.SDR).holder)
    sidebar = body[body.index('<aside class="sidebar"') : body.index("</aside>")]
    assert "Your workspace" in sidebar and ">Leads</span>" in sidebar
    assert f">{escape(planned.label)}</span>" not in sidebar
    assert f'href="{reverse("web:system_status")}"' not in sidebar


def test_cockpit_query_count_does_not_grow_with_responsibilities_or_reports(client):
    template = template_with(RoleType.SALES_MANAGER, [("First", "org.chart", "headcount")])
    manager = make_position(RoleType.SALES_MANAGER, reports_to=make_position(RoleType.VP_SALES))
    make_position(RoleType.AE, reports_to=manager)
    client.force_login(manager.holder)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(HOME).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    for i in range(12):
        services.responsibility_save(
            template=template, by=None, title=f"Duty {i}", capability="crm.leads", kpi="win_rate"
        )
        make_position(RoleType.AE, reports_to=manager, holder=(i % 3 != 0))
    second = make_position(RoleType.AE, holder=manager.holder)  # a second position, too
    assert second.holder_id == manager.holder_id
    large = count()
    assert large == small
    assert large <= 75  # the frame, every KPI of the page, the team table (test_cockpit_numbers)


def test_cockpit_query_budget(client, django_assert_max_num_queries):
    role_templates_install()
    cso = make_position(RoleType.CSO)
    client.force_login(cso.holder)
    with django_assert_max_num_queries(70):
        client.get(HOME)
