"""The CRM through the API: accounts, contacts, leads and their hand-off, activities and the CRM's
other lists. Only what the caller may see; 404 for the rest, 403 for what they see but may not
change; the list contract and constant query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revline.crm import services
from revline.crm.models import Account, Activity, Lead, LeadStatusChange
from revline.org import services as org_services
from revline.org.choices import RoleType
from revline.org.models import ApiToken
from tests.api.conftest import ApiClient, assert_error, token_for
from tests.crm.factories import make_account, make_contact, make_lead, make_opportunity
from tests.org.factories import RegionFactory, UserFactory, make_position

pytestmark = pytest.mark.django_db

ACCOUNT_KEYS = {"id", "external_id", "name", "owner", "customer_status", "created_at"}
CONTACT_KEYS = {"id", "external_id", "name", "owner", "account", "email"}
LEAD_KEYS = {"id", "external_id", "name", "owner", "account", "status", "source", "email"}


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {item["id"] for item in response.json()["items"]}


def walk(client, path, **params) -> list[dict]:
    """Every item of a list endpoint, following ``next``."""
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query)
        assert response.status_code == 200, response.content
        body = response.json()
        items.extend(body["items"])
        cursor = body["next"]
        if not cursor:
            return items


def queries(client, path, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params or {})
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


@pytest.fixture
def crm(sales_org):
    """A lead, account and contact per AE of Manager 1 and one for an AE of Manager 2."""
    org = sales_org
    data = {"org": org}
    for name in ["ae1", "ae2", "ae3"]:
        data[f"{name}_account"] = make_account(org[name], name=f"{name} Corp", external_id=name)
        data[f"{name}_contact"] = make_contact(
            org[name], account=data[f"{name}_account"], external_id=f"c-{name}"
        )
        data[f"{name}_lead"] = make_lead(org[name], external_id=f"l-{name}")
    data["sdr_lead"] = make_lead(org["sdr"], company="Initech", external_id="l-sdr")
    return data


# --- the list contract -------------------------------------------------------------------------


def test_lists_keep_the_contract(api_as, crm):
    org = crm["org"]
    client = api_as(org["cso"].holder)
    for path, keys, size in [
        ("/accounts", ACCOUNT_KEYS, 3),
        ("/contacts", CONTACT_KEYS, 3),
        ("/leads", LEAD_KEYS, 4),
    ]:
        body = client.get(path).json()
        assert set(body) == {"items", "next", "total"}
        assert body["total"] == size == len(body["items"])
        for item in body["items"]:
            assert item.keys() >= keys, (path, item.keys())
            assert isinstance(item["owner"], int)
    leads = {i["external_id"]: i for i in client.get("/leads").json()["items"]}
    lead = leads["l-ae1"]
    assert lead["owner"] == org["ae1"].pk
    assert lead["owner_name"] == org["ae1"].holder.full_name
    assert lead["status"] == "new" and lead["account"] is None
    contact = client.get("/contacts", {"external_id": "c-ae2"}).json()["items"][0]
    assert contact["account"] == crm["ae2_account"].pk
    assert contact["account_name"] == "ae2 Corp"


def test_money_and_dates_are_json_numbers_and_iso(api_as, crm):
    org = crm["org"]
    services.account_update(
        account=crm["ae1_account"],
        by=None,
        annual_revenue=Decimal("1234567.89"),
        customer_since=timezone.localdate(),
    )
    item = api_as(org["ae1"].holder).get(f"/accounts/{crm['ae1_account'].pk}").json()
    assert item["annual_revenue"] == 1234567.89
    assert item["customer_since"] == timezone.localdate().isoformat()


# --- visibility --------------------------------------------------------------------------------


def test_ae_sees_own_manager_sees_team_peer_gets_404(api_as, crm):
    org = crm["org"]
    ae1 = api_as(org["ae1"].holder)
    assert ids(ae1.get("/accounts")) == {crm["ae1_account"].pk}
    assert ids(ae1.get("/leads")) == {crm["ae1_lead"].pk}
    manager = api_as(org["m1"].holder)
    assert ids(manager.get("/accounts")) == {crm["ae1_account"].pk, crm["ae2_account"].pk}
    assert ids(manager.get("/leads")) == {
        crm["ae1_lead"].pk,
        crm["ae2_lead"].pk,
        crm["sdr_lead"].pk,
    }
    for path in [
        f"/accounts/{crm['ae2_account'].pk}",
        f"/contacts/{crm['ae2_contact'].pk}",
        f"/leads/{crm['ae2_lead'].pk}",
        f"/leads/{crm['ae2_lead'].pk}/history",
    ]:
        assert_error(ae1.get(path), 404, "not_found")
    assert_error(ae1.patch(f"/accounts/{crm['ae2_account'].pk}", {"name": "x"}), 404, "not_found")
    assert_error(
        ae1.post(f"/leads/{crm['ae2_lead'].pk}/status", {"status": "contacted"}),
        404,
        "not_found",
    )
    assert_error(manager.get(f"/accounts/{crm['ae3_account'].pk}"), 404, "not_found")


def test_filters_never_widen_visibility(api_as, crm):
    org = crm["org"]
    client = api_as(org["ae1"].holder)
    assert ids(client.get("/accounts", {"external_id": "ae2"})) == set()
    assert ids(client.get("/leads", {"owner": org["ae2"].pk})) == set()
    assert client.get("/leads", {"q": "Lead"}).json()["total"] == 1


def test_anonymous_and_dead_tokens_are_401(anon, api_as, crm):
    org = crm["org"]
    for path in ["/accounts", "/contacts", "/leads", f"/leads/{crm['ae1_lead'].pk}"]:
        assert_error(anon.get(path), 401, "unauthorized")
    assert_error(anon.post("/leads", {"last_name": "X"}), 401, "unauthorized")
    user = org["ae1"].holder
    raw = token_for(user)
    client = ApiClient(raw)
    assert client.get("/leads").status_code == 200
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(client.get("/leads"), 401, "unauthorized")
    token, raw = org_services.api_token_create(user=user, name="second")
    client = ApiClient(raw)
    assert client.get("/leads").status_code == 200
    org_services.api_token_revoke(token=token, by=user)
    assert_error(client.get("/leads"), 401, "unauthorized")


def test_visible_but_not_changeable_is_403(api_as, crm):
    org = crm["org"]
    # Marketing sees every lead (org-wide, view only) but edits none.
    marketing = api_as(org["mkt"].holder)
    lead = crm["ae1_lead"]
    assert marketing.get(f"/leads/{lead.pk}").status_code == 200
    assert_error(marketing.patch(f"/leads/{lead.pk}", {"title": "CTO"}), 403, "forbidden")
    assert_error(
        marketing.post(f"/leads/{lead.pk}/status", {"status": "contacted"}), 403, "forbidden"
    )
    assert_error(marketing.post(f"/leads/{lead.pk}/qualify", {"need": "x"}), 403, "forbidden")
    assert_error(
        marketing.post(f"/leads/{lead.pk}/convert", {"ae_position": org["ae1"].pk}),
        403,
        "forbidden",
    )
    # Marketing does not see accounts at all
    assert_error(marketing.get(f"/accounts/{crm['ae1_account'].pk}"), 404, "not_found")


# --- pagination and filters --------------------------------------------------------------------


def test_cursor_walks_every_item_once_in_every_order(api_as, crm):
    org = crm["org"]
    for n in range(7):
        make_account(org["ae1"], name=f"Zeta {n % 3}", employees=None if n % 2 else n * 10)
    client = api_as(org["cso"].holder)
    everything = {a.pk for a in Account.objects.all()}
    for order in ["", "name", "-name", "employees", "-employees", "id", "-id", "created_at"]:
        items = walk(client, "/accounts", limit=2, order=order)
        got = [i["id"] for i in items]
        assert len(got) == len(set(got)) == len(everything), order
        assert set(got) == everything
    # the CSO's totals (counted without the predicate: org-wide) match what the pages hold
    assert client.get("/accounts", {"limit": 1}).json()["total"] == len(everything)
    assert client.get("/accounts", {"limit": 1, "q": "Zeta"}).json()["total"] == 7
    manager = api_as(org["m1"].holder)
    assert manager.get("/accounts", {"limit": 1}).json()["total"] == len(
        walk(manager, "/accounts", limit=3)
    )
    names = [i["name"] for i in walk(client, "/accounts", limit=3, order="name")]
    assert names == sorted(names)
    employees = [i["employees"] for i in walk(client, "/accounts", limit=2, order="-employees")]
    numbers = [e for e in employees if e is not None]
    assert numbers == sorted(numbers, reverse=True)
    assert employees[-len(employees) + len(numbers) :] == [None] * (len(employees) - len(numbers))
    leads = [i["id"] for i in walk(client, "/leads", limit=1)]
    assert leads == sorted(leads, reverse=True)  # newest first


def test_bad_cursor_is_422(api_as, crm):
    client = api_as(crm["org"]["cso"].holder)
    for path in ["/leads", "/accounts"]:
        body = assert_error(client.get(path, {"cursor": "nonsense!"}), 422, "validation_error")
        assert body["errors"][0]["field"] == "cursor"
    assert_error(client.get("/leads", {"limit": 0}), 422, "validation_error")


def test_lead_filters(api_as, crm):
    org = crm["org"]
    region = RegionFactory(code="emea", name="EMEA")
    lead = make_lead(org["ae1"], source="web", region=region, external_id="X-9")
    services.lead_set_status(lead=crm["ae1_lead"], status="contacted", by=None)
    client = api_as(org["m1"].holder)
    assert ids(client.get("/leads", {"external_id": "X-9"})) == {lead.pk}
    assert ids(client.get("/leads", {"status": "contacted"})) == {crm["ae1_lead"].pk}
    assert ids(client.get("/leads", {"status": "contacted,new", "owner": org["ae1"].pk})) == {
        crm["ae1_lead"].pk,
        lead.pk,
    }
    assert ids(client.get("/leads", {"source": "web"})) == {lead.pk}
    assert ids(client.get("/leads", {"region": "emea"})) == {lead.pk}
    assert ids(client.get("/leads", {"company": "initech"})) == {crm["sdr_lead"].pk}
    assert ids(client.get("/leads", {"untouched": "true"})) >= {lead.pk}
    today = timezone.localdate().isoformat()
    assert client.get("/leads", {"created_from": today}).json()["total"] == 4
    assert client.get("/leads", {"created_to": "2000-01-01"}).json()["total"] == 0


def test_account_and_contact_filters(api_as, crm):
    org = crm["org"]
    services.account_update(account=crm["ae1_account"], by=None, sector="Retail")
    client = api_as(org["cso"].holder)
    assert ids(client.get("/accounts", {"sector": "retail"})) == {crm["ae1_account"].pk}
    assert ids(client.get("/accounts", {"owner": org["ae2"].pk})) == {crm["ae2_account"].pk}
    assert ids(client.get("/accounts", {"q": "ae3 corp"})) == {crm["ae3_account"].pk}
    assert ids(client.get("/contacts", {"account": crm["ae1_account"].pk})) == {
        crm["ae1_contact"].pk
    }
    email = crm["ae2_contact"].email
    assert ids(client.get("/contacts", {"email": email.upper()})) == {crm["ae2_contact"].pk}
    assert ids(client.get("/contacts", {"external_id": "c-ae3"})) == {crm["ae3_contact"].pk}


def test_custom_field_filter(api_as, crm):
    from revline.crm.custom_fields import custom_field_save

    custom_field_save(by=None, entity="lead", key="tier", label="Tier", field_type="choice",
                      choices=["gold", "silver"])  # fmt: skip
    services.lead_update(lead=crm["ae1_lead"], by=None, custom={"tier": "gold"})
    client = api_as(crm["org"]["cso"].holder)
    assert ids(client.get("/leads", {"cf_tier": "gold"})) == {crm["ae1_lead"].pk}
    assert client.get(f"/leads/{crm['ae1_lead'].pk}").json()["custom"] == {"tier": "gold"}


# --- create and change -------------------------------------------------------------------------


def test_create_account_defaults_owner_and_validates(api_as, crm):
    org = crm["org"]
    client = api_as(org["ae1"].holder)
    response = client.post(
        "/accounts",
        {"name": "Globex", "employees": 120, "annual_revenue": "2500000.50", "region": None},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"] == org["ae1"].pk and body["size"] == "51-200"
    assert body["annual_revenue"] == 2500000.5
    body = assert_error(client.post("/accounts", {"name": ""}), 422, "validation_error")
    assert body["errors"][0]["field"] == "name"
    body = assert_error(client.post("/accounts", {}), 422, "validation_error")
    assert body["errors"][0]["field"] == "name"
    body = assert_error(
        client.post("/accounts", {"name": "X", "customer_status": "vip"}), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "customer_status"
    body = assert_error(
        client.post("/accounts", {"name": "X", "parent": crm["ae2_account"].pk}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "parent"  # invisible reference
    body = assert_error(
        client.post("/accounts", {"name": "X", "region": "nowhere"}), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "region"
    assert_error(client.post("/accounts", "not json"), 422, "validation_error")


def test_owner_must_be_at_or_below_the_caller(api_as, crm):
    org = crm["org"]
    manager = api_as(org["m1"].holder)
    response = manager.post("/accounts", {"name": "Team deal", "owner": org["ae2"].pk})
    assert response.status_code == 201 and response.json()["owner"] == org["ae2"].pk
    for owner in [org["ae3"].pk, org["vp"].pk, 999999]:
        body = assert_error(
            manager.post("/accounts", {"name": "No", "owner": owner}), 422, "validation_error"
        )
        assert body["errors"][0]["field"] == "owner"
    ae = api_as(org["ae1"].holder)
    body = assert_error(
        ae.patch(f"/accounts/{crm['ae1_account'].pk}", {"owner": org["ae2"].pk}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "owner"
    revops = api_as(org["revops"].holder)
    assert revops.post("/leads", {"last_name": "R", "owner": org["ae3"].pk}).status_code == 201
    # a manager re-assigns within the team
    response = manager.patch(f"/accounts/{crm['ae1_account'].pk}", {"owner": org["ae2"].pk})
    assert response.status_code == 200 and response.json()["owner"] == org["ae2"].pk
    assert_error(ae.get(f"/accounts/{crm['ae1_account'].pk}"), 404, "not_found")


def test_caller_without_position_must_name_owner(api_as, crm):
    client = api_as(UserFactory())
    body = assert_error(client.post("/accounts", {"name": "Orphan"}), 422, "validation_error")
    assert body["errors"][0]["field"] == "owner"


def test_patch_changes_only_what_is_sent(api_as, crm):
    org = crm["org"]
    client = api_as(org["ae1"].holder)
    account = crm["ae1_account"]
    services.account_update(account=account, by=None, sector="Retail", employees=40)
    response = client.patch(f"/accounts/{account.pk}", {"website": "acme.test", "employees": None})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["website"] == "acme.test" and body["sector"] == "Retail"
    assert body["employees"] is None
    body = assert_error(
        client.patch(f"/accounts/{account.pk}", {"name": None}), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "name"
    response = client.patch(f"/contacts/{crm['ae1_contact'].pk}", {"title": "CFO", "account": None})
    assert response.json()["title"] == "CFO" and response.json()["account"] is None
    assert_error(client.patch("/accounts/999999", {"name": "x"}), 404, "not_found")


def test_contact_create(api_as, crm):
    org = crm["org"]
    client = api_as(org["ae1"].holder)
    response = client.post(
        "/contacts",
        {"last_name": "Doe", "first_name": "Jane", "email": "JANE@X.TEST",
         "account": crm["ae1_account"].pk},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "jane@x.test" and body["name"] == "Jane Doe"
    assert body["account"] == crm["ae1_account"].pk
    body = assert_error(
        client.post("/contacts", {"last_name": "Doe", "account": crm["ae3_account"].pk}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "account"


def test_lead_create_and_patch(api_as, crm):
    org = crm["org"]
    client = api_as(org["sdr"].holder)
    response = client.post("/leads", {"company": "Hooli", "email": "gavin@hooli.test"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"] == org["sdr"].pk and body["status"] == "new"
    assert LeadStatusChange.objects.filter(lead_id=body["id"], to_status="new").exists()
    body = assert_error(client.post("/leads", {"title": "Nobody"}), 422, "validation_error")
    assert "name" in body["message"]
    body = assert_error(client.post("/leads", {"last_name": "X", "source": "tv"}), 422,
                        "validation_error")  # fmt: skip
    assert body["errors"][0]["field"] == "source"
    lead_id = client.get("/leads", {"email": "gavin@hooli.test"}).json()["items"][0]["id"]
    response = client.patch(f"/leads/{lead_id}", {"title": "CEO", "employees": 12})
    assert response.status_code == 200 and response.json()["title"] == "CEO"
    assert response.json()["company"] == "Hooli"
    # a manager hands the lead to another rep of the team: kept in the lead's history
    manager = api_as(org["m1"].holder)
    response = manager.patch(f"/leads/{lead_id}", {"owner": org["bdr"].pk, "title": "CTO"})
    assert response.json()["owner"] == org["bdr"].pk and response.json()["title"] == "CTO"
    history = manager.get(f"/leads/{lead_id}/history").json()["items"]
    assert history[-1]["owner"] == org["bdr"].pk and "Assigned" in history[-1]["note"]
    assert_error(client.get(f"/leads/{lead_id}"), 404, "not_found")  # no longer the SDR's


# --- lead actions ------------------------------------------------------------------------------


def test_lead_status_and_history(api_as, crm):
    org = crm["org"]
    client = api_as(org["sdr"].holder)
    lead = crm["sdr_lead"]
    response = client.post(f"/leads/{lead.pk}/status", {"status": "contacted"})
    assert response.status_code == 200 and response.json()["status"] == "contacted"
    body = assert_error(
        client.post(f"/leads/{lead.pk}/status", {"status": "disqualified"}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "reason"
    body = assert_error(
        client.post(f"/leads/{lead.pk}/status", {"status": "converted"}), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "status"
    response = client.post(
        f"/leads/{lead.pk}/status",
        {"status": "disqualified", "reason": "no_budget", "note": "Frozen"},
    )
    assert response.json()["disqualify_reason"] == "no_budget"
    history = client.get(f"/leads/{lead.pk}/history").json()
    assert [h["to_status"] for h in history["items"]] == ["new", "contacted", "disqualified"]
    assert history["items"][1]["by"] == org["sdr"].holder.pk


def test_qualify_and_convert_hand_off(api_as, crm):
    org = crm["org"]
    client = api_as(org["sdr"].holder)
    lead = crm["sdr_lead"]
    body = assert_error(client.post(f"/leads/{lead.pk}/qualify", {}), 422, "validation_error")
    assert body["errors"][0]["field"] == "need"
    response = client.post(
        f"/leads/{lead.pk}/qualify",
        {"budget": 50000, "authority": "decision_maker", "need": "CRM", "timeline": "2027-03-31"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "sales_qualified" and body["bant_budget"] == 50000
    assert body["qualified_by"] == org["sdr"].pk
    # the AE must be someone the SDR may hand to: a peer in the SDR's unit, not another team
    body = assert_error(
        client.post(f"/leads/{lead.pk}/convert", {"ae_position": org["ae3"].pk}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "ae_position"
    body = assert_error(
        client.post(f"/leads/{lead.pk}/convert", {"ae_position": org["sdr"].pk}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "ae_position"  # not a selling role
    response = client.post(
        f"/leads/{lead.pk}/convert",
        {"ae_position": org["ae1"].pk, "opportunity_name": "Initech CRM", "amount": "42000"},
    )
    assert response.status_code == 200, response.content
    result = response.json()
    assert set(result) == {
        "account", "contact", "opportunity", "account_matched", "contact_matched"
    }  # fmt: skip
    assert result["account_matched"] is False and result["contact_matched"] is False
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.received_by_id == org["ae1"].pk
    ae = api_as(org["ae1"].holder)
    deal = ae.get(f"/opportunities/{result['opportunity']}").json()
    assert deal["name"] == "Initech CRM" and deal["amount"] == 42000
    assert deal["owner"] == org["ae1"].pk and deal["account"] == result["account"]
    assert deal["stage"] == "Prospecting" and deal["status"] == "open"
    # converting twice is refused
    assert_error(
        client.post(f"/leads/{lead.pk}/convert", {"ae_position": org["ae1"].pk}),
        422,
        "validation_error",
    )


def test_convert_matches_existing_account(api_as, crm):
    org = crm["org"]
    lead = make_lead(org["sdr"], company="ae1 Corp.", email=crm["ae1_contact"].email)
    services.lead_qualify(lead=lead, by=None, need="Yes")
    response = api_as(org["sdr"].holder).post(
        f"/leads/{lead.pk}/convert", {"ae_position": org["ae1"].pk}
    )
    result = response.json()
    assert result["account"] == crm["ae1_account"].pk and result["account_matched"] is True
    assert result["contact"] == crm["ae1_contact"].pk and result["contact_matched"] is True


# --- activities --------------------------------------------------------------------------------


def test_activities_log_list_complete(api_as, crm):
    org = crm["org"]
    client = api_as(org["ae1"].holder)
    lead = crm["ae1_lead"]
    response = client.post(
        "/activities", {"kind": "call", "subject": "Intro", "lead": lead.pk, "outcome": "connected"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["lead"] == lead.pk and response.json()["done_at"]
    assert client.get(f"/leads/{lead.pk}").json()["status"] == "contacted"
    body = assert_error(
        client.post("/activities", {"kind": "task", "lead": lead.pk}), 422, "validation_error"
    )
    assert body["errors"][0]["field"] == "due_at"
    task = client.post(
        "/activities",
        {"kind": "task", "subject": "Follow up", "account": crm["ae1_account"].pk,
         "due_at": (timezone.now() + timedelta(days=2)).isoformat()},
    ).json()  # fmt: skip
    assert task["done_at"] is None
    assert ids(client.get("/activities", {"open": "true"})) == {task["id"]}
    assert ids(client.get("/activities", {"lead": lead.pk})) == {response.json()["id"]}
    assert ids(client.get("/activities", {"kind": "task"})) == {task["id"]}
    done = client.post(f"/activities/{task['id']}/complete", {"outcome": "completed"})
    assert done.status_code == 200 and done.json()["done_at"]
    # a peer's records: invisible -> 422 on the field; the activity itself 404
    body = assert_error(
        client.post("/activities", {"kind": "note", "lead": crm["ae2_lead"].pk}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "lead"
    assert_error(
        api_as(org["ae2"].holder).post(f"/activities/{task['id']}/complete", {}), 404, "not_found"
    )
    assert_error(client.post("/activities", {"kind": "note"}), 422, "validation_error")
    # visible but not editable -> 403
    assert_error(
        api_as(org["mkt"].holder).post("/activities", {"kind": "call", "lead": lead.pk}),
        403,
        "forbidden",
    )


# --- other lists -------------------------------------------------------------------------------


def test_prospect_lists(api_as, crm):
    org = crm["org"]
    client = api_as(org["bdr"].holder)
    response = client.post("/prospect-lists", {"name": "Q3 outbound", "rule": {"source": "web"}})
    assert response.status_code == 201, response.content
    plist = response.json()
    assert plist["owner"] == org["bdr"].pk and plist["member_count"] == 0
    mine = make_lead(org["bdr"], source="web")
    response = client.post(f"/prospect-lists/{plist['id']}/members", {"leads": [mine.pk]})
    assert response.json() == {"added": 1, "total": 1}
    again = client.post(f"/prospect-lists/{plist['id']}/members", {"leads": [mine.pk]})
    assert again.json() == {"added": 0, "total": 1}
    body = assert_error(
        client.post(f"/prospect-lists/{plist['id']}/members", {"leads": [crm["ae1_lead"].pk]}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["field"] == "leads"
    members = client.get(f"/prospect-lists/{plist['id']}/members").json()
    assert members["total"] == 1 and members["items"][0]["lead"]["id"] == mine.pk
    assert client.get("/prospect-lists").json()["items"][0]["member_count"] == 1
    assert client.post(f"/prospect-lists/{plist['id']}/refresh").status_code == 200
    peer = api_as(org["ae3"].holder)
    assert_error(peer.get(f"/prospect-lists/{plist['id']}"), 404, "not_found")
    assert_error(
        peer.post(f"/prospect-lists/{plist['id']}/members", {"leads": [mine.pk]}),
        404,
        "not_found",
    )
    assert_error(
        api_as(org["mkt"].holder).post(
            f"/prospect-lists/{plist['id']}/members", {"leads": [mine.pk]}
        ),
        403,
        "forbidden",
    )


def test_campaigns_complaints_surveys(api_as, crm):
    org = crm["org"]
    campaign = services.campaign_create(by=None, owner_position=org["mkt"], name="Webinar",
                                        external_id="cmp-1")  # fmt: skip
    make_lead(org["ae1"], campaign=campaign)
    complaint = services.complaint_create(
        by=None, owner_position=org["m1"], account=crm["ae1_account"], subject="Late delivery"
    )
    services.survey_record(by=None, owner_position=org["m1"], account=crm["ae1_account"],
                           kind="nps", score=9)  # fmt: skip
    marketing = api_as(org["mkt"].holder)
    body = marketing.get("/campaigns").json()
    assert body["total"] == 1 and body["items"][0]["lead_count"] == 1
    assert ids(marketing.get("/campaigns", {"external_id": "cmp-1"})) == {campaign.pk}
    assert marketing.get(f"/campaigns/{campaign.pk}").json()["name"] == "Webinar"
    assert_error(api_as(org["ae1"].holder).get(f"/campaigns/{campaign.pk}"), 404, "not_found")
    manager = api_as(org["m1"].holder)
    assert ids(manager.get("/complaints", {"open": "true"})) == {complaint.pk}
    assert manager.get("/complaints").json()["items"][0]["account_name"] == "ae1 Corp"
    assert manager.get(f"/complaints/{complaint.pk}").json()["subject"] == "Late delivery"
    assert ids(manager.get("/complaints", {"status": "resolved"})) == set()
    assert manager.get("/surveys", {"kind": "nps"}).json()["items"][0]["score"] == 9
    assert api_as(org["m2"].holder).get("/surveys").json()["total"] == 0
    assert_error(api_as(org["m2"].holder).get(f"/complaints/{complaint.pk}"), 404, "not_found")


# --- query counts ------------------------------------------------------------------------------


def _grow(org, n: int, start: int = 0) -> None:
    """``n`` more rows of everything the CRM lists show, owned below Manager 1."""
    from revline.crm.custom_fields import custom_field_save  # noqa: F401

    campaign = services.campaign_create(by=None, owner_position=org["m1"], name=f"C{start}")
    plist = services.prospect_list_create(by=None, owner_position=org["bdr"], name=f"L{start}")
    for i in range(start, start + n):
        owner = org["ae1"] if i % 2 else org["ae2"]
        account = make_account(owner, region=org["region"], parent=None)
        contact = make_contact(owner, account=account)
        lead = make_lead(owner, campaign=campaign, region=org["region"], account=account)
        services.prospect_list_add(prospect_list=plist, leads=[lead], by=None)
        services.activity_log(by=None, kind="call", subject="x", owner_position=owner, lead=lead,
                              contact=contact)  # fmt: skip
        services.complaint_create(by=None, owner_position=org["m1"], account=account,
                                  subject="x", contact=contact)  # fmt: skip
        services.survey_record(by=None, owner_position=org["m1"], account=account,
                               kind="csat", score=4, contact=contact)  # fmt: skip
        services.prospect_list_create(by=None, owner_position=org["bdr"], name=f"L{start}-{i}")
        services.campaign_create(by=None, owner_position=org["m1"], name=f"C{start}-{i}")
        make_opportunity(owner, account=account)


LISTS = [
    "/accounts",
    "/contacts",
    "/leads",
    "/activities",
    "/campaigns",
    "/complaints",
    "/surveys",
    "/prospect-lists",
]


@pytest.mark.parametrize("who", ["m1", "cso"])
def test_list_query_counts_are_constant(api_as, sales_org, who):
    org = sales_org
    org["region"] = RegionFactory(code="north", name="North")
    _grow(org, 3)
    client = api_as(org[who].holder)
    client.get("/leads", {"limit": 1})  # the token's last_used_at is written once
    plist = services.prospect_list_create(by=None, owner_position=org["bdr"], name="Members")
    services.prospect_list_add(prospect_list=plist, leads=Lead.objects.all(), by=None)
    lead = Lead.objects.filter(owner_position=org["ae1"]).first()
    paths = [*LISTS, f"/prospect-lists/{plist.pk}/members", f"/leads/{lead.pk}/history"]
    before = {path: queries(client, path) for path in paths}
    _grow(org, 10, start=100)
    services.prospect_list_add(prospect_list=plist, leads=Lead.objects.all(), by=None)
    for status in ["qualifying", "recycled", "contacted", "qualifying", "disqualified"]:
        services.lead_set_status(lead=lead, status=status, by=None, reason="no_need")
    after = {path: queries(client, path) for path in paths}
    assert before == after
    for path, n in after.items():
        assert n <= 8, (path, n)
    # the pages were full: 13 rows or more each
    assert client.get("/activities").json()["total"] >= 13
    assert Activity.objects.count() >= 13


def test_openapi_lists_the_crm(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ["/accounts", "/contacts/{contact_id}", "/leads/{lead_id}/convert", "/activities",
                 "/prospect-lists/{list_id}/members", "/complaints", "/surveys", "/campaigns"]:  # fmt: skip
        assert f"/api/v1{path}" in paths


def test_anything_else_is_method_not_allowed(api_as, crm):
    client = api_as(crm["org"]["ae1"].holder)
    assert_error(client.delete(f"/accounts/{crm['ae1_account'].pk}"), 405, "method_not_allowed")
    assert_error(client.delete(f"/leads/{crm['ae1_lead'].pk}"), 405, "method_not_allowed")


def test_team_lead_position_roles(api_as, crm):
    """A team lead between a manager and AEs edits the records below and assigns owners there."""
    org = crm["org"]
    lead_pos = make_position(RoleType.TEAM_LEAD, reports_to=org["m2"], title="TL")
    org_services.position_move(position=org["ae4"], reports_to=lead_pos, by=None)
    account = make_account(org["ae4"], name="Under TL")
    client = api_as(lead_pos.holder)
    assert ids(client.get("/accounts")) == {account.pk}
    assert client.patch(f"/accounts/{account.pk}", {"sector": "Energy"}).status_code == 200


def test_lead_owner_change_follows_the_web_rule(api_as, crm):
    """A BDR hands a lead to the SDR of their unit (not below them) through PATCH, as the web
    form allows; a position of another manager's unit is refused (400, nothing changes)."""
    from revline.crm import selectors

    org = crm["org"]
    bdr = api_as(org["bdr"].holder)
    lead_id = bdr.post("/leads", {"company": "Initech", "last_name": "Lumbergh"}).json()["id"]
    assert set(selectors.lead_assign_targets(user=org["bdr"].holder)) >= {org["sdr"], org["m1"]}
    refused = bdr.patch(f"/leads/{lead_id}", {"owner": org["ae3"].pk})
    body = assert_error(refused, 422, "validation_error")
    assert body["errors"][0]["field"] == "owner"
    assert Lead.objects.get(pk=lead_id).owner_position == org["bdr"]
    response = bdr.patch(f"/leads/{lead_id}", {"owner": org["sdr"].pk})
    assert response.status_code == 200 and response.json()["owner"] == org["sdr"].pk


def test_lead_owner_patch_keeps_the_owner_it_has_and_parks_on_a_vacant_seat(api_as, crm):
    """Sending back the current owner is no hand-over (an editor through a share may do it);
    a manager may park a lead on a vacant seat of their own team."""
    from django.contrib.contenttypes.models import ContentType

    from revline.org.choices import RoleType
    from revline.org.models import RecordShare
    from tests.org.factories import make_position

    org = crm["org"]
    lead = crm["sdr_lead"]
    outsider = org["ae3"]  # another manager's rep, given the lead to edit through a share
    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=lead.pk,
        position=outsider,
        access="change",
    )
    editor = api_as(outsider.holder)
    response = editor.patch(f"/leads/{lead.pk}", {"owner": org["sdr"].pk, "title": "COO"})
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "COO" and response.json()["owner"] == org["sdr"].pk
    refused = editor.patch(f"/leads/{lead.pk}", {"owner": org["ae2"].pk})  # not theirs to give
    assert_error(refused, 422, "validation_error")

    seat = make_position(RoleType.SDR, reports_to=org["m1"], holder=None, title="Open seat")
    manager = api_as(org["m1"].holder)
    response = manager.patch(f"/leads/{lead.pk}", {"owner": seat.pk})
    assert response.status_code == 200 and response.json()["owner"] == seat.pk


def test_lead_list_takes_the_cockpits_drill_down_filters(api_as, crm):
    """generated, sales_qualified and won: the filters the KPI drill-downs link to."""
    from revline.crm import services as crm_services

    org = crm["org"]
    client = api_as(org["vp"].holder)
    made = crm_services.lead_create(
        by=org["bdr"].holder, owner_position=org["bdr"], route=False, last_name="Made",
        generated_by=org["bdr"],
    )  # fmt: skip
    listed = {i["id"] for i in client.get("/leads", {"generated": "true"}).json()["items"]}
    assert made.pk in listed
    assert listed == set(
        Lead.objects.filter(generated_by__isnull=False).values_list("pk", flat=True)
    )
    assert client.get("/leads", {"won": "true"}).json()["total"] == 0
    qualified = crm_services.lead_qualify(lead=made, by=org["sdr"].holder, need="A CRM")
    body = client.get("/leads", {"sales_qualified": "true"}).json()
    assert qualified.pk in {i["id"] for i in body["items"]}
