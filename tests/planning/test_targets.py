"""Targets, budgets and spend: who may set them, what each person sees, target vs actual and
budget vs spend; the fiscal calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from revline.core.models import AuditEvent
from revline.org.models import Region, Team
from revline.planning import rules, selectors, services
from revline.planning.calendar import fiscal_rule
from revline.planning.models import Budget, BudgetSpend, FiscalCalendar, Quota, Target
from revline.planning.services import PlanningPermissionDenied
from tests.planning.helpers import D, period, won

pytestmark = pytest.mark.django_db
Q = period("2027-Q1")


def target(o, who, amount, **scope):
    return services.target_set(by=o[who].holder, period=Q, amount=amount, **scope)


def test_who_sets_targets(plan_org):
    o = plan_org
    target(o, "vp", 1000, region=o["east"])
    target(o, "vp", 400, team=o["one"])
    target(o, "cso", 2000, region=o["west"])
    target(o, "cro", 100, team=o["three"])
    target(o, "revops", 5, team=o["two"])
    for who, scope in (
        ("vp", {"region": o["west"]}),  # another region
        ("vp", {"team": o["three"]}),  # another region's team
        ("vp_w", {"team": o["one"]}),
        ("m1", {"team": o["one"]}),  # managers see their team's but do not set them
        ("ae1", {"team": o["one"]}),
        ("ceo", {"region": o["east"]}),  # the CEO reads
        ("mkt", {"region": o["east"]}),
    ):
        with pytest.raises(PlanningPermissionDenied) as exc:
            target(o, who, 1, **scope)
        assert exc.value.reason == "scope_not_allowed", who
    with pytest.raises(PlanningPermissionDenied):
        services.target_set(by=AnonymousUser(), period=Q, amount=1, team=o["one"])
    with pytest.raises(ValidationError):
        target(o, "vp", 1)  # no scope
    with pytest.raises(ValidationError):
        target(o, "vp", 1, team=o["one"], region=o["east"])  # both
    assert Target.objects.count() == 5
    again = target(o, "vp", 1100, region=o["east"])
    assert Target.objects.filter(region=o["east"]).count() == 1 and again.amount == D(1100)
    assert AuditEvent.objects.filter(action="target.update", object_id=again.pk).exists()


def test_vp_scope_covers_territories_and_teams_below(plan_org):
    o = plan_org
    north = Region.objects.create(name="East North", code="east-north", parent=o["east"])
    stray = Team.objects.create(name="Stray", region=None)
    o["ae4"].team = stray
    o["ae4"].save()
    scope = rules.target_scope(o["vp"].holder)
    assert scope.has_region(o["east"].pk) and scope.has_region(north.pk)
    assert not scope.has_region(o["west"].pk)
    assert scope.has_team(o["one"].pk) and scope.has_team(stray.pk)  # a team of a position below
    assert not scope.has_team(o["three"].pk)
    assert rules.target_scope(o["m1"].holder).empty
    assert rules.view_scope(o["m1"].holder).team_ids == {o["one"].pk}
    assert rules.view_scope(o["ceo"].holder).everything
    assert rules.view_scope(o["ae1"].holder).empty


def test_target_board_numbers(plan_org):
    o = plan_org
    target(o, "vp", 1000, region=o["east"])
    target(o, "vp", 600, team=o["one"])
    target(o, "cso", 500, region=o["west"])
    won(o["ae1"], 300, dt.date(2027, 1, 10))
    won(o["ae2"], 100, dt.date(2027, 2, 10))
    won(o["ae3"], 50, dt.date(2027, 3, 10))
    won(o["ae5"], 999, dt.date(2027, 3, 10))  # West
    won(o["ae1"], 777, dt.date(2027, 4, 10))  # next quarter
    services.budget_set(by=o["vp"].holder, period=Q, category="travel", amount=100, team=o["one"])
    b = services.budget_set(
        by=o["vp"].holder, period=Q, category="tools", amount=300, team=o["one"]
    )
    services.spend_record(by=o["m1"].holder, budget=b, amount=120, spent_on=dt.date(2027, 1, 2))
    mid = dt.date(2027, 2, 14)
    lines = {
        line.key: line for line in selectors.target_board(user=o["vp"].holder, period=Q, on=mid)
    }
    assert set(lines) == {f"region:{o['east'].pk}", f"team:{o['one'].pk}", f"team:{o['two'].pk}"}
    east = lines[f"region:{o['east'].pk}"]
    assert (east.amount, east.bookings, east.deals_won) == (D(1000), D(450), 3)
    assert east.attainment == pytest.approx(0.45)
    assert east.pace == D(500) and east.on_pace is False
    one = lines[f"team:{o['one'].pk}"]
    assert (one.amount, one.bookings, one.budget, one.spent) == (D(600), D(400), D(400), D(120))
    assert one.depth == 1 and one.may_set
    assert one.budget_left == D(280)
    assert lines[f"team:{o['two'].pk}"].amount is None
    whole = {line.key for line in selectors.target_board(user=o["cro"].holder, period=Q)}
    assert f"region:{o['west'].pk}" in whole and f"team:{o['three'].pk}" in whole
    m1 = selectors.target_board(user=o["m1"].holder, period=Q)
    assert [line.key for line in m1] == [f"team:{o['one'].pk}"]
    assert not m1[0].may_set
    assert selectors.target_board(user=o["ae1"].holder, period=Q) == []


def test_budgets_and_spend_rules(plan_org):
    o = plan_org
    budget = services.budget_set(
        by=o["vp"].holder, period=Q, category="campaigns", amount="5000", team=o["one"], note="Q1"
    )
    assert budget.set_by == o["vp"].holder
    with pytest.raises(ValidationError):
        services.budget_set(by=o["vp"].holder, period=Q, category="yachts", amount=1, team=o["one"])
    with pytest.raises(PlanningPermissionDenied):
        services.budget_set(by=o["m1"].holder, period=Q, category="travel", amount=1, team=o["one"])
    # spend: the team's manager and the planners; not the other manager, not a rep
    services.spend_record(
        by=o["m1"].holder, budget=budget, amount="1000", spent_on=dt.date(2027, 1, 5)
    )
    services.spend_record(
        by=o["cro"].holder, budget=budget, amount="250.50", spent_on=dt.date(2027, 3, 31)
    )
    for who in ("m2", "ae1", "vp_w", "ceo"):
        with pytest.raises(PlanningPermissionDenied) as exc:
            services.spend_record(
                by=o[who].holder, budget=budget, amount=1, spent_on=dt.date(2027, 1, 5)
            )
        assert exc.value.reason == "spend_not_allowed"
    for bad_day in (dt.date(2026, 12, 31), dt.date(2027, 4, 1)):
        with pytest.raises(ValidationError):
            services.spend_record(by=o["m1"].holder, budget=budget, amount=1, spent_on=bad_day)
    with pytest.raises(ValidationError):
        services.spend_record(
            by=o["m1"].holder, budget=budget, amount=0, spent_on=dt.date(2027, 1, 5)
        )
    seen = selectors.budget_get(user=o["m1"].holder, pk=budget.pk)
    assert seen.spent == D("1250.50") and seen.left == D("3749.50")
    with pytest.raises(Budget.DoesNotExist):
        selectors.budget_get(user=o["m2"].holder, pk=budget.pk)
    summary = selectors.budget_summary(user=o["vp"].holder, period=Q)
    assert summary.total == D(5000) and summary.spent == D("1250.50")
    assert summary.by_category == [("campaigns", "Campaigns", D(5000), D("1250.50"))]
    # a budget with spend stays until the spend goes
    with pytest.raises(ValidationError):
        services.budget_delete(by=o["vp"].holder, budget=budget)
    for spend in BudgetSpend.objects.all():
        services.spend_delete(by=o["vp"].holder, spend=spend)
    services.budget_delete(by=o["vp"].holder, budget=budget)
    assert not Budget.objects.exists()
    assert AuditEvent.objects.filter(action="spend.record").count() == 2
    assert AuditEvent.objects.filter(action="budget.delete").count() == 1


def test_spend_campaign_names_follow_campaign_visibility(plan_org):
    from revline.crm.models import Campaign

    o = plan_org
    campaign = Campaign.objects.create(owner_position=o["mkt"], name="Spring webinar")
    budget = services.budget_set(
        by=o["cro"].holder, period=Q, category="campaigns", amount=10, region=o["east"]
    )
    services.spend_record(
        by=o["cro"].holder, budget=budget, amount=5, spent_on=dt.date(2027, 1, 2), campaign=campaign
    )
    assert selectors.spend_list(user=o["cro"].holder).get().campaign_visible is True
    assert selectors.spend_list(user=o["vp"].holder).get().campaign_visible is False


# --- the fiscal calendar -----------------------------------------------------------------------


def test_calendar_is_set_by_revops_and_used_everywhere(plan_org):
    o = plan_org
    for who in ("cro", "cso", "vp", "m1"):
        with pytest.raises(PlanningPermissionDenied) as exc:
            services.fiscal_calendar_set(by=o[who].holder, start_month=2)
        assert exc.value.reason == "not_admin"
    with pytest.raises(ValidationError):
        services.fiscal_calendar_set(by=o["revops"].holder, start_month=13)
    services.fiscal_calendar_set(by=o["revops"].holder, start_month=2)
    assert FiscalCalendar.objects.get(pk=1).start_month == 2
    assert AuditEvent.objects.filter(action="fiscal_calendar.set").count() == 1
    rule = fiscal_rule()
    q1 = rule.parse("2027-Q1")
    assert (q1.start, q1.end) == (dt.date(2026, 2, 1), dt.date(2026, 4, 30))
    quota = services.quota_set(by=o["m1"].holder, position=o["ae1"], period=q1, amount=10)
    assert quota.period_key == "2027-Q1" and quota.period_start == dt.date(2026, 2, 1)
    assert selectors.quotas_list(user=o["m1"].holder, filters={"period": "2027-Q1"}).count() == 1
    # setting the same again changes nothing (no second event)
    services.fiscal_calendar_set(by=o["revops"].holder, start_month=2)
    assert AuditEvent.objects.filter(action="fiscal_calendar.set").count() == 1
    # a later change leaves the quota on the dates it was set for
    services.fiscal_calendar_set(by=o["revops"].holder, start_month=1)
    quota.refresh_from_db()
    assert (quota.period_start, quota.period_end) == (dt.date(2026, 2, 1), dt.date(2026, 4, 30))
    assert Quota.objects.count() == 1


def test_target_and_budget_upserts_audit_set_update_and_nothing_when_unchanged(plan_org):
    o = plan_org
    first = target(o, "vp", 1000, team=o["one"], note="  Stretch  ")
    event = AuditEvent.objects.get(action="target.set", object_id=first.pk)
    assert event.actor == o["vp"].holder
    assert event.changes["scope"] == [None, "East: One"]
    assert (first.note, first.set_by, first.is_generated) == ("Stretch", o["vp"].holder, False)
    same = target(o, "cro", 1000, team=o["one"], note="Stretch")  # nothing changes: no event
    assert same.pk == first.pk and same.set_by == o["vp"].holder
    changed = target(o, "cro", 1200, team=o["one"], note="Stretch")
    assert changed.pk == first.pk and changed.set_by == o["cro"].holder
    update = AuditEvent.objects.get(action="target.update", object_id=first.pk)
    assert update.changes == {"amount": ["1000.00", "1200.00"]}
    # the same amount for the region is another row
    assert target(o, "vp", 1000, region=o["east"]).pk != first.pk

    budget = services.budget_set(
        by=o["vp"].holder, period=Q, category="travel", amount=50, region=o["east"]
    )
    assert AuditEvent.objects.get(action="budget.set", object_id=budget.pk).changes["category"] == [
        None,
        "travel",
    ]
    services.budget_set(by=o["vp"].holder, period=Q, category="travel", amount=50, region=o["east"])
    assert not AuditEvent.objects.filter(action="budget.update").exists()
    services.budget_set(
        by=o["cro"].holder, period=Q, category="travel", amount=60, region=o["east"]
    )
    assert AuditEvent.objects.filter(action="budget.update", object_id=budget.pk).count() == 1
    budget.refresh_from_db()
    assert (budget.amount, budget.set_by) == (D(60), o["cro"].holder)
    target_id = first.pk
    services.target_delete(by=o["vp"].holder, target=changed)
    assert AuditEvent.objects.get(action="target.delete", object_id=target_id).changes == {
        "amount": ["1200.00", None],
        "period": ["2027-Q1", None],
    }
    assert not Target.objects.filter(pk=target_id).exists()
