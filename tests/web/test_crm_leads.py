"""The lead flow through the web: status steps, BANT qualification, disqualification with a
reason, the SDR -> AE hand-off, activities and tasks, the SDR queue and the hand-off board."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from revline.crm import services
from revline.crm.choices import LeadStatus
from revline.crm.models import Activity, Lead
from revline.org.models import Position
from revline.pipeline.models import Opportunity
from tests.crm.factories import make_account, make_lead
from tests.org.factories import TeamFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"web:{name}", args=args)


def login(client, position):
    client.force_login(position.holder)
    return client


@pytest.fixture
def flow(sales_org):
    """The SDR's lead, and the SDR in a team with AE 1a so the SDR sees whom to hand over to."""
    team = TeamFactory()
    Position.objects.filter(pk__in=[sales_org["sdr"].pk, sales_org["ae1"].pk]).update(team=team)
    lead = make_lead(
        sales_org["sdr"],
        company="Acme Corp",
        email="buyer@acme.test",
        first_name="Bea",
        last_name="Buyer",
    )
    return {**sales_org, "lead": lead}


def refresh(lead) -> Lead:
    return Lead.objects.get(pk=lead.pk)


# --- status ------------------------------------------------------------------------------------


def test_lead_page_offers_the_allowed_next_steps(client, flow):
    response = login(client, flow["sdr"]).get(url("lead_detail", flow["lead"].pk))
    labels = [b["label"] for b in response.context["buttons"]]
    assert labels == ["Mark contacted", "Start qualifying"]
    assert response.context["can_disqualify"] and not response.context["can_convert"]
    html = response.content.decode()
    assert "Disqualify" in html and "Qualification (BANT)" in html
    assert "Speed to lead" in html and "untouched" in html


def test_status_step(client, flow):
    lead = flow["lead"]
    response = login(client, flow["sdr"]).post(url("lead_status", lead.pk), {"status": "contacted"})
    assert response.status_code == 302
    assert refresh(lead).status == LeadStatus.CONTACTED
    html = client.get(url("lead_detail", lead.pk)).content.decode()
    assert "Status history" in html and "Contacted" in html


def test_a_transition_the_rules_refuse_is_explained(client, flow):
    response = login(client, flow["sdr"]).post(
        url("lead_status", flow["lead"].pk), {"status": "recycled"}
    )
    assert response.status_code == 400
    assert "cannot become recycled" in response.content.decode()
    assert refresh(flow["lead"]).status == LeadStatus.NEW


def test_disqualify_needs_a_reason(client, flow):
    lead = flow["lead"]
    client = login(client, flow["sdr"])
    response = client.post(url("lead_disqualify", lead.pk), {"reason": "", "note": "meh"})
    assert response.status_code == 400
    assert "Say why the lead is disqualified" in response.content.decode()
    assert refresh(lead).status == LeadStatus.NEW
    ok = client.post(url("lead_disqualify", lead.pk), {"reason": "no_budget", "note": "Next year"})
    assert ok.status_code == 302
    lead = refresh(lead)
    assert (lead.status, lead.disqualify_reason, lead.disqualify_note) == (
        "disqualified",
        "no_budget",
        "Next year",
    )
    page = client.get(url("lead_detail", lead.pk))
    assert [b["label"] for b in page.context["buttons"]] == ["Recycle"]


def test_qualify_with_bant(client, flow):
    lead = flow["lead"]
    client = login(client, flow["sdr"])
    missing = client.post(url("lead_qualify", lead.pk), {"budget": "5000"})
    assert missing.status_code == 400 and "Describe the need" in missing.content.decode()
    response = client.post(
        url("lead_qualify", lead.pk),
        {
            "budget": "25000",
            "authority": "decision_maker",
            "need": "Replace spreadsheets",
            "timeline": "2031-03-01",
        },
    )
    assert response.status_code == 302
    lead = refresh(lead)
    assert lead.status == LeadStatus.SALES_QUALIFIED
    assert lead.qualified_by == flow["sdr"] and lead.bant_budget == Decimal("25000")
    page = client.get(url("lead_detail", lead.pk))
    assert page.context["can_convert"]
    assert url("lead_convert", lead.pk) in page.content.decode()


def test_peer_cannot_touch_the_lead(client, flow):
    lead = flow["lead"]
    client = login(client, flow["bdr"])
    for name, data in (
        ("lead_status", {"status": "contacted"}),
        ("lead_disqualify", {"reason": "other"}),
        ("lead_qualify", {"need": "x"}),
        ("lead_assign", {"to_position": flow["bdr"].pk}),
        ("lead_convert", {"ae_position": flow["ae1"].pk}),
    ):
        assert client.post(url(name, lead.pk), data).status_code == 404, name
    assert refresh(lead).status == LeadStatus.NEW


def test_viewer_gets_403_on_lead_writes(client, flow):
    lead = flow["lead"]
    client = login(client, flow["mkt"])  # marketing sees every lead, changes none
    assert client.get(url("lead_detail", lead.pk)).status_code == 200
    assert client.post(url("lead_status", lead.pk), {"status": "contacted"}).status_code == 403
    assert client.post(url("lead_disqualify", lead.pk), {"reason": "other"}).status_code == 403
    assert client.get(url("lead_convert", lead.pk)).status_code == 403


def test_reassign(client, flow):
    lead = flow["lead"]
    response = login(client, flow["m1"]).post(
        url("lead_assign", lead.pk), {"to_position": flow["bdr"].pk, "note": "Cover"}
    )
    assert response.status_code == 302
    assert refresh(lead).owner_position == flow["bdr"]


# --- the hand-off ------------------------------------------------------------------------------


def qualified(flow) -> Lead:
    return services.lead_qualify(
        lead=flow["lead"], by=flow["sdr"].holder, need="A CRM", budget=Decimal("9000")
    )


def test_convert_page_lists_the_aes_of_the_sdrs_unit_and_shows_the_match(client, flow):
    lead = qualified(flow)
    make_account(flow["ae1"], name="ACME Corp.")
    response = login(client, flow["sdr"]).get(url("lead_convert", lead.pk))
    assert response.status_code == 200
    choices = list(response.context["form"].fields["ae_position"].queryset)
    # the SDR's unit (below Manager 1) and the chain above; not another manager's AEs
    assert flow["ae1"] in choices and flow["ae2"] in choices and flow["m1"] in choices
    assert flow["ae3"] not in choices and flow["ae4"] not in choices
    assert response.context["match_account"].name == "ACME Corp."
    assert "existing" in response.content.decode()


def test_convert_creates_the_opportunity_owned_by_the_ae(client, flow):
    lead = qualified(flow)
    response = login(client, flow["sdr"]).post(
        url("lead_convert", lead.pk),
        {"ae_position": flow["ae1"].pk, "opportunity_name": "Acme CRM"},
    )
    assert response.status_code == 302
    lead = refresh(lead)
    opportunity = Opportunity.objects.get(name="Acme CRM")
    assert opportunity.owner_position == flow["ae1"]
    assert opportunity.amount == Decimal("9000")
    assert lead.status == LeadStatus.CONVERTED and lead.received_by == flow["ae1"]
    assert lead.converted_opportunity == opportunity
    page = client.get(url("lead_detail", lead.pk)).content.decode()
    assert "Received" in page and "Handed over to an AE" in page


def test_convert_refuses_a_position_the_user_cannot_see(client, flow):
    lead = qualified(flow)
    response = login(client, flow["sdr"]).post(
        url("lead_convert", lead.pk), {"ae_position": flow["ae3"].pk}
    )
    assert response.status_code == 400
    assert refresh(lead).status == LeadStatus.SALES_QUALIFIED


def test_convert_needs_a_sales_qualified_lead(client, flow):
    response = login(client, flow["sdr"]).get(url("lead_convert", flow["lead"].pk))
    assert response.status_code == 302 and response["Location"] == url(
        "lead_detail", flow["lead"].pk
    )


def test_handoff_board(client, flow):
    lead = qualified(flow)
    html = login(client, flow["sdr"]).get(url("handoff")).content.decode()
    assert str(lead) in html and url("lead_convert", lead.pk) in html
    services.lead_convert(lead=lead, by=flow["sdr"].holder, ae_position=flow["ae1"])
    response = client.get(url("handoff"))
    assert response.context["waiting_count"] == 0
    assert [x.pk for x in response.context["recent"]] == [lead.pk]


# --- activities --------------------------------------------------------------------------------


def activity_data(target_kind: str, target, **extra):
    return {
        "target_kind": target_kind,
        "target_id": target.pk,
        "kind": "call",
        "subject": "Intro",
        **extra,
    }


def test_log_a_call_on_a_lead(client, flow):
    lead = flow["lead"]
    client = login(client, flow["sdr"])
    response = client.post(
        url("activity_log"), activity_data("lead", lead, outcome="connected", body="Went well")
    )
    assert response.status_code == 302 and response["Location"] == url("lead_detail", lead.pk)
    activity = Activity.objects.get(lead=lead)
    assert (activity.kind, activity.outcome, activity.body) == ("call", "connected", "Went well")
    lead = refresh(lead)
    assert lead.status == LeadStatus.CONTACTED and lead.first_touch_at is not None
    html = client.get(url("lead_detail", lead.pk)).content.decode()
    assert "Went well" in html and "Connected" in html


def test_log_on_every_kind_of_target(client, flow):
    from tests.crm.factories import make_contact, make_opportunity

    ae = flow["ae1"]
    account = make_account(ae)
    targets = {
        "account": account,
        "contact": make_contact(ae, account=account),
        "opportunity": make_opportunity(ae, account=account),
    }
    client = login(client, ae)
    for kind, target in targets.items():
        response = client.post(
            url("activity_log"), activity_data(kind, target, kind="note", subject=f"On {kind}")
        )
        assert response.status_code == 302, kind
        assert Activity.objects.filter(subject=f"On {kind}", **{kind: target}).exists()


def test_a_task_needs_a_due_date(client, flow):
    client = login(client, flow["sdr"])
    response = client.post(
        url("activity_log"), activity_data("lead", flow["lead"], kind="task", subject="Follow up")
    )
    assert response.status_code == 400
    assert "A task needs a due date" in response.content.decode()
    assert not Activity.objects.exists()


def test_htmx_activity_errors_come_back_in_place_and_success_reloads(client, flow):
    client = login(client, flow["sdr"])
    bad = client.post(
        url("activity_log"),
        activity_data("lead", flow["lead"], kind="task"),
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 200
    html = bad.content.decode()
    assert "<html" not in html and "A task needs a due date" in html
    good = client.post(
        url("activity_log"), activity_data("lead", flow["lead"]), HTTP_HX_REQUEST="true"
    )
    assert good["HX-Redirect"] == url("lead_detail", flow["lead"].pk)


def test_activity_on_a_record_outside_view_is_404_and_view_only_is_403(client, flow):
    assert (
        login(client, flow["bdr"])
        .post(url("activity_log"), activity_data("lead", flow["lead"]))
        .status_code
        == 404
    )
    assert (
        login(client, flow["mkt"])
        .post(url("activity_log"), activity_data("lead", flow["lead"]))
        .status_code
        == 403
    )
    assert (
        client.post(url("activity_log"), activity_data("planet", flow["lead"])).status_code == 404
    )
    assert not Activity.objects.exists()


def test_complete_a_task(client, flow):
    lead = flow["lead"]
    due = timezone.now() + dt.timedelta(days=1)
    task = services.activity_log(
        by=flow["sdr"].holder, kind="task", subject="Send deck", due_at=due, lead=lead
    )
    client = login(client, flow["sdr"])
    assert "Complete task" in client.get(url("lead_detail", lead.pk)).content.decode()
    assert login(client, flow["bdr"]).post(url("activity_complete", task.pk)).status_code == 404
    response = login(client, flow["sdr"]).post(
        url("activity_complete", task.pk), {"outcome": "connected"}
    )
    assert response.status_code == 302 and response["Location"] == url("lead_detail", lead.pk)
    task.refresh_from_db()
    assert task.done_at is not None and task.outcome == "connected"


def test_activity_next_must_be_local(client, flow):
    response = login(client, flow["sdr"]).post(
        url("activity_log"), activity_data("lead", flow["lead"], next="https://evil.example/")
    )
    assert response["Location"] == url("lead_detail", flow["lead"].pk)


# --- the queue ----------------------------------------------------------------------------------


def test_queue_orders_the_work_and_flags_late_leads(client, flow):
    sdr = flow["sdr"]
    old = make_lead(sdr, last_name="Old")
    Lead.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    sql = qualified(flow)
    done = make_lead(sdr, last_name="Gone")
    services.lead_set_status(lead=done, status=LeadStatus.DISQUALIFIED, reason="other", by=None)
    response = login(client, sdr).get(url("lead_queue"))
    assert response.status_code == 200
    order = [row["lead"].pk for row in response.context["rows"]]
    assert order[0] == sql.pk and order[1] == old.pk and done.pk not in order
    late = {row["lead"].pk: row["speed"]["late"] for row in response.context["rows"]}
    assert late[old.pk] is True
    assert "late" in response.content.decode()


def test_queue_quick_call_comes_back_to_the_queue(client, flow):
    lead = flow["lead"]
    client = login(client, flow["sdr"])
    queue = url("lead_queue")
    response = client.post(
        url("activity_log"),
        {
            "target_kind": "lead",
            "target_id": lead.pk,
            "kind": "call",
            "subject": "Call",
            "outcome": "no_answer",
            "next": queue,
        },
    )
    assert response["Location"] == queue
    assert refresh(lead).status == LeadStatus.CONTACTED


def test_manager_looks_at_a_reps_queue(client, flow):
    make_lead(flow["sdr"], last_name="Rep lead")
    client = login(client, flow["m1"])
    mine = client.get(url("lead_queue"))
    assert mine.context["rows"] == []
    assert flow["sdr"] in mine.context["reps"]
    theirs = client.get(url("lead_queue"), {"rep": flow["sdr"].pk})
    assert len(theirs.context["rows"]) == 2


def test_queue_needs_login(client):
    assert client.get(url("lead_queue")).status_code == 302
    assert client.get(url("handoff")).status_code == 302


def test_the_opportunity_page_carries_the_shared_activity_form(client, flow):
    from django.urls import NoReverseMatch

    from tests.crm.factories import make_opportunity

    opportunity = make_opportunity(flow["ae1"], account=make_account(flow["ae1"]))
    try:
        page = url("opportunity_detail", opportunity.pk)
    except NoReverseMatch:
        pytest.skip("the opportunity page is not built yet")
    html = login(client, flow["ae1"]).get(page).content.decode()
    assert 'name="target_kind" value="opportunity"' in html
    assert f'name="target_id" value="{opportunity.pk}"' in html


def test_reassign_offers_the_unit_and_refuses_another_managers_rep(client, flow):
    """The web form offers the positions the API accepts (``selectors.lead_assign_targets``)."""
    lead = make_lead(flow["bdr"], company="Initech")
    login(client, flow["bdr"])
    refused = client.post(url("lead_assign", lead.pk), {"to_position": flow["ae3"].pk})
    assert refused.status_code == 400 and refresh(lead).owner_position == flow["bdr"]
    response = client.post(url("lead_assign", lead.pk), {"to_position": flow["sdr"].pk})
    assert response.status_code == 302 and refresh(lead).owner_position == flow["sdr"]
