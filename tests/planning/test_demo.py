"""``revline demo``'s planning data: what is generated, that it is consistent with the services'
own arithmetic, and that a second run changes nothing. The demo is loaded once for the module
inside a transaction rolled back at the end (as tests/crm/test_demo.py does)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from revline.core.models import AuditEvent
from revline.org.choices import RoleType
from revline.org.models import PositionClosure
from revline.planning import selectors
from revline.planning.calendar import fiscal_rule
from revline.planning.demo import ROUNDS, load_demo_planning
from revline.planning.models import (
    Budget,
    BudgetSpend,
    ForecastAdjustment,
    ForecastSnapshot,
    ForecastSubmission,
    Quota,
    Target,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def quarters():
    return fiscal_rule().periods_between(dt.date(2017, 1, 1), dt.date(2018, 3, 31), "quarter")


def test_everything_is_generated_and_a_second_run_changes_nothing(demo):
    assert "Demo planning data loaded" in demo
    for model in (
        Quota,
        Target,
        Budget,
        BudgetSpend,
        ForecastSubmission,
        ForecastAdjustment,
        ForecastSnapshot,
    ):
        assert model.objects.exists(), model
        assert not model.objects.filter(is_generated=False).exists(), model
    counts = {m: m.objects.count() for m in (Quota, Target, Budget, BudgetSpend, ForecastSnapshot)}
    events = AuditEvent.objects.count()
    assert load_demo_planning() == {}
    assert {m: m.objects.count() for m in counts} == counts
    assert AuditEvent.objects.count() == events


def test_quotas_for_every_agent_and_manager(demo):
    agents = Quota.objects.filter(owner_position__role=RoleType.AE)
    managers = Quota.objects.filter(owner_position__role=RoleType.SALES_MANAGER)
    assert agents.values("owner_position").distinct().count() == 35
    assert managers.values("owner_position").distinct().count() == 6
    keys = [q.key for q in quarters()]
    assert set(agents.values_list("period_key", flat=True)) == set(keys)
    for q in quarters():
        team: dict[int, Decimal] = defaultdict(Decimal)
        for quota in agents.filter(period_start=q.start).select_related("owner_position"):
            team[quota.owner_position.reports_to_id] += quota.amount
            assert quota.set_by_id == quota.owner_position.reports_to.holder_id
        for quota in managers.filter(period_start=q.start):
            assert quota.amount > team[quota.owner_position_id]  # a gap to give out
        # the whole org: the managers' team quotas (no double counting of their agents)
        whole = selectors.quota_amount(position_ids=None, start=q.start, end=q.end)
        assert whole == sum(m.amount for m in managers.filter(period_start=q.start))


def test_targets_match_team_quotas(demo):
    for q in quarters():
        for t in Target.objects.filter(period_start=q.start, team__isnull=False):
            manager_quota = Quota.objects.get(
                period_start=q.start,
                owner_position__team=t.team,
                owner_position__role=RoleType.SALES_MANAGER,
            )
            assert t.amount == manager_quota.amount
        assert Target.objects.filter(period_start=q.start, region__isnull=False).count() == 3


def test_budgets_have_spend_inside_their_period(demo):
    for spend in BudgetSpend.objects.select_related("budget"):
        assert spend.budget.period_start <= spend.spent_on <= spend.budget.period_end
        assert spend.amount > 0
    used = [
        b.spent / b.amount
        for b in selectors.budgets_with_spend(
            Budget.objects.filter(period_end__lt=dt.date(2018, 1, 1))
        )
    ]
    assert min(used) >= Decimal("0.69") and max(used) <= Decimal("1.06")
    assert BudgetSpend.objects.filter(campaign__isnull=False).exists()


def test_forecast_rounds_adjustments_and_snapshots(demo):
    period = fiscal_rule().period_of(dt.date(2018, 1, 15), "quarter")
    subs = ForecastSubmission.objects.filter(period_start=period.start)
    assert subs.count() == 35
    for adj in ForecastAdjustment.objects.select_related("position", "owner_position"):
        assert PositionClosure.objects.filter(
            ancestor=adj.owner_position, descendant=adj.position, depth__gte=1
        ).exists()
        assert adj.amount != adj.previous
    weeks = sorted(set(ForecastSnapshot.objects.values_list("week_start", flat=True)))
    assert weeks == ROUNDS
    # the last week's snapshots are the roll-ups as each position sees them now
    data = selectors.forecast_data(
        user=None,
        period=period,
        scope_ids=None,
        closure_of=ForecastSnapshot.objects.values_list("owner_position_id", flat=True).distinct(),
    )
    for snap in ForecastSnapshot.objects.filter(week_start=ROUNDS[-1]):
        node = selectors.rollup_from(
            data, root=snap.owner_position_id, viewer=snap.owner_position_id
        )
        assert (snap.commit, snap.best_case, snap.pipeline) == (
            node.total["commit"],
            node.total["best_case"],
            node.total["pipeline"],
        )
        assert snap.submitted_commit == node.submitted["commit"]
    # the quarter firms up: the company's commit grows week by week
    top = [
        s.commit
        for s in ForecastSnapshot.objects.filter(owner_position__role=RoleType.CEO).order_by(
            "week_start"
        )
    ]
    assert len(top) == 4 and top == sorted(top)
