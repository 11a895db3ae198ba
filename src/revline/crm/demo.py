"""``revline demo``'s sales data: the Maven accounts and pipeline, and the CRM records generated
on top of them so that every screen has something true-looking to show.

From the Maven data set (``demo_data/maven_crm``; see its SOURCE.md):
- 85 accounts (``external_id`` = the Maven account name): sector (the file's "technolgy" spelt
  right), year established, annual revenue (the file gives millions of USD), employees and size
  band, country (the office location; "Philipines" spelt right) and the parent company. The
  owner is the agent with the most deals on the account (ties: the first name alphabetically),
  the region that agent's. An account with a won deal is a customer since its first win.
- 7 products, the "Standard" price book and 8,800 opportunities with their stage history:
  ``revline.pipeline.demo`` says what is taken as given and what is derived.

Generated on top (``is_generated=True``, from fixed seeds, so every run makes the same data): 2-4
contacts per account, a handful of campaigns with their costs, 330 leads worked by the BDRs and
SDRs of the demo org with their whole status history (90 of them converted into Maven
opportunities, which point back at them), the referrals behind the referred leads, a prospect list
per BDR, activities on a tenth of the deals and on the leads, quotes, renewals, complaints and
CSAT/NPS answers from the customers. People and companies are invented; e-mail addresses use the
reserved ``.example`` domain and phone numbers the fictional 555-01xx range.

Loading is fast (bulk inserts, no per-row services) and idempotent: Maven records are keyed on
their ``external_id``, generated ones on a ``demo-...`` ``external_id`` where the model has one,
and each generated kind without one is made only while none exists. A second run creates
nothing, and writes nothing.

Audit: the per-record services would write one audit event per record (tens of thousands); the
load writes one summary event instead (``demo.load`` on the default pipeline, listing the counts
created), and none when it created nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from revline.core.services import audit_event_record
from revline.crm.choices import (
    ActivityKind,
    ActivityOutcome,
    Authority,
    CampaignKind,
    CampaignStatus,
    CompanySize,
    ComplaintSeverity,
    ComplaintStatus,
    CustomerStatus,
    DisqualifyReason,
    LeadSource,
    LeadStatus,
    ProspectSource,
    ReferralOutcome,
    SurveyKind,
)
from revline.crm.models import (
    Account,
    Activity,
    Campaign,
    Complaint,
    Contact,
    Lead,
    LeadStatusChange,
    ProspectList,
    ProspectListMember,
    Referral,
    SatisfactionResponse,
)
from revline.crm.names import normalize_company
from revline.org.choices import RoleType
from revline.org.demo import ADMIN_EMAIL, demo_email, read_maven_teams
from revline.org.models import Position, Region, User
from revline.pipeline.choices import LossReason, OpportunityStatus
from revline.pipeline.demo import (
    DATASET_END,
    DATASET_START,
    DealPlan,
    DemoContext,
    at,
    bulk_create,
    cents,
    deal_plans,
    local_day,
    opportunities_load,
    products_load,
    quotes_generate,
    read_maven,
    renewals_generate,
    rng,
    slug,
    stages_of,
    weighted,
)
from revline.pipeline.models import Opportunity

SOURCE_NAME = "Generated demo data"
N_CONVERTED_LEADS = 90
N_OTHER_LEADS = 240
ACTIVITY_SAMPLE = 0.10  # the share of Maven deals that get generated activities
SECTOR_FIXES = {"technolgy": "technology"}
COUNTRY_FIXES = {"Philipines": "Philippines"}

FIRST_NAMES = [
    "Aaron", "Abigail", "Adrian", "Alice", "Amir", "Ana", "Andrew", "Bianca", "Brandon", "Carla",
    "Chloe", "Daniel", "Diana", "Edward", "Elena", "Ethan", "Fatima", "Felix", "Grace", "Hannah",
    "Hector", "Irene", "Isaac", "Jasmine", "Julian", "Karen", "Kevin", "Laura", "Leon", "Lucia",
    "Marcus", "Maya", "Nadia", "Nathan", "Olivia", "Omar", "Paula", "Peter", "Priya", "Rachel",
    "Rafael", "Rita", "Samuel", "Sara", "Simon", "Sofia", "Tara", "Thomas", "Uma", "Victor",
    "Wendy", "Xavier", "Yara", "Yusuf", "Zoe",
]  # fmt: skip
LAST_NAMES = [
    "Abbott", "Alvarez", "Barnes", "Bennett", "Brooks", "Castillo", "Chen", "Coleman", "Dalton",
    "Dawson", "Delgado", "Ellis", "Farrell", "Fischer", "Foster", "Garcia", "Grant", "Hale",
    "Hansen", "Hughes", "Ibarra", "Jensen", "Kaur", "Keller", "Kim", "Lambert", "Larsen",
    "Lopez", "Marsh", "Meyer", "Moreno", "Nakamura", "Novak", "Okafor", "Olsen", "Patel", "Pierce",
    "Quinn", "Ramos", "Reyes", "Rossi", "Schmidt", "Shah", "Silva", "Sullivan", "Tanaka", "Torres",
    "Vargas", "Walsh", "Weber", "Wong", "Young", "Zimmerman",
]  # fmt: skip
BUYER_TITLES = ["CIO", "CTO", "IT Director", "VP Operations", "Head of Procurement"]
OTHER_TITLES = [
    "IT Manager", "Procurement Manager", "Operations Manager", "Systems Administrator",
    "Finance Director", "Facilities Manager", "Workplace Technology Lead",
]  # fmt: skip
COMPANY_PREFIXES = [
    "Amber", "Ash", "Birch", "Bright", "Cedar", "Clear", "Cobalt", "Copper", "Crest", "Elm",
    "Fern", "Granite", "Harbor", "Hazel", "Iron", "Juniper", "Lark", "Linden", "Maple", "Meadow",
    "North", "Oak", "Pine", "Quill", "River", "Sage", "Silver", "Slate", "Stone", "Willow",
]  # fmt: skip
COMPANY_STEMS = ["field", "brook", "ridge", "gate", "wood", "point", "view", "haven", "ford"]
SECTOR_WORDS = {
    "retail": "Retail", "technology": "Systems", "medical": "Medical", "marketing": "Marketing",
    "finance": "Finance", "software": "Software", "entertainment": "Media",
    "telecommunications": "Telecom", "services": "Services", "employment": "Staffing",
}  # fmt: skip
NEEDS = [
    "Replace ageing workstations before the support contract ends",
    "Standardise hardware across three offices",
    "More compute for the design team's rendering work",
    "Front-desk systems for new branches",
    "Consolidate suppliers to one hardware vendor",
    "A data room refresh with better power efficiency",
]
DISQUALIFY_REASONS = [
    (DisqualifyReason.NO_BUDGET, 25),
    (DisqualifyReason.NO_NEED, 20),
    (DisqualifyReason.BAD_TIMING, 18),
    (DisqualifyReason.UNREACHABLE, 17),
    (DisqualifyReason.NO_AUTHORITY, 8),
    (DisqualifyReason.COMPETITOR, 7),
    (DisqualifyReason.BAD_DATA, 5),
]
# name, kind, status, start, end, cost
CAMPAIGNS = [
    ("Autumn hardware expo 2016", CampaignKind.EVENT, "2016-10-10", "2016-10-12", 18500),
    ("Year-end upgrade offer 2016", CampaignKind.EMAIL, "2016-11-01", "2016-12-31", 2400),
    ("GTX Plus launch webinar", CampaignKind.WEBINAR, "2017-02-06", "2017-02-28", 6500),
    ("Retail IT refresh e-mail series", CampaignKind.EMAIL, "2017-04-01", "2017-06-30", 3200),
    ("Medical sector buyer's guide", CampaignKind.CONTENT, "2017-06-01", "2017-09-30", 9800),
    ("Search advertising H2 2017", CampaignKind.ADVERTISING, "2017-07-01", "2017-12-31", 21000),
    ("Partner co-marketing Q4 2017", CampaignKind.PARTNER, "2017-10-01", "2017-12-31", 7500),
    ("GTK 500 launch webinar", CampaignKind.WEBINAR, "2018-02-05", "2018-02-28", 5000),
]
COMPLAINTS = [
    ("Delivery arrived two weeks late", "Our order was promised for the 3rd and arrived on the "
     "17th; the rollout had to be rescheduled.",
     "Expedited shipping credited; logistics partner changed for this region."),
    ("Units failing the burn-in test", "Three of the units we received fail the burn-in test "
     "after a few hours.", "Units swapped under warranty; the batch was checked at the depot."),
    ("Invoice does not match the quote", "The invoice is higher than the accepted quote.",
     "Credit note issued for the difference."),
    ("No answer from support for five days", "Our ticket about the BIOS update got no reply.",
     "Ticket answered; support rota extended for this time zone."),
    ("Rack mounting kits missing", "The order came without the mounting kits we paid for.",
     "Kits shipped overnight."),
    ("Wrong keyboard layout shipped", "We ordered UK layouts and received US ones.",
     "Replacement keyboards delivered."),
    ("Onboarding call cancelled twice", "The onboarding session was cancelled twice at short "
     "notice.", "Session held with a senior engineer; customer satisfied."),
    ("Driver update broke the docking stations", "After the last driver update the docking "
     "stations stopped working.", "Rollback published and a fixed driver released."),
]  # fmt: skip
NPS_COMMENTS = {
    "promoter": ["Reliable machines and a responsive account team.", "Great value for money."],
    "passive": ["Good hardware, delivery could be faster.", "Fine overall."],
    "detractor": ["Support took too long to answer.", "Too many delivery problems this year."],
}


@dataclass
class CrmDemoResult:
    created: dict[str, int] = field(default_factory=dict)


# --- the org ------------------------------------------------------------------------------------


def _context() -> DemoContext:
    positions = {p.pk: p for p in Position.objects.select_related("holder")}
    by_email = {
        p.holder.email: p
        for p in sorted(positions.values(), key=lambda p: p.pk)
        if p.role == RoleType.AE and p.holder is not None
    }
    agents = {}
    for row in read_maven_teams():
        position = by_email.get(demo_email(row["sales_agent"]))
        if position is None:
            raise RuntimeError(
                f"The demo organisation has no AE position for {row['sales_agent']}: "
                "load it first (revline.org.demo.load_demo_org)."
            )
        agents[row["sales_agent"]] = position
    return DemoContext(
        by=User.objects.filter(email=ADMIN_EMAIL).first(), agents=agents, positions=positions
    )


def _role_position(ctx: DemoContext, role: str, *, title: str = "", region: int | None = None):
    found = sorted(
        (p for p in ctx.positions.values() if p.role == role and p.holder_id is not None),
        key=lambda p: (p.title != title, p.region_id != region, p.pk),
    )
    if not found:
        raise RuntimeError(f"The demo organisation has no {role} position.")
    return found[0]


def _person(rnd, used: set[str]) -> tuple[str, str]:
    while True:
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        if f"{first} {last}" not in used:
            used.add(f"{first} {last}")
            return first, last


def _email(first: str, last: str, domain: str) -> str:
    return f"{slug(first)}.{slug(last)}@{domain}".replace("-", "")


def _phone(rnd) -> str:
    return f"+1 555-01{rnd.randrange(100):02d}"


# --- accounts and contacts ---------------------------------------------------------------------


def accounts_load(ctx: DemoContext) -> None:
    rows = read_maven("accounts.csv")
    deals: dict[str, list[DealPlan]] = defaultdict(list)
    for plan in ctx.deals:
        if plan.account:
            deals[plan.account].append(plan)
    existing = {
        a.external_id: a
        for a in Account.objects.filter(
            external_id__in=[r["account"] for r in rows], is_generated=False
        )
    }
    first_agent = min(ctx.agents)
    new = []
    for row in rows:
        name = row["account"]
        if name in existing:
            continue
        counts = Counter(p.agent for p in deals[name])
        owner = ctx.agents[min(counts, key=lambda a: (-counts[a], a)) if counts else first_agent]
        won = sorted(p.close for p in deals[name] if p.outcome == "Won" and p.close)
        created = min((p.created_at for p in deals[name]), default=at(DATASET_START))
        employees = int(row["employees"]) if row["employees"] else None
        new.append(
            Account(
                owner_position=owner,
                name=name,
                normalized_name=normalize_company(name),
                external_id=name,
                sector=SECTOR_FIXES.get(row["sector"], row["sector"]),
                employees=employees,
                size=CompanySize.for_employees(employees),
                annual_revenue=cents(Decimal(row["revenue"]) * 1_000_000)
                if row["revenue"]
                else None,
                region_id=owner.region_id,
                country=COUNTRY_FIXES.get(row["office_location"], row["office_location"]),
                year_established=int(row["year_established"]) if row["year_established"] else None,
                customer_status=CustomerStatus.CUSTOMER if won else CustomerStatus.PROSPECT,
                customer_since=won[0] if won else None,
                created_at=created - dt.timedelta(days=1),
                updated_at=at(won[0], 540) if won else created,
            )
        )
    bulk_create(Account, new)
    ctx.count("accounts", len(new))
    ctx.accounts = {**existing, **{a.name: a for a in new}}
    parents = {r["account"]: r["subsidiary_of"] for r in rows if r["subsidiary_of"]}
    children = []
    for account in new:
        parent = ctx.accounts.get(parents.get(account.name, ""))
        if parent is not None:
            account.parent = parent
            children.append(account)
    Account.objects.bulk_update(children, ["parent"])


def contacts_generate(ctx: DemoContext) -> None:
    have: dict[str, Contact] = {
        c.external_id: c for c in Contact.objects.filter(external_id__startswith="demo-contact-")
    }
    new = []
    for name, account in sorted(ctx.accounts.items()):
        rnd = rng("contacts", name)
        domain = f"{slug(name)}.example"
        used: set[str] = set()
        mine = []
        for i in range(rnd.randint(2, 4)):
            key = f"demo-contact-{slug(name)}-{i + 1}"
            first, last = _person(rnd, used)
            title = rnd.choice(BUYER_TITLES if i == 0 else OTHER_TITLES)
            phone = _phone(rnd)
            if key in have:
                mine.append(have[key])
                continue
            contact = Contact(
                owner_position_id=account.owner_position_id,
                account=account,
                first_name=first,
                last_name=last,
                email=_email(first, last, domain),
                phone=phone,
                title=title,
                external_id=key,
                is_generated=True,
                created_at=account.created_at + dt.timedelta(hours=1 + i),
                updated_at=account.created_at + dt.timedelta(hours=1 + i),
            )
            new.append(contact)
            mine.append(contact)
        ctx.contacts[account.pk] = mine
    bulk_create(Contact, new)
    ctx.count("contacts", len(new))


def campaigns_generate(ctx: DemoContext) -> None:
    owner = _role_position(ctx, RoleType.MARKETING, title="Campaign Manager")
    have = {
        c.external_id: c for c in Campaign.objects.filter(external_id__startswith="demo-campaign-")
    }
    new = []
    for name, kind, start, end, cost in CAMPAIGNS:
        key = f"demo-campaign-{slug(name)}"
        if key in have:
            continue
        start_day, end_day = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        status = (
            CampaignStatus.PLANNED
            if start_day > DATASET_END
            else CampaignStatus.ACTIVE
            if end_day >= DATASET_END
            else CampaignStatus.COMPLETED
        )
        new.append(
            Campaign(
                owner_position=owner,
                name=name,
                kind=kind,
                status=status,
                start_date=start_day,
                end_date=end_day,
                cost=Decimal(cost),
                external_id=key,
                is_generated=True,
                created_at=at(min(start_day, DATASET_END) - dt.timedelta(days=30)),
                updated_at=at(min(end_day, DATASET_END)),
            )
        )
    bulk_create(Campaign, new)
    ctx.count("campaigns", len(new))
    ctx.campaigns = sorted([*have.values(), *new], key=lambda c: c.start_date)


def _campaign_on(ctx: DemoContext, day: dt.date):
    """The campaign running on ``day``, else the last one that started before it."""
    started = [c for c in ctx.campaigns if c.start_date <= day]
    running = [c for c in started if c.end_date >= day]
    return (running or started or [None])[-1]


# --- leads -------------------------------------------------------------------------------------


@dataclass
class _LeadLife:
    """A lead being built with its status history and its activities."""

    lead: Lead
    changes: list[LeadStatusChange] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)

    def move(self, to: str, when: dt.datetime, owner: Position, note: str = "", by=None):
        self.changes.append(
            LeadStatusChange(
                lead=self.lead,
                from_status=self.changes[-1].to_status if self.changes else "",
                to_status=to,
                at=when,
                by_id=(by or owner).holder_id,
                owner_position=owner,
                note=note,
            )
        )
        self.lead.owner_position = owner
        self.lead.status = to
        self.lead.updated_at = when

    def assign(self, when: dt.datetime, owner: Position, by: Position):
        self.move(self.lead.status, when, owner, note=f"Assigned to {owner.title}", by=by)

    def activity(self, kind: str, subject: str, when: dt.datetime, **fields: Any):
        owner = fields.pop("owner", None) or self.lead.owner_position
        done = fields.pop("done", kind != ActivityKind.TASK)
        self.activities.append(
            Activity(
                owner_position=owner,
                kind=kind,
                subject=subject,
                occurred_at=when,
                done_at=when if done else None,
                lead=self.lead,
                account=self.lead.account,
                created_by_id=owner.holder_id,
                is_generated=True,
                created_at=when,
                updated_at=when,
                **fields,
            )
        )


def _touch(life: _LeadLife, rnd, when: dt.datetime) -> None:
    name = life.lead.first_name
    if rnd.random() < 0.6:
        outcome = weighted(
            rnd,
            [
                (ActivityOutcome.CONNECTED, 50),
                (ActivityOutcome.LEFT_MESSAGE, 30),
                (ActivityOutcome.MEETING_BOOKED, 20),
            ],
        )
        life.activity(ActivityKind.CALL, f"First call with {name}", when, outcome=outcome)
    else:
        life.activity(ActivityKind.EMAIL, f"Introduction e-mail to {name}", when)


@dataclass
class _LeadTeam:
    """Who works leads in each region, and the customers referrals and cross-sell come from."""

    regions: list[int]
    sdrs: dict[int, Position]
    bdrs: dict[int, Position]
    customers: list[Account]


def _converted_leads(ctx: DemoContext, team: _LeadTeam) -> list[tuple[_LeadLife, Any, DealPlan]]:
    """Leads that became some of the Maven deals (created in 2017, at a known account): each
    converts when its deal was created. Returns (life, referrer contact, deal)."""
    sdrs, bdrs, customers = team.sdrs, team.bdrs, team.customers
    out: list[tuple[_LeadLife, Any, DealPlan]] = []
    candidates = sorted(
        (
            p
            for p in ctx.deals
            if p.account
            and p.engage
            and p.created_at.year == 2017
            and p.opportunity_id in ctx.opportunities
        ),
        key=lambda p: rng("lead-sample", p.opportunity_id).random(),
    )[:N_CONVERTED_LEADS]
    per_account: Counter[str] = Counter()
    for n, plan in enumerate(sorted(candidates, key=lambda p: p.created_at)):
        rnd = rng("lead-converted", plan.opportunity_id)
        key = f"demo-lead-c{n + 1:03d}"
        ae = ctx.agents[plan.agent]
        sdr, bdr = sdrs[ae.region_id or 0], bdrs[ae.region_id or 0]
        account = ctx.accounts[plan.account]
        contacts = ctx.contacts[account.pk]
        person = contacts[per_account[plan.account] % len(contacts)]
        per_account[plan.account] += 1
        source = weighted(
            rnd,
            [
                (LeadSource.OUTBOUND, 35),
                (LeadSource.WEB, 20),
                (LeadSource.CAMPAIGN, 20),
                (LeadSource.REFERRAL, 15),
                (LeadSource.EVENT, 10),
            ],
        )
        t_converted = plan.created_at
        t_sql = t_converted - dt.timedelta(hours=rnd.randint(4, 96))
        t_qualifying = t_sql - dt.timedelta(hours=rnd.randint(24, 144))
        t_touch = t_qualifying - dt.timedelta(hours=rnd.randint(20, 120))
        t_new = t_touch - dt.timedelta(minutes=rnd.randint(10, 2880))
        campaign = _campaign_on(ctx, local_day(t_new)) if source == LeadSource.CAMPAIGN else None
        if source == LeadSource.CAMPAIGN and campaign is None:
            source = LeadSource.WEB
        referrer = None
        if source == LeadSource.REFERRAL:
            others = [c for a in customers if a.pk != account.pk for c in ctx.contacts[a.pk]]
            referrer = rnd.choice(others)
        first_owner = bdr if source == LeadSource.OUTBOUND else sdr
        product = ctx.products[plan.product]
        lead = Lead(
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            phone=person.phone,
            title=person.title,
            company=account.name,
            sector=account.sector,
            employees=account.employees,
            annual_revenue=account.annual_revenue,
            region_id=ae.region_id,
            country=account.country,
            source=source,
            source_name=SOURCE_NAME,
            campaign=campaign,
            generated_by=bdr if source == LeadSource.OUTBOUND else None,
            qualified_by=sdr,
            received_by=ae,
            bant_budget=cents(ctx.price(product) * Decimal(rnd.choice(["1", "1", "1.2", "1.5"]))),
            bant_authority=weighted(
                rnd,
                [(Authority.DECISION_MAKER, 50), (Authority.INFLUENCER, 35), (Authority.USER, 15)],
            ),
            bant_need=rnd.choice(NEEDS),
            bant_timeline=plan.close or plan.expected_close,
            first_touch_at=t_touch,
            qualified_at=t_sql,
            handed_over_at=t_converted,
            converted_at=t_converted,
            converted_account=account,
            converted_contact=person,
            converted_opportunity_id=ctx.opportunities[plan.opportunity_id],
            external_id=key,
            is_generated=True,
            created_at=t_new,
        )
        life = _LeadLife(lead)
        life.move(LeadStatus.NEW, t_new, first_owner)
        life.move(LeadStatus.CONTACTED, t_touch, first_owner)
        _touch(life, rnd, t_touch)
        if first_owner != sdr:
            life.assign(t_touch + (t_qualifying - t_touch) / 2, sdr, by=bdr)
        life.move(LeadStatus.QUALIFYING, t_qualifying, sdr)
        life.activity(
            ActivityKind.CALL, "Qualification call", t_qualifying, outcome=ActivityOutcome.CONNECTED
        )
        life.move(LeadStatus.SALES_QUALIFIED, t_sql, sdr)
        life.activity(
            ActivityKind.MEETING,
            f"Hand-off meeting with {ae.holder.full_name if ae.holder else ae.title}",
            t_sql,
            outcome=ActivityOutcome.MEETING_BOOKED,
        )
        life.move(LeadStatus.CONVERTED, t_converted, sdr, note=f"Handed to {ae.title}")
        out.append((life, referrer, plan))

    return out


def _other_leads(ctx: DemoContext, team: _LeadTeam) -> list[tuple[_LeadLife, Any]]:
    """Leads in every other state, created in the dataset's last seven months. Returns (life,
    referrer contact)."""
    regions, sdrs, bdrs, customers = team.regions, team.sdrs, team.bdrs, team.customers
    out: list[tuple[_LeadLife, Any]] = []
    statuses = [
        (LeadStatus.NEW, 16),
        (LeadStatus.CONTACTED, 20),
        (LeadStatus.QUALIFYING, 14),
        (LeadStatus.SALES_QUALIFIED, 8),
        (LeadStatus.DISQUALIFIED, 28),
        (LeadStatus.RECYCLED, 14),
    ]
    sources = [
        (LeadSource.OUTBOUND, 35),
        (LeadSource.WEB, 25),
        (LeadSource.CAMPAIGN, 20),
        (LeadSource.REFERRAL, 8),
        (LeadSource.EVENT, 7),
        (LeadSource.PARTNER, 5),
    ]
    used_companies: set[str] = set()
    for n in range(N_OTHER_LEADS):
        rnd = rng("lead", n)
        key = f"demo-lead-{n + 1:04d}"
        region = rnd.choice(regions)
        sdr, bdr = sdrs[region], bdrs[region]
        status = weighted(rnd, statuses)
        source = weighted(rnd, sources)
        outbound = source == LeadSource.OUTBOUND
        account = rnd.choice(customers) if outbound and customers and rnd.random() < 0.25 else None
        first, last = _person(rnd, set())
        if account is not None:  # a cross-sell prospect at a customer
            company, sector = account.name, account.sector
            employees, revenue, country = account.employees, account.annual_revenue, account.country
        else:
            sector = rnd.choice(sorted(SECTOR_WORDS))
            while True:
                company = (
                    f"{rnd.choice(COMPANY_PREFIXES)}{rnd.choice(COMPANY_STEMS)} "
                    f"{SECTOR_WORDS[sector]}"
                )
                if company not in used_companies:
                    used_companies.add(company)
                    break
            employees = rnd.choice([8, 25, 60, 140, 320, 750, 1800, 4200])
            revenue = cents(Decimal(employees * rnd.randint(90, 260)) * 1000)
            country = "United States" if rnd.random() < 0.9 else rnd.choice(["Canada", "Mexico"])

        # The steps of its life: (status, hours after the previous step)
        path: list[tuple[str, int]] = [(LeadStatus.NEW, 0)]
        if status != LeadStatus.NEW:
            path.append((LeadStatus.CONTACTED, rnd.randint(1, 72)))
        if status in (LeadStatus.QUALIFYING, LeadStatus.SALES_QUALIFIED) or (
            status == LeadStatus.DISQUALIFIED and rnd.random() < 0.5
        ):
            path.append((LeadStatus.QUALIFYING, rnd.randint(24, 192)))
        if status == LeadStatus.SALES_QUALIFIED:
            path.append((LeadStatus.SALES_QUALIFIED, rnd.randint(48, 240)))
        if status == LeadStatus.DISQUALIFIED or (
            status == LeadStatus.RECYCLED and rnd.random() < 0.5
        ):
            path.append((LeadStatus.DISQUALIFIED, rnd.randint(24, 336)))
        if status == LeadStatus.RECYCLED:
            path.append((LeadStatus.RECYCLED, rnd.randint(480, 1440)))
        span = dt.timedelta(hours=sum(h for _, h in path))
        latest = at(DATASET_END, 480) - span
        earliest = (
            at(DATASET_END - dt.timedelta(days=21))
            if status == LeadStatus.NEW
            else at(dt.date(2017, 6, 1))
        )
        earliest = min(earliest, latest)
        t_new = earliest + (latest - earliest) * rnd.random()
        t_new = t_new.replace(second=0, microsecond=0)

        campaign = _campaign_on(ctx, local_day(t_new)) if source == LeadSource.CAMPAIGN else None
        referrer = None
        if source == LeadSource.REFERRAL:
            referrer = rnd.choice([c for a in customers for c in ctx.contacts[a.pk]])
        reason = ""
        if status == LeadStatus.DISQUALIFIED:
            reason = weighted(rnd, DISQUALIFY_REASONS)
        elif any(step == LeadStatus.DISQUALIFIED for step, _ in path):  # recycled since
            reason = DisqualifyReason.BAD_TIMING
        lead = Lead(
            first_name=first,
            last_name=last,
            email=_email(first, last, f"{slug(company)}.example"),
            phone=_phone(rnd),
            title=rnd.choice(BUYER_TITLES + OTHER_TITLES),
            company=company,
            sector=sector,
            employees=employees,
            annual_revenue=revenue,
            region_id=region,
            country=country,
            account=account,
            source=source,
            source_name=SOURCE_NAME,
            campaign=campaign,
            generated_by=bdr if outbound else None,
            disqualify_reason=reason,
            disqualify_note="Generated for the demo." if reason else "",
            external_id=key,
            is_generated=True,
            created_at=t_new,
        )
        life = _LeadLife(lead)
        when = t_new
        owner = bdr if outbound else sdr
        for step, hours in path:
            when += dt.timedelta(hours=hours)
            if step == LeadStatus.QUALIFYING and owner != sdr:
                life.assign(when - dt.timedelta(hours=hours / 2), sdr, by=bdr)
                owner = sdr
            if step == LeadStatus.DISQUALIFIED:
                label = DisqualifyReason(reason).label
                life.move(step, when, owner, note=label)
                life.activity(ActivityKind.NOTE, f"Disqualified: {label}", when)
            else:
                life.move(step, when, owner)
            if step == LeadStatus.CONTACTED:
                lead.first_touch_at = when
                _touch(life, rnd, when)
            elif step == LeadStatus.QUALIFYING:
                life.activity(
                    ActivityKind.CALL, "Qualification call", when, outcome=ActivityOutcome.CONNECTED
                )
            elif step == LeadStatus.SALES_QUALIFIED:
                lead.qualified_by, lead.qualified_at = sdr, when
                lead.bant_budget = cents(
                    Decimal(rnd.choice([550, 1096, 3393, 4821, 5482, 26768]) * rnd.randint(1, 8))
                )
                lead.bant_authority = weighted(
                    rnd,
                    [
                        (Authority.DECISION_MAKER, 50),
                        (Authority.INFLUENCER, 40),
                        (Authority.USER, 10),
                    ],
                )
                lead.bant_need = rnd.choice(NEEDS)
                lead.bant_timeline = DATASET_END + dt.timedelta(days=rnd.randint(30, 120))
                life.activity(
                    ActivityKind.MEETING,
                    "Hand-off to an account executive",
                    when,
                    outcome=ActivityOutcome.MEETING_BOOKED,
                )
        # What is left to do on a live lead: a task for its owner, due after the dataset's end.
        todo = {
            LeadStatus.NEW: f"First touch: call {first} {last}",
            LeadStatus.CONTACTED: f"Follow up with {first}",
            LeadStatus.QUALIFYING: "Confirm budget and timeline",
            LeadStatus.SALES_QUALIFIED: "Hand over to an account executive",
            LeadStatus.RECYCLED: f"Re-engage {first} next quarter",
        }.get(status)
        if todo:
            due_days = rnd.randint(30, 60) if status == LeadStatus.RECYCLED else rnd.randint(1, 10)
            life.activity(
                ActivityKind.TASK,
                todo,
                when + dt.timedelta(minutes=30),
                due_at=at(DATASET_END + dt.timedelta(days=due_days), 60),
            )
        out.append((life, referrer))

    return out


def leads_generate(ctx: DemoContext) -> None:
    have = set(
        Lead.objects.filter(external_id__startswith="demo-lead-").values_list(
            "external_id", flat=True
        )
    )
    regions = sorted(
        Region.objects.filter(positions__role=RoleType.SDR).distinct().values_list("id", flat=True)
    )
    sdrs = {r: _role_position(ctx, RoleType.SDR, region=r) for r in regions}
    bdrs = {r: _role_position(ctx, RoleType.BDR, region=r) for r in regions}
    team = _LeadTeam(regions, sdrs, bdrs, _customers(ctx))
    converted = _converted_leads(ctx, team)
    lives = [(life, referrer) for life, referrer, _ in converted]
    lives += _other_leads(ctx, team)
    links = [(life, plan) for life, _, plan in converted if life.lead.external_id not in have]
    lives = [(life, referrer) for life, referrer in lives if life.lead.external_id not in have]

    new_leads = [life.lead for life, _ in lives]
    bulk_create(Lead, new_leads)
    bulk_create(LeadStatusChange, [c for life, _ in lives for c in life.changes])
    activities = bulk_create(Activity, [a for life, _ in lives for a in life.activities])
    ctx.count("leads", len(new_leads))
    ctx.count("activities", len(activities))

    # The converted leads' deals point back at them (and at their campaign).
    linked = []
    for life, plan in links:
        linked.append(
            Opportunity(
                pk=ctx.opportunities[plan.opportunity_id],
                lead_id=life.lead.pk,
                campaign_id=life.lead.campaign_id,
            )
        )
    Opportunity.objects.bulk_update(linked, ["lead", "campaign"], batch_size=500)

    plan_of = {life.lead.pk: plan for life, plan in links}
    referrals = []
    for life, referrer in lives:
        if referrer is None:
            continue
        lead = life.lead
        deal = plan_of.get(lead.pk)
        outcomes: dict[str, str] = {
            LeadStatus.SALES_QUALIFIED: ReferralOutcome.QUALIFIED,
            LeadStatus.DISQUALIFIED: ReferralOutcome.DISQUALIFIED,
        }
        outcome = outcomes.get(lead.status, ReferralOutcome.PENDING)
        if deal is not None:  # converted: the deal's outcome
            outcome = {"Won": ReferralOutcome.WON, "Lost": ReferralOutcome.LOST}.get(
                deal.outcome, ReferralOutcome.QUALIFIED
            )
        referrals.append(
            Referral(
                owner_position=lead.owner_position,
                referrer_contact=referrer,
                referrer_account_id=referrer.account_id,
                lead=lead,
                outcome=outcome,
                reward="$250 gift card" if outcome == ReferralOutcome.WON else "",
                note=f"{referrer.first_name} introduced {lead.first_name} at {lead.company}.",
                is_generated=True,
                created_at=lead.created_at,
                updated_at=lead.updated_at,
            )
        )
    bulk_create(Referral, referrals)
    ctx.count("referrals", len(referrals))
    _prospect_lists(ctx, bdrs)


def _prospect_lists(ctx: DemoContext, bdrs: dict[int, Position]) -> None:
    """One list per BDR: their outbound prospects still being worked."""
    names = {bdr.pk: f"Outbound prospects, {bdr.title.split(', ')[-1]}" for bdr in bdrs.values()}
    have = set(
        ProspectList.objects.filter(
            owner_position__in=list(bdrs.values()), name__in=list(names.values())
        ).values_list("owner_position_id", "name")
    )
    lists, members = [], []
    created = at(DATASET_END - dt.timedelta(days=120))
    for bdr in bdrs.values():
        if (bdr.pk, names[bdr.pk]) in have:
            continue
        prospect_list = ProspectList(
            owner_position=bdr,
            name=names[bdr.pk],
            description="Outbound prospects and cross-sell targets (generated for the demo).",
            created_at=created,
            updated_at=at(DATASET_END),
        )
        lists.append(prospect_list)
        leads = Lead.objects.filter(
            owner_position=bdr,
            source=LeadSource.OUTBOUND,
            status__in=[LeadStatus.NEW, LeadStatus.CONTACTED],
            is_generated=True,
        ).order_by("created_at", "id")
        for lead in leads:
            members.append(
                ProspectListMember(
                    prospect_list=prospect_list,
                    lead=lead,
                    added_at=lead.created_at,
                    added_by_id=bdr.holder_id,
                    how=ProspectSource.RULE if lead.account_id else ProspectSource.SEARCH,
                )
            )
    bulk_create(ProspectList, lists)
    for member in members:
        member.prospect_list_id = member.prospect_list.pk
    bulk_create(ProspectListMember, members)
    ctx.count("prospect lists", len(lists))


# --- activities on deals -----------------------------------------------------------------------


def _deal_activity(target, kind, subject, when, outcome, body, due, done) -> Activity:
    owner, contact, account, opportunity_id = target
    return Activity(
        owner_position=owner,
        kind=kind,
        subject=subject,
        body=body,
        occurred_at=when,
        due_at=due,
        done_at=when if done else None,
        outcome=outcome,
        contact=contact,
        account=account,
        opportunity_id=opportunity_id,
        created_by_id=owner.holder_id,
        is_generated=True,
        created_at=when,
        updated_at=when,
    )


def activities_generate(ctx: DemoContext) -> None:
    """Calls, e-mails, discovery calls, demos, meetings, notes and tasks along the stage history
    of a tenth of the Maven deals (and a task on every renewal)."""
    if Activity.objects.filter(is_generated=True, opportunity__isnull=False).exists():
        return
    deals = [
        p for p in ctx.deals if p.sample < ACTIVITY_SAMPLE and p.opportunity_id in ctx.opportunities
    ]
    contact_of = dict(
        Opportunity.objects.filter(
            pk__in=[ctx.opportunities[p.opportunity_id] for p in deals]
        ).values_list("id", "contact_id")
    )
    contacts = {c.pk: c for cs in ctx.contacts.values() for c in cs}
    activities = []
    for plan in deals:
        rnd = rng("activities", plan.opportunity_id)
        owner = ctx.agents[plan.agent]
        opportunity_id = ctx.opportunities[plan.opportunity_id]
        account = ctx.accounts.get(plan.account)
        contact = contacts.get(contact_of.get(opportunity_id))
        who = contact.first_name if contact else (plan.account or "the buyer")
        product = ctx.products[plan.product].name
        target = (owner, contact, account, opportunity_id)

        def add(kind, subject, when, outcome="", body="", due=None, done=True, _to=target):
            activities.append(_deal_activity(_to, kind, subject, when, outcome, body, due, done))

        for key, when in plan.steps:
            soon = when + dt.timedelta(minutes=rnd.randint(20, 90))
            if key == "prospecting":
                if rnd.random() < 0.5:
                    add(
                        ActivityKind.CALL, f"Intro call with {who}", soon, ActivityOutcome.CONNECTED
                    )
                else:
                    add(ActivityKind.EMAIL, f"Introduction: {product}", soon)
            elif key == "discovery":
                add(
                    ActivityKind.DISCOVERY_CALL,
                    f"Discovery call with {who}",
                    soon,
                    ActivityOutcome.COMPLETED,
                    body="Needs, current set-up, budget holder and timeline reviewed.",
                )
            elif key == "demo":
                add(ActivityKind.DEMO, f"{product} demo", soon, ActivityOutcome.COMPLETED)
            elif key == "proposal":
                add(ActivityKind.EMAIL, f"Proposal sent: {product}", soon)
            elif key == "negotiation":
                add(
                    ActivityKind.MEETING,
                    "Terms and pricing review",
                    soon,
                    ActivityOutcome.COMPLETED,
                )
            elif key == "won":
                add(
                    ActivityKind.NOTE, "Closed won", soon, body=f"Signed for ${plan.close_value:,}."
                )
            elif key == "lost":
                reason = LossReason(plan.loss_reason).label if plan.loss_reason else "no reason"
                add(ActivityKind.NOTE, f"Closed lost: {reason}", soon)
        last = plan.steps[-1][1]
        if plan.status == OpportunityStatus.OPEN:
            due = at(
                max(
                    local_day(last) + dt.timedelta(days=rnd.randint(5, 21)),
                    DATASET_END - dt.timedelta(days=3),
                ),
                90,
            )
            add(
                ActivityKind.TASK,
                {
                    "prospecting": f"Call {who} to confirm the need",
                    "discovery": "Book the product demo",
                    "demo": "Send the proposal",
                    "proposal": f"Follow up with {who} on the proposal",
                }.get(plan.stage, "Follow up"),
                last + dt.timedelta(hours=1),
                due=due,
                done=False,
            )
        elif plan.outcome == "Won":
            add(
                ActivityKind.TASK,
                "Send the order confirmation",
                last + dt.timedelta(minutes=30),
                ActivityOutcome.COMPLETED,
                due=last + dt.timedelta(days=1),
                done=True,
            )
    bulk_create(Activity, activities)
    ctx.count("activities", len(activities))


# --- customer service --------------------------------------------------------------------------


def _customers(ctx: DemoContext) -> list[Account]:
    return sorted(
        (a for a in ctx.accounts.values() if a.customer_status == CustomerStatus.CUSTOMER),
        key=lambda a: a.name,
    )


def complaints_generate(ctx: DemoContext) -> None:
    if Complaint.objects.filter(is_generated=True).exists():
        return
    care = _role_position(ctx, RoleType.CUSTOMER_SUCCESS, title="Customer Success Manager")
    won: dict[str, list[DealPlan]] = defaultdict(list)
    for plan in ctx.deals:
        if plan.outcome == "Won" and plan.account:
            won[plan.account].append(plan)
    rnd = rng("complaints")
    customers = _customers(ctx)
    complaints = []
    for account in rnd.sample(customers, k=min(32, len(customers))):
        deal = rnd.choice(sorted(won[account.name], key=lambda p: p.opportunity_id))
        assert deal.close is not None
        raised = at(
            min(deal.close + dt.timedelta(days=rnd.randint(5, 60)), DATASET_END), rnd.randrange(480)
        )
        subject, description, resolution = rnd.choice(COMPLAINTS)
        manager = ctx.positions.get(ctx.positions[account.owner_position_id].reports_to_id or 0)
        owner = manager if manager is not None and rnd.random() < 0.5 else care
        recent = raised >= at(DATASET_END - dt.timedelta(days=21))
        status = weighted(
            rnd,
            [(ComplaintStatus.OPEN, 45), (ComplaintStatus.IN_PROGRESS, 55)]
            if recent
            else [
                (ComplaintStatus.RESOLVED, 80),
                (ComplaintStatus.IN_PROGRESS, 10),
                (ComplaintStatus.OPEN, 10),
            ],
        )
        resolved = (
            raised + dt.timedelta(hours=rnd.randint(4, 240))
            if status == ComplaintStatus.RESOLVED
            else None
        )
        contacts = ctx.contacts.get(account.pk) or [None]
        complaints.append(
            Complaint(
                owner_position=owner,
                account=account,
                contact=rnd.choice(contacts),
                opportunity_id=ctx.opportunities.get(deal.opportunity_id),
                subject=subject,
                description=description,
                severity=weighted(
                    rnd,
                    [
                        (ComplaintSeverity.LOW, 25),
                        (ComplaintSeverity.MEDIUM, 45),
                        (ComplaintSeverity.HIGH, 22),
                        (ComplaintSeverity.CRITICAL, 8),
                    ],
                ),
                status=status,
                raised_at=raised,
                resolved_at=resolved,
                resolution=resolution if resolved else "",
                is_generated=True,
                created_at=raised,
                updated_at=resolved or raised,
            )
        )
    bulk_create(Complaint, complaints)
    ctx.count("complaints", len(complaints))


def surveys_generate(ctx: DemoContext) -> None:
    """CSAT after some won deals and an NPS answer or two from every customer."""
    if SatisfactionResponse.objects.filter(is_generated=True).exists():
        return
    care = _role_position(ctx, RoleType.CUSTOMER_SUCCESS, title="Customer Success Manager")
    unhappy = set(
        Complaint.objects.filter(is_generated=True)
        .exclude(status=ComplaintStatus.RESOLVED)
        .values_list("account_id", flat=True)
    )
    won: dict[str, list[DealPlan]] = defaultdict(list)
    for plan in ctx.deals:
        if plan.outcome == "Won" and plan.account:
            won[plan.account].append(plan)
    responses = []
    for account in _customers(ctx):
        rnd = rng("surveys", account.name)
        contacts = ctx.contacts.get(account.pk) or [None]
        low = account.pk in unhappy
        deals = sorted(won[account.name], key=lambda p: p.opportunity_id)
        for deal in rnd.sample(deals, k=min(len(deals), rnd.randint(1, 3))):
            assert deal.close is not None
            when = at(min(deal.close + dt.timedelta(days=rnd.randint(3, 20)), DATASET_END), 120)
            score = weighted(
                rnd,
                [(5, 20), (4, 35), (3, 25), (2, 12), (1, 8)]
                if low
                else [(5, 45), (4, 35), (3, 12), (2, 5), (1, 3)],
            )
            responses.append(
                SatisfactionResponse(
                    owner_position=care,
                    account=account,
                    contact=rnd.choice(contacts),
                    kind=SurveyKind.CSAT,
                    score=score,
                    comment="",
                    responded_at=when,
                    is_generated=True,
                    created_at=when,
                    updated_at=when,
                )
            )
        assert account.customer_since is not None
        for _ in range(rnd.randint(1, 2)):
            start = account.customer_since + dt.timedelta(days=14)
            day = start + dt.timedelta(days=rnd.randint(0, max(0, (DATASET_END - start).days)))
            when = at(min(day, DATASET_END), rnd.randrange(480))
            score = weighted(
                rnd,
                [
                    (s, w)
                    for s, w in zip(range(11), [2, 2, 3, 4, 5, 6, 8, 14, 16, 20, 20], strict=True)
                ]
                if not low
                else [
                    (s, w)
                    for s, w in zip(range(11), [5, 5, 6, 8, 10, 12, 14, 14, 12, 8, 6], strict=True)
                ],
            )
            kind = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            responses.append(
                SatisfactionResponse(
                    owner_position=care,
                    account=account,
                    contact=rnd.choice(contacts),
                    kind=SurveyKind.NPS,
                    score=score,
                    comment=rnd.choice(NPS_COMMENTS[kind]) if rnd.random() < 0.6 else "",
                    responded_at=when,
                    is_generated=True,
                    created_at=when,
                    updated_at=when,
                )
            )
    bulk_create(SatisfactionResponse, responses)
    ctx.count("survey answers", len(responses))


# --- the whole load ----------------------------------------------------------------------------


@transaction.atomic
def load_demo_crm() -> CrmDemoResult:
    """Load (or complete) the Maven accounts and pipeline and the generated CRM data, on top of
    the demo organisation (``load_demo_org`` first). Safe to run again: changes nothing then."""
    from revline.pipeline.services import pipeline_ensure_default

    ctx = _context()
    ctx.pipeline = pipeline_ensure_default()
    ctx.stages = stages_of(ctx.pipeline)
    products_load(ctx)
    ctx.deals = deal_plans()
    accounts_load(ctx)
    contacts_generate(ctx)
    campaigns_generate(ctx)
    opportunities_load(ctx)
    leads_generate(ctx)
    renewals_generate(ctx)
    quotes_generate(ctx)
    activities_generate(ctx)
    complaints_generate(ctx)
    surveys_generate(ctx)
    if ctx.created:
        # One summary event instead of one per record (see the module docstring).
        audit_event_record(
            actor=ctx.by,
            action="demo.load",
            instance=ctx.pipeline,
            changes={"created": (None, dict(ctx.created))},
        )
    return CrmDemoResult(created=dict(ctx.created))
