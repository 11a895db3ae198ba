"""The CRM record pages and forms: accounts and contacts (the lead flow has its own file).
Owner 200, peer 404, anonymous to the login page, view-only 403 on writes, custom fields."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revline.core.models import AuditEvent
from revline.crm import services
from revline.crm.choices import CustomFieldType
from revline.crm.custom_fields import custom_field_save
from revline.crm.models import Account, Contact
from revline.org.models import Position
from tests.crm.factories import make_account, make_contact, make_lead, make_opportunity
from tests.org.factories import TeamFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"web:{name}", args=args)


def login(client, position):
    client.force_login(position.holder)
    return client


@pytest.fixture
def records(sales_org):
    """One account, contact and lead owned by AE 1a (the lead by the SDR)."""
    ae = sales_org["ae1"]
    account = make_account(ae, name="Acme Corp")
    contact = make_contact(ae, account=account, last_name="Doe", first_name="Jane")
    lead = make_lead(sales_org["sdr"], company="Acme Corp")
    return {"account": account, "contact": contact, "lead": lead, **sales_org}


def record_urls(r) -> list[tuple[str, str]]:
    """(url, owner key) of every record page and form."""
    return [
        (url("account_detail", r["account"].pk), "ae1"),
        (url("account_edit", r["account"].pk), "ae1"),
        (url("contact_detail", r["contact"].pk), "ae1"),
        (url("contact_edit", r["contact"].pk), "ae1"),
        (url("lead_detail", r["lead"].pk), "sdr"),
        (url("lead_edit", r["lead"].pk), "sdr"),
    ]


def test_record_pages_render_for_the_owner(client, records):
    for page, owner in record_urls(records):
        response = login(client, records[owner]).get(page)
        assert response.status_code == 200, page


def test_record_pages_are_404_for_a_peer(client, records):
    peers = {"ae1": records["ae2"], "sdr": records["bdr"]}
    for page, owner in record_urls(records):
        assert login(client, peers[owner]).get(page).status_code == 404, page


def test_record_pages_send_anonymous_visitors_to_login(client, records):
    for page, _ in record_urls(records):
        response = client.get(page)
        assert response.status_code == 302 and reverse("web:login") in response["Location"]


def test_new_forms_render(client, records):
    client = login(client, records["ae1"])
    for name in (
        "account_create",
        "contact_create",
        "lead_create",
        "complaint_create",
        "survey_create",
    ):
        assert client.get(url(name)).status_code == 200, name


def test_view_only_user_gets_403_on_edits(client, records):
    """A team-mate in a team that shares records sees them, but changes none."""
    team = TeamFactory(share_records=True)
    Position.objects.filter(pk__in=[records["ae1"].pk, records["ae2"].pk]).update(team=team)
    client = login(client, records["ae2"])
    account = records["account"]
    assert client.get(url("account_detail", account.pk)).status_code == 200
    assert client.get(url("account_edit", account.pk)).status_code == 403
    assert client.post(url("account_edit", account.pk), {"name": "X"}).status_code == 403
    assert (
        client.post(url("contact_edit", records["contact"].pk), {"last_name": "X"}).status_code
        == 403
    )
    html = client.get(url("account_detail", account.pk)).content.decode()
    assert url("account_edit", account.pk) not in html


def test_account_page_shows_its_world(client, records):
    account = records["account"]
    sub = make_account(records["ae1"], name="Acme Europe", parent=account)
    make_opportunity(records["ae1"], account=account, name="Acme expansion")
    services.complaint_create(
        by=None, owner_position=records["m1"], account=account, subject="Late delivery"
    )
    services.survey_record(
        by=None, owner_position=records["ae1"], account=account, kind="nps", score=9
    )
    services.activity_log(
        by=records["ae1"].holder, kind="call", subject="Intro call", account=account
    )
    html = login(client, records["m1"]).get(url("account_detail", account.pk)).content.decode()
    for text in (
        "Acme Europe",
        "Jane Doe",
        "Acme expansion",
        "Late delivery",
        "NPS 9",
        "Intro call",
        "Created",
    ):
        assert text in html, text
    child = login(client, records["ae1"]).get(url("account_detail", sub.pk)).content.decode()
    assert "Acme Corp" in child  # the parent


def test_account_page_hides_a_parent_outside_view(client, records):
    hidden = make_account(records["ae3"], name="Secret Holdings")
    child = make_account(records["ae1"], name="Child", parent=hidden)
    html = login(client, records["ae1"]).get(url("account_detail", child.pk)).content.decode()
    assert "Secret Holdings" not in html
    assert "outside your view" in html


def test_create_account_through_the_form(client, records):
    client = login(client, records["ae1"])
    response = client.post(
        url("account_create"),
        {
            "name": "Initech",
            "owner_position": records["ae1"].pk,
            "customer_status": "prospect",
            "employees": "120",
        },
    )
    account = Account.objects.get(name="Initech")
    assert response.status_code == 302 and response["Location"] == url("account_detail", account.pk)
    assert account.size == "51-200"
    assert AuditEvent.objects.filter(action="account.create", object_id=account.pk).exists()


def test_create_account_needs_a_name(client, records):
    response = login(client, records["ae1"]).post(
        url("account_create"),
        {"name": "", "owner_position": records["ae1"].pk, "customer_status": "prospect"},
    )
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_edit_account_and_its_parent_by_name(client, records):
    parent = make_account(records["ae1"], name="Umbrella Group")
    account = records["account"]
    response = login(client, records["ae1"]).post(
        url("account_edit", account.pk),
        {
            "name": "Acme Corporation",
            "owner_position": records["ae1"].pk,
            "customer_status": "customer",
            "parent": "Umbrella",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Acme Corporation" and account.parent == parent
    html = client.get(url("account_detail", account.pk)).content.decode()
    assert "Edited" in html and "Acme Corporation" in html


def test_picking_an_invisible_parent_is_refused(client, records):
    hidden = make_account(records["ae3"], name="Hidden Parent")
    response = login(client, records["ae1"]).post(
        url("account_edit", records["account"].pk),
        {
            "name": "Acme",
            "owner_position": records["ae1"].pk,
            "customer_status": "prospect",
            "parent": f"x #{hidden.pk}",
        },
    )
    assert response.status_code == 400
    assert "no account" in response.content.decode()
    assert Account.objects.get(pk=records["account"].pk).parent is None


def test_an_account_cannot_be_its_own_parent(client, records):
    account = records["account"]
    response = login(client, records["ae1"]).post(
        url("account_edit", account.pk),
        {
            "name": "Acme",
            "owner_position": records["ae1"].pk,
            "customer_status": "prospect",
            "parent": f"Acme #{account.pk}",
        },
    )
    assert response.status_code == 400
    assert "its own parent" in response.content.decode()


def test_create_contact_on_an_account(client, records):
    client = login(client, records["ae1"])
    page = client.get(url("contact_create"), {"account": records["account"].pk})
    assert f"#{records['account'].pk}" in page.content.decode()  # pre-filled
    response = client.post(
        url("contact_create"),
        {
            "last_name": "Smith",
            "email": "Smith@Example.test",
            "account": f"Acme Corp #{records['account'].pk}",
            "owner_position": records["ae1"].pk,
        },
    )
    contact = Contact.objects.get(last_name="Smith")
    assert response.status_code == 302
    assert contact.account == records["account"] and contact.email == "smith@example.test"


def test_contact_page(client, records):
    contact = records["contact"]
    make_opportunity(
        records["ae1"], account=records["account"], contact=contact, name="Jane's deal"
    )
    html = login(client, records["ae1"]).get(url("contact_detail", contact.pk)).content.decode()
    assert "Jane Doe" in html and "Acme Corp" in html and "Jane&#x27;s deal" in html


# --- custom fields ----------------------------------------------------------------------------


@pytest.fixture
def custom(db):
    custom_field_save(
        by=None,
        entity="account",
        key="seats",
        label="Seats",
        field_type=CustomFieldType.INTEGER,
        required=True,
    )
    custom_field_save(
        by=None,
        entity="account",
        key="tier",
        label="Tier",
        field_type=CustomFieldType.CHOICE,
        choices=["Gold", "Silver"],
    )
    custom_field_save(
        by=None,
        entity="account",
        key="renewal",
        label="Renewal date",
        field_type=CustomFieldType.DATE,
    )
    custom_field_save(
        by=None,
        entity="account",
        key="strategic",
        label="Strategic",
        field_type=CustomFieldType.BOOLEAN,
    )


def account_post(owner, **extra):
    return {"name": "Custom Co", "owner_position": owner.pk, "customer_status": "prospect", **extra}


def test_custom_fields_render_typed_inputs(client, records, custom):
    html = login(client, records["ae1"]).get(url("account_create")).content.decode()
    assert 'name="cf_seats"' in html and 'type="number"' in html
    assert 'name="cf_renewal"' in html and 'type="date"' in html
    assert '<option value="Gold">' in html
    assert "Custom fields" in html


def test_custom_field_validation_errors_are_shown(client, records, custom):
    client = login(client, records["ae1"])
    response = client.post(
        url("account_create"), account_post(records["ae1"], cf_seats="many", cf_tier="Bronze")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a whole number" in html
    assert "Select a valid choice" in html
    missing = client.post(url("account_create"), account_post(records["ae1"]))
    assert "This field is required" in missing.content.decode()
    assert not Account.objects.filter(name="Custom Co").exists()


def test_custom_fields_are_saved_and_shown(client, records, custom):
    client = login(client, records["ae1"])
    response = client.post(
        url("account_create"),
        account_post(
            records["ae1"],
            cf_seats="40",
            cf_tier="Gold",
            cf_renewal="2030-01-31",
            cf_strategic="true",
        ),
    )
    assert response.status_code == 302
    account = Account.objects.get(name="Custom Co")
    assert account.custom == {
        "seats": 40,
        "tier": "Gold",
        "renewal": "2030-01-31",
        "strategic": True,
    }
    html = client.get(url("account_detail", account.pk)).content.decode()
    assert "Seats" in html and "40" in html and "Yes" in html
    edit = client.get(url("account_edit", account.pk)).content.decode()
    assert 'value="40"' in edit and 'value="2030-01-31"' in edit


def test_clearing_an_optional_custom_field(client, records, custom):
    account = make_account(records["ae1"], name="Custom Co", custom={"seats": 5, "tier": "Gold"})
    client = login(client, records["ae1"])
    response = client.post(
        url("account_edit", account.pk), account_post(records["ae1"], cf_seats="5", cf_tier="")
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.custom == {"seats": 5}


def test_lead_form_custom_field(client, records):
    custom_field_save(by=None, entity="lead", key="budget_code", label="Budget code", required=True)
    client = login(client, records["sdr"])
    response = client.post(url("lead_create"), {"last_name": "Ng", "source": "web"})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    ok = client.post(
        url("lead_create"), {"last_name": "Ng", "source": "web", "cf_budget_code": "B-7"}
    )
    assert ok.status_code == 302


def test_lead_edit_keeps_owner_and_saves(client, records):
    lead = records["lead"]
    response = login(client, records["sdr"]).post(
        url("lead_edit", lead.pk), {"last_name": "Renamed", "company": "Acme Corp", "source": "web"}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.last_name == "Renamed" and lead.owner_position == records["sdr"]


def test_visible_but_unchangeable_lead_edit_is_403(client, records):
    assert (
        login(client, records["mkt"]).get(url("lead_detail", records["lead"].pk)).status_code == 200
    )
    assert client.get(url("lead_edit", records["lead"].pk)).status_code == 403
