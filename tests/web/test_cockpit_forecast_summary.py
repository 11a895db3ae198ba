"""The CRO cockpit's forecast panel reads ``planning.selectors.forecast_summary``: the top line of
the roll-up, which must equal the root of the full roll-up (``rollup_from``) whatever the
submissions, adjustments at several levels, bookings and quotas."""

from __future__ import annotations

import datetime as dt

import pytest

from revline.planning import selectors, services
from tests.planning.conftest import plan_org  # noqa: F401  (a fixture)
from tests.planning.helpers import D, period, won

pytestmark = pytest.mark.django_db
Q = period("2027-Q1")


def _top_line(node) -> dict:
    return {
        "closed": node.closed,
        "commit": node.commit,
        "best_case": node.best_case,
        "pipeline": node.pipeline,
        "forecast": node.forecast,
        "upside": node.upside,
        "quota": node.quota,
        "submitters": node.submitters,
        "members": node.members,
    }


def _full(user, position):
    data = selectors.forecast_data(user=user, period=Q, scope_ids=None, closure_of=[position.pk])
    return selectors.rollup_from(data, root=position.pk, viewer=position.pk)


def test_summary_equals_the_full_rollup(plan_org, django_assert_max_num_queries):  # noqa: F811
    o = plan_org
    for key, commit, best, pipe in (
        ("ae1", 100, 50, 10),
        ("ae2", 200, 0, 20),
        ("ae3", 300, 30, 0),
        ("ae4", 400, 0, 0),
        ("ae5", 55, 5, 1),
    ):
        services.forecast_submit(
            by=o[key].holder,
            position=o[key],
            period=Q,
            commit=commit,
            best_case=best,
            pipeline=pipe,
        )
    won(o["ae3"], 70, dt.date(2027, 2, 2))
    won(o["ae5"], 30, dt.date(2027, 3, 2))
    for by, whom, figure, amount in (
        ("m1", "ae1", "commit", 60),
        ("vp", "m2", "commit", 500),
        ("vp", "ae1", "commit", 90),
        ("cro", "vp", "best_case", 77),
    ):
        services.forecast_adjust(
            by=o[by].holder, position=o[whom], period=Q, figure=figure, amount=amount, note=""
        )
    for by, whom, amount in (("m1", "ae1", 1000), ("m1", "ae2", 2000), ("vp", "m2", 5000)):
        services.quota_set(by=o[by].holder, position=o[whom], period=Q, amount=amount)
    for top in ("cro", "cso", "vp", "m1", "m2", "ae1"):
        user = o[top].holder
        with django_assert_max_num_queries(8):
            summary = selectors.forecast_summary(user=user, period=Q, position_id=o[top].pk)
        assert _top_line(summary) == _top_line(_full(user, o[top])), top
    cro = selectors.forecast_summary(user=o["cro"].holder, period=Q, position_id=o["cro"].pk)
    assert cro.closed == D(100) and cro.quota == D(8000)


def test_summary_without_submissions(plan_org):  # noqa: F811
    o = plan_org
    summary = selectors.forecast_summary(user=o["cro"].holder, period=Q, position_id=o["cro"].pk)
    assert summary.submitters == 0 and summary.commit == D(0) and summary.quota is None
    assert _top_line(summary) == _top_line(_full(o["cro"].holder, o["cro"]))
