"""Submitted forecasts: prefill, submit, adjustments kept apart, roll-up at every level, weekly
snapshots (idempotent), the task and its schedule."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from revline.core.models import AuditEvent
from revline.planning import selectors, services, tasks
from revline.planning.models import ForecastAdjustment, ForecastSnapshot, ForecastSubmission
from revline.planning.services import PlanningPermissionDenied
from tests.planning.helpers import D, lost, open_deal, period, won

pytestmark = pytest.mark.django_db
Q = period("2027-Q1")


def submit(o, key, commit, best=0, pipe=0, **kw):
    return services.forecast_submit(
        by=o[key].holder,
        position=o[key],
        period=Q,
        commit=commit,
        best_case=best,
        pipeline=pipe,
        **kw,
    )


def adjust(o, who, whom, figure, amount, note=""):
    return services.forecast_adjust(
        by=o[who].holder, position=o[whom], period=Q, figure=figure, amount=amount, note=note
    )


def test_prefill_from_the_deals_forecast_categories(plan_org):
    o = plan_org
    open_deal(o["ae1"], 1000, dt.date(2027, 1, 10), "commit")
    open_deal(o["ae1"], 250, dt.date(2027, 3, 31), "commit")
    open_deal(o["ae1"], 400, dt.date(2027, 2, 1), "best_case")
    open_deal(o["ae1"], 300, dt.date(2027, 2, 1), "pipeline")
    open_deal(o["ae1"], 999, dt.date(2027, 2, 1), "omitted")  # left out
    open_deal(o["ae1"], 888, dt.date(2027, 4, 1), "commit")  # next quarter
    open_deal(o["ae2"], 777, dt.date(2027, 2, 1), "commit")  # someone else's
    won(o["ae1"], 600, dt.date(2027, 1, 5))
    lost(o["ae1"], 600, dt.date(2027, 1, 6))
    p = selectors.forecast_prefill(position=o["ae1"], period=Q)
    assert (p.commit, p.best_case, p.pipeline, p.closed) == (D(1250), D(400), D(300), D(600))
    assert p.counts == {"commit": 2, "best_case": 1, "pipeline": 1, "closed": 1}


def test_submit_keeps_the_deal_figures_beside_the_reps(plan_org):
    o = plan_org
    open_deal(o["ae1"], 1000, dt.date(2027, 1, 10), "commit")
    won(o["ae1"], 200, dt.date(2027, 1, 5))
    sub = submit(o, "ae1", 800, 100, 50, note="Cautious")
    assert (sub.commit, sub.best_case, sub.pipeline) == (D(800), D(100), D(50))
    assert (sub.prefill_commit, sub.closed) == (D(1000), D(200))
    assert sub.owner_position == o["ae1"] and sub.submitted_by == o["ae1"].holder
    again = submit(o, "ae1", 900)
    assert again.pk == sub.pk and ForecastSubmission.objects.count() == 1
    assert again.commit == D(900)
    actions = list(
        AuditEvent.objects.filter(object_id=sub.pk, action__startswith="forecast.").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["forecast.resubmit", "forecast.submit"]


def test_only_the_holder_submits(plan_org):
    o = plan_org
    for actor in ("m1", "ae2", "revops", "cro"):
        with pytest.raises(PlanningPermissionDenied) as exc:
            services.forecast_submit(
                by=o[actor].holder, position=o["ae1"], period=Q, commit=1, best_case=0, pipeline=0
            )
        assert exc.value.reason == "not_holder"
    with pytest.raises(ValidationError):
        submit(o, "ae1", -5)
    assert not ForecastSubmission.objects.exists()


@pytest.mark.parametrize(
    "actor,target",
    [("m2", "ae1"), ("ae2", "ae1"), ("ae1", "ae1"), ("m1", "vp"), ("revops", "ae1"), ("m1", "m2")],
)
def test_adjustments_only_from_above(plan_org, actor, target):
    o = plan_org
    submit(o, "ae1", 10)
    with pytest.raises(PlanningPermissionDenied) as exc:
        adjust(o, actor, target, "commit", 1)
    assert exc.value.reason == "not_above"
    assert not ForecastAdjustment.objects.exists()


def test_rollup_with_adjustments_at_every_level(plan_org):
    o = plan_org
    submit(o, "ae1", 100, 50, 10)
    submit(o, "ae2", 200, 0, 20)
    submit(o, "ae3", 300, 30, 0)
    submit(o, "ae4", 400)
    won(o["ae3"], 70, dt.date(2027, 2, 2))
    # Manager 1 cuts AE 1a's commit; the VP then trims Manager 2's team commit
    a1 = adjust(o, "m1", "ae1", "commit", 60, "Slip risk")
    assert a1.previous == D(100) and a1.owner_position == o["m1"]
    a2 = adjust(o, "vp", "m2", "commit", 500, "Too optimistic")
    assert a2.previous == D(700)

    m1 = selectors.forecast_rollup(user=o["m1"].holder, period=Q)
    assert m1.total["commit"] == D(260) and m1.submitted["commit"] == D(300)
    assert m1.total["best_case"] == D(50) and m1.total["pipeline"] == D(30)
    kids = {c.position.pk: c for c in m1.children}
    assert kids[o["ae1"].pk].own["commit"] == D(100)  # the rep's figure is kept
    assert kids[o["ae1"].pk].effective["commit"] == D(60)
    assert kids[o["ae1"].pk].adjustments["commit"].note == "Slip risk"
    assert m1.submitters == 2

    # the manager does not see the VP's adjustment of their own roll-up
    m2 = selectors.forecast_rollup(user=o["m2"].holder, period=Q)
    assert m2.total["commit"] == D(700) and not m2.adjustments
    assert m2.closed == D(70)

    vp = selectors.forecast_rollup(user=o["vp"].holder, period=Q)
    assert vp.total["commit"] == D(760)  # 260 (with m1's cut) + 500 (the VP's figure)
    assert vp.submitted["commit"] == D(1000)
    vkids = {c.position.pk: c for c in vp.children}
    assert vkids[o["m2"].pk].total["commit"] == D(700)
    assert vkids[o["m2"].pk].effective["commit"] == D(500)
    # a VP looking at Manager 2's page sees their own adjustment on it
    page = selectors.forecast_view(user=o["vp"].holder, period=Q, position=o["m2"])
    assert page.viewer == o["vp"] and page.node.adjustments["commit"].amount == D(500)
    assert [p.pk for p in page.path] == [o["vp"].pk]

    # the CSO and the CRO (dotted line over the VP) see the same roll-up
    for top in ("cso", "cro", "ceo"):
        node = selectors.forecast_rollup(user=o[top].holder, period=Q)
        assert node.total["commit"] == D(760), top
        assert node.closed == D(70), top

    # a VP adjustment on a rep beats the manager's, for the VP only
    adjust(o, "vp", "ae1", "commit", 90, "Spoke to the customer")
    assert selectors.forecast_rollup(user=o["vp"].holder, period=Q).total["commit"] == D(790)
    assert selectors.forecast_rollup(user=o["m1"].holder, period=Q).total["commit"] == D(260)

    # re-adjusting changes the same row; withdrawing restores the figure
    again = adjust(o, "m1", "ae1", "commit", 70)
    assert again.pk == a1.pk and again.previous == D(100)
    with pytest.raises(PlanningPermissionDenied):
        services.forecast_adjustment_remove(by=o["vp"].holder, adjustment=again)
    services.forecast_adjustment_remove(by=o["m1"].holder, adjustment=again)
    assert selectors.forecast_rollup(user=o["m1"].holder, period=Q).total["commit"] == D(300)


def test_rollup_is_refused_outside_the_view(plan_org):
    o = plan_org
    with pytest.raises(selectors.PlanningNotFound):
        selectors.forecast_view(user=o["m2"].holder, period=Q, position=o["ae1"])
    with pytest.raises(selectors.PlanningNotFound):
        selectors.forecast_view(user=o["ae1"].holder, period=Q, position=o["m1"])


def test_rollup_query_count(plan_org, django_assert_max_num_queries):
    from revline.org.choices import RoleType
    from tests.org.factories import make_position

    o = plan_org
    for i in range(8):
        rep = make_position(RoleType.AE, reports_to=o["m1"] if i % 2 else o["m2"], title=f"X{i}")
        services.forecast_submit(
            by=rep.holder, position=rep, period=Q, commit=i, best_case=0, pipeline=0
        )
        adjust(o, "vp", "m1", "commit", 5)
    selectors.forecast_view(user=o["vp"].holder, period=Q)
    with django_assert_max_num_queries(16):
        selectors.forecast_view(user=o["vp"].holder, period=Q)


# --- weekly snapshots --------------------------------------------------------------------------


def test_snapshots_are_one_per_week_position_and_period(plan_org):
    o = plan_org
    submit(o, "ae1", 100)
    submit(o, "ae3", 300)
    adjust(o, "m1", "ae1", "commit", 80)
    monday = dt.date(2027, 2, 1)
    written = services.forecast_snapshots_take(on=monday + dt.timedelta(days=2))
    concerned = {"ae1", "ae3", "m1", "m2", "vp", "cso", "cro", "ceo"}
    assert written == len(concerned)
    rows = {s.owner_position_id: s for s in ForecastSnapshot.objects.all()}
    assert set(rows) == {o[k].pk for k in concerned}
    assert all(s.week_start == monday and s.period_key == "2027-Q1" for s in rows.values())
    assert rows[o["m1"].pk].commit == D(80) and rows[o["m1"].pk].submitted_commit == D(100)
    assert rows[o["vp"].pk].commit == D(380) and rows[o["vp"].pk].submissions == 2
    assert rows[o["ae1"].pk].commit == D(100)  # seen from the rep: no adjustment
    # again in the same week: nothing new, nothing changed
    assert services.forecast_snapshots_take(on=monday + dt.timedelta(days=4)) == 0
    assert ForecastSnapshot.objects.count() == len(concerned)
    # a change the same week updates that week's rows only
    submit(o, "ae3", 350)
    assert services.forecast_snapshots_take(on=monday) > 0
    assert ForecastSnapshot.objects.count() == len(concerned)
    assert ForecastSnapshot.objects.get(owner_position=o["vp"]).commit == D(430)
    # next week: a new row per position
    services.forecast_snapshots_take(on=monday + dt.timedelta(days=7))
    assert ForecastSnapshot.objects.count() == 2 * len(concerned)
    assert ForecastSnapshot.objects.filter(owner_position=o["vp"]).count() == 2
    # outside the period (no submission covers the day): nothing
    assert services.forecast_snapshots_take(on=dt.date(2027, 5, 1)) == 0


def test_snapshot_visibility(plan_org):
    o = plan_org
    submit(o, "ae1", 100)
    services.forecast_snapshots_take(on=dt.date(2027, 2, 1))
    assert selectors.snapshots_list(user=o["ae1"].holder).count() == 1
    assert selectors.snapshots_list(user=o["m2"].holder).count() == 0
    assert selectors.snapshots_list(user=o["cro"].holder).count() > 1


def test_the_task_is_idempotent_and_reschedules_once(plan_org):
    o = plan_org
    submit(o, "ae1", 100)
    from django_tasks_db.models import DBTaskResult

    result = tasks.forecast_snapshots.call(day="2027-02-03")
    assert "snapshot row(s) written for the week of 2027-02-01" in result
    first = ForecastSnapshot.objects.count()
    tasks.forecast_snapshots.call(day="2027-02-04")
    assert ForecastSnapshot.objects.count() == first
    queued = DBTaskResult.objects.filter(task_path=tasks.forecast_snapshots.module_path)
    assert queued.count() == 1  # queued once for next Monday, however often it ran
    row = queued.get()
    assert row.run_after.weekday() == 0 and row.status == "READY"
    assert tasks.snapshots_schedule() is True and queued.count() == 1


def test_schedule_needs_a_deferring_backend(plan_org):
    with override_settings(
        TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    ):
        assert tasks.snapshots_schedule() is False


def test_submission_schedules_the_weekly_task_after_commit(
    plan_org, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    o = plan_org
    with django_capture_on_commit_callbacks(execute=True):
        submit(o, "ae1", 10)
    assert DBTaskResult.objects.filter(task_path=tasks.forecast_snapshots.module_path).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        submit(o, "ae2", 10)
    assert DBTaskResult.objects.filter(task_path=tasks.forecast_snapshots.module_path).count() == 1


def test_command(plan_org):
    o = plan_org
    submit(o, "ae1", 100)
    out = StringIO()
    call_command("forecast_snapshots", day="2027-02-03", stdout=out)
    assert "week of 2027-02-01" in out.getvalue()
    assert ForecastSnapshot.objects.exists()
    out = StringIO()
    call_command("forecast_snapshots", schedule=True, stdout=out)
    assert "queued" in out.getvalue()


def test_revops_sees_the_rollup_from_the_top(plan_org):
    o = plan_org
    submit(o, "ae1", 100)
    submit(o, "ae5", 50)
    view = selectors.forecast_view(user=o["revops"].holder, period=Q)
    assert view.node.position == o["ceo"] and view.viewer is None
    assert view.node.total["commit"] == D(150)
    assert not view.may_submit
