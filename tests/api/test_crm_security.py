"""Security review of the CRM and pipeline API: who sees what (docs/permissions.md).

Credentials first (anonymous, expired, revoked, inactive: 401), then the one visibility rule:
404 for records outside the caller's view, 403 for writes on records they only see, 422 for ids
in a body that point outside it, and no name of an invisible record in an answer (a deal's or a
contact's account, an approval's account) nor in what a search matches.
"""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone

from revline.crm import services as crm
from revline.crm.models import Account, Contact, Lead
from revline.org import services as org_services
from revline.org.models import ApiToken, Position, RecordShare
from revline.pipeline import services as pipeline
from revline.pipeline.choices import ApprovalStatus, QuoteStatus
from revline.pipeline.models import Opportunity
from tests.api.conftest import ApiClient, assert_error
from tests.crm.factories import make_account, make_contact, make_lead, make_opportunity
from tests.org.factories import PASSWORD, TeamFactory
from tests.web.pipeline_helpers import build_catalog

pytestmark = pytest.mark.django_db

HIDDEN = "Hidden Holdings"


def items(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["items"]


def share(record, position, access="view") -> RecordShare:
    """An explicit share (rule 2): it shows the record, never its account (rule 6 follows only
    ownership, the hierarchy, team sharing and org-wide roles)."""
    return RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        position=position,
        access=access,
    )


@pytest.fixture
def world(sales_org):
    """An account owned by AE 2a (under the other manager), with AE 2a's deal on it shared (for
    change) with AE 1a, and a contact AE 1a owns there: AE 1a sees the deal and the contact, not
    the account. (A deal AE 1a owned would show them its account: rule 6 of the predicate.)"""
    o = sales_org
    hidden = make_account(o["ae3"], name=HIDDEN)
    hidden_contact = make_contact(o["ae3"], account=hidden, last_name="Hiddencontact")
    own = make_account(o["ae1"], name="Own Account")
    own_contact = make_contact(o["ae1"], account=own, last_name="Owncontact")
    my_contact = make_contact(o["ae1"], account=hidden, last_name="Mycontact")
    deal = make_opportunity(o["ae3"], name="Shared deal", account=hidden, contact=hidden_contact)
    share(deal, o["ae1"], "change")
    own_deal = make_opportunity(o["ae1"], name="Own deal", account=own)
    campaign = crm.campaign_create(by=None, owner_position=o["mkt"], name="Secret Campaign")
    lead = make_lead(o["sdr"], company="Lead Co", campaign=campaign)
    return {
        **o,
        "hidden": hidden,
        "hidden_contact": hidden_contact,
        "own": own,
        "own_contact": own_contact,
        "my_contact": my_contact,
        "deal": deal,
        "own_deal": own_deal,
        "campaign": campaign,
        "lead": lead,
    }


def viewer(world):
    """AE 1b as a read-only viewer of AE 1a's records: a team that shares records (view)."""
    team = TeamFactory(share_records=True)
    Position.objects.filter(pk__in=[world["ae1"].pk, world["ae2"].pk]).update(team=team)
    return world["ae2"]


def _reads(w) -> list[str]:
    deal, own = w["own_deal"], w["own"]
    return [
        f"/accounts/{own.pk}",
        f"/contacts/{w['own_contact'].pk}",
        f"/opportunities/{deal.pk}",
        f"/opportunities/{deal.pk}/history",
        f"/opportunities/{deal.pk}/timeline",
        f"/opportunities/{deal.pk}/objections",
        f"/opportunities/{deal.pk}/activities",
        f"/opportunities/{deal.pk}/quotes",
        f"/cross-sell-candidates?account={own.pk}",
    ]


def _writes(w) -> list[tuple[str, str, dict]]:
    deal, own = w["own_deal"], w["own"]
    return [
        ("patch", f"/accounts/{own.pk}", {"name": "Taken"}),
        ("patch", f"/contacts/{w['own_contact'].pk}", {"title": "Taken"}),
        ("patch", f"/opportunities/{deal.pk}", {"name": "Taken"}),
        ("post", f"/opportunities/{deal.pk}/stage", {"stage": "Discovery"}),
        ("post", f"/opportunities/{deal.pk}/close", {"won": True}),
        ("post", f"/opportunities/{deal.pk}/objections", {"category": "price", "text": "x"}),
        ("put", f"/opportunities/{deal.pk}/competitors", {"names": ["Rival"]}),
        ("post", f"/opportunities/{deal.pk}/activities", {"kind": "call"}),
        ("post", f"/opportunities/{deal.pk}/quotes", {"lines": [{"product": 1, "quantity": 1}]}),
        ("post", "/activities", {"kind": "call", "account": own.pk}),
        ("post", "/activities", {"kind": "call", "opportunity": deal.pk}),
    ]


# --- credentials ---------------------------------------------------------------------------------


def test_anonymous_is_401_on_every_crm_and_pipeline_endpoint(anon, world):
    paths = [
        "/accounts",
        "/contacts",
        "/leads",
        f"/leads/{world['lead'].pk}",
        f"/leads/{world['lead'].pk}/history",
        "/activities",
        "/campaigns",
        "/prospect-lists",
        "/complaints",
        "/surveys",
        "/opportunities",
        "/quotes",
        "/approvals",
        "/renewals",
        "/cross-sell-candidates",
        "/pipelines",
        "/products",
        "/price-books",
        "/imports",
        "/duplicates",
        *_reads(world),
    ]
    for path in paths:
        assert_error(anon.get(path), 401, "unauthorized")
    for method, path, body in _writes(world):
        assert_error(getattr(anon, method)(path, body), 401, "unauthorized")
    assert_error(anon.post("/accounts", {"name": "x"}), 401, "unauthorized")
    assert_error(anon.post("/leads", {"last_name": "x"}), 401, "unauthorized")
    assert_error(anon.post("/approvals/1/decide", {"approve": True}), 401, "unauthorized")
    assert not Account.objects.filter(name="x").exists()


@pytest.mark.parametrize("how", ["expired", "revoked", "inactive", "garbage", "other_scheme"])
def test_bad_credentials_are_401(world, how):
    user = world["ae1"].holder
    token, raw = org_services.api_token_create(user=user, name="t")
    if how == "expired":
        ApiToken.objects.filter(pk=token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif how == "revoked":
        org_services.api_token_revoke(token=token, by=user)
    elif how == "inactive":
        user.is_active = False
        user.save(update_fields=["is_active"])
    elif how == "garbage":
        raw = raw[:-4] + "abcd"
    client = ApiClient(raw)
    if how == "other_scheme":
        client.headers["HTTP_AUTHORIZATION"] = f"Token {raw}"  # not a bearer: no session either
    for path in ("/accounts", f"/opportunities/{world['own_deal'].pk}", "/approvals"):
        assert_error(client.get(path), 401, "unauthorized")
    assert_error(client.patch(f"/accounts/{world['own'].pk}", {"name": "x"}), 401, "unauthorized")
    assert Account.objects.get(pk=world["own"].pk).name == "Own Account"


def test_a_bad_bearer_never_falls_back_to_the_session(world):
    browser = Client()
    browser.force_login(world["ae1"].holder)
    client = ApiClient("rvl_not_a_token", client=browser)
    assert_error(client.get(f"/accounts/{world['own'].pk}"), 401, "unauthorized")


def test_session_writes_need_csrf(world):
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(email=world["ae1"].holder.email, password=PASSWORD)
    client = ApiClient(client=browser)
    assert client.get(f"/accounts/{world['own'].pk}").status_code == 200
    assert_error(client.patch(f"/accounts/{world['own'].pk}", {"name": "x"}), 403, "forbidden")
    assert_error(client.post("/accounts", {"name": "Forged"}), 403, "forbidden")
    assert not Account.objects.filter(name="Forged").exists()


def test_deactivating_a_user_ends_their_tokens(world, api_as):
    user = world["ae1"].holder
    client = api_as(user)
    assert client.get("/accounts").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_error(client.get("/accounts"), 401, "unauthorized")


# --- 404 for the invisible, 403 for the read-only ---------------------------------------------


@pytest.mark.parametrize("who", ["ae2", "ae3", "m2", "sdr", "bdr", "mkt", "cs"])
def test_another_aes_records_are_404(api_as, world, who):
    client = api_as(world[who].holder)
    for path in _reads(world):
        assert_error(client.get(path), 404, "not_found")
    for method, path, body in _writes(world):
        response = getattr(client, method)(path, body)
        if path == "/activities":  # an id in the body: unknown to the caller
            assert_error(response, 422, "validation_error")
        else:
            assert_error(response, 404, "not_found")
    deal = Opportunity.objects.get(pk=world["own_deal"].pk)
    assert deal.name == "Own deal" and deal.status == "open" and not deal.competitors.exists()


def test_read_only_viewer_gets_403_on_writes(api_as, world):
    client = api_as(viewer(world).holder)
    for path in _reads(world):
        assert client.get(path).status_code == 200, path
    for method, path, body in _writes(world):
        if path == "/activities" and "account" in body:
            body = {"kind": "call", "account": world["own"].pk}
        assert_error(getattr(client, method)(path, body), 403, "forbidden")
    deal = Opportunity.objects.get(pk=world["own_deal"].pk)
    assert deal.name == "Own deal" and deal.status == "open" and not deal.activities.exists()


def test_leads_of_another_rep(api_as, world):
    lead = world["lead"]
    writes = [
        ("patch", f"/leads/{lead.pk}", {"last_name": "x"}),
        ("post", f"/leads/{lead.pk}/status", {"status": "contacted"}),
        ("post", f"/leads/{lead.pk}/qualify", {"need": "x"}),
        ("post", f"/leads/{lead.pk}/convert", {"ae_position": world["ae1"].pk}),
        ("post", "/activities", {"kind": "call", "lead": lead.pk}),
    ]
    for who in ("bdr", "ae1", "m2", "cs"):
        client = api_as(world[who].holder)
        assert_error(client.get(f"/leads/{lead.pk}"), 404, "not_found")
        assert_error(client.get(f"/leads/{lead.pk}/history"), 404, "not_found")
        for method, path, body in writes:
            response = getattr(client, method)(path, body)
            if path == "/activities":  # an id in the body: unknown to the caller
                assert_error(response, 422, "validation_error")
            else:
                assert_error(response, 404, "not_found")
    marketing = api_as(world["mkt"].holder)
    assert marketing.get(f"/leads/{lead.pk}").status_code == 200
    for method, path, body in writes:
        assert_error(getattr(marketing, method)(path, body), 403, "forbidden")
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.status == "new" and lead.owner_position == world["sdr"]


def test_marketing_sees_leads_and_campaigns_not_revenue(api_as, world):
    client = api_as(world["mkt"].holder)
    for path in ("/opportunities", "/accounts", "/contacts", "/quotes", "/renewals", "/activities"):
        assert client.get(path).json()["total"] == 0, path
    assert world["lead"].pk in {i["id"] for i in items(client.get("/leads"))}
    assert world["campaign"].pk in {i["id"] for i in items(client.get("/campaigns"))}
    assert_error(client.get(f"/opportunities/{world['deal'].pk}"), 404, "not_found")


# --- ids in a body -----------------------------------------------------------------------------------


def test_ids_outside_the_callers_view_are_422(api_as, world):
    hidden, hidden_contact = world["hidden"], world["hidden_contact"]
    client = api_as(world["ae1"].holder)
    for path, body, field in (
        ("/accounts", {"name": "X", "parent": hidden.pk}, "parent"),
        ("/contacts", {"last_name": "X", "account": hidden.pk}, "account"),
        ("/leads", {"last_name": "X", "account": hidden.pk}, "account"),
        ("/leads", {"last_name": "X", "campaign": world["campaign"].pk}, "campaign"),
        ("/opportunities", {"name": "X", "account": hidden.pk}, "account"),
        ("/opportunities", {"name": "X", "contact": hidden_contact.pk}, "contact"),
        ("/opportunities", {"name": "X", "campaign": world["campaign"].pk}, "campaign"),
        ("/activities", {"kind": "call", "account": hidden.pk}, "account"),
        ("/activities", {"kind": "call", "contact": hidden_contact.pk}, "contact"),
    ):
        body = assert_error(client.post(path, body), 422, "validation_error")
        assert body["errors"][0]["field"] == field, (path, body)
    for path, body in (
        (f"/accounts/{world['own'].pk}", {"parent": hidden.pk}),
        (f"/contacts/{world['own_contact'].pk}", {"account": hidden.pk}),
        (f"/opportunities/{world['own_deal'].pk}", {"account": hidden.pk}),
        (f"/opportunities/{world['own_deal'].pk}", {"contact": hidden_contact.pk}),
    ):
        assert_error(client.patch(path, body), 422, "validation_error")
    assert not Account.objects.filter(name="X").exists()
    assert not Contact.objects.filter(last_name="X").exists()
    assert Account.objects.get(pk=world["own"].pk).parent is None
    assert Opportunity.objects.get(pk=world["own_deal"].pk).account == world["own"]


def test_owner_must_be_a_position_the_caller_may_edit(api_as, world):
    team = TeamFactory(share_records=True)
    Position.objects.filter(pk__in=[world["ae1"].pk, world["ae2"].pk]).update(team=team)
    client = api_as(world["ae1"].holder)
    for target in (world["ae2"], world["m1"], world["ceo"], world["ae3"]):
        for path, body in (
            ("/accounts", {"name": "Planted"}),
            ("/contacts", {"last_name": "Planted"}),
            ("/leads", {"last_name": "Planted"}),
            ("/opportunities", {"name": "Planted"}),
            ("/prospect-lists", {"name": "Planted"}),
            ("/activities", {"kind": "call", "account": world["own"].pk}),
        ):
            body = assert_error(
                client.post(path, {**body, "owner": target.pk}), 422, "validation_error"
            )
            assert body["errors"][0]["field"] == "owner"
        assert_error(
            client.patch(f"/opportunities/{world['own_deal'].pk}", {"owner": target.pk}),
            422,
            "validation_error",
        )
    assert not Account.objects.filter(name="Planted").exists()
    assert Opportunity.objects.get(pk=world["own_deal"].pk).owner_position == world["ae1"]


def test_hand_off_and_prospect_lists_take_only_visible_records(api_as, world):
    lead = make_lead(world["sdr"], company="Acme")
    crm.lead_qualify(lead=lead, by=None, need="CRM")
    sdr = api_as(world["sdr"].holder)
    for body, field in (
        ({"ae_position": world["ae3"].pk}, "ae_position"),
        ({"ae_position": world["ae1"].pk, "account": world["hidden"].pk}, "account"),
        ({"ae_position": world["ae1"].pk, "contact": world["hidden_contact"].pk}, "contact"),
    ):
        body = assert_error(sdr.post(f"/leads/{lead.pk}/convert", body), 422, "validation_error")
        assert body["errors"][0]["field"] == field
    assert Lead.objects.get(pk=lead.pk).status == "sales_qualified"
    plist = crm.prospect_list_create(by=None, name="BDR list", owner_position=world["bdr"])
    bdr = api_as(world["bdr"].holder)
    assert_error(
        bdr.post(f"/prospect-lists/{plist.pk}/members", {"leads": [world["lead"].pk]}),
        422,
        "validation_error",
    )
    assert not plist.members.exists()
    assert_error(
        sdr.post(f"/prospect-lists/{plist.pk}/members", {"leads": [world["lead"].pk]}),
        404,
        "not_found",
    )
    assert_error(sdr.get(f"/prospect-lists/{plist.pk}/members"), 404, "not_found")
    assert_error(sdr.post(f"/prospect-lists/{plist.pk}/refresh"), 404, "not_found")


# --- names of invisible records ---------------------------------------------------------------


def test_a_contacts_invisible_account_is_not_named(api_as, world):
    client = api_as(world["ae1"].holder)
    body = client.get(f"/contacts/{world['my_contact'].pk}").json()
    assert body["account"] == world["hidden"].pk and body["account_name"] is None
    listed = {i["id"]: i for i in items(client.get("/contacts"))}
    assert listed[world["my_contact"].pk]["account_name"] is None
    assert listed[world["own_contact"].pk]["account_name"] == "Own Account"
    created = client.post("/contacts", {"last_name": "New", "account": world["own"].pk}).json()
    assert created["account_name"] == "Own Account"
    patched = client.patch(f"/contacts/{world['my_contact'].pk}", {"title": "CFO"}).json()
    assert patched["title"] == "CFO" and patched["account_name"] is None
    # whoever sees the account sees its name
    cso = api_as(world["cso"].holder)
    assert cso.get(f"/contacts/{world['my_contact'].pk}").json()["account_name"] == HIDDEN
    # rule 6: once AE 1a owns a deal there (a hand-off), they view the account, so its name
    make_opportunity(world["ae1"], name="Handed deal", account=world["hidden"])
    assert client.get(f"/contacts/{world['my_contact'].pk}").json()["account_name"] == HIDDEN
    listed = {i["id"]: i for i in items(client.get("/contacts"))}
    assert listed[world["my_contact"].pk]["account_name"] == HIDDEN
    assert world["hidden_contact"].pk not in listed  # AE 2a's contact: still not theirs to see


def test_a_deals_invisible_account_is_not_named(api_as, world):
    world_deal = world["deal"]
    renewal = make_opportunity(
        world["ae3"],
        name="Renewal deal",
        account=world["hidden"],
        type="renewal",
        close_date=timezone.localdate() + timedelta(days=10),
    )
    share(renewal, world["ae1"])
    client = api_as(world["ae1"].holder)
    assert_error(client.get(f"/accounts/{world['hidden'].pk}"), 404, "not_found")
    assert client.get(f"/opportunities/{world_deal.pk}").json()["account_name"] is None
    listed = {i["name"]: i for i in items(client.get("/opportunities"))}
    assert listed["Shared deal"]["account_name"] is None
    assert listed["Own deal"]["account_name"] == "Own Account"
    assert [i["account_name"] for i in items(client.get("/renewals"))] == [None]
    patched = client.patch(f"/opportunities/{world_deal.pk}", {"next_step": "Call"}).json()
    assert patched["account_name"] is None and patched["account"] == world["hidden"].pk
    cso = api_as(world["cso"].holder)
    assert cso.get(f"/opportunities/{world_deal.pk}").json()["account_name"] == HIDDEN


def test_a_deal_the_ae_owns_names_its_account(api_as, world):
    """Rule 6: owning a deal lends a view (not a change) of its account, for the owner and the
    owner's managers; a peer sees neither."""
    mine = make_opportunity(
        world["ae1"], name="Handed deal", account=world["hidden"], contact=world["hidden_contact"]
    )
    for who in ("ae1", "m1"):
        client = api_as(world[who].holder)
        body = client.get(f"/opportunities/{mine.pk}").json()
        assert body["account_name"] == HIDDEN, who
        assert client.get(f"/accounts/{world['hidden'].pk}").json()["name"] == HIDDEN, who
        assert_error(
            client.patch(f"/accounts/{world['hidden'].pk}", {"name": "Taken"}), 403, "forbidden"
        )
        assert HIDDEN in {i["name"] for i in items(client.get("/accounts"))}, who
        listed = {i["name"]: i for i in items(client.get("/opportunities"))}
        assert listed["Handed deal"]["account_name"] == HIDDEN, who
    # the deal AE 1a sees through a share is on the same account, so names it now as well
    ae1 = api_as(world["ae1"].holder)
    assert ae1.get(f"/opportunities/{world['deal'].pk}").json()["account_name"] == HIDDEN
    assert items(ae1.get("/opportunities", {"q": "Hidden"})) != []
    peer = api_as(world["ae2"].holder)
    assert_error(peer.get(f"/opportunities/{mine.pk}"), 404, "not_found")
    assert_error(peer.get(f"/accounts/{world['hidden'].pk}"), 404, "not_found")
    assert Account.objects.get(pk=world["hidden"].pk).name == HIDDEN


def test_complaints_and_surveys_do_not_name_an_invisible_account(api_as, world):
    # Manager 2's complaint, shared with Customer Success: a share lends nothing to the account
    shared = crm.complaint_create(
        by=None, owner_position=world["m2"], account=world["hidden"], subject="S"
    )
    share(shared, world["cs"])
    crm.survey_record(
        by=None, owner_position=world["cs"], account=world["hidden"], kind="nps", score=7
    )
    client = api_as(world["cs"].holder)
    (complaint,) = items(client.get("/complaints"))
    assert complaint["id"] == shared.pk
    assert complaint["account"] == world["hidden"].pk and not complaint["account_name"]
    assert not client.get(f"/complaints/{complaint['id']}").json()["account_name"]
    (survey,) = items(client.get("/surveys"))
    assert survey["account"] == world["hidden"].pk and not survey["account_name"]
    assert_error(client.get(f"/accounts/{world['hidden'].pk}"), 404, "not_found")
    assert items(api_as(world["cso"].holder).get("/complaints"))[0]["account_name"] == HIDDEN
    # rule 6: a complaint CS owns lends them a view of its account, named everywhere then
    own = crm.complaint_create(
        by=None, owner_position=world["cs"], account=world["hidden"], subject="Mine"
    )
    assert {i["id"]: i["account_name"] for i in items(client.get("/complaints"))} == {
        shared.pk: HIDDEN,
        own.pk: HIDDEN,
    }
    assert client.get(f"/complaints/{own.pk}").json()["account_name"] == HIDDEN
    assert items(client.get("/surveys"))[0]["account_name"] == HIDDEN


def test_searches_do_not_match_an_invisible_accounts_name(api_as, world):
    complaint = crm.complaint_create(
        by=None, owner_position=world["m2"], account=world["hidden"], subject="S"
    )
    share(complaint, world["cs"])
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=world["deal"], by=None, lines=[{"product": catalog["seats"]}]
    )
    share(quote, world["ae1"])
    client = api_as(world["ae1"].holder)
    assert [i["id"] for i in items(client.get("/quotes"))] == [quote.pk]
    for path in ("/contacts", "/opportunities", "/quotes"):
        assert items(client.get(path, {"q": "Hidden"})) == [], path
        assert items(client.get(path, {"q": "Own"})) != [] or path == "/quotes", path
    cs = api_as(world["cs"].holder)
    assert [i["id"] for i in items(cs.get("/complaints"))] == [complaint.pk]
    assert items(cs.get("/complaints", {"q": "Hidden"})) == []
    cso = api_as(world["cso"].holder)
    for path in ("/contacts", "/opportunities", "/quotes", "/complaints"):
        assert items(cso.get(path, {"q": "Hidden"})) != [], path
    # rule 6: a complaint CS owns lends them the account, and its name then matches
    crm.complaint_create(by=None, owner_position=world["cs"], account=world["hidden"], subject="T")
    assert len(items(cs.get("/complaints", {"q": "Hidden"}))) == 2


def test_approvals_name_the_account_the_deal_lends_sight_of(api_as, world):
    """An approver sits above the quote's owner, so sees the deal through the hierarchy and, by
    rule 6, its account, even one owned under another manager."""
    client = api_as(world["m1"].holder)
    assert_error(client.get(f"/accounts/{world['hidden'].pk}"), 404, "not_found")
    deal = make_opportunity(world["ae1"], name="Handed deal", account=world["hidden"])
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=deal,
        by=None,
        lines=[{"product": catalog["seats"], "discount_percent": 15}],
    )
    pipeline.quote_submit(quote=quote, by=None)
    (row,) = items(client.get("/approvals"))
    assert row["quote"] == quote.pk and row["account_name"] == HIDDEN
    decided = client.post(f"/approvals/{row['id']}/decide", {"approve": True}).json()
    assert decided["status"] == ApprovalStatus.APPROVED and decided["account_name"] == HIDDEN


def test_an_approver_who_lost_sight_of_the_deal(api_as, world):
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=world["own_deal"],
        by=None,
        lines=[{"product": catalog["seats"], "discount_percent": 15}],
    )
    pipeline.quote_submit(quote=quote, by=None)
    approval = quote.approvals.get()
    pipeline.opportunity_update(opportunity=world["own_deal"], by=None, owner_position=world["ae3"])
    client = api_as(world["m1"].holder)
    assert items(client.get("/approvals")) == []
    assert_error(client.get(f"/quotes/{quote.pk}"), 404, "not_found")
    assert_error(
        client.post(f"/approvals/{approval.pk}/decide", {"approve": True}), 404, "not_found"
    )
    approval.refresh_from_db()
    quote.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert quote.status == QuoteStatus.PENDING_APPROVAL


def test_approval_by_someone_who_only_sees_the_quote_is_403(api_as, world):
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=world["own_deal"],
        by=None,
        lines=[{"product": catalog["seats"], "discount_percent": 15}],
    )
    pipeline.quote_submit(quote=quote, by=None)
    approval = quote.approvals.get()
    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(quote),
        object_id=quote.pk,
        position=world["m2"],
        access="change",
    )
    for who in ("ae1", "m2"):  # the owner, and another manager the quote is shared with
        client = api_as(world[who].holder)
        assert client.get(f"/quotes/{quote.pk}").status_code == 200
        assert_error(
            client.post(f"/approvals/{approval.pk}/decide", {"approve": True}), 403, "forbidden"
        )
    assert_error(
        api_as(world["ae3"].holder).post(f"/approvals/{approval.pk}/decide", {"approve": True}),
        404,
        "not_found",
    )
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


# --- imports ---------------------------------------------------------------------------------------


def test_import_jobs_of_someone_else_are_404(api_as, world, tmp_path):
    from revline.crm import importer
    from tests.crm.import_helpers import write_csv

    path = write_csv(tmp_path, [["last_name"], ["Roe"]])
    job = importer.import_job_create(
        by=world["ae1"].holder, entity="lead", file_path=path, owner_position=world["ae1"]
    )
    for who in ("ae2", "m1", "cso", "ceo"):
        client = api_as(world[who].holder)
        assert_error(client.get(f"/imports/{job.pk}"), 404, "not_found")
        assert job.pk not in {i["id"] for i in items(client.get("/imports"))}
    assert api_as(world["ae1"].holder).get(f"/imports/{job.pk}").status_code == 200
