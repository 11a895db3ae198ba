"""Quotas: who may set them, ``quota_amount`` (roll-up, proration, types), attainment and pace."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from revline.core.models import AuditEvent
from revline.planning import selectors, services
from revline.planning.models import Quota
from revline.planning.selectors import quota_amount
from revline.planning.services import PlanningPermissionDenied
from tests.planning.helpers import D, lost, period, won

Q1 = period("2027-Q1")
Q2 = period("2027-Q2")


def setq(by_pos, pos, key, amount, **kw):
    return services.quota_set(
        by=by_pos.holder, position=pos, period=period(key), amount=amount, **kw
    )


# --- who may set -------------------------------------------------------------------------------


def test_manager_sets_quotas_for_their_reps(plan_org):
    o = plan_org
    quota = setq(o["m1"], o["ae1"], "2027-Q1", "100000", deal_count=5)
    assert quota.amount == D(100000)
    assert quota.deal_count == 5
    assert quota.owner_position == o["ae1"]
    assert quota.set_by == o["m1"].holder
    assert (quota.period_start, quota.period_end, quota.period_key) == (
        dt.date(2027, 1, 1),
        dt.date(2027, 3, 31),
        "2027-Q1",
    )
    event = AuditEvent.objects.get(action="quota.set", object_id=quota.pk)
    assert event.actor == o["m1"].holder
    assert event.changes["amount"] == [None, "100000.00"]


def test_setting_again_updates_the_same_quota(plan_org):
    o = plan_org
    first = setq(o["m1"], o["ae1"], "2027-Q1", "100000")
    second = setq(o["m1"], o["ae1"], "2027-Q1", "120000")
    assert first.pk == second.pk
    assert Quota.objects.count() == 1
    assert Quota.objects.get().amount == D(120000)
    assert AuditEvent.objects.filter(action="quota.update", object_id=first.pk).count() == 1


@pytest.mark.parametrize(
    "actor,target",
    [
        ("m2", "ae1"),  # another manager's rep
        ("m2", "m1"),  # a peer manager
        ("ae2", "ae1"),  # a peer rep
        ("ae1", "ae1"),  # oneself
        ("m1", "m1"),  # a manager's own quota
        ("m1", "vp"),  # above
        ("vp_w", "ae1"),  # a VP of another region
        ("mkt", "ae1"),  # marketing
        ("cs", "ae1"),  # customer success under the VP, but not above the rep
    ],
)
def test_quota_refused_outside_the_subtree(plan_org, actor, target):
    o = plan_org
    with pytest.raises(PlanningPermissionDenied) as exc:
        setq(o[actor], o[target], "2027-Q1", "1000")
    assert exc.value.reason == "quota_not_below"
    assert not Quota.objects.exists()


def test_vp_sets_quotas_two_levels_down_and_revops_anyone(plan_org):
    o = plan_org
    setq(o["vp"], o["m1"], "2027-Q1", "300000")
    setq(o["vp"], o["ae4"], "2027-Q1", "90000")
    setq(o["revops"], o["ae5"], "2027-Q1", "50000")
    setq(o["cso"], o["vp"], "2027-Q1", "900000")
    assert Quota.objects.count() == 4


def test_anonymous_and_inactive_users_are_refused(plan_org):
    o = plan_org
    for user in (AnonymousUser(), None):
        with pytest.raises(PlanningPermissionDenied):
            services.quota_set(by=user, position=o["ae1"], period=Q1, amount="1")
    o["m1"].holder.is_active = False
    o["m1"].holder.save()
    with pytest.raises(PlanningPermissionDenied):
        setq(o["m1"], o["ae1"], "2027-Q1", "1")


def test_quota_input_is_validated(plan_org):
    o = plan_org
    for bad in ("-1", "abc", "1e20"):
        with pytest.raises(ValidationError):
            setq(o["m1"], o["ae1"], "2027-Q1", bad)
    with pytest.raises(ValidationError):
        setq(o["m1"], o["ae1"], "2027-Q1", "10", opportunity_type="barter")
    with pytest.raises(ValidationError):
        setq(o["m1"], o["ae1"], "2027-Q1", "10", deal_count="-2")


def test_delete_follows_the_same_rule(plan_org):
    o = plan_org
    quota = setq(o["m1"], o["ae1"], "2027-Q1", "10")
    with pytest.raises(PlanningPermissionDenied):
        services.quota_delete(by=o["m2"].holder, quota=quota)
    services.quota_delete(by=o["vp"].holder, quota=quota)
    assert not Quota.objects.exists()
    assert AuditEvent.objects.filter(action="quota.delete").count() == 1


# --- quota_amount ------------------------------------------------------------------------------


def test_reps_sum_up_when_the_manager_has_no_quota(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "100")
    setq(o["m1"], o["ae2"], "2027-Q1", "200")
    setq(o["m2"], o["ae3"], "2027-Q1", "400")
    assert quota_amount(position_ids=[o["m1"].pk], start=Q1.start, end=Q1.end) == D(300)
    assert quota_amount(position_ids=[o["vp"].pk], start=Q1.start, end=Q1.end) == D(700)
    assert quota_amount(position_ids=None, start=Q1.start, end=Q1.end) == D(700)
    assert quota_amount(position_ids=[o["ae1"].pk], start=Q1.start, end=Q1.end) == D(100)


def test_a_managers_own_quota_replaces_the_reps_sum(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "100")
    setq(o["m1"], o["ae2"], "2027-Q1", "200")
    setq(o["vp"], o["m1"], "2027-Q1", "350")  # the team quota, above the reps' 300
    setq(o["m2"], o["ae3"], "2027-Q1", "400")
    assert quota_amount(position_ids=[o["m1"].pk], start=Q1.start, end=Q1.end) == D(350)
    assert quota_amount(position_ids=[o["vp"].pk], start=Q1.start, end=Q1.end) == D(750)
    # listing a manager and their rep counts the rep once, inside the manager
    assert quota_amount(position_ids=[o["m1"].pk, o["ae1"].pk], start=Q1.start, end=Q1.end) == D(
        350
    )
    assert quota_amount(position_ids=[o["ae1"].pk, o["ae3"].pk], start=Q1.start, end=Q1.end) == D(
        500
    )


def test_dotted_lines_do_not_double_count(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "100")
    setq(o["m3"], o["ae5"], "2027-Q1", "50")
    # both VPs report to the CSO (solid) and the CRO (dotted)
    whole = quota_amount(position_ids=None, start=Q1.start, end=Q1.end)
    assert whole == D(150)
    assert quota_amount(position_ids=[o["ceo"].pk], start=Q1.start, end=Q1.end) == D(150)
    assert quota_amount(position_ids=[o["cro"].pk], start=Q1.start, end=Q1.end) == D(150)
    assert quota_amount(position_ids=[o["cso"].pk, o["cro"].pk], start=Q1.start, end=Q1.end) == D(
        150
    )


def test_proration_and_kinds(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "9000")  # 90 days: 100 a day
    # half of January (15 of 31 days) of a quarter quota: prorated by days
    jan_half = quota_amount(
        position_ids=[o["ae1"].pk], start=dt.date(2027, 1, 1), end=dt.date(2027, 1, 15)
    )
    assert jan_half == D(1500)
    # a year with only Q1 set counts Q1
    year = period("2027")
    assert quota_amount(position_ids=[o["ae1"].pk], start=year.start, end=year.end) == D(9000)
    # once a year quota exists it covers more of the year than the quarter: the year is used
    setq(o["m1"], o["ae1"], "2027", "40000")
    assert quota_amount(position_ids=[o["ae1"].pk], start=year.start, end=year.end) == D(40000)
    # for Q1 both cover it fully: the finer (the quarter) wins, no double counting
    assert quota_amount(position_ids=[o["ae1"].pk], start=Q1.start, end=Q1.end) == D(9000)
    # for Q2 only the year covers it: 91 of 365 days
    expected = (Decimal(40000) * 91 / 365).quantize(Decimal("0.01"))
    assert quota_amount(position_ids=[o["ae1"].pk], start=Q2.start, end=Q2.end) == expected
    # monthly quotas tile a quarter
    for month, amount in (("2027-M04", 1000), ("2027-M05", 2000), ("2027-M06", 3000)):
        setq(o["m1"], o["ae2"], month, amount)
    assert quota_amount(position_ids=[o["ae2"].pk], start=Q2.start, end=Q2.end) == D(6000)
    assert quota_amount(position_ids=[o["ae2"].pk], start=Q1.start, end=Q1.end) == D(0)
    assert quota_amount(position_ids=[o["ae2"].pk], start=Q2.end, end=Q2.start) == D(0)


def test_opportunity_types(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "100", opportunity_type="new_business")
    setq(o["m1"], o["ae1"], "2027-Q1", "50", opportunity_type="renewal")
    setq(o["m1"], o["ae2"], "2027-Q1", "300")  # for every type
    setq(o["m1"], o["ae2"], "2027-Q1", "80", opportunity_type="renewal")
    args = {"position_ids": [o["m1"].pk], "start": Q1.start, "end": Q1.end}
    # all types: AE 1a's per-type quotas add up (no all-type one); AE 1b's all-type one is used
    assert quota_amount(**args) == D(450)
    assert quota_amount(**args, opportunity_type="renewal") == D(130)
    assert quota_amount(**args, opportunity_type="new_business") == D(100)
    assert quota_amount(**args, opportunity_type="upsell") == D(0)


def test_quota_amount_query_count(plan_org, django_assert_max_num_queries):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "100")
    with django_assert_max_num_queries(4):
        quota_amount(position_ids=[o["vp"].pk], start=Q1.start, end=Q1.end)
    with django_assert_max_num_queries(3):
        quota_amount(position_ids=None, start=Q1.start, end=Q1.end)


# --- attainment and pace -----------------------------------------------------------------------


def test_board_attainment_pace_and_gap(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "1000")
    setq(o["m1"], o["ae2"], "2027-Q1", "3000")
    setq(o["vp"], o["m1"], "2027-Q1", "5000")
    won(o["ae1"], 600, dt.date(2027, 2, 1))
    won(o["ae1"], 100, dt.date(2027, 4, 1))  # next quarter
    won(o["ae2"], 400, dt.date(2027, 3, 31))
    lost(o["ae2"], 999, dt.date(2027, 3, 1))
    won(o["ae3"], 700, dt.date(2027, 1, 5))  # another team
    mid = dt.date(2027, 2, 14)  # day 45 of 90
    board = selectors.quota_board(user=o["m1"].holder, period=Q1, on=mid)
    node = board.node
    assert node.position == o["m1"]
    assert node.quota == D(5000) and node.is_own
    assert node.reports_sum == D(4000)
    assert node.gap == D(1000)
    assert node.bookings == D(1000) and node.deals_won == 2
    assert node.attainment == pytest.approx(0.2)
    assert node.pace == D(2500)
    assert node.on_pace is False
    rows = {r.position.pk: r for r in board.rows}
    assert set(rows) == {o["ae1"].pk, o["ae2"].pk, o["bdr"].pk, o["sdr"].pk}
    assert rows[o["bdr"].pk].quota is None
    a1 = rows[o["ae1"].pk]
    assert (a1.quota, a1.bookings, a1.pace, a1.on_pace) == (D(1000), D(600), D(500), True)
    assert a1.attainment == pytest.approx(0.6)
    assert a1.may_set
    a2 = rows[o["ae2"].pk]
    assert (a2.quota, a2.bookings, a2.on_pace) == (D(3000), D(400), False)
    # the VP's view: managers as rows, Manager 2 without quota (reps have none either)
    vp_board = selectors.quota_board(user=o["vp"].holder, period=Q1, on=mid)
    vp_rows = {r.position.pk: r for r in vp_board.rows}
    assert vp_rows[o["m1"].pk].quota == D(5000)
    assert vp_rows[o["m2"].pk].quota is None
    assert vp_rows[o["m2"].pk].bookings == D(700)
    assert vp_board.node.bookings == D(1700)
    assert vp_board.node.quota == D(5000)
    assert vp_rows[o["m1"].pk].may_set and vp_rows[o["m2"].pk].may_set


def test_board_after_the_period_and_before(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "1000")
    won(o["ae1"], 1000, dt.date(2027, 3, 1))
    after = selectors.quota_board(user=o["ae1"].holder, period=Q1, on=dt.date(2028, 1, 1))
    assert after.node.pace == D(1000) and after.node.on_pace is True
    assert after.node.attainment == pytest.approx(1.0)
    assert not after.node.may_set  # a rep never sets their own
    before = selectors.quota_board(user=o["ae1"].holder, period=Q1, on=dt.date(2026, 12, 1))
    assert before.node.pace == D(0)


def test_board_refuses_positions_outside_the_view(plan_org):
    o = plan_org
    with pytest.raises(selectors.PlanningNotFound):
        selectors.quota_board(user=o["m2"].holder, period=Q1, position=o["ae1"])
    with pytest.raises(selectors.PlanningNotFound):
        selectors.quota_board(user=o["ae2"].holder, period=Q1, position=o["ae1"])
    # the CRO sees everyone's (an org-wide revenue role)
    board = selectors.quota_board(user=o["cro"].holder, period=Q1, position=o["ae1"])
    assert board.node.position == o["ae1"]


def test_board_query_count_does_not_grow_with_the_team(plan_org, django_assert_max_num_queries):
    from revline.org.choices import RoleType
    from tests.org.factories import make_position

    o = plan_org
    for i in range(6):
        rep = make_position(RoleType.AE, reports_to=o["m1"], title=f"Extra {i}")
        setq(o["m1"], rep, "2027-Q1", 100 + i)
        won(rep, 10, dt.date(2027, 1, 10))
    user = o["vp"].holder
    selectors.quota_board(user=user, period=Q1)  # warm the role cache
    with django_assert_max_num_queries(12):
        board = selectors.quota_board(user=user, period=Q1)
    assert board.node.bookings == D(60)


def test_quotas_list_visibility(plan_org):
    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "100")
    setq(o["m2"], o["ae3"], "2027-Q1", "100")
    assert set(selectors.quotas_list(user=o["m1"].holder)) == {
        Quota.objects.get(owner_position=o["ae1"])
    }
    assert selectors.quotas_list(user=o["ae2"].holder).count() == 0
    assert selectors.quotas_list(user=o["cro"].holder).count() == 2
    assert selectors.quotas_list(user=AnonymousUser()).count() == 0
    assert selectors.quotas_list(user=o["m1"].holder, filters={"period": "2027-Q2"}).count() == 0
    assert selectors.quotas_list(user=o["m1"].holder, filters={"period": "junk"}).count() == 0


def test_revops_and_a_bare_superuser_see_the_whole_org(plan_org):
    from tests.org.factories import UserFactory

    o = plan_org
    setq(o["m1"], o["ae1"], "2027-Q1", "100")
    setq(o["m3"], o["ae5"], "2027-Q1", "50")
    for user in (o["revops"].holder, UserFactory(is_superuser=True)):
        board = selectors.quota_board(user=user, period=Q1)
        assert board.node.position is None
        assert board.node.quota == D(150)
        assert [r.position for r in board.rows] == [o["ceo"]]
    # a rep never gets the whole org
    assert selectors.quota_board(user=o["ae1"].holder, period=Q1).node.position == o["ae1"]
