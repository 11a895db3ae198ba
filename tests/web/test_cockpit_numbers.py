"""The cockpit's numbers: KPIs against the previous period and the quota, trends, each rep /
team / region, the CSO's funnel, the CRO's forecast; drill-downs to the records; CSV exports;
query counts that do not grow with the data; who sees what."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from revline.crm.models import Lead, LeadStatusChange
from revline.org.choices import RoleType
from revline.org.demo import role_templates_install
from revline.org.models import Region
from revline.pipeline import services as pipeline
from revline.pipeline.models import Opportunity, Stage
from revline.planning import services as planning
from revline.planning.calendar import FiscalYearRule
from revline.web import cockpits
from tests.org.factories import make_position

pytestmark = pytest.mark.django_db

RULE = FiscalYearRule()
Q = "2025-Q2"  # the period the tests look at (Apr-Jun 2025); the one before is 2025-Q1
PERIOD = RULE.parse(Q)


def at(day: str, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour)))


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def deal(
    owner,
    amount,
    created: str,
    closed: str | None = None,
    *,
    won: bool = True,
    via=("Discovery", "Demo"),
    **fields,
):
    """A deal created on ``created``, moved through ``via`` a day apart, closed on ``closed``."""
    opp = pipeline.opportunity_create(
        by=None,
        owner_position=owner,
        name=f"Deal {owner.title} {created} {amount}",
        amount=Decimal(amount),
        close_date=dt.date.fromisoformat(closed or created) + dt.timedelta(days=30),
        at=at(created),
        **fields,
    )
    day = dt.date.fromisoformat(created)
    for i, name in enumerate(via, start=1):
        opp = pipeline.opportunity_move_stage(
            opportunity=opp,
            stage=stage(name),
            by=None,
            at=at((day + dt.timedelta(days=i)).isoformat()),
        )
    if closed:
        opp = pipeline.opportunity_close(
            opportunity=opp, won=won, by=None, at=at(closed, 15), loss_reason="" if won else "price"
        )
    return opp


@pytest.fixture
def world(sales_org):
    """``sales_org`` with regions (East: the VP's line; West: a second VP's), role templates,
    quotas for the AEs and deals in 2025-Q1 and Q2."""
    role_templates_install()
    org = sales_org
    east = Region.objects.create(name="East", code="east")
    west = Region.objects.create(name="West", code="west")
    for key in ("vp", "m1", "m2", "ae1", "ae2", "ae3", "ae4", "sdr", "bdr"):
        org[key].region = east
        org[key].save(update_fields=["region"])
    org["vp_w"] = make_position(
        RoleType.VP_SALES, reports_to=org["cso"], title="VP West", region=west
    )
    org["m3"] = make_position(
        RoleType.SALES_MANAGER, reports_to=org["vp_w"], title="Manager 3", region=west
    )
    org["ae5"] = make_position(RoleType.AE, reports_to=org["m3"], title="AE 3a", region=west)
    org["east"], org["west"] = east, west
    for key in ("ae1", "ae2"):
        planning.quota_set(
            by=org["m1"].holder, position=org[key], period=PERIOD, amount=Decimal("10000")
        )
    # Q2: AE 1a wins 3,000 and 5,000, loses one from Demo; AE 1b wins 2,000; AE 2a wins 7,000;
    # AE 3a (West) wins 11,000 and loses one from Discovery. Q1: AE 1a wins 4,000.
    org["deals"] = [
        deal(org["ae1"], "3000", "2025-04-02", "2025-04-20"),
        deal(org["ae1"], "5000", "2025-04-05", "2025-05-10"),
        deal(org["ae1"], "900", "2025-04-07", "2025-05-11", won=False),
        deal(org["ae2"], "2000", "2025-04-08", "2025-06-01"),
        deal(org["ae3"], "7000", "2025-04-09", "2025-06-02"),
        deal(org["ae5"], "11000", "2025-04-10", "2025-06-03"),
        deal(org["ae5"], "800", "2025-04-11", "2025-06-04", won=False, via=("Discovery",)),
        deal(org["ae1"], "4000", "2025-01-10", "2025-02-10"),
        deal(org["ae2"], "6000", "2025-05-01", via=("Discovery", "Demo", "Proposal")),  # open
    ]
    return org


def get(client, position, path="/", **params):
    client.force_login(position.holder)
    params.setdefault("period", Q)
    response = client.get(path, params)
    assert response.status_code == 200, response.content[:500]
    return response


def page(client, position, **params) -> str:
    return get(client, position, **params).content.decode()


def tile(body: str, key: str) -> str:
    start = body.index(f'<div class="stat kpi-tile" data-kpi="{key}">')
    return body[start : body.index("</div>", start)]


def hrefs(fragment: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', fragment)]


def params_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def listed_ids(client, url: str) -> set[int]:
    """The opportunity ids the opportunities list shows at ``url`` (one page)."""
    response = client.get(url)
    assert response.status_code == 200
    return {
        int(i)
        for i in re.findall(r'href="/pipeline/opportunities/(\d+)/"', response.content.decode())
    }


# --- tiles: value, comparison, quota, drill-down --------------------------------------------------


def test_an_aes_tiles_show_the_period_against_the_last_and_the_quota(client, world):
    body = page(client, world["ae1"])
    bookings = tile(body, "bookings")
    assert "$8,000" in bookings  # 3,000 + 5,000 won in Q2
    assert "Q1 FY2025: $4,000" in bookings  # the period before
    assert "+100.0%" in bookings and "is-better" in bookings
    assert "Quota $10.0k" in bookings and "80% of it" in bookings
    win = tile(body, "win_rate")
    assert "66.7%" in win  # 2 won, 1 lost
    assert "Q1 FY2025: 100.0%" in win and "-33.3 pts" in win
    assert "80.0%" in tile(body, "quota_attainment")


def test_a_tile_drills_down_to_exactly_the_deals_behind_it(client, world):
    body = page(client, world["ae1"])
    link = hrefs(tile(body, "bookings"))[0]
    assert urlparse(link).path == reverse("web:opportunities")
    assert params_of(link) == {
        "status": "won",
        "closed_from": "2025-04-01",
        "closed_to": "2025-06-30",
        "under": str(world["ae1"].pk),
    }
    expected = {d.pk for d in world["deals"][:2]}
    assert listed_ids(client, link) == expected
    previous = hrefs(tile(body, "bookings"))[1]
    assert params_of(previous)["closed_from"] == "2025-01-01"
    assert listed_ids(client, previous) == {world["deals"][7].pk}
    listing = client.get(link).content.decode()
    assert "closed from <strong>2025-04-01</strong>" in listing  # the list says why


def test_responsibilities_show_their_kpi_live_or_say_it_is_not_measured(client, world):
    body = page(client, world["m1"])
    quotas = body[body.index("Set quotas and track trends") :]
    quotas = quotas[: quotas.index("</li>")]
    assert 'data-kpi="quota_attainment"' in quotas and "Not measured yet" not in quotas
    assert "50.0%" in quotas  # (8,000 + 2,000) won against the reps' 20,000
    budget = body[body.index("Manage budget and statistics") :]
    budget = budget[: budget.index("</li>")]
    assert "No budget is set for Q2 FY2025." in budget


def test_a_vp_sees_target_vs_actual_and_budget_vs_spend_from_planning(client, world):
    cso = world["cso"].holder
    planning.target_set(by=cso, period=PERIOD, amount="20000", region=world["east"])
    budget = planning.budget_set(
        by=cso, period=PERIOD, category="travel", amount="5000", region=world["east"]
    )
    planning.spend_record(by=cso, budget=budget, amount="1200", spent_on=dt.date(2025, 5, 2))
    body = page(client, world["vp"])
    target = body[body.index("Set goals, targets and budgets for the team") :]
    target = target[: target.index("</li>")]
    assert "85.0%" in target  # East: 17,000 booked against 20,000
    assert f'href="{reverse("web:planning_targets")}?period=2025-Q2"' in target
    spend = body[body.index("Manage the budget") :]
    spend = spend[: spend.index("</li>")]
    assert "$1,200" in spend and "budget $5,000" in spend
    assert "Not measured yet" not in target + spend


# --- the team: each rep, each team, each region -----------------------------------------------


def test_a_manager_sees_each_rep_with_attainment_against_quota_and_only_their_reps(client, world):
    body = page(client, world["m1"])
    team = body[body.index('id="cockpit-team"') :]
    team = team[: team.index("</section>")]
    rows = dict(re.findall(r'<tr data-group="(\d+)">(.*?)</tr>', team, re.S))
    assert set(rows) == {str(world["ae1"].pk), str(world["ae2"].pk)}
    assert world["ae3"].title not in team and world["ae5"].title not in team
    ae1 = rows[str(world["ae1"].pk)]
    assert "$8,000" in ae1 and "$10.0k" in ae1 and "80% attained" in ae1 and "2 / 1" in ae1
    link = next(h for h in hrefs(ae1) if "status=won" in h)
    assert params_of(link)["under"] == str(world["ae1"].pk)
    assert listed_ids(client, link) == {world["deals"][0].pk, world["deals"][1].pk}
    assert "<svg" in team and "bookings against quota" in team  # the bar chart


def test_a_vp_sees_each_managers_team(client, world):
    team = page(client, world["vp"])
    team = team[team.index('id="cockpit-team"') :]
    rows = dict(
        re.findall(r'<tr data-group="(\d+)">(.*?)</tr>', team[: team.index("</section>")], re.S)
    )
    assert set(rows) == {str(world["m1"].pk), str(world["m2"].pk)}
    assert "$10.0k" in rows[str(world["m1"].pk)]  # AE 1a 8,000 + AE 1b 2,000
    assert "$7,000" in rows[str(world["m2"].pk)]
    assert "$20.0k" in rows[str(world["m1"].pk)]  # the reps' quotas rolled up


def test_the_cso_and_cro_see_the_whole_company_by_region(client, world):
    for who in ("cso", "cro"):
        body = page(client, world[who])
        team = body[body.index('id="cockpit-team"') :]
        team = team[: team.index("</section>")]
        rows = dict(re.findall(r'<tr data-group="(\d+)">(.*?)</tr>', team, re.S))
        assert set(rows) == {str(world["east"].pk), str(world["west"].pk)}
        assert "$17.0k" in rows[str(world["east"].pk)] and "$11.0k" in rows[str(world["west"].pk)]
        link = next(h for h in hrefs(rows[str(world["west"].pk)]) if "status=won" in h)
        assert params_of(link)["region"] == str(world["west"].pk)
        assert listed_ids(client, link) == {world["deals"][5].pk}


def test_a_region_narrows_a_company_cockpit(client, world):
    body = page(client, world["cso"], region=world["west"].pk)
    assert "West region" in body
    link = hrefs(tile(body, "win_rate"))[0]
    assert params_of(link)["region"] == str(world["west"].pk)
    assert "50.0%" in tile(body, "win_rate")  # West: one won, one lost


# --- the CSO's funnel -----------------------------------------------------------------------------


def test_the_cso_funnel_of_a_region_links_each_stages_lost_deals(client, world):
    east = world["east"]
    lead = Lead.objects.create(
        owner_position=world["sdr"],
        first_name="Ann",
        last_name="Lead",
        region=east,
        status="converted",
        converted_opportunity=world["deals"][0],
    )
    Lead.objects.filter(pk=lead.pk).update(created_at=at("2025-04-01"))
    LeadStatusChange.objects.create(
        lead=lead, from_status="qualifying", to_status="sales_qualified", at=at("2025-04-01", 12)
    )
    other = Lead.objects.create(
        owner_position=world["sdr"], first_name="Bo", last_name="Lead", region=east
    )
    Lead.objects.filter(pk=other.pk).update(created_at=at("2025-04-03"))
    body = page(client, world["cso"], region=east.pk)
    funnel = body[body.index('id="cockpit-funnel"') :]
    funnel = funnel[: funnel.index("</section>")]
    assert "Conversion funnel: East" in funnel
    steps = funnel[funnel.index('class="funnel-steps') :]
    assert re.search(r"Leads</span> <strong><a [^>]+>2</a>", steps)
    # Every step links to the leads it counts (the lead list's filters; its visibility).
    for label in ("Leads", "Sales-qualified", "Opportunity", "Won"):
        link = re.search(rf'{label}</span> <strong><a href="([^"]+)">(\d+)</a>', steps)
        assert link, label
        listing = client.get(unescape(link.group(1))).content.decode()
        ids = {int(i) for i in re.findall(r'href="/crm/leads/(\d+)/"', listing)}
        assert len(ids) == int(link.group(2)), label
        assert ids == ({lead.pk, other.pk} if label == "Leads" else {lead.pk}), label
    demo = stage("Demo")
    row = re.search(rf'<tr data-stage="{demo.pk}">(.*?)</tr>', funnel, re.S).group(1)
    lost = hrefs(row)[0]
    assert params_of(lost) == {
        "status": "lost",
        "last_stage": str(demo.pk),
        "closed_from": "2025-04-01",
        "closed_to": "2025-06-30",
        "region": str(east.pk),
    }
    assert listed_ids(client, lost) == {world["deals"][2].pk}  # East's deal lost from Demo
    discovery = stage("Discovery")
    row = re.search(rf'<tr data-stage="{discovery.pk}">(.*?)</tr>', funnel, re.S).group(1)
    assert "lost" not in row.replace("funnel-lost", "")  # West's loss is not East's
    assert "Conversion funnel: all regions" in page(client, world["cso"])


# --- the CRO's forecast ---------------------------------------------------------------------------


def test_the_cro_sees_the_rollup_beside_the_predicted_range(client, world):
    from revline.forecasting.models import ForecastRun

    planning.forecast_submit(
        by=world["ae1"].holder,
        position=world["ae1"],
        period=PERIOD,
        commit="2500",
        best_case="1000",
        pipeline="4000",
    )
    ForecastRun.objects.create(
        period_key=PERIOD.key,
        period_kind="quarter",
        period_start=PERIOD.start,
        period_end=PERIOD.end,
        as_of=at("2025-04-01"),
        p10=Decimal("9000"),
        p50=Decimal("15000"),
        p90=Decimal("21000"),
        expected=Decimal("15500"),
    )
    body = page(client, world["cro"])
    panel = body[body.index('id="cockpit-forecast"') :]
    panel = panel[: panel.index("</section>")]
    submitted = panel[panel.index('data-side="submitted"') : panel.index('data-side="predicted"')]
    predicted = panel[panel.index('data-side="predicted"') :]
    assert "$2,500" in submitted  # AE 1a's commit, rolled up
    assert "1 of" in submitted
    assert "$9,000" in predicted and "$15,000" in predicted and "$21,000" in predicted
    assert "Predicted P50" in panel  # in the chart


def test_the_cro_is_told_when_there_is_no_prediction(client, world):
    body = page(client, world["cro"])
    assert "No prediction has been run for Q2 FY2025 yet." in body


# --- the period ---------------------------------------------------------------------------------


def test_the_period_picker_switches_kind_and_keeps_the_rest(client, world):
    body = page(client, world["cso"], region=world["east"].pk)
    kinds = body[body.index('aria-label="Period length"') :]
    kinds = kinds[: kinds.index("</nav>")]
    links = {
        re.sub(r"<[^>]+>", "", m[1]): params_of(unescape(m[0]))
        for m in re.findall(r'<a href="([^"]+)"[^>]*>(\w+)</a>', kinds)
    }
    assert links["Month"]["period"] == "2025-M06" and links["Year"]["period"] == "2025"
    assert links["Year"]["region"] == str(world["east"].pk)
    year = page(client, world["ae1"], period="2025")
    assert "$12.0k" in tile(year, "bookings")  # Q1 and Q2 together
    assert "FY2024" in tile(year, "bookings")


def test_without_recent_deals_the_default_period_is_the_latest_with_closed_deals(client, world):
    client.force_login(world["ae1"].holder)
    body = client.get("/").content.decode()
    assert "No deal you can see has closed since 11 May 2025" in body
    assert "$8,000" in tile(body, "bookings")


def test_a_bad_period_is_said_and_ignored(client, world):
    body = page(client, world["ae1"], period="2025-Q9")
    assert "is not a period" in body


# --- visibility -----------------------------------------------------------------------------------


def test_anonymous_is_sent_to_log_in(client):
    for path in ("/", reverse("web:cockpit_export")):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_position_not_held_or_a_missing_region_is_404(client, world):
    client.force_login(world["m1"].holder)
    assert client.get("/", {"position": world["m2"].pk}).status_code == 404
    assert (
        client.get(reverse("web:cockpit_export"), {"position": world["m2"].pk}).status_code == 404
    )
    assert client.get("/", {"region": 999999}).status_code == 404
    assert client.get("/", {"region": "x"}).status_code == 404


def test_an_aes_numbers_are_their_own(client, world):
    body = page(client, world["ae2"])
    assert "$2,000" in tile(body, "bookings")
    assert 'id="cockpit-team"' not in body  # no reports, no team table
    link = hrefs(tile(body, "bookings"))[0]
    assert listed_ids(client, link) == {world["deals"][3].pk}
    # The same link followed by someone who does not see those deals shows nothing of them.
    client.force_login(world["ae1"].holder)
    assert listed_ids(client, link) == set()


# --- CSV ------------------------------------------------------------------------------------------


def export(client, position, section, **params) -> list[dict[str, str]]:
    response = get(client, position, reverse("web:cockpit_export"), section=section, **params)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_exports_carry_the_numbers_and_their_links(client, world):
    kpis = {r["key"]: r for r in export(client, world["ae1"], "kpis")}
    assert Decimal(kpis["bookings"]["value"]) == Decimal("8000")
    assert Decimal(kpis["bookings"]["previous_value"]) == Decimal("4000")
    assert Decimal(kpis["bookings"]["target"]) == Decimal("10000")
    assert kpis["bookings"]["drilldown"].startswith("http://testserver/pipeline/opportunities/?")
    team = {r["position"]: r for r in export(client, world["m1"], "team")}
    ae1 = team["AE 1a"]
    assert ae1["group"] == world["ae1"].holder.get_full_name()
    assert Decimal(ae1["bookings"]) == Decimal("8000") and Decimal(ae1["quota"]) == Decimal("10000")
    assert ae1["won"] == "2" and ae1["lost"] == "1"
    assert not any("AE 2a" in k for k in team)
    trend = [r for r in export(client, world["ae1"], "trends") if r["key"] == "bookings"]
    assert [r["period"] for r in trend[-2:]] == ["Q1 FY2025", "Q2 FY2025"]
    assert [Decimal(r["value"]) for r in trend[-2:]] == [Decimal("4000"), Decimal("8000")]
    funnel = export(client, world["cso"], "funnel", region=world["east"].pk)
    demo = next(r for r in funnel if r["step"] == "stage: Demo")
    assert demo["lost"] == "1" and "last_stage=" in demo["drilldown"]
    client.force_login(world["ae1"].holder)
    assert client.get(reverse("web:cockpit_export"), {"section": "nope"}).status_code == 404


# --- query counts -------------------------------------------------------------------------------

ROLES = ["ae1", "m1", "vp", "cso", "cro", "ceo", "sdr", "bdr", "cs", "mkt", "revops"]


def count_queries(client, position, **params) -> int:
    client.force_login(position.holder)
    params.setdefault("period", Q)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/", params).status_code == 200
    return len(ctx.captured_queries)


def test_query_counts_do_not_grow_with_the_data_or_the_team(client, world):
    for who in ROLES:  # warm-up: process-wide caches (content types...) fill on first use
        count_queries(client, world[who])
    before = {who: count_queries(client, world[who]) for who in ROLES}
    before["cso-east"] = count_queries(client, world["cso"], region=world["east"].pk)
    # More of everything: deals for every rep, a new rep under each manager, leads.
    for key in ("ae1", "ae2", "ae3", "ae4", "ae5"):
        for i in range(3):
            deal(world[key], str(1000 + i), f"2025-04-1{i}", f"2025-05-1{i}", won=i != 1)
    for key in ("m1", "m2", "m3"):
        rep = make_position(RoleType.AE, reports_to=world[key], region=world[key].region)
        deal(rep, "1500", "2025-04-20", "2025-05-20")
    for i in range(5):
        Lead.objects.create(
            owner_position=world["sdr"], first_name="L", last_name=str(i), region=world["east"]
        )
    after = {who: count_queries(client, world[who]) for who in ROLES}
    after["cso-east"] = count_queries(client, world["cso"], region=world["east"].pk)
    assert after == before
    budgets = {"ae1": 34, "m1": 50, "vp": 65, "cso": 45, "cro": 50}
    for who, budget in budgets.items():
        assert after[who] <= budget, after


def test_kpi_values_reach_the_template_once_per_page(world):
    """A KPI shown in a tile and a responsibility is computed once."""
    numbers = cockpits.cockpit_numbers(
        user=world["m1"].holder,
        position=world["m1"],
        responsibility_kpis=["quota_attainment", "quota_attainment"],
        period_key=Q,
    )
    assert [t.key for t in numbers.tiles] == [
        "bookings",
        "quota_attainment",
        "win_rate",
        "pipeline_coverage",
    ]
    assert list(numbers.by_key).count("quota_attainment") == 1
    assert numbers.by_key["bookings"].value.value == Decimal("10000.00")
    assert (
        Opportunity.objects.filter(
            status="won", closed_on__range=(PERIOD.start, PERIOD.end)
        ).count()
        == 5
    )


def test_an_sdrs_tiles_drill_into_the_leads_list(client, world):
    sdr = world["sdr"]
    mine = Lead.objects.create(
        owner_position=sdr, qualified_by=sdr, first_name="Sal", last_name="Q"
    )
    LeadStatusChange.objects.create(
        lead=mine, from_status="qualifying", to_status="sales_qualified", at=at("2025-05-05")
    )
    earlier = Lead.objects.create(
        owner_position=sdr, qualified_by=sdr, first_name="Old", last_name="Q"
    )
    LeadStatusChange.objects.create(
        lead=earlier, from_status="qualifying", to_status="sales_qualified", at=at("2025-02-05")
    )
    body = page(client, sdr)
    handed = tile(body, "sqls_handed_over")
    assert 'href="/crm/leads/?' in handed
    link = hrefs(handed)[0]
    assert params_of(link) == {
        "sql_from": "2025-04-01",
        "sql_to": "2025-06-30",
        "under": str(sdr.pk),
    }
    listing = client.get(link).content.decode()
    ids = {int(i) for i in re.findall(r'href="/crm/leads/(\d+)/"', listing)}
    assert ids == {mine.pk}
    assert "Sales-qualified from" in listing  # the filter shows as a chip
