"""``revline demo``'s planning data, on top of the demo organisation and the Maven pipeline.

Everything here is generated (the Maven data set has no quotas, targets, budgets or forecasts)
from fixed seeds, so every run makes the same rows, each marked ``is_generated``:

- **Quotas** for every Maven agent (AE) for each quarter of 2017 and the first of 2018 (the
  quarter the open pipeline closes in), about the agent's average quarter of 2017 bookings
  (+3 % a quarter, +-10 % per agent and quarter), with a deal count; each manager's team quota
  a few percent above the sum of their agents' (so the gap shows). Set by the manager (agents)
  and the region's VP (managers).
- **Targets** for each region and each manager's team for the same quarters, set by the VP.
- **Budgets** per region (campaigns, travel, incentives, tools) and a travel budget per team,
  with spend entries through each quarter (campaign spend linked to the demo campaign running
  then); 2017 budgets end between 70 % and 105 % used, 2018's first quarter is under way.
- **Submitted forecasts** for the first quarter of 2018, in four weekly rounds (the weeks of 1,
  8, 15 and 22 January 2018): each agent submits from their deals' forecast categories (the
  open Maven deals are best case or pipeline, so agents move part of their best case into
  commit as the quarter firms up); in the last round managers adjust two agents' commit each
  and a VP a manager's. After each round the weekly snapshot is taken by the same
  service the weekly task runs, so the history is the true roll-up of what was submitted.

Submissions and adjustments go through the services (each audited); the bulk rows (quotas,
targets, budgets, spend) are inserted at once with one summary audit event (``demo.planning``).
Loading is idempotent: each kind is made only while no generated row of it exists.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from revline.core.services import audit_event_record
from revline.org.choices import RoleType
from revline.org.demo import ADMIN_EMAIL, demo_email, read_maven_teams
from revline.org.models import Position, User
from revline.pipeline.demo import rng
from revline.planning import selectors, services
from revline.planning.calendar import Period, fiscal_rule
from revline.planning.choices import BudgetCategory
from revline.planning.models import (
    Budget,
    BudgetSpend,
    ForecastSnapshot,
    ForecastSubmission,
    Quota,
    Target,
)

QUOTA_FROM = dt.date(2017, 1, 1)
QUOTA_TO = dt.date(2018, 3, 31)
FORECAST_DAY = dt.date(2018, 1, 15)  # a day of the forecast quarter
ROUNDS = [dt.date(2018, 1, 1), dt.date(2018, 1, 8), dt.date(2018, 1, 15), dt.date(2018, 1, 22)]
REGION_BUDGETS = [
    (BudgetCategory.CAMPAIGNS, 40000),
    (BudgetCategory.TRAVEL, 15000),
    (BudgetCategory.INCENTIVES, 25000),
    (BudgetCategory.TOOLS, 8000),
]
TEAM_TRAVEL = 6000
SPEND_NOTES = {
    BudgetCategory.CAMPAIGNS: [
        "Paid search",
        "Trade show booth",
        "Webinar promotion",
        "Direct mail",
    ],
    BudgetCategory.TRAVEL: ["Customer visit", "Quarterly business review on site", "Team offsite"],
    BudgetCategory.INCENTIVES: ["Quarter-end SPIFF", "President's club accrual", "Deal bonus"],
    BudgetCategory.TOOLS: ["Sales engagement seats", "Data enrichment credits", "Dialer licences"],
}
ADJUST_NOTES = [
    (Decimal("0.85"), "Two deals likely to slip into Q2."),
    (Decimal("1.10"), "Champion confirmed budget; pulling one deal into commit."),
    (Decimal("0.90"), "Procurement is slow at the largest account."),
]


def _round(value: Decimal, step: int) -> Decimal:
    return (value / step).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * step


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(
        dt.datetime.combine(day, dt.time(hour)), timezone.get_default_timezone()
    )


class _Org:
    """The demo people planning needs: agents, their managers, the regional VPs."""

    def __init__(self) -> None:
        rows = read_maven_teams()
        by_email = {
            p.holder.email: p
            for p in Position.objects.filter(holder__isnull=False).select_related(
                "holder", "team", "region"
            )
        }
        self.agents: dict[int, Position] = {}
        self.managers: dict[int, Position] = {}
        self.team_of: dict[int, list[Position]] = defaultdict(list)
        for row in rows:
            agent = by_email.get(demo_email(row["sales_agent"]))
            manager = by_email.get(demo_email(row["manager"]))
            if agent is None or manager is None:
                raise RuntimeError("Load the demo organisation and pipeline first.")
            self.agents[agent.pk] = agent
            self.managers[manager.pk] = manager
            self.team_of[manager.pk].append(agent)
        self.vps: dict[int, Position] = {
            p.pk: p
            for p in Position.objects.filter(
                role=RoleType.VP_SALES, region__isnull=False
            ).select_related("holder", "region")
        }
        self.vp_of_region = {vp.region_id: vp for vp in self.vps.values()}
        self.admin = User.objects.filter(email=ADMIN_EMAIL).first()

    def vp_of(self, manager: Position) -> Position:
        return self.vp_of_region[manager.region_id]


def _quarters() -> list[Period]:
    return fiscal_rule().periods_between(QUOTA_FROM, QUOTA_TO, "quarter")


def quotas_generate(org: _Org, created: dict[str, int]) -> list[Any]:
    if Quota.objects.filter(is_generated=True).exists():
        return []
    quarters = _quarters()
    year = fiscal_rule().periods_between(dt.date(2017, 1, 1), dt.date(2017, 12, 31), "quarter")
    history: dict[int, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
    for q in year:
        for pid, (amount, n) in selectors.bookings_by_owner(
            user=None, owners=list(org.agents), start=q.start, end=q.end
        ).items():
            a, c = history[pid]
            history[pid] = (a + amount, c + n)
    rows: list[Quota] = []
    team_sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for pid, agent in sorted(org.agents.items()):
        total, wins = history[pid]
        base = max(total / max(len(year), 1), Decimal(20000))
        manager = agent.reports_to
        for i, q in enumerate(quarters):
            r = rng("quota", pid, q.key)
            amount = _round(base * Decimal(1 + 0.03 * i) * Decimal(str(r.uniform(0.9, 1.1))), 1000)
            deals = max(1, round(wins / max(len(year), 1) * 1.1))
            quota = Quota(
                owner_position=agent,
                amount=amount,
                deal_count=deals,
                set_by=manager.holder if manager else None,
                note="Generated for the demo.",
                is_generated=True,
            )
            quota.set_period(q)
            rows.append(quota)
            team_sums[(agent.reports_to_id, q.key)] += amount
    for mid, manager in sorted(org.managers.items()):
        vp = org.vp_of(manager)
        for q in quarters:
            r = rng("team-quota", mid, q.key)
            amount = _round(team_sums[(mid, q.key)] * Decimal(str(r.uniform(1.02, 1.08))), 5000)
            quota = Quota(
                owner_position=manager,
                amount=amount,
                set_by=vp.holder,
                note="Team quota. Generated for the demo.",
                is_generated=True,
            )
            quota.set_period(q)
            rows.append(quota)
    Quota.objects.bulk_create(rows, batch_size=500)
    created["quotas"] = len(rows)
    return rows


def targets_generate(org: _Org, created: dict[str, int]) -> None:
    if Target.objects.filter(is_generated=True).exists():
        return
    quotas = {
        (q.owner_position_id, q.period_start): q.amount
        for q in Quota.objects.filter(owner_position__in=list(org.managers), opportunity_type="")
    }
    rows: list[Target] = []
    for q in _quarters():
        region_sum: dict[int, Decimal] = defaultdict(Decimal)
        for mid, manager in sorted(org.managers.items()):
            amount = quotas.get((mid, q.start))
            if amount is None or manager.team_id is None:
                continue
            region_sum[manager.region_id] += amount
            target = Target(
                team_id=manager.team_id,
                amount=amount,
                set_by=org.vp_of(manager).holder,
                is_generated=True,
            )
            target.set_period(q)
            rows.append(target)
        for region_id, amount in sorted(region_sum.items()):
            target = Target(
                region_id=region_id,
                amount=_round(amount, 10000),
                set_by=org.vp_of_region[region_id].holder,
                note="Generated for the demo.",
                is_generated=True,
            )
            target.set_period(q)
            rows.append(target)
    Target.objects.bulk_create(rows, batch_size=500)
    created["targets"] = len(rows)


def budgets_generate(org: _Org, created: dict[str, int]) -> None:
    if Budget.objects.filter(is_generated=True).exists():
        return
    from revline.crm.models import Campaign

    campaigns = list(
        Campaign.objects.filter(external_id__startswith="demo-campaign-").order_by("start_date")
    )
    budgets: list[Budget] = []
    owners: dict[int, User | None] = {}
    for q in _quarters():
        for region_id, vp in sorted(org.vp_of_region.items()):
            r = rng("budget", region_id, q.key)
            for category, base in REGION_BUDGETS:
                budget = Budget(
                    region_id=region_id,
                    category=category,
                    amount=_round(Decimal(base) * Decimal(str(r.uniform(0.85, 1.25))), 500),
                    set_by=vp.holder,
                    is_generated=True,
                )
                budget.set_period(q)
                budgets.append(budget)
        for manager in sorted(org.managers.values(), key=lambda p: p.pk):
            if manager.team_id is None:
                continue
            budget = Budget(
                team_id=manager.team_id,
                category=BudgetCategory.TRAVEL,
                amount=Decimal(TEAM_TRAVEL),
                set_by=org.vp_of(manager).holder,
                is_generated=True,
            )
            budget.set_period(q)
            budgets.append(budget)
            owners[manager.team_id] = manager.holder
    Budget.objects.bulk_create(budgets, batch_size=500)
    budgets = list(Budget.objects.filter(is_generated=True).order_by("id"))
    spend: list[BudgetSpend] = []
    for budget in budgets:
        r = rng("spend", budget.scope_key, budget.period_key, budget.category)
        last = min(budget.period_end, FORECAST_DAY)
        if last < budget.period_start:
            continue
        share = (
            Decimal(str(r.uniform(0.7, 1.05)))
            if budget.period_end <= FORECAST_DAY
            else Decimal(str(r.uniform(0.1, 0.3)))
        )
        total = budget.amount * share
        n = r.randint(3, 6) if budget.period_end <= FORECAST_DAY else r.randint(1, 2)
        weights = [r.uniform(0.5, 1.5) for _ in range(n)]
        days = (last - budget.period_start).days
        recorder = owners.get(budget.team_id) if budget.team_id else None
        if recorder is None:
            recorder = org.vp_of_region[budget.region_id].holder if budget.region_id else org.admin
        for w in weights:
            day = budget.period_start + dt.timedelta(days=r.randint(0, days))
            campaign = None
            if budget.category == BudgetCategory.CAMPAIGNS:
                running = [c for c in campaigns if c.start_date and c.start_date <= day]
                campaign = running[-1] if running else None
            spend.append(
                BudgetSpend(
                    budget=budget,
                    amount=(total * Decimal(str(w)) / Decimal(str(sum(weights)))).quantize(
                        Decimal("0.01")
                    ),
                    spent_on=day,
                    note=r.choice(SPEND_NOTES.get(budget.category, ["Other"])),
                    campaign=campaign,
                    recorded_by=recorder,
                    is_generated=True,
                )
            )
    BudgetSpend.objects.bulk_create(spend, batch_size=500)
    created["budgets"] = len(budgets)
    created["spend entries"] = len(spend)


def forecasts_generate(org: _Org, created: dict[str, int]) -> None:
    """Four weekly rounds of submissions for the forecast quarter, adjustments and snapshots."""
    if ForecastSubmission.objects.filter(is_generated=True).exists():
        return
    period = fiscal_rule().period_of(FORECAST_DAY, "quarter")
    prefill = {pid: selectors.forecast_prefill(position=pid, period=period) for pid in org.agents}
    submitted = adjusted = 0
    for round_no, week in enumerate(ROUNDS):
        for pid, agent in sorted(org.agents.items()):
            r = rng("forecast", pid, round_no)
            if round_no == 0 and r.random() < 0.2:
                continue  # a fifth of the agents submit only from the second week
            deals = prefill[pid]
            # As the quarter firms up, more of the best case becomes commit, and some pipeline
            # is promoted to best case.
            firm = Decimal(str(0.3 + 0.08 * round_no + r.uniform(-0.05, 0.05)))
            promoted = (deals.pipeline * Decimal(str(r.uniform(0.05, 0.15)))).quantize(Decimal("1"))
            commit = (deals.commit + deals.best_case * firm).quantize(Decimal("1"))
            best_case = (deals.best_case * (1 - firm)).quantize(Decimal("1")) + promoted
            pipeline = deals.pipeline.quantize(Decimal("1")) - promoted
            services.forecast_submit(
                by=agent.holder,
                position=agent,
                period=period,
                commit=commit,
                best_case=best_case,
                pipeline=pipeline,
                note="" if r.random() < 0.7 else "Generated for the demo.",
                at=_at(week + dt.timedelta(days=r.randint(0, 2)), 9 + r.randint(0, 7)),
                is_generated=True,
            )
            submitted += 1
        if round_no == 3:
            for mid, manager in sorted(org.managers.items()):
                subs = {
                    s.owner_position_id: s
                    for s in ForecastSubmission.objects.filter(
                        owner_position__in=org.team_of[mid],
                        period_kind=period.kind,
                        period_start=period.start,
                        commit__gt=0,
                    )
                }
                reps = sorted((p for p in org.team_of[mid] if p.pk in subs), key=lambda p: p.pk)
                r = rng("adjust", mid)
                for rep in r.sample(reps, k=min(2, len(reps))):
                    factor, note = r.choice(ADJUST_NOTES)
                    sub = subs[rep.pk]
                    services.forecast_adjust(
                        by=manager.holder,
                        position=rep,
                        period=period,
                        figure="commit",
                        amount=(sub.commit * factor).quantize(Decimal("1")),
                        note=note,
                        at=_at(week + dt.timedelta(days=3), 16),
                        is_generated=True,
                    )
                    adjusted += 1
        if round_no == 3:
            manager = sorted(org.managers.values(), key=lambda p: p.pk)[0]
            vp = org.vp_of(manager)
            node = selectors.forecast_rollup(user=vp.holder, period=period, position=manager)
            services.forecast_adjust(
                by=vp.holder,
                position=manager,
                period=period,
                figure="commit",
                amount=(node.effective["commit"] * Decimal("0.95")).quantize(Decimal("1")),
                note="Holding back 5 % until the two largest deals sign.",
                at=_at(week + dt.timedelta(days=3), 17),
                is_generated=True,
            )
            adjusted += 1
        services.forecast_snapshots_take(
            on=week + dt.timedelta(days=4), periods=[period], is_generated=True
        )
    created["forecast submissions"] = submitted
    created["forecast adjustments"] = adjusted
    created["forecast snapshots"] = ForecastSnapshot.objects.filter(is_generated=True).count()


@transaction.atomic
def load_demo_planning() -> dict[str, int]:
    """Load (or complete) the demo's planning data; returns what was created, by kind."""
    org = _Org()
    created: dict[str, int] = {}
    quotas = quotas_generate(org, created)
    targets_generate(org, created)
    budgets_generate(org, created)
    bulk = dict(created)
    forecasts_generate(org, created)
    if bulk:
        anchor = quotas[0] if quotas else Budget.objects.filter(is_generated=True).first()
        if anchor is not None:
            audit_event_record(
                actor=org.admin,
                action="demo.planning",
                instance=anchor,
                changes={"created": (None, bulk)},
            )
    return created
