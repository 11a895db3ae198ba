"""Each role signs in through the login form, sees its own cockpit and navigation, signs out."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from revline.org.choices import RoleType
from revline.org.models import RoleTemplate
from tests.browser.helpers import login, logout, position_of

pytestmark = pytest.mark.browser

# One demo person per role (docs/permissions.md and `revline demo` name them).
ROLE_LOGINS = [
    (RoleType.CEO, "casey.example@demo.revline.test"),
    (RoleType.CSO, "sam.sample@demo.revline.test"),
    (RoleType.CRO, "robin.placeholder@demo.revline.test"),
    (RoleType.VP_SALES, "vera.fictional@demo.revline.test"),
    (RoleType.SALES_MANAGER, "dustin.brinkmann@demo.revline.test"),
    (RoleType.TEAM_LEAD, "tess.testcase@demo.revline.test"),
    (RoleType.AE, "anna.snelling@demo.revline.test"),
    (RoleType.BDR, "bea.prospect@demo.revline.test"),
    (RoleType.SDR, "sid.qualifier@demo.revline.test"),
    (RoleType.MARKETING, "morgan.madeup@demo.revline.test"),
    (RoleType.CUSTOMER_SUCCESS, "cam.success@demo.revline.test"),
    (RoleType.REVOPS, "admin@demo.revline.test"),
]
ADMIN_LINKS = {
    "Organisation admin": "web:org_admin",
    "Role templates": "web:role_templates",
    "System status": "web:system_status",
}


def test_every_role_is_covered():
    assert {role for role, _ in ROLE_LOGINS} == set(RoleType.values)


@pytest.mark.parametrize(("role", "email"), ROLE_LOGINS, ids=[r.value for r, _ in ROLE_LOGINS])
def test_role_signs_in_and_sees_its_cockpit(page, demo, role, email):
    position = position_of(email)
    assert position.role == role
    template = RoleTemplate.objects.prefetch_related("responsibilities").get(role=role)
    responsibilities = [r.title for r in template.responsibilities.all()]
    assert responsibilities, f"the demo template for {role.label} has no responsibilities"

    login(page, demo, email)

    # The cockpit of this role: its template's name and every responsibility, in order.
    cockpit = page.locator("#cockpit")
    expect(page.locator("h1.page-title")).to_contain_text(position.holder.get_short_name())
    expect(cockpit.locator(".cockpit-template")).to_have_text(template.name)
    expect(cockpit.locator(".resp-title")).to_have_text(responsibilities)
    expect(cockpit).to_contain_text(position.title)
    expect(page.locator(".topbar-roles")).to_contain_text(role.label)

    # Navigation depends on the role: the admin section for RevOps only.
    sidebar = page.locator("aside.sidebar")
    expect(sidebar.get_by_role("link", name="Home")).to_be_visible()
    expect(sidebar.get_by_role("link", name="Org chart")).to_be_visible()
    is_admin = role == RoleType.REVOPS
    for label, url_name in ADMIN_LINKS.items():
        link = sidebar.locator(f'a[href="{reverse(url_name)}"]')
        if is_admin:
            expect(link).to_have_text(label)
        else:
            expect(link).to_have_count(0)
    expect(sidebar.get_by_text("Administration", exact=True)).to_have_count(1 if is_admin else 0)

    # ... and the screens behind those links: 404 for everyone else, not merely hidden.
    response = page.goto(demo.at(reverse("web:org_admin")))
    assert response is not None and response.status == (200 if is_admin else 404)

    page.goto(demo.at("/"))
    logout(page, demo)
    # Signed out means signed out: the cockpit sends us back to the login form.
    page.goto(demo.at("/"))
    expect(page).to_have_url(demo.at("/login/?next=/"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
