"""The CRM list pages (accounts, contacts, leads): visibility, live search, filters, sort, keyset
pages, CSV export and constant query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from revline.crm import services as crm
from revline.crm.choices import CustomFieldType, LeadStatus
from revline.crm.custom_fields import custom_field_save
from revline.org.choices import RoleType
from tests.crm.factories import make_account, make_contact, make_lead
from tests.org.factories import RegionFactory, make_position

pytestmark = pytest.mark.django_db

LISTS = ["accounts", "contacts", "leads"]


def url(name: str, *args) -> str:
    return reverse(f"web:{name}", args=args)


def login(client, position):
    client.force_login(position.holder)
    return client


def export_rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def make_rows(entity: str, owner, n: int, **fields):
    maker = {"accounts": make_account, "contacts": make_contact, "leads": make_lead}[entity]
    return [maker(owner, **fields) for _ in range(n)]


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LISTS + [f"{n}_export" for n in LISTS])
def test_lists_need_login(client, name):
    response = client.get(url(name))
    assert response.status_code == 302
    assert reverse("web:login") in response["Location"]


@pytest.mark.parametrize("entity", LISTS)
def test_owner_sees_their_rows_and_a_peer_does_not(client, org, entity):
    mine = make_rows(entity, org["ae1"], 2)
    theirs = make_rows(entity, org["ae2"], 1)
    html = login(client, org["ae1"]).get(url(entity)).content.decode()
    for record in mine:
        assert f"/{record.pk}/" in html
    assert f'/{theirs[0].pk}/"' not in html
    manager = login(client, org["m1"]).get(url(entity))
    assert manager.context["page"].total == 3


def test_list_shows_total_and_the_new_button(client, org):
    make_rows("accounts", org["ae1"], 3)
    response = login(client, org["ae1"]).get(url("accounts"))
    assert response.status_code == 200
    assert response.context["page"].total == 3
    assert url("account_create") in response.content.decode()


# --- query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("entity", LISTS)
def test_list_query_count_does_not_grow_with_rows(
    client, org, entity, django_assert_max_num_queries
):
    custom_field_save(by=None, entity=entity[:-1], key="tier", label="Tier")
    make_rows(entity, org["ae1"], 3)
    client = login(client, org["m1"])
    client.get(url(entity))  # warm the session
    with django_assert_max_num_queries(11) as few:
        assert client.get(url(entity)).status_code == 200
    make_rows(entity, org["ae2"], 10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url(entity))
    assert response.context["page"].total == 13


@pytest.mark.parametrize("entity", LISTS)
def test_export_query_count_does_not_grow_with_rows(
    client, org, entity, django_assert_max_num_queries
):
    make_rows(entity, org["ae1"], 3)
    client = login(client, org["m1"])
    with django_assert_max_num_queries(12) as few:
        assert len(export_rows(client.get(url(f"{entity}_export")))) == 3
    make_rows(entity, org["ae2"], 10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(export_rows(client.get(url(f"{entity}_export")))) == 13


# --- search, filters, sort --------------------------------------------------------------------


def test_search_finds_by_name(client, org):
    make_account(org["ae1"], name="Zebra Logistics")
    make_account(org["ae1"], name="Aardvark Foods")
    response = login(client, org["ae1"]).get(url("accounts"), {"q": "zebra"})
    assert [a.name for a in response.context["page"].items] == ["Zebra Logistics"]


def test_live_search_answers_the_results_fragment(client, org):
    make_account(org["ae1"], name="Zebra Logistics")
    response = login(client, org["ae1"]).get(
        url("accounts"),
        {"q": "zeb", "sort": "-name"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="crm-results",
    )
    html = response.content.decode()
    assert "Zebra Logistics" in html
    assert "<html" not in html
    assert "crm-filter-form" in html  # hidden inputs keep the sort for the next search


def test_account_filters(client, org):
    region = RegionFactory(code="emea")
    a = make_account(org["ae1"], name="A", sector="Retail", region=region)
    make_account(org["ae1"], name="B", sector="Energy")
    client = login(client, org["ae1"])
    assert [
        x.pk for x in client.get(url("accounts"), {"sector": "retail"}).context["page"].items
    ] == [a.pk]
    assert [
        x.pk for x in client.get(url("accounts"), {"region": "emea"}).context["page"].items
    ] == [a.pk]
    owner = client.get(url("accounts"), {"owner": org["ae2"].pk})
    assert owner.context["page"].total == 0


def test_lead_filters_status_source_and_untouched(client, sales_org):
    sdr = sales_org["sdr"]
    new = make_lead(sdr, source="web")
    contacted = make_lead(sdr, source="event")
    from revline.crm import services

    services.lead_set_status(lead=contacted, status=LeadStatus.CONTACTED, by=None)
    client = login(client, sdr)
    by_status = client.get(url("leads"), {"status": "contacted"}).context["page"].items
    assert [lead.pk for lead in by_status] == [contacted.pk]
    by_source = client.get(url("leads"), {"source": "web"}).context["page"].items
    assert [lead.pk for lead in by_source] == [new.pk]
    untouched = client.get(url("leads"), {"untouched": "on"}).context["page"].items
    assert {lead.pk for lead in untouched} == {new.pk, contacted.pk}


def test_contact_filter_by_account_shows_a_removable_chip(client, org):
    account = make_account(org["ae1"], name="Globex")
    on = make_contact(org["ae1"], account=account)
    make_contact(org["ae1"])
    response = login(client, org["ae1"]).get(url("contacts"), {"account": account.pk})
    assert [c.pk for c in response.context["page"].items] == [on.pk]
    assert "Account: Globex" in response.content.decode()


def test_custom_field_filter(client, org):
    custom_field_save(
        by=None,
        entity="account",
        key="tier",
        label="Tier",
        field_type=CustomFieldType.CHOICE,
        choices=["Gold", "Silver"],
    )
    gold = make_account(org["ae1"], custom={"tier": "Gold"})
    make_account(org["ae1"], custom={"tier": "Silver"})
    response = login(client, org["ae1"]).get(url("accounts"), {"cf_tier": "Gold"})
    assert [a.pk for a in response.context["page"].items] == [gold.pk]
    assert "Tier" in response.content.decode()  # a column and a filter


def test_sort_by_clickable_header(client, org):
    for name in ("Beta", "Alpha", "Gamma"):
        make_account(org["ae1"], name=name)
    client = login(client, org["ae1"])
    up = client.get(url("accounts"), {"sort": "name"}).context["page"].items
    down = client.get(url("accounts"), {"sort": "-name"}).context["page"].items
    assert [a.name for a in up] == ["Alpha", "Beta", "Gamma"]
    assert [a.name for a in down] == ["Gamma", "Beta", "Alpha"]
    header = client.get(url("accounts"), {"sort": "name"}).context["header"]
    name_cell = next(h for h in header if h["label"] == "Account")
    assert name_cell["state"] == "asc" and "sort=-name" in name_cell["href"]


def test_unknown_sort_falls_back_to_the_default(client, org):
    make_account(org["ae1"], name="B")
    make_account(org["ae1"], name="A")
    items = (
        login(client, org["ae1"])
        .get(url("accounts"), {"sort": "owner_position__holder__password"})
        .context["page"]
        .items
    )
    assert [a.name for a in items] == ["A", "B"]


# --- keyset pages -----------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["", "name", "-name", "employees", "-employees", "-created_at"])
def test_keyset_pages_walk_every_row_once(client, org, monkeypatch, sort):
    from revline.web.views import crm as views

    monkeypatch.setattr(views.sorted_page, "__kwdefaults__", {"limit": 4})
    for i in range(10):
        make_account(org["ae1"], name=f"Acc {i % 3}", employees=None if i % 4 == 0 else i % 5)
    client = login(client, org["ae1"])
    seen, params = [], {"sort": sort} if sort else {}
    for _ in range(5):
        page = client.get(url("accounts"), params).context["page"]
        seen += [a.pk for a in page.items]
        if not page.next:
            break
        params = {**params, "cursor": page.next}
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 10


def test_load_more_answers_rows_only(client, org, monkeypatch):
    from revline.web.views import crm as views

    monkeypatch.setattr(views.sorted_page, "__kwdefaults__", {"limit": 2})
    accounts = [make_account(org["ae1"], name=f"Acc {i}") for i in range(3)]
    client = login(client, org["ae1"])
    first = client.get(url("accounts")).context["page"]
    assert first.next
    more = client.get(
        url("accounts"), {"cursor": first.next}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="crm-more"
    )
    html = more.content.decode()
    assert "<table" not in html and f"/crm/accounts/{accounts[2].pk}/" in html


def test_a_bad_cursor_shows_the_first_page(client, org):
    make_account(org["ae1"])
    response = login(client, org["ae1"]).get(url("accounts"), {"cursor": "nonsense"})
    assert response.status_code == 200
    assert response.context["page"].total == 1


# --- CSV export -------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", LISTS)
def test_export_contains_exactly_the_visible_rows(client, org, entity):
    mine = make_rows(entity, org["ae1"], 2)
    make_rows(entity, org["ae3"], 2)  # another manager's team
    rows = export_rows(login(client, org["m1"]).get(url(f"{entity}_export")))
    assert sorted(int(r["id"]) for r in rows) == sorted(r.pk for r in mine)


def test_export_applies_the_filters_and_custom_columns(client, org):
    custom_field_save(by=None, entity="account", key="tier", label="Tier")
    make_account(org["ae1"], name="Zebra", custom={"tier": "gold"})
    make_account(org["ae1"], name="Yak")
    response = login(client, org["ae1"]).get(url("accounts_export"), {"q": "zeb"})
    assert response["Content-Type"].startswith("text/csv")
    rows = export_rows(response)
    assert [(r["name"], r["cf_tier"]) for r in rows] == [("Zebra", "gold")]


def test_export_does_not_name_a_parent_outside_the_users_view(client, org):
    parent = make_account(org["ae3"], name="Hidden Parent")
    make_account(org["ae1"], name="Child", parent=parent)
    rows = export_rows(login(client, org["ae1"]).get(url("accounts_export")))
    assert rows[0]["parent"] == ""
    html = client.get(url("accounts")).content.decode()
    assert "Hidden Parent" not in html


def test_marketing_sees_all_leads_but_no_accounts(client, org):
    make_lead(org["ae1"])
    make_account(org["ae1"])
    client = login(client, org["mkt"])
    assert client.get(url("leads")).context["page"].total == 1
    assert client.get(url("accounts")).context["page"].total == 0


def test_sidebar_links_to_the_crm_lists(client, org):
    html = login(client, org["ae1"]).get(url("accounts")).content.decode()
    for name in (*LISTS, "activities", "quotes"):
        assert f'href="{url(name)}"' in html
    # the activities and quotes lists answer every signed-in user (each sees their own)
    for name in ("activities", "quotes"):
        assert client.get(url(name)).status_code == 200


def test_record_picker_suggests_visible_records_only(client, org):
    make_account(org["ae1"], name="Initech Mine")
    make_account(org["ae3"], name="Initech Other")
    response = login(client, org["ae1"]).get(url("crm_pick", "account"), {"account": "Initech"})
    html = response.content.decode()
    assert "Initech Mine" in html and "Initech Other" not in html
    assert client.get(url("crm_pick", "position")).status_code == 404


def test_bdr_without_reports_sees_only_own_leads(client, sales_org):
    mine = make_lead(sales_org["bdr"])
    make_lead(sales_org["sdr"])
    other_bdr = make_position(RoleType.BDR, reports_to=sales_org["m2"])
    make_lead(other_bdr)
    items = login(client, sales_org["bdr"]).get(url("leads")).context["page"].items
    assert [lead.pk for lead in items] == [mine.pk]


def test_export_cells_that_could_run_as_formulas_are_neutralised():
    from revline.core.export import csv_rows

    rows = [{"v": v} for v in ("=1+1", "\tcmd", "\rcmd", "-5", "@SUM(A1)", "plain")]
    out = list(csv_rows(rows, [("v", lambda r: r["v"])]))
    assert [r[0] for r in out[1:]] == ["'=1+1", "'\tcmd", "'\rcmd", "-5", "'@SUM(A1)", "plain"]


def test_activity_and_quote_lists_filter_and_keep_the_drill_down(client, org):
    account = make_account(org["ae1"], name="Acme")
    for kind, subject in (("call", "Intro call"), ("task", "Send the deck")):
        crm.activity_log(
            by=None,
            kind=kind,
            subject=subject,
            owner_position=org["ae1"],
            account=account,
            due_at=timezone.now() + dt.timedelta(days=1) if kind == "task" else None,
        )
    client = login(client, org["ae1"])
    owner = org["ae1"].pk
    response = client.get(url("activities"), {"kind": "task", "open": "1", "owner": owner})
    assert [a.subject for a in response.context["page"].object_list] == ["Send the deck"]
    html = response.content.decode()
    assert '<option value="task" selected>' in html and 'value="1" checked' in html
    assert f'<input type="hidden" name="owner" value="{owner}">' in html  # the drill-down stays
    html = client.get(url("quotes"), {"status": "sent,accepted", "q": "Acme"}).content.decode()
    assert '<option value="sent,accepted" selected>' in html and 'value="Acme"' in html
