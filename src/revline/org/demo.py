"""The demo organisation, built from the Maven "CRM Sales Opportunities" sales teams.

The Maven data (``revline/demo_data/maven_crm``) gives 3 regional offices, 6 managers and 35
sales agents; they keep their names and become Sales Managers and Account Executives. Everyone
else is invented and plainly named so (surnames such as Example, Sample, Placeholder).
Loading is idempotent: a second run finds everything in place and changes nothing.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F

from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import Position, Region, RoleTemplate, Team, User
from revline.org.role_catalog import DEFAULT_ROLE_TEMPLATES

DEMO_DOMAIN = "demo.revline.test"
DEFAULT_DEMO_PASSWORD = "revline-demo"
MAVEN_DIR = Path(__file__).resolve().parent.parent / "demo_data" / "maven_crm"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"


def demo_password() -> str:
    return os.environ.get("REVLINE_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


def demo_email(full_name: str) -> str:
    first, _, last = full_name.strip().partition(" ")
    slug = ".".join(re.sub(r"[^a-z0-9-]+", "", part.lower()) for part in (first, last) if part)
    return f"{slug}@{DEMO_DOMAIN}"


@dataclass
class DemoResult:
    created_users: int = 0
    created_positions: int = 0
    created_templates: int = 0
    logins: dict[str, str] = field(default_factory=dict)  # role label -> email


def read_maven_teams() -> list[dict[str, str]]:
    with (MAVEN_DIR / "sales_teams.csv").open(newline="", encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def role_templates_install(*, by=None) -> int:
    """Create the default template of every role that has none yet; returns how many."""
    created = 0
    for role, (name, summary, items) in DEFAULT_ROLE_TEMPLATES.items():
        template, was_created = RoleTemplate.objects.get_or_create(
            role=role, defaults={"name": name, "summary": summary}
        )
        if was_created:
            created += 1
            for order, (title, description, capability, kpi) in enumerate(items):
                services.responsibility_save(
                    template=template,
                    by=by,
                    title=title,
                    description=description,
                    capability=capability,
                    kpi=kpi,
                    order=order,
                )
    return created


REGIONS = [("Central", "central"), ("East", "east"), ("West", "west")]
VPS = {"Central": "Vera Fictional", "East": "Evan Madeup", "West": "Wendy Pretend"}
TEAM_LEADS = {
    "Dustin Brinkmann": "Tess Testcase",
    "Melvin Marxen": "Lou Imaginary",
    "Cara Losch": "Cody Sample",
    "Rocco Neubert": "Nina Notreal",
    "Celia Rouche": "Pat Invented",
    "Summer Sewald": "Quinn Dummy",
}
BDRS = {"Central": "Bea Prospect", "East": "Ben Prospect", "West": "Bo Prospect"}
SDRS = {"Central": "Sid Qualifier", "East": "Sue Qualifier", "West": "Sal Qualifier"}


class _Builder:
    def __init__(self, result: DemoResult, password_hash: str, admin: User | None):
        self.result = result
        self.password_hash = password_hash
        self.by = admin

    def user(self, full_name: str, email: str | None = None) -> User:
        email = email or demo_email(full_name)
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, full_name=full_name)
            user.password = self.password_hash
            user.save(update_fields=["password"])
            self.result.created_users += 1
        return user

    def position(
        self,
        *,
        title: str,
        role: str,
        holder: User,
        reports_to: Position | None,
        region: Region | None = None,
        team: Team | None = None,
    ) -> Position:
        existing = Position.objects.filter(holder=holder, role=role).first()
        if existing is not None:
            return existing
        self.result.created_positions += 1
        return services.position_create(
            title=title,
            role=role,
            by=self.by,
            reports_to=reports_to,
            holder=holder,
            region=region,
            team=team,
        )


@transaction.atomic
def load_demo_org() -> DemoResult:
    """Build (or complete) the demo organisation. Safe to run again."""
    result = DemoResult()
    password_hash = make_password(demo_password())
    result.created_templates = role_templates_install()

    b = _Builder(result, password_hash, None)
    admin = b.user("Demo Admin", ADMIN_EMAIL)
    b.by = admin

    regions: dict[str, Region] = {}
    for name, code in REGIONS:
        region = Region.objects.filter(code=code).first()
        regions[name] = region or services.region_create(name=name, code=code, by=admin)

    ceo = b.position(
        title="Chief Executive Officer",
        role=RoleType.CEO,
        holder=b.user("Casey Example"),
        reports_to=None,
    )
    cso = b.position(
        title="Chief Sales Officer", role=RoleType.CSO, holder=b.user("Sam Sample"), reports_to=ceo
    )
    cro = b.position(
        title="Chief Revenue Officer",
        role=RoleType.CRO,
        holder=b.user("Robin Placeholder"),
        reports_to=ceo,
    )
    b.position(title="RevOps Administrator", role=RoleType.REVOPS, holder=admin, reports_to=cro)

    marketing = b.position(
        title="Head of Marketing",
        role=RoleType.MARKETING,
        holder=b.user("Morgan Madeup"),
        reports_to=cro,
    )
    b.position(
        title="Campaign Manager",
        role=RoleType.MARKETING,
        holder=b.user("Mia Campaign"),
        reports_to=marketing,
    )
    cs_head = b.position(
        title="Head of Customer Success",
        role=RoleType.CUSTOMER_SUCCESS,
        holder=b.user("Cam Success"),
        reports_to=cro,
    )
    b.position(
        title="Customer Success Manager",
        role=RoleType.CUSTOMER_SUCCESS,
        holder=b.user("Chris Renewal"),
        reports_to=cs_head,
    )

    sd_team = Team.objects.filter(name="Sales Development").first() or services.team_create(
        name="Sales Development", by=admin
    )
    sd_manager = b.position(
        title="Sales Development Manager",
        role=RoleType.SALES_MANAGER,
        holder=b.user("Dana Pipeline"),
        reports_to=cro,
        team=sd_team,
    )
    for region_name, region in regions.items():
        b.position(
            title=f"BDR, {region_name}",
            role=RoleType.BDR,
            holder=b.user(BDRS[region_name]),
            reports_to=sd_manager,
            region=region,
            team=sd_team,
        )
        b.position(
            title=f"SDR, {region_name}",
            role=RoleType.SDR,
            holder=b.user(SDRS[region_name]),
            reports_to=sd_manager,
            region=region,
            team=sd_team,
        )

    vps: dict[str, Position] = {}
    for region_name, region in regions.items():
        vp = b.position(
            title=f"VP of Sales, {region_name}",
            role=RoleType.VP_SALES,
            holder=b.user(VPS[region_name]),
            reports_to=cso,
            region=region,
        )
        if not vp.dotted_lines.filter(manager=cro).exists():
            services.position_add_dotted_line(position=vp, manager=cro, by=admin)
        vps[region_name] = vp

    rows = read_maven_teams()
    managers: dict[str, Position] = {}
    for row in rows:
        manager_name, region_name = row["manager"], row["regional_office"]
        if manager_name in managers:
            continue
        team_name = f"{region_name}: {manager_name.split(' ')[-1]}"
        team = Team.objects.filter(name=team_name).first() or services.team_create(
            name=team_name, region=regions[region_name], by=admin
        )
        managers[manager_name] = b.position(
            title=f"Sales Manager, {region_name}",
            role=RoleType.SALES_MANAGER,
            holder=b.user(manager_name),
            reports_to=vps[region_name],
            region=regions[region_name],
            team=team,
        )
        b.position(
            title=f"Sales Team Lead, {team_name}",
            role=RoleType.TEAM_LEAD,
            holder=b.user(TEAM_LEADS[manager_name]),
            reports_to=managers[manager_name],
            region=regions[region_name],
            team=team,
        )
    for row in rows:
        manager = managers[row["manager"]]
        b.position(
            title=f"Account Executive, {row['regional_office']}",
            role=RoleType.AE,
            holder=b.user(row["sales_agent"]),
            reports_to=manager,
            region=manager.region,
            team=manager.team,
        )

    for role in RoleType.values:
        position = (
            Position.objects.filter(role=role, holder__isnull=False)
            .order_by(F("region").asc(nulls_last=True), "id")  # prefer regional (Maven) people
            .first()
        )
        if position is not None and position.holder is not None:
            result.logins[RoleType(role).label] = position.holder.email
    return result
