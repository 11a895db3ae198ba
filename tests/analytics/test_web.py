"""The KPI dashboard page and its CSV."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.analytics.helpers import deal

pytestmark = pytest.mark.django_db

Q1 = {"from": "2026-01-01", "to": "2026-03-31"}


@pytest.fixture
def org(sales_org):
    o = sales_org
    deal(o["ae1"], amount=1000, created="2026-01-02", closed="2026-01-15")
    deal(o["ae1"], amount=300, created="2026-01-02", closed="2026-02-03", won=False)
    deal(o["ae3"], amount=3000, created="2026-01-02", closed="2026-02-01")
    return o


def page(client, who, **params):
    client.force_login(who)
    return client.get(reverse("web:kpis"), params)


def test_a_manager_sees_their_team_numbers_with_drill_downs(client, org):
    response = page(client, org["m1"].holder, key="deals_won", by="position", **Q1)
    assert response.status_code == 200
    body = response.content.decode()
    row = body[body.index('data-kpi="win_rate"') :]
    row = row[: row.index("</tr>")]
    assert "50.0%" in row
    assert "closed_from=2026-01-01" in row and reverse("web:opportunities") in row
    table = body[body.index('id="kpi-breakdown"') :]
    assert org["ae1"].holder.get_full_name() in table
    assert org["ae3"].holder.get_full_name() not in table  # another manager's rep


def test_a_position_outside_the_view_is_404_and_anonymous_is_sent_to_log_in(client, org):
    assert page(client, org["m1"].holder, position=org["m2"].pk, **Q1).status_code == 404
    assert page(client, org["cso"].holder, position=org["m2"].pk, **Q1).status_code == 200
    client.logout()
    response = client.get(reverse("web:kpis"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_bad_dates_say_so(client, org):
    response = page(client, org["cso"].holder, **{"from": "2026-03-01", "to": "2026-01-01"})
    assert response.status_code == 200
    assert "ends before it starts" in response.content.decode()


def test_breakdown_csv(client, org):
    client.force_login(org["cso"].holder)
    response = client.get(
        reverse("web:kpis_breakdown_csv"), {"key": "bookings", "by": "report", **Q1,
                                             "position": org["vp"].pk}
    )  # fmt: skip
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].startswith("report,label,bookings")
    assert "Manager 1" in text and "4000.0" in text
    bad = client.get(reverse("web:kpis_breakdown_csv"), {"key": "nope", "by": "month"})
    assert bad.status_code == 400
