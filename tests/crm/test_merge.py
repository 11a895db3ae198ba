"""Merging duplicates: everything attached moves to the kept record, nothing is lost."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from revline.core.models import AuditEvent
from revline.crm import selectors, services
from revline.crm.merge import account_merge, contact_merge, lead_merge
from revline.crm.models import (
    Activity,
    Complaint,
    Contact,
    Lead,
    LeadStatusChange,
    ProspectListMember,
    Referral,
    SatisfactionResponse,
)
from revline.org.models import RecordShare
from revline.pipeline.models import Opportunity
from tests.crm.factories import make_account, make_contact, make_lead, make_opportunity

pytestmark = pytest.mark.django_db


def test_lead_merge_keeps_all_activities_and_history(org):
    owner, by = org["ae1"], org["ae1"].holder
    keep = make_lead(owner, email="ann@acme.test", phone="", title="CTO")
    gone = make_lead(owner, email="ann.able@acme.test", phone="555", title="CEO", custom={})
    for lead in (keep, gone):
        services.activity_log(by=by, kind="call", subject=f"Call {lead.pk}", lead=lead)
        services.activity_log(by=by, kind="note", subject=f"Note {lead.pk}", lead=lead)
    services.lead_set_status(lead=gone, status="qualifying", by=by)
    shared = services.prospect_list_create(by=by, name="Both", owner_position=owner)
    only_gone = services.prospect_list_create(by=by, name="Gone only", owner_position=owner)
    services.prospect_list_add(prospect_list=shared, leads=[keep, gone], by=by)
    services.prospect_list_add(prospect_list=only_gone, leads=[gone], by=by)
    services.referral_create(by=by, owner_position=owner, lead=gone, referrer_name="Pat")
    history_before = LeadStatusChange.objects.filter(lead__in=[keep, gone]).count()

    result = lead_merge(keep=keep, merge=gone, by=by)

    keep.refresh_from_db()
    gone.refresh_from_db()
    assert gone.merged_into == keep
    assert Activity.objects.filter(lead=keep).count() == 4
    assert not Activity.objects.filter(lead=gone).exists()
    assert LeadStatusChange.objects.filter(lead=keep).count() == history_before
    assert set(
        ProspectListMember.objects.filter(lead=keep).values_list("prospect_list__name", flat=True)
    ) == {"Both", "Gone only"}
    assert not ProspectListMember.objects.filter(lead=gone).exists()
    assert Referral.objects.get().lead == keep
    assert keep.phone == "555" and keep.title == "CTO"  # blanks filled, values kept
    assert "phone" in result.filled and result.moved["activity.lead"] == 2
    # merged records leave the lists
    assert list(selectors.leads_list(user=by)) == [keep]
    actions = set(AuditEvent.objects.values_list("action", "object_id"))
    assert ("lead.merge", keep.pk) in actions and ("lead.merged_into", gone.pk) in actions


def test_account_merge_moves_everything_attached(org, sales_org):
    owner, by = org["ae1"], org["ae1"].holder
    keep = make_account(owner, name="Acme Corp.", sector="")
    gone = make_account(owner, name="ACME Corporation", sector="Retail", website="acme.test")
    child = make_account(owner, name="Acme Labs", parent=gone)
    contact = make_contact(owner, account=gone)
    deal = make_opportunity(owner, account=gone)
    lead = make_lead(owner, account=gone)
    services.activity_log(by=by, kind="meeting", subject="Kick-off", account=gone)
    services.complaint_create(by=by, owner_position=org["m1"], account=gone, subject="Late")
    services.survey_record(by=by, owner_position=org["m1"], account=gone, kind="nps", score=9)
    RecordShare.objects.create(content_type_id=_ct(gone), object_id=gone.pk, position=org["ae2"])

    account_merge(keep=keep, merge=gone, by=by)

    keep.refresh_from_db()
    assert Contact.objects.get(pk=contact.pk).account == keep
    assert Opportunity.objects.get(pk=deal.pk).account == keep
    assert Lead.objects.get(pk=lead.pk).account == keep
    assert type(child).objects.get(pk=child.pk).parent == keep
    assert Activity.objects.get().account == keep
    assert Complaint.objects.get().account == keep
    assert SatisfactionResponse.objects.get().account == keep
    assert RecordShare.objects.get().object_id == keep.pk
    assert (keep.sector, keep.website, keep.name) == ("Retail", "acme.test", "Acme Corp.")


def test_a_parent_that_is_merged_away(org):
    owner, by = org["ae1"], org["ae1"].holder
    gone = make_account(owner, name="Holding")
    keep = make_account(owner, name="Holding Ltd", parent=gone)
    account_merge(keep=keep, merge=gone, by=by)
    keep.refresh_from_db()
    assert keep.parent is None


def test_contact_merge(org, sales_org):
    owner, by = org["ae1"], org["ae1"].holder
    keep = make_contact(owner, email="a@x.test", phone="")
    gone = make_contact(owner, email="a@x.test", phone="123")
    deal = make_opportunity(owner, contact=gone)
    services.activity_log(by=by, kind="email", subject="Hi", contact=gone)
    contact_merge(keep=keep, merge=gone, by=by)
    assert Opportunity.objects.get(pk=deal.pk).contact == keep
    assert Activity.objects.get().contact == keep
    keep.refresh_from_db()
    assert keep.phone == "123"


def test_merging_needs_change_rights_on_both(org):
    mine = make_lead(org["ae1"])
    theirs = make_lead(org["ae3"])
    with pytest.raises(ValidationError, match="right to change both"):
        lead_merge(keep=mine, merge=theirs, by=org["ae1"].holder)
    with pytest.raises(ValidationError, match="right to change both"):
        lead_merge(keep=theirs, merge=mine, by=org["mkt"].holder)  # sees both, changes neither
    lead_merge(keep=mine, merge=theirs, by=org["vp"].holder)  # above both
    assert Lead.objects.get(pk=theirs.pk).merged_into_id == mine.pk


def test_merge_refuses_nonsense(org):
    by = org["ae1"].holder
    a, b, c = make_lead(org["ae1"]), make_lead(org["ae1"]), make_lead(org["ae1"])
    with pytest.raises(ValidationError, match="itself"):
        lead_merge(keep=a, merge=a, by=by)
    lead_merge(keep=a, merge=b, by=by)
    with pytest.raises(ValidationError, match="already merged"):
        lead_merge(keep=c, merge=b, by=by)
    with pytest.raises(ValidationError, match="same kind"):
        lead_merge(keep=a, merge=make_account(org["ae1"]), by=by)


def test_chains_point_at_the_last_survivor(org):
    by = org["ae1"].holder
    a, b, c = make_lead(org["ae1"]), make_lead(org["ae1"]), make_lead(org["ae1"])
    lead_merge(keep=b, merge=c, by=by)
    lead_merge(keep=a, merge=b, by=by)
    assert Lead.objects.get(pk=c.pk).merged_into_id == a.pk
    assert Lead.objects.get(pk=b.pk).merged_into_id == a.pk


def _ct(instance):
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(instance).pk
