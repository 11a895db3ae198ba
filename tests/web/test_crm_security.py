"""Security review of the CRM and pipeline screens: who sees what (docs/permissions.md).

Invisible records answer 404, visible-but-not-editable ones 403 on writes; anonymous and
inactive users see nothing; names of records outside the viewer's view never reach a page
through a relation (a deal's account, a contact's account, a lead's campaign...); owners are
given only to positions whose records the user may edit; ``next`` never leaves the site.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from revline.crm import services as crm
from revline.crm.models import (
    Account,
    Activity,
    Campaign,
    Contact,
    Lead,
    ProspectList,
    ProspectListMember,
    Referral,
    SatisfactionResponse,
)
from revline.org.models import Position, RecordShare
from revline.pipeline import services as pipeline
from revline.pipeline.choices import ApprovalStatus, QuoteStatus
from revline.pipeline.models import Objection, Opportunity
from tests.crm.factories import make_account, make_contact, make_lead, make_opportunity
from tests.org.factories import TeamFactory, UserFactory
from tests.web.pipeline_helpers import build_catalog

pytestmark = pytest.mark.django_db

HIDDEN_ACCOUNT = "Hidden Holdings"
HIDDEN_CONTACT = "Hilda"
HIDDEN_EMAIL = "hilda@hidden.test"
HIDDEN_CAMPAIGN = "Secret Campaign"
SECRETS = (HIDDEN_ACCOUNT, HIDDEN_CONTACT, HIDDEN_EMAIL)


def url(name: str, *args) -> str:
    return reverse(f"web:{name}", args=args)


def login(client: Client, position) -> Client:
    client.force_login(position.holder)
    return client


def html(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def viewer(world):
    """AE 1b, made a read-only viewer of AE 1a's records: a team that shares records (view)."""
    team = TeamFactory(share_records=True)
    Position.objects.filter(pk__in=[world["ae1"].pk, world["ae2"].pk]).update(team=team)
    return world["ae2"]


def assert_hidden(response, secrets=SECRETS) -> None:
    assert response.status_code == 200, response.status_code
    page = html(response)
    for secret in secrets:
        assert secret not in page, secret


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
    """AE 2a, under the other manager, shares (for change) their deal with AE 1a; the deal's
    account and contact are AE 2a's: AE 1a sees and edits the deal, not the account nor the
    contact. (A deal AE 1a owned would show them its account: rule 6 of the predicate.)"""
    o = sales_org
    hidden = make_account(o["ae3"], name=HIDDEN_ACCOUNT)
    hidden_contact = make_contact(
        o["ae3"], account=hidden, first_name=HIDDEN_CONTACT, last_name="Hidden", email=HIDDEN_EMAIL
    )
    own = make_account(o["ae1"], name="Own Account")
    own_contact = make_contact(o["ae1"], account=own, last_name="Owncontact")
    deal = make_opportunity(o["ae3"], name="Shared deal", account=hidden, contact=hidden_contact)
    share(deal, o["ae1"], "change")
    own_deal = make_opportunity(o["ae1"], name="Own deal", account=own)
    campaign = crm.campaign_create(by=None, owner_position=o["mkt"], name=HIDDEN_CAMPAIGN)
    lead = make_lead(o["sdr"], company="Lead Co", campaign=campaign)
    return {
        **o,
        "hidden": hidden,
        "hidden_contact": hidden_contact,
        "own": own,
        "own_contact": own_contact,
        "deal": deal,
        "own_deal": own_deal,
        "campaign": campaign,
        "lead": lead,
    }


# --- anonymous and inactive users: every CRM and pipeline route --------------------------------


def _routes() -> list[tuple[str, list[int]]]:
    """(name, args) of every web route under crm/ and pipeline/, ids set to one that exists
    nowhere (the login check must come before any lookup)."""
    resolver = get_resolver()
    web = next(
        p for p in resolver.url_patterns if isinstance(p, URLResolver) and p.namespace == "web"
    )
    out = []
    for pattern in web.url_patterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern)
        if not route.startswith(("crm/", "pipeline/")):
            continue
        args = [999999] * len(pattern.pattern.converters)
        kind = pattern.pattern.converters
        if any(type(c).__name__ == "SlugConverter" for c in kind.values()):
            args = [
                "account" if type(c).__name__ == "SlugConverter" else 999999 for c in kind.values()
            ]
        out.append((pattern.name, args))
    return out


ROUTES = _routes()


def test_the_route_list_covers_the_crm_and_pipeline():
    names = {name for name, _ in ROUTES}
    assert {"accounts", "opportunity_detail", "quote_print", "approval_decide"} <= names
    assert {"custom_fields", "pipeline_admin", "accounts_export", "crm_pick"} <= names
    assert len(ROUTES) > 60


@pytest.mark.parametrize(("name", "args"), ROUTES, ids=[n for n, _ in ROUTES])
def test_anonymous_is_sent_to_login(client, name, args):
    for method in (client.get, client.post):
        response = method(url(name, *args))
        assert response.status_code == 302, (name, method)
        assert response["Location"].startswith(reverse("web:login")), name


def test_inactive_user_is_sent_to_login(client, world):
    user = world["ae1"].holder
    user.is_active = False
    user.save(update_fields=["is_active"])
    client.force_login(user)
    for name, args in (
        ("accounts", []),
        ("accounts_export", []),
        ("opportunity_detail", [world["deal"].pk]),
        ("opportunities_export", []),
        ("board", []),
        ("account_detail", [world["own"].pk]),
    ):
        response = client.get(url(name, *args))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("web:login"))
    response = client.post(url("opportunity_close", world["own_deal"].pk), {"outcome": "won"})
    assert response.status_code == 302
    assert Opportunity.objects.get(pk=world["own_deal"].pk).status == "open"


def test_a_user_without_a_position_sees_nothing(client, world):
    client.force_login(UserFactory())
    assert client.get(url("accounts")).context["page"].total == 0
    assert client.get(url("opportunities")).context["page"].paginator.count == 0
    assert client.get(url("opportunity_detail", world["deal"].pk)).status_code == 404
    assert client.get(url("lead_detail", world["lead"].pk)).status_code == 404
    export = html(client.get(url("leads_export")))
    assert export.strip().count("\n") == 0  # the header only


# --- CSRF ----------------------------------------------------------------------------------------


def test_posts_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["ae1"].holder)
    for name, args, data in (
        ("opportunity_close", [world["own_deal"].pk], {"outcome": "won"}),
        ("account_edit", [world["own"].pk], {"name": "Renamed"}),
        ("activity_log", [], {"target_kind": "account", "target_id": world["own"].pk}),
        ("lead_status", [world["lead"].pk], {"status": "contacted"}),
    ):
        assert client.post(url(name, *args), data).status_code == 403, name
    assert Opportunity.objects.get(pk=world["own_deal"].pk).status == "open"
    assert Account.objects.get(pk=world["own"].pk).name == "Own Account"


# --- peers and other managers: 404 ---------------------------------------------------------------


def _ae1_urls(world) -> list[tuple[str, str, dict]]:
    """(method, URL, data) of every read and write on AE 1a's own records."""
    own, deal, contact = world["own"], world["own_deal"], world["own_contact"]
    return [
        ("get", url("account_detail", own.pk), {}),
        ("get", url("account_edit", own.pk), {}),
        ("post", url("account_edit", own.pk), {"name": "Taken", "customer_status": "prospect"}),
        ("get", url("contact_detail", contact.pk), {}),
        ("post", url("contact_edit", contact.pk), {"last_name": "Taken"}),
        ("get", url("opportunity_detail", deal.pk), {}),
        ("get", url("opportunity_edit", deal.pk), {}),
        ("post", url("opportunity_edit", deal.pk), {"name": "Taken"}),
        ("post", url("opportunity_move", deal.pk), {"stage": deal.stage_id}),
        ("post", url("opportunity_close", deal.pk), {"outcome": "won"}),
        ("post", url("opportunity_next_step", deal.pk), {"next_step": "x"}),
        ("post", url("opportunity_competitors", deal.pk), {"names": "Rival"}),
        ("post", url("objection_add", deal.pk), {"category": "price", "text": "x"}),
        ("post", url("renewal_create", deal.pk), {}),
        ("get", url("quote_new", deal.pk), {}),
        ("post", url("quote_new", deal.pk), {}),
        ("post", url("activity_log"), {"target_kind": "opportunity", "target_id": deal.pk}),
        ("post", url("activity_log"), {"target_kind": "account", "target_id": own.pk}),
        ("post", url("activity_log"), {"target_kind": "contact", "target_id": contact.pk}),
        ("post", url("cross_sell_prospect", own.pk), {}),
    ]


@pytest.mark.parametrize("who", ["ae2", "ae3", "m2", "sdr", "bdr", "mkt", "cs"])
def test_records_of_another_ae_are_404(client, world, who):
    client = login(client, world[who])
    for method, target, data in _ae1_urls(world):
        response = getattr(client, method)(target, data)
        assert response.status_code == 404, (who, method, target, response.status_code)
    deal = Opportunity.objects.get(pk=world["own_deal"].pk)
    assert deal.name == "Own deal" and deal.status == "open" and not deal.competitors.exists()
    assert Account.objects.get(pk=world["own"].pk).name == "Own Account"
    assert not Objection.objects.exists()


def test_read_only_viewers_get_403_on_writes(client, world):
    client = login(client, viewer(world))
    assert client.get(url("opportunity_detail", world["own_deal"].pk)).status_code == 200
    assert client.get(url("account_detail", world["own"].pk)).status_code == 200
    assert client.get(url("contact_detail", world["own_contact"].pk)).status_code == 200
    for method, target, data in _ae1_urls(world):
        if method == "get" and "edit" not in target and "quotes/new" not in target:
            continue
        if "cross-sell" in target:
            continue  # a view of the account is enough to prospect it
        response = getattr(client, method)(target, data)
        assert response.status_code == 403, (method, target, response.status_code)
    deal = Opportunity.objects.get(pk=world["own_deal"].pk)
    assert deal.name == "Own deal" and deal.status == "open" and not deal.competitors.exists()
    assert not Objection.objects.exists() and not Activity.objects.exists()


@pytest.mark.parametrize("who", ["m1", "vp", "cso", "cro", "ceo"])
def test_managers_above_may_read_and_change(client, world, who):
    client = login(client, world[who])
    assert client.get(url("opportunity_detail", world["own_deal"].pk)).status_code == 200
    assert client.get(url("opportunity_edit", world["own_deal"].pk)).status_code == 200


def test_the_lead_of_another_rep_is_404_for_peers_and_403_for_marketing(client, world):
    lead = world["lead"]
    writes = [
        ("lead_edit", {"last_name": "x"}),
        ("lead_status", {"status": "contacted"}),
        ("lead_disqualify", {"reason": "other"}),
        ("lead_qualify", {"need": "x"}),
        ("lead_assign", {"to_position": world["bdr"].pk}),
        ("lead_convert", {"ae_position": world["ae1"].pk}),
    ]
    for who in ("bdr", "ae1", "m2", "cs"):
        client = login(client, world[who])
        assert client.get(url("lead_detail", lead.pk)).status_code == 404, who
        for name, data in writes:
            assert client.post(url(name, lead.pk), data).status_code == 404, (who, name)
    client = login(client, world["mkt"])
    assert client.get(url("lead_detail", lead.pk)).status_code == 200
    for name, data in writes:
        assert client.post(url(name, lead.pk), data).status_code == 403, name
    assert Lead.objects.get(pk=lead.pk).status == "new"
    assert Lead.objects.get(pk=lead.pk).owner_position == world["sdr"]


def test_marketing_sees_leads_not_revenue(client, world):
    client = login(client, world["mkt"])
    assert client.get(url("opportunities")).context["page"].paginator.count == 0
    assert client.get(url("accounts")).context["page"].total == 0
    assert client.get(url("account_detail", world["own"].pk)).status_code == 404
    assert client.get(url("opportunity_detail", world["deal"].pk)).status_code == 404
    export = html(client.get(url("opportunities_export")))
    assert "Own deal" not in export and "Shared deal" not in export
    assert world["lead"] in client.get(url("leads")).context["page"].items
    assert HIDDEN_CAMPAIGN in html(client.get(url("lead_detail", world["lead"].pk)))


def test_objection_update_follows_its_deal(client, world):
    objection = pipeline.objection_record(
        opportunity=world["own_deal"], by=None, category="price", text="Too dear"
    )
    target = url("objection_update", objection.pk)
    assert login(client, world["ae2"]).post(target, {"resolved": "on"}).status_code == 404
    assert login(client, viewer(world)).post(target, {"resolved": "on"}).status_code == 403
    assert not Objection.objects.get(pk=objection.pk).resolved
    assert login(client, world["ae1"]).post(target, {"resolved": "on"}).status_code == 302
    assert Objection.objects.get(pk=objection.pk).resolved


def test_activity_on_an_invisible_or_read_only_record(client, world):
    task = crm.activity_log(
        by=None,
        kind="task",
        subject="Call back",
        account=world["own"],
        due_at=timezone.now() + dt.timedelta(days=1),
    )
    assert login(client, world["ae3"]).post(url("activity_complete", task.pk)).status_code == 404
    client = login(client, viewer(world))
    assert client.post(url("activity_complete", task.pk)).status_code == 403
    task.refresh_from_db()
    assert task.done_at is None
    data = {"target_kind": "lead", "target_id": world["lead"].pk, "kind": "note", "subject": "x"}
    assert login(client, world["ae1"]).post(url("activity_log"), data).status_code == 404
    assert login(client, world["mkt"]).post(url("activity_log"), data).status_code == 403
    data["target_kind"] = "campaign"
    assert login(client, world["sdr"]).post(url("activity_log"), data).status_code == 404
    assert not world["lead"].activities.exists()


# --- admin screens ---------------------------------------------------------------------------


ADMIN_ROUTES = [
    name
    for name, args in ROUTES
    if name
    in {
        "custom_fields",
        "routing_rules",
        "pipeline_admin",
        "products_admin",
        "price_books_admin",
        "discount_policy_admin",
        "competitors_admin",
    }
]


@pytest.mark.parametrize("who", ["ae1", "m1", "vp", "ceo", "cso", "cro", "mkt", "sdr", "cs"])
def test_admin_screens_are_404_for_non_admins(client, org, who, sales_org):
    client = login(client, sales_org[who])
    for name in ADMIN_ROUTES:
        assert client.get(url(name)).status_code == 404, (who, name)
        assert client.post(url(name), {"name": "x"}).status_code == 404, (who, name)
    stage = sales_org["pipeline"].stages.first()
    assert client.post(url("stage_delete", stage.pk)).status_code == 404
    assert client.post(url("stage_edit", stage.pk), {"name": "Hacked"}).status_code == 404
    assert sales_org["pipeline"].stages.filter(pk=stage.pk, name=stage.name).exists()


def test_admin_screens_open_for_revops(client, sales_org):
    client = login(client, sales_org["revops"])
    for name in ADMIN_ROUTES:
        assert client.get(url(name)).status_code == 200, name


# --- open redirects ----------------------------------------------------------------------------


EVIL = ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "http:evil.example"]


def _is_local(location: str) -> bool:
    return location.startswith("/") and not location.startswith(("//", "/\\"))


def test_next_never_leaves_the_site(client, world):
    lead = world["lead"]
    client = login(client, world["sdr"])
    for evil in EVIL:
        response = client.post(url("lead_status", lead.pk), {"status": "contacted", "next": evil})
        assert response.status_code == 302 and _is_local(response["Location"]), evil
        Lead.objects.filter(pk=lead.pk).update(status="new")
        response = client.post(
            url("activity_log"),
            {
                "target_kind": "lead",
                "target_id": lead.pk,
                "kind": "note",
                "subject": "n",
                "next": evil,
            },
        )
        assert response.status_code == 302 and _is_local(response["Location"]), evil
    client = login(client, world["ae1"])
    deal = world["own_deal"]
    stages = list(world["pipeline"].stages.order_by("order")[:2])
    for i, evil in enumerate(EVIL):
        response = client.post(
            url("opportunity_move", deal.pk), {"stage": stages[(i + 1) % 2].pk, "next": evil}
        )
        assert response.status_code == 302 and _is_local(response["Location"]), evil
        response = client.get(url("opportunity_move", deal.pk) + f"?next={evil}")
        assert _is_local(response["Location"]), evil
    referral = crm.referral_create(
        by=None, owner_position=world["sdr"], lead=world["lead"], referrer_name="Pat"
    )
    client = login(client, world["sdr"])
    for evil in EVIL:
        response = client.post(
            url("referral_outcome", referral.pk), {"outcome": "won", "next": evil}
        )
        assert response.status_code == 302 and _is_local(response["Location"]), evil


def test_approval_decide_next_stays_on_the_site(client, world):
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=world["own_deal"],
        by=None,
        lines=[{"product": catalog["seats"], "discount_percent": 15}],
    )
    pipeline.quote_submit(quote=quote, by=None)
    approval = quote.approvals.get()
    response = login(client, world["m1"]).post(
        url("approval_decide", approval.pk), {"decision": "approve", "next": EVIL[0]}
    )
    assert response.status_code == 302 and _is_local(response["Location"])


# --- relations to records outside the viewer's view ---------------------------------------------


def test_deal_page_hides_the_account_and_contact_the_ae_cannot_see(client, world):
    client = login(client, world["ae1"])
    response = client.get(url("opportunity_detail", world["deal"].pk))
    assert_hidden(response)
    assert "Shared deal" in html(response)
    assert "outside your view" in html(response)
    assert client.get(url("account_detail", world["hidden"].pk)).status_code == 404
    # the CSO sees the deal and, as org-wide revenue viewer, the account
    shown = html(login(client, world["cso"]).get(url("opportunity_detail", world["deal"].pk)))
    assert HIDDEN_ACCOUNT in shown and HIDDEN_EMAIL in shown


def test_a_deal_the_ae_owns_shows_its_account_not_its_contact(client, world):
    """Rule 6: owning a deal (as a hand-off gives one) lends a view of its account, and of the
    account only: the contact, AE 2a's, stays hidden. Their manager sees the account too."""
    mine = make_opportunity(
        world["ae1"], name="Handed deal", account=world["hidden"], contact=world["hidden_contact"]
    )
    for who in ("ae1", "m1"):
        client = login(client, world[who])
        response = client.get(url("opportunity_detail", mine.pk))
        assert_hidden(response, (HIDDEN_CONTACT, HIDDEN_EMAIL))
        assert HIDDEN_ACCOUNT in html(response), who
        assert client.get(url("account_detail", world["hidden"].pk)).status_code == 200, who
        assert client.get(url("account_edit", world["hidden"].pk)).status_code == 403, who
    # AE 1a's shared deal is on the same account, so it names the account now as well
    client = login(client, world["ae1"])
    shared = client.get(url("opportunity_detail", world["deal"].pk))
    assert_hidden(shared, (HIDDEN_CONTACT, HIDDEN_EMAIL))
    assert HIDDEN_ACCOUNT in html(shared)
    # and so do the lists, the board and the exports
    for name in ("accounts", "opportunities", "board", "opportunities_export", "accounts_export"):
        page = html(client.get(url(name)))
        assert HIDDEN_ACCOUNT in page, name
        assert HIDDEN_CONTACT not in page and HIDDEN_EMAIL not in page, name
    assert client.get(url("opportunities"), {"q": "Hidden"}).context["page"].paginator.count == 2
    # a peer sees neither the deal nor the account
    client = login(client, world["ae2"])
    assert client.get(url("opportunity_detail", mine.pk)).status_code == 404
    assert client.get(url("account_detail", world["hidden"].pk)).status_code == 404


def test_deal_lists_board_and_export_hide_the_invisible_account(client, world):
    client = login(client, world["ae1"])
    response = client.get(url("opportunities"))
    assert_hidden(response)
    assert "Shared deal" in html(response) and "Own Account" in html(response)
    partial = client.get(url("opportunities"), HTTP_HX_REQUEST="true")
    assert_hidden(partial)
    assert "Shared deal" in html(partial)
    board = client.get(url("board"))
    assert_hidden(board)
    assert "Shared deal" in html(board) and "Own Account" in html(board)
    assert_hidden(client.get(url("board"), HTTP_HX_REQUEST="true"))
    export = client.get(url("opportunities_export"))
    text = html(export)
    assert HIDDEN_ACCOUNT not in text and "Shared deal" in text and "Own Account" in text
    # the search does not match on the name of an account the user cannot see
    assert client.get(url("opportunities"), {"q": "Hidden"}).context["page"].paginator.count == 0


def test_renewals_hide_the_invisible_account(client, world):
    renewal = make_opportunity(
        world["ae3"],
        name="Renewal deal",
        account=world["hidden"],
        type="renewal",
        close_date=timezone.localdate() + dt.timedelta(days=10),
    )
    share(renewal, world["ae1"])
    response = login(client, world["ae1"]).get(url("renewals"))
    assert_hidden(response)
    assert "Renewal deal" in html(response)


def test_deal_form_never_shows_or_drops_the_invisible_account(client, world):
    client = login(client, world["ae1"])
    response = client.get(url("opportunity_edit", world["deal"].pk))
    assert_hidden(response)
    response = client.post(
        url("opportunity_edit", world["deal"].pk),
        {
            "name": "Shared deal, renamed",
            "type": "new_business",
            "currency": "USD",
            "owner_position": world["ae1"].pk,
        },
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    deal = Opportunity.objects.get(pk=world["deal"].pk)
    assert deal.name == "Shared deal, renamed"
    assert deal.account == world["hidden"] and deal.contact == world["hidden_contact"]


def test_an_editor_through_a_change_share_keeps_the_deals_owner(client, world):
    client = login(client, world["ae1"])
    choices = client.get(url("opportunity_edit", world["deal"].pk)).context["form"]
    assert world["ae3"] in choices.fields["owner_position"].queryset
    response = client.post(
        url("opportunity_edit", world["deal"].pk),
        {
            "name": "Shared deal, renamed",
            "type": "new_business",
            "currency": "USD",
            "owner_position": world["ae3"].pk,
        },
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    assert Opportunity.objects.get(pk=world["deal"].pk).owner_position == world["ae3"]


def test_deal_form_contact_choices_do_not_name_invisible_accounts(client, world):
    # a contact the AE owns, at an account they cannot see (the hand-off makes such contacts)
    make_contact(world["ae1"], account=world["hidden"], last_name="Mycontact")
    response = login(client, world["ae1"]).get(url("opportunity_new"))
    assert_hidden(response)
    assert "Mycontact" in html(response)


def test_quote_pages_hide_the_invisible_account_and_contact(client, world):
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=world["deal"], by=None, lines=[{"product": catalog["seats"]}]
    )
    share(quote, world["ae1"], "change")
    client = login(client, world["ae1"])
    for name, args in (
        ("quote_detail", [quote.pk]),
        ("quote_print", [quote.pk]),
        ("quote_edit", [quote.pk]),
        ("quote_new", [world["deal"].pk]),
    ):
        assert_hidden(client.get(url(name, *args)))
    # whoever sees the account sees it on the quote
    page = html(login(client, world["cso"]).get(url("quote_print", quote.pk)))
    assert HIDDEN_ACCOUNT in page and HIDDEN_EMAIL in page


def test_quote_print_is_404_for_a_peer(client, world):
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=world["own_deal"], by=None, lines=[{"product": catalog["seats"]}]
    )
    for who in ("ae2", "ae3", "m2", "mkt", "sdr", "bdr", "cs"):
        client = login(client, world[who])
        assert client.get(url("quote_print", quote.pk)).status_code == 404, who
        assert client.get(url("quote_detail", quote.pk)).status_code == 404, who
        assert client.post(url("quote_submit", quote.pk)).status_code == 404, who
        assert client.post(url("quote_send", quote.pk)).status_code == 404, who
    client = login(client, viewer(world))
    assert client.get(url("quote_print", quote.pk)).status_code == 200
    assert client.post(url("quote_submit", quote.pk)).status_code == 403
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.DRAFT
    assert login(client, world["m1"]).get(url("quote_print", quote.pk)).status_code == 200


def test_approvals_queue_names_the_account_the_deal_lends_sight_of(client, world):
    """An approver sits above the quote's owner, so sees the deal through the hierarchy and,
    by rule 6, its account, even one owned elsewhere; never the contact they cannot see."""
    deal = make_opportunity(
        world["ae1"], name="Handed deal", account=world["hidden"], contact=world["hidden_contact"]
    )
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=deal,
        by=None,
        lines=[{"product": catalog["seats"], "discount_percent": 15}],
    )
    pipeline.quote_submit(quote=quote, by=None)
    response = login(client, world["m1"]).get(url("approvals"))
    assert [a.quote_id for a in response.context["rows"]] == [quote.pk]
    assert_hidden(response, (HIDDEN_CONTACT, HIDDEN_EMAIL))
    assert HIDDEN_ACCOUNT in html(response)


def test_an_approver_who_lost_sight_of_the_deal_cannot_see_or_decide_it(client, world):
    """The deal moves to another team after the discount was submitted: the old manager's
    request stays pending, but the quote is now outside their view."""
    catalog = build_catalog()
    quote = pipeline.quote_create(
        opportunity=world["own_deal"],
        by=None,
        lines=[{"product": catalog["seats"], "discount_percent": 15}],
    )
    pipeline.quote_submit(quote=quote, by=None)
    approval = quote.approvals.get()
    assert approval.approver_position == world["m1"]
    pipeline.opportunity_update(opportunity=world["own_deal"], by=None, owner_position=world["ae3"])
    client = login(client, world["m1"])
    assert client.get(url("quote_detail", quote.pk)).status_code == 404
    response = client.get(url("approvals"))
    assert response.context["rows"] == []
    assert "Own deal" not in html(response)
    response = client.post(url("approval_decide", approval.pk), {"decision": "approve"})
    assert response.status_code == 404
    approval.refresh_from_db()
    quote.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING
    assert quote.status == QuoteStatus.PENDING_APPROVAL


def test_lead_page_hides_a_campaign_the_rep_cannot_see_and_editing_keeps_it(client, world):
    lead = world["lead"]
    client = login(client, world["sdr"])
    assert_hidden(client.get(url("lead_detail", lead.pk)), (HIDDEN_CAMPAIGN,))
    assert_hidden(client.get(url("lead_edit", lead.pk)), (HIDDEN_CAMPAIGN,))
    response = client.post(
        url("lead_edit", lead.pk), {"last_name": "Renamed", "company": "Lead Co", "source": "other"}
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.last_name == "Renamed" and lead.campaign == world["campaign"]
    assert_hidden(client.get(url("leads")), (HIDDEN_CAMPAIGN,))
    assert HIDDEN_CAMPAIGN not in html(client.get(url("leads_export")))


def test_account_edit_never_shows_or_drops_an_invisible_parent(client, world):
    child = make_account(world["ae1"], name="Subsidiary", parent=world["hidden"])
    client = login(client, world["ae1"])
    assert_hidden(client.get(url("account_detail", child.pk)))
    assert_hidden(client.get(url("account_edit", child.pk)))
    response = client.post(
        url("account_edit", child.pk),
        {
            "name": "Subsidiary GmbH",
            "customer_status": "prospect",
            "owner_position": world["ae1"].pk,
        },
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    child = Account.objects.get(pk=child.pk)
    assert child.name == "Subsidiary GmbH" and child.parent == world["hidden"]
    assert_hidden(client.get(url("accounts")))
    assert HIDDEN_ACCOUNT not in html(client.get(url("accounts_export")))


def test_contact_pages_hide_an_invisible_account(client, world):
    contact = make_contact(world["ae1"], account=world["hidden"], last_name="Mycontact")
    client = login(client, world["ae1"])
    assert_hidden(client.get(url("contact_detail", contact.pk)))
    assert_hidden(client.get(url("contact_edit", contact.pk)))
    assert_hidden(client.get(url("contacts")))
    assert_hidden(client.get(url("contacts"), {"account": world["hidden"].pk}))
    assert HIDDEN_ACCOUNT not in html(client.get(url("contacts_export")))


def test_surveys_hide_a_contact_the_viewer_cannot_see(client, world):
    crm.survey_record(
        by=None,
        owner_position=world["ae1"],
        account=world["own"],
        kind="nps",
        score=9,
        contact=world["hidden_contact"],
    )
    response = login(client, world["ae1"]).get(url("surveys"))
    assert response.context["page"].paginator.count == 1
    assert_hidden(response)


def test_complaints_hide_an_account_seen_only_through_a_share(client, world):
    """Manager 2 shares their team's complaint with Customer Success: CS sees the complaint,
    not its account nor its contact (a share lends nothing to the account)."""
    complaint = crm.complaint_create(
        by=None,
        owner_position=world["m2"],
        account=world["hidden"],
        subject="Late invoice",
        contact=world["hidden_contact"],
    )
    share(complaint, world["cs"])
    client = login(client, world["cs"])
    response = client.get(url("complaints"))
    assert response.context["page"].paginator.count == 1
    assert_hidden(response)
    assert "Late invoice" in html(response)
    assert_hidden(client.get(url("complaint_detail", complaint.pk)))
    assert client.get(url("account_detail", world["hidden"].pk)).status_code == 404


def test_a_complaint_cs_owns_shows_its_account_not_its_contact(client, world):
    """Rule 6: the owner of a complaint views its account; the contact stays hidden."""
    complaint = crm.complaint_create(
        by=None,
        owner_position=world["cs"],
        account=world["hidden"],
        subject="Late invoice",
        contact=world["hidden_contact"],
    )
    client = login(client, world["cs"])
    for response in (
        client.get(url("complaints")),
        client.get(url("complaint_detail", complaint.pk)),
    ):
        assert_hidden(response, (HIDDEN_CONTACT, HIDDEN_EMAIL))
        assert HIDDEN_ACCOUNT in html(response)
    assert client.get(url("account_detail", world["hidden"].pk)).status_code == 200


def test_record_picker_offers_only_visible_records(client, world):
    client = login(client, world["ae1"])
    for kind, term in (("account", "Hidden"), ("contact", "Hilda"), ("lead", "Lead")):
        assert_hidden(client.get(url("crm_pick", kind), {"q": term}))
        assert "Lead Co" not in html(client.get(url("crm_pick", kind), {"q": term}))
    assert "Own Account" in html(client.get(url("crm_pick", "account"), {"q": "Own"}))
    assert client.get(url("crm_pick", "opportunity"), {"q": "x"}).status_code == 404


def test_lists_and_partials_show_only_visible_rows(client, world):
    client = login(client, world["ae2"])
    for name in ("accounts", "contacts", "leads", "opportunities", "board"):
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(url(name), **headers)
            page = html(response)
            assert "Own Account" not in page and "Own deal" not in page, name
            assert "Shared deal" not in page and "Lead Co" not in page, name
    for name in ("accounts_export", "contacts_export", "leads_export", "opportunities_export"):
        response = client.get(url(name))
        text = html(response)
        assert "Own Account" not in text and "Own deal" not in text and "Lead Co" not in text


def test_lead_queue_ignores_a_rep_outside_the_users_view(client, world):
    response = login(client, world["ae3"]).get(url("lead_queue"), {"rep": world["sdr"].pk})
    assert response.context["rep"] is None and response.context["rows"] == []


# --- ids in a form that point outside the user's view ----------------------------------------------


def test_forms_refuse_records_outside_the_users_view(client, world):
    hidden, hidden_contact = world["hidden"], world["hidden_contact"]
    client = login(client, world["ae1"])
    response = client.post(
        url("opportunity_new"),
        {
            "name": "Sneaky",
            "account": hidden.pk,
            "type": "new_business",
            "owner_position": world["ae1"].pk,
            "pipeline": world["pipeline"].pk,
            "currency": "USD",
        },
    )
    assert response.status_code == 400 and not Opportunity.objects.filter(name="Sneaky").exists()
    response = client.post(
        url("contact_create"),
        {"last_name": "Sneaky", "account": f"#{hidden.pk}", "owner_position": world["ae1"].pk},
    )
    assert response.status_code == 400 and not Contact.objects.filter(last_name="Sneaky").exists()
    response = client.post(
        url("account_create"),
        {
            "name": "Sneaky",
            "parent": f"#{hidden.pk}",
            "customer_status": "prospect",
            "owner_position": world["ae1"].pk,
        },
    )
    assert response.status_code == 400 and not Account.objects.filter(name="Sneaky").exists()
    response = client.post(
        url("survey_create"),
        {
            "account": f"#{world['own'].pk}",
            "contact": f"#{hidden_contact.pk}",
            "kind": "nps",
            "score": "9",
            "owner_position": world["ae1"].pk,
        },
    )
    assert response.status_code == 400 and not SatisfactionResponse.objects.exists()
    response = client.post(
        url("referrals"),
        {"lead": f"#{world['lead'].pk}", "referrer_name": "Pat", "owner_position": world["ae1"].pk},
    )
    assert response.status_code == 400 and not Referral.objects.exists()
    response = login(client, world["m1"]).post(
        url("complaint_create"),
        {
            "account": f"#{hidden.pk}",
            "subject": "Sneaky",
            "severity": "low",
            "owner_position": world["m1"].pk,
        },
    )
    assert response.status_code == 400


def test_prospect_lists_add_and_remove_only_visible_leads(client, world):
    bdr_list = crm.prospect_list_create(by=None, name="BDR list", owner_position=world["bdr"])
    other = make_lead(world["ae3"], company="Other Co")
    crm.prospect_list_add(prospect_list=bdr_list, leads=[other], by=None)
    client = login(client, world["bdr"])
    response = client.post(
        url("prospect_list_search", bdr_list.pk), {"lead": [world["lead"].pk, other.pk]}
    )
    assert response.status_code == 302
    assert list(bdr_list.members.values_list("lead_id", flat=True)) == [other.pk]
    client.post(url("prospect_list_remove", bdr_list.pk), {"lead": [other.pk]})
    assert bdr_list.members.filter(lead=other).exists()  # not theirs to see, not theirs to remove
    page = client.get(url("prospect_list_detail", bdr_list.pk))
    assert page.context["page"].paginator.count == 0 and "Other Co" not in html(page)
    # someone else's list
    sdr_list = crm.prospect_list_create(by=None, name="SDR list", owner_position=world["sdr"])
    for name in ("prospect_list_detail", "prospect_list_add", "prospect_list_search"):
        assert client.get(url(name, sdr_list.pk)).status_code == 404, name
    for name in ("prospect_list_refresh", "prospect_list_remove", "prospect_list_add"):
        assert client.post(url(name, sdr_list.pk), {"last_name": "x"}).status_code == 404, name
    assert not ProspectListMember.objects.filter(prospect_list=sdr_list).exists()


def test_cross_sell_prospect_copies_only_a_contact_the_user_sees(client, world):
    own = world["own"]
    Contact.objects.filter(pk=world["own_contact"].pk).delete()
    make_contact(
        world["ae3"],
        account=own,
        first_name="Secret",
        last_name="Person",
        email="secret.person@own.test",
    )
    plist = crm.prospect_list_create(by=None, name="Cross-sell", owner_position=world["ae1"])
    response = login(client, world["ae1"]).post(
        url("cross_sell_prospect", own.pk), {"prospect_list": plist.pk}
    )
    assert response.status_code == 302
    lead = ProspectListMember.objects.get(prospect_list=plist).lead
    assert lead.company == "Own Account"
    assert lead.email != "secret.person@own.test" and lead.last_name != "Person"


def test_cross_sell_prospect_refuses_a_list_the_user_may_not_change(client, world):
    plist = crm.prospect_list_create(by=None, name="BDR list", owner_position=world["bdr"])
    response = login(client, world["ae1"]).post(
        url("cross_sell_prospect", world["own"].pk), {"prospect_list": plist.pk}
    )
    assert response.status_code == 302
    assert not plist.members.exists()


# --- owners: only positions whose records the user may edit -------------------------------------


def test_owner_choices_are_positions_the_user_may_edit(client, world):
    team = TeamFactory(share_records=False)
    Position.objects.filter(pk__in=[world["ae1"].pk, world["ae2"].pk]).update(team=team)
    client = login(client, world["ae1"])
    for target in (world["m1"], world["ae2"], world["ceo"]):
        response = client.post(
            url("account_create"),
            {
                "name": f"Planted {target.pk}",
                "customer_status": "prospect",
                "owner_position": target.pk,
            },
        )
        assert response.status_code == 400, target
        response = client.post(
            url("contact_create"), {"last_name": f"Planted{target.pk}", "owner_position": target.pk}
        )
        assert response.status_code == 400, target
    assert not Account.objects.filter(name__startswith="Planted").exists()
    assert not Contact.objects.filter(last_name__startswith="Planted").exists()
    choices = client.get(url("account_create")).context["form"].fields["owner_position"].queryset
    assert set(choices) == {world["ae1"]}
    # giving one's own account to a peer is refused too
    response = client.post(
        url("account_edit", world["own"].pk),
        {"name": "Own Account", "customer_status": "prospect", "owner_position": world["ae2"].pk},
    )
    assert response.status_code == 400
    assert Account.objects.get(pk=world["own"].pk).owner_position == world["ae1"]
    # a manager gives records to the team below
    response = login(client, world["m1"]).post(
        url("account_create"),
        {"name": "For AE 1b", "customer_status": "prospect", "owner_position": world["ae2"].pk},
    )
    assert response.status_code == 302
    assert Account.objects.get(name="For AE 1b").owner_position == world["ae2"]


def test_lead_campaign_list_referral_and_survey_owners(client, world):
    client = login(client, world["bdr"])
    response = client.post(
        url("lead_create"),
        {"last_name": "Planted", "source": "other", "owner_position": world["m1"].pk},
    )
    assert response.status_code == 400 and not Lead.objects.filter(last_name="Planted").exists()
    response = client.post(
        url("prospect_lists"), {"name": "Planted", "owner_position": world["m1"].pk}
    )
    assert response.status_code == 400 and not ProspectList.objects.filter(name="Planted").exists()
    response = login(client, world["mkt"]).post(
        url("campaigns"),
        {
            "name": "Planted",
            "kind": "other",
            "status": "planned",
            "cost": "0",
            "currency": "USD",
            "owner_position": world["cro"].pk,
        },
    )
    assert response.status_code == 400 and not Campaign.objects.filter(name="Planted").exists()
    response = login(client, world["sdr"]).post(
        url("referrals"), {"referrer_name": "Pat", "owner_position": world["m1"].pk}
    )
    assert response.status_code == 400 and not Referral.objects.exists()
    response = login(client, world["ae1"]).post(
        url("survey_create"),
        {
            "account": f"#{world['own'].pk}",
            "kind": "nps",
            "score": "9",
            "owner_position": world["m1"].pk,
        },
    )
    assert response.status_code == 400 and not SatisfactionResponse.objects.exists()


def test_an_editor_through_a_change_share_keeps_the_owner(client, world):
    """Someone the record is shared with for change may edit it without being able to give it
    away: the current owner stays a valid choice."""
    RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(Account),
        object_id=world["own"].pk,
        position=world["ae2"],
        access="change",
    )
    response = login(client, world["ae2"]).post(
        url("account_edit", world["own"].pk),
        {
            "name": "Own Account Ltd",
            "customer_status": "prospect",
            "owner_position": world["ae1"].pk,
        },
    )
    assert response.status_code == 302, response.context and response.context["form"].errors
    account = Account.objects.get(pk=world["own"].pk)
    assert account.name == "Own Account Ltd" and account.owner_position == world["ae1"]


# --- imports: one person's jobs --------------------------------------------------------------------


def test_import_jobs_of_someone_else_are_404(client, world, tmp_path):
    from revline.crm import importer
    from tests.crm.import_helpers import write_csv

    path = write_csv(tmp_path, [["last_name", "email"], ["Roe", "roe@example.test"]])
    job = importer.import_job_create(
        by=world["ae1"].holder, entity="lead", file_path=path, owner_position=world["ae1"]
    )
    for who in ("ae2", "m1", "ceo", "cso"):
        client = login(client, world[who])
        assert client.get(url("import_detail", job.pk)).status_code == 404, who
        assert client.post(url("import_detail", job.pk), {"action": "import"}).status_code == 404
        assert client.get(url("import_errors", job.pk)).status_code == 404, who
        assert client.post(url("import_again", job.pk)).status_code == 404, who
        listed = client.get(url("imports")).context["page"].object_list
        assert job.pk not in [j.pk for j in listed]
    assert login(client, world["ae1"]).get(url("import_detail", job.pk)).status_code == 200


def test_amounts_do_not_leak_through_the_account_page(client, world):
    """The account page lists only the deals the viewer sees."""
    make_opportunity(world["ae3"], name="Their big deal", account=world["own"], amount=Decimal("9"))
    response = login(client, world["ae1"]).get(url("account_detail", world["own"].pk))
    assert "Their big deal" not in html(response)
    assert [o.name for o in response.context["opportunities"]] == ["Own deal"]
