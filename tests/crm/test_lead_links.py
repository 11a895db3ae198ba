"""The lead links kept without a database constraint (a bulk import pays a foreign-key trigger
per row for each constrained link, even an empty one) are still emptied when what they point
to is deleted: Django applies their ``on_delete`` itself."""

from __future__ import annotations

import pytest

from revline.crm import services
from revline.crm.models import Account, Contact, Lead, LeadStatusChange
from revline.org.choices import RoleType
from revline.org.models import Position, User
from revline.pipeline.models import Opportunity
from tests.crm.factories import make_account, make_contact, make_lead, make_opportunity
from tests.org.factories import make_position

pytestmark = pytest.mark.django_db


def test_deleting_a_link_target_empties_the_link(org):
    owner = org["ae1"]
    sdr = make_position(RoleType.SDR, reports_to=org["m1"], title="SDR")
    ae = make_position(RoleType.AE, reports_to=org["m1"], title="AE spare")
    account = make_account(owner, name="Linked Ltd")
    contact = make_contact(owner, account=account, last_name="Linked")
    deal = make_opportunity(owner, account=account, name="Linked deal")
    kept = make_lead(owner)
    lead = make_lead(owner)
    Lead.objects.filter(pk=lead.pk).update(
        qualified_by=sdr,
        received_by=ae,
        converted_account=account,
        converted_contact=contact,
        converted_opportunity=deal,
        merged_into=kept,
    )

    Position.objects.filter(pk__in=[sdr.pk, ae.pk]).delete()
    Opportunity.objects.filter(pk=deal.pk).delete()
    Contact.objects.filter(pk=contact.pk).delete()
    Account.objects.filter(pk=account.pk).delete()
    Lead.objects.filter(pk=kept.pk).delete()

    row = Lead.objects.values(
        "qualified_by",
        "received_by",
        "converted_account",
        "converted_contact",
        "converted_opportunity",
        "merged_into",
    ).get(pk=lead.pk)
    assert row == dict.fromkeys(row)


def test_deleting_the_user_or_position_of_a_status_change_empties_it(org):
    holder = User.objects.create_user(email="gone@example.test", password="x")
    spare = make_position(RoleType.SDR, reports_to=org["m1"], holder=holder, title="SDR spare")
    lead = make_lead(org["ae1"])
    services.lead_set_status(lead=lead, status="contacted", by=holder)
    change = LeadStatusChange.objects.get(lead=lead, to_status="contacted")
    assert change.by_id == holder.pk
    LeadStatusChange.objects.filter(pk=change.pk).update(owner_position=spare)

    Position.objects.filter(pk=spare.pk).delete()
    User.objects.filter(pk=holder.pk).delete()

    assert LeadStatusChange.objects.values("by", "owner_position").get(pk=change.pk) == {
        "by": None,
        "owner_position": None,
    }


def test_a_link_to_a_row_deleted_behind_djangos_back_does_not_block_an_edit(org):
    """Without a database constraint a raw delete can leave a dangling id: the lead still takes
    an edit (the flow's links are not the edit's to validate)."""
    from revline.crm import services as crm

    lead = make_lead(org["ae1"])
    Lead.objects.filter(pk=lead.pk).update(qualified_by_id=987654, converted_account_id=987654)
    crm.lead_update(lead=Lead.objects.get(pk=lead.pk), by=None, title="CFO")
    assert Lead.objects.get(pk=lead.pk).title == "CFO"
