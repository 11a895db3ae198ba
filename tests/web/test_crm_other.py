"""Prospect lists, complaints, surveys, campaigns, referrals and the RevOps configuration
screens (custom fields, lead routing)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from revline.core.models import AuditEvent
from revline.crm import services
from revline.crm.choices import RoutingMethod
from revline.crm.custom_fields import custom_field_save
from revline.crm.models import (
    Campaign,
    Complaint,
    CustomFieldDefinition,
    Lead,
    ProspectList,
    Referral,
    RoutingMember,
    RoutingRule,
    SatisfactionResponse,
)
from tests.crm.factories import make_account, make_contact, make_lead

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"web:{name}", args=args)


def login(client, position):
    client.force_login(position.holder)
    return client


# --- prospect lists ----------------------------------------------------------------------------


@pytest.fixture
def plist(sales_org):
    return services.prospect_list_create(by=sales_org["bdr"].holder, name="Fintech Q3")


def test_prospect_list_pages_render_for_the_owner_and_404_for_a_peer(client, sales_org, plist):
    pages = [
        url("prospect_list_detail", plist.pk),
        url("prospect_list_add", plist.pk),
        url("prospect_list_search", plist.pk),
        url("prospect_list_rule", plist.pk),
    ]
    client = login(client, sales_org["bdr"])
    assert client.get(url("prospect_lists")).status_code == 200
    for page in pages:
        assert client.get(page).status_code == 200, page
    login(client, sales_org["sdr"])
    for page in pages:
        assert client.get(page).status_code == 404, page
    client.logout()
    for page in [url("prospect_lists"), *pages]:
        assert client.get(page).status_code == 302


def test_create_a_list(client, sales_org):
    response = login(client, sales_org["bdr"]).post(
        url("prospect_lists"), {"name": "Retail", "description": "Top 50"}
    )
    plist = ProspectList.objects.get(name="Retail")
    assert response["Location"] == url("prospect_list_detail", plist.pk)
    assert plist.owner_position == sales_org["bdr"]


def test_add_prospect_creates_an_outbound_lead_on_the_list(client, sales_org, plist):
    client = login(client, sales_org["bdr"])
    empty = client.post(url("prospect_list_add", plist.pk), {})
    assert empty.status_code == 400 and "needs at least" in empty.content.decode()
    response = client.post(
        url("prospect_list_add", plist.pk), {"last_name": "Ng", "company": "Finly"}
    )
    assert response.status_code == 302
    lead = Lead.objects.get(last_name="Ng")
    assert lead.source == "outbound" and lead.generated_by == sales_org["bdr"]
    assert plist.members.filter(lead=lead).exists()
    assert "Ng" in client.get(url("prospect_list_detail", plist.pk)).content.decode()


def test_add_by_search_ticks_only_visible_leads(client, sales_org, plist):
    bdr = sales_org["bdr"]
    mine = make_lead(bdr, company="Fintastic")
    hidden = make_lead(sales_org["sdr"], company="Fintastic Two")
    client = login(client, bdr)
    results = client.get(url("prospect_list_search", plist.pk), {"q": "Fintastic"})
    assert [lead.pk for lead in results.context["results"]] == [mine.pk]
    response = client.post(url("prospect_list_search", plist.pk), {"lead": [mine.pk, hidden.pk]})
    assert response.status_code == 302
    assert list(plist.members.values_list("lead_id", flat=True)) == [mine.pk]
    again = client.get(url("prospect_list_search", plist.pk), {"q": "Fintastic"})
    assert again.context["members"] == {mine.pk}


def test_rule_and_refresh(client, sales_org, plist):
    bdr = sales_org["bdr"]
    match = make_lead(bdr, source="event")
    make_lead(bdr, source="web")
    client = login(client, bdr)
    response = client.post(url("prospect_list_rule", plist.pk), {"source": "event", "refresh": "1"})
    assert response.status_code == 302
    plist.refresh_from_db()
    assert plist.rule == {"source": "event"}
    assert list(plist.members.values_list("lead_id", flat=True)) == [match.pk]
    later = make_lead(bdr, source="event")
    assert client.post(url("prospect_list_refresh", plist.pk)).status_code == 302
    assert set(plist.members.values_list("lead_id", flat=True)) == {match.pk, later.pk}
    page = client.get(url("prospect_list_rule", plist.pk)).content.decode()
    assert 'value="event" selected' in page


def test_remove_members(client, sales_org, plist):
    lead = make_lead(sales_org["bdr"])
    services.prospect_list_add(prospect_list=plist, leads=[lead], by=None)
    response = login(client, sales_org["bdr"]).post(
        url("prospect_list_remove", plist.pk), {"lead": [lead.pk]}
    )
    assert response.status_code == 302 and not plist.members.exists()


def test_manager_sees_the_list_and_a_peer_cannot_change_it(client, sales_org, plist):
    assert (
        login(client, sales_org["m1"]).get(url("prospect_list_detail", plist.pk)).status_code == 200
    )
    assert (
        login(client, sales_org["mkt"]).get(url("prospect_list_detail", plist.pk)).status_code
        == 200
    )
    assert client.post(url("prospect_list_refresh", plist.pk)).status_code == 403
    assert client.get(url("prospect_list_add", plist.pk)).status_code == 403


def test_import_link_only_when_the_import_page_exists(client, sales_org, plist):
    from django.urls import NoReverseMatch

    response = login(client, sales_org["bdr"]).get(url("prospect_list_detail", plist.pk))
    try:
        expected = reverse("web:import_new")
    except NoReverseMatch:
        expected = None
    assert response.context["import_url"] == expected


# --- complaints and surveys --------------------------------------------------------------------


@pytest.fixture
def account(sales_org):
    return make_account(sales_org["ae1"], name="Acme Corp")


def test_complaint_flow(client, sales_org, account):
    client = login(client, sales_org["m1"])
    form = client.get(url("complaint_create"), {"account": account.pk})
    assert form.status_code == 200 and f"#{account.pk}" in form.content.decode()
    response = client.post(
        url("complaint_create"),
        {
            "account": f"Acme Corp #{account.pk}",
            "subject": "Invoices wrong",
            "severity": "high",
            "owner_position": sales_org["m1"].pk,
        },
    )
    complaint = Complaint.objects.get(subject="Invoices wrong")
    assert response["Location"] == url("complaint_detail", complaint.pk)
    assert "Invoices wrong" in client.get(url("complaints")).content.decode()
    blank = client.post(url("complaint_resolve", complaint.pk), {"resolution": ""})
    assert (
        blank.status_code == 400 and "Say how the complaint was resolved" in blank.content.decode()
    )
    assert (
        client.post(url("complaint_progress", complaint.pk), {"status": "in_progress"}).status_code
        == 302
    )
    assert (
        client.post(
            url("complaint_resolve", complaint.pk), {"resolution": "Credit note sent"}
        ).status_code
        == 302
    )
    complaint.refresh_from_db()
    assert complaint.status == "resolved" and complaint.resolution == "Credit note sent"
    assert client.get(url("complaints")).context["page"].paginator.count == 0  # open only
    assert client.get(url("complaints"), {"state": "all"}).context["page"].paginator.count == 1


def test_complaint_owner_must_be_a_manager_or_cs(client, sales_org, account):
    response = login(client, sales_org["m1"]).post(
        url("complaint_create"),
        {
            "account": f"#{account.pk}",
            "subject": "X",
            "severity": "low",
            "owner_position": sales_org["ae1"].pk,
        },
    )
    assert response.status_code == 400
    assert not Complaint.objects.exists()


def test_complaint_page_404_for_a_peer(client, sales_org, account):
    complaint = services.complaint_create(
        by=None, owner_position=sales_org["m1"], account=account, subject="S"
    )
    assert (
        login(client, sales_org["m2"]).get(url("complaint_detail", complaint.pk)).status_code == 404
    )
    assert (
        client.post(url("complaint_resolve", complaint.pk), {"resolution": "x"}).status_code == 404
    )
    assert (
        login(client, sales_org["m1"]).get(url("complaint_detail", complaint.pk)).status_code == 200
    )


def test_survey_record_and_scores(client, sales_org, account):
    contact = make_contact(sales_org["ae1"], account=account, last_name="Roe")
    client = login(client, sales_org["ae1"])
    bad = client.post(
        url("survey_create"),
        {
            "account": f"#{account.pk}",
            "kind": "csat",
            "score": "7",
            "owner_position": sales_org["ae1"].pk,
        },
    )
    assert bad.status_code == 400 and "between 1 and 5" in bad.content.decode()
    for kind, score in (("nps", "10"), ("nps", "3"), ("csat", "4")):
        response = client.post(
            url("survey_create"),
            {
                "account": f"#{account.pk}",
                "contact": f"#{contact.pk}",
                "kind": kind,
                "score": score,
                "owner_position": sales_org["ae1"].pk,
            },
        )
        assert response.status_code == 302
    assert SatisfactionResponse.objects.count() == 3
    page = client.get(url("surveys"))
    assert page.context["nps_score"] == 0 and page.context["csat"]["avg"] == 4
    assert login(client, sales_org["ae2"]).get(url("surveys")).context["page"].paginator.count == 0


# --- campaigns and referrals -------------------------------------------------------------------


def test_campaign_create_and_list(client, sales_org):
    client = login(client, sales_org["mkt"])
    bad = client.post(
        url("campaigns"),
        {
            "name": "Spring",
            "kind": "webinar",
            "status": "planned",
            "cost": "-1",
            "currency": "USD",
            "owner_position": sales_org["mkt"].pk,
        },
    )
    assert bad.status_code == 400
    response = client.post(
        url("campaigns"),
        {
            "name": "Spring webinar",
            "kind": "webinar",
            "status": "active",
            "cost": "1500",
            "currency": "eur",
            "owner_position": sales_org["mkt"].pk,
        },
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Spring webinar")
    assert campaign.currency == "EUR"
    make_lead(sales_org["sdr"], campaign=campaign)
    make_lead(sales_org["sdr"], campaign=campaign)
    page = client.get(url("campaigns"))
    row = page.context["page"].object_list[0]
    assert row.lead_count == 2 and row.cost_per_lead == 750
    assert (
        login(client, sales_org["ae1"]).get(url("campaigns")).context["page"].paginator.count == 0
    )


def test_referral_create_and_outcome(client, sales_org):
    lead = make_lead(sales_org["sdr"], last_name="Referred")
    client = login(client, sales_org["sdr"])
    missing = client.post(url("referrals"), {"owner_position": sales_org["sdr"].pk})
    assert missing.status_code == 400 and "Say who made the referral" in missing.content.decode()
    response = client.post(
        url("referrals"),
        {
            "referrer_name": "Pat Partner",
            "lead": f"#{lead.pk}",
            "reward": "Gift card",
            "owner_position": sales_org["sdr"].pk,
        },
    )
    assert response.status_code == 302
    referral = Referral.objects.get()
    assert referral.lead == lead and Lead.objects.get(pk=lead.pk).source == "referral"
    assert client.post(url("referral_outcome", referral.pk), {"outcome": "won"}).status_code == 302
    referral.refresh_from_db()
    assert referral.outcome == "won" and referral.reward == "Gift card"
    assert (
        login(client, sales_org["ae1"])
        .post(url("referral_outcome", referral.pk), {"outcome": "lost"})
        .status_code
        == 404
    )


# --- configuration -----------------------------------------------------------------------------


def test_configuration_is_for_revops_only(client, sales_org):
    rule = RoutingRule.objects.create(name="R", method=RoutingMethod.ROUND_ROBIN)
    definition = custom_field_save(by=None, entity="lead", key="k", label="K")
    pages = [
        url("custom_fields"),
        url("custom_field_edit", definition.pk),
        url("routing_rules"),
        url("routing_rule_edit", rule.pk),
    ]
    for who in ("ae1", "m1", "ceo"):
        login(client, sales_org[who])
        for page in pages:
            assert client.get(page).status_code == 404, (who, page)
    login(client, sales_org["revops"])
    for page in pages:
        assert client.get(page).status_code == 200, page


def test_custom_field_create_and_edit(client, sales_org):
    client = login(client, sales_org["revops"])
    bad = client.post(
        url("custom_fields"),
        {"entity": "account", "label": "Tier", "field_type": "choice", "choices": ""},
    )
    assert bad.status_code == 400 and "at least one choice" in bad.content.decode()
    response = client.post(
        url("custom_fields"),
        {"entity": "account", "label": "Tier", "field_type": "choice", "choices": "Gold\nSilver"},
    )
    assert response.status_code == 302
    definition = CustomFieldDefinition.objects.get()
    assert (definition.key, definition.choices) == ("tier", ["Gold", "Silver"])
    clash = client.post(
        url("custom_fields"),
        {"entity": "account", "label": "Tier", "key": "tier", "field_type": "text"},
    )
    assert clash.status_code == 400
    edit = client.post(
        url("custom_field_edit", definition.pk),
        {
            "label": "Customer tier",
            "field_type": "choice",
            "choices": "Gold, Silver, Bronze",
            "required": "on",
        },
    )
    assert edit.status_code == 302
    definition.refresh_from_db()
    assert (
        definition.label == "Customer tier"
        and definition.required
        and definition.choices == ["Gold", "Silver", "Bronze"]
    )
    assert AuditEvent.objects.filter(action="custom_field.update").exists()


def test_routing_rule_with_members(client, sales_org):
    client = login(client, sales_org["revops"])
    response = client.post(
        url("routing_rules"),
        {
            "name": "Inbound web",
            "method": "capacity",
            "priority": "10",
            "active": "on",
            "source": "web",
            "window_days": "7",
        },
    )
    rule = RoutingRule.objects.get(name="Inbound web")
    assert response["Location"] == url("routing_rule_edit", rule.pk)
    add = client.post(
        url("routing_member_add", rule.pk),
        {"new-position": sales_org["sdr"].pk, "new-capacity": "20"},
    )
    assert add.status_code == 302
    member = RoutingMember.objects.get(rule=rule)
    assert member.capacity == 20 and not member.opted_out
    edit = client.post(
        url("routing_member_edit", rule.pk, member.pk),
        {f"m{member.pk}-capacity": "5", f"m{member.pk}-opted_out": "on"},
    )
    assert edit.status_code == 302
    member.refresh_from_db()
    assert member.capacity == 5 and member.opted_out
    lead = services.lead_create(by=sales_org["bdr"].holder, last_name="Web", source="web")
    assert lead.owner_position == sales_org["bdr"]  # the only member opted out
    client.post(url("routing_member_edit", rule.pk, member.pk), {f"m{member.pk}-capacity": "5"})
    routed = services.lead_create(by=sales_org["bdr"].holder, last_name="Web 2", source="web")
    assert routed.owner_position == sales_org["sdr"]
    assert client.post(url("routing_member_remove", rule.pk, member.pk)).status_code == 302
    assert not RoutingMember.objects.exists()
    page = client.get(url("routing_rule_edit", rule.pk)).content.decode()
    assert "Member remove" in page or "member remove" in page.lower()
    saved = client.post(
        url("routing_rule_edit", rule.pk),
        {"name": "Inbound", "method": "round_robin", "priority": "5", "window_days": "30"},
    )
    assert saved.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.active, rule.source) == ("Inbound", False, "")
