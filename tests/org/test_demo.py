"""``revline demo``: the demo organisation from the Maven sales teams, and idempotence."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command

import revline
from revline.core.catalog import CAPABILITIES, KPIS
from revline.core.models import AuditEvent
from revline.org.choices import RoleType
from revline.org.models import DottedLine, Position, Region, RoleTemplate, User

pytestmark = pytest.mark.django_db

PASSWORD = "demo-pass-for-tests"
MAVEN_TEAMS = Path(revline.__file__).parent / "demo_data" / "maven_crm" / "sales_teams.csv"


def maven_rows():
    with MAVEN_TEAMS.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def email_of(full_name):
    first, last = full_name.lower().split(" ")
    return f"{first}.{last}@demo.revline.test"


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("REVLINE_DEMO_PASSWORD", PASSWORD)
    # These tests are about the organisation: the command's second half (the Maven pipeline and
    # the CRM data, several seconds per load) is covered once per module in tests/crm/test_demo.py.
    monkeypatch.setattr(
        "revline.core.management.commands.demo.load_demo_crm",
        lambda: SimpleNamespace(created={}),
    )
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def test_maven_data_as_shipped():
    rows = maven_rows()
    assert len(rows) == 35
    assert len({r["manager"] for r in rows}) == 6
    assert {r["regional_office"] for r in rows} == {"Central", "East", "West"}


def test_regions_executives_and_vps(demo):
    assert set(Region.objects.values_list("name", flat=True)) == {"Central", "East", "West"}
    ceo = Position.objects.get(role=RoleType.CEO)
    cso = Position.objects.get(role=RoleType.CSO)
    cro = Position.objects.get(role=RoleType.CRO)
    assert ceo.reports_to is None
    assert cso.reports_to == ceo
    assert cro.reports_to == ceo
    vps = Position.objects.filter(role=RoleType.VP_SALES)
    assert sorted(vp.region.name for vp in vps) == ["Central", "East", "West"]
    for vp in vps:
        assert vp.reports_to == cso
        assert vp.holder is not None
        assert set(DottedLine.objects.filter(position=vp).values_list("manager_id", flat=True)) == {
            cro.pk
        }


def test_maven_managers_and_agents(demo):
    rows = maven_rows()
    for manager_name in {r["manager"] for r in rows}:
        region = next(r["regional_office"] for r in rows if r["manager"] == manager_name)
        manager = Position.objects.get(
            role=RoleType.SALES_MANAGER, holder__email=email_of(manager_name)
        )
        assert manager.holder.full_name == manager_name
        assert manager.reports_to.role == RoleType.VP_SALES
        assert manager.reports_to.region.name == region
    for row in rows:
        agent = Position.objects.get(role=RoleType.AE, holder__email=email_of(row["sales_agent"]))
        assert agent.holder.full_name == row["sales_agent"]
        assert agent.reports_to.holder.email == email_of(row["manager"])
        assert agent.reports_to.role == RoleType.SALES_MANAGER
    assert User.objects.filter(email="mei-mei.johns@demo.revline.test").exists()
    assert Position.objects.filter(role=RoleType.AE).count() == 35
    maven_managers = Position.objects.filter(
        role=RoleType.SALES_MANAGER, reports_to__role=RoleType.VP_SALES
    )
    assert maven_managers.count() == 6


def test_every_role_is_held_and_admin_is_revops(demo):
    for role in RoleType.values:
        assert Position.objects.filter(role=role, holder__isnull=False).exists(), role
    admin = User.objects.get(email="admin@demo.revline.test")
    assert Position.objects.filter(holder=admin, role=RoleType.REVOPS).exists()
    assert not admin.is_superuser  # an ordinary user: RevOps powers come from the position


def test_every_demo_user_can_log_in(demo):
    users = User.objects.filter(email__endswith="@demo.revline.test")
    assert users.count() >= 35 + 6 + 3 + 3
    for user in users:
        assert user.is_active
        assert user.check_password(PASSWORD), user.email
    for email in [
        "admin@demo.revline.test",
        "mei-mei.johns@demo.revline.test",
        "dustin.brinkmann@demo.revline.test",
        Position.objects.get(role=RoleType.CSO).holder.email,
    ]:
        assert authenticate(None, username=email, password=PASSWORD) is not None, email
        assert authenticate(None, username=email, password="revline-demo-wrong") is None
    assert PASSWORD in demo  # the command says what the password is


def test_role_templates_link_to_known_capabilities_and_kpis(demo):
    templates = {t.role: t for t in RoleTemplate.objects.prefetch_related("responsibilities")}
    assert set(templates) == set(RoleType.values)
    for role, template in templates.items():
        items = list(template.responsibilities.all())
        assert items, role
        for item in items:
            assert item.capability == "" or item.capability in CAPABILITIES, (role, item.title)
            assert item.kpi == "" or item.kpi in KPIS, (role, item.title)
        assert any(item.capability for item in items), role


def snapshot():
    """Every row (all columns) of every org model and of the audit trail."""
    rows = {}
    for model in [*apps.get_app_config("org").get_models(), AuditEvent]:
        rows[model.__name__] = list(model.objects.order_by("pk").values())
    return rows


def test_second_run_changes_nothing(demo):
    before = snapshot()
    assert before["Position"] and before["AuditEvent"]
    out = StringIO()
    call_command("demo", stdout=out)
    assert "nothing to change" in out.getvalue()
    assert snapshot() == before
