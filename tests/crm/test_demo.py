"""``revline demo``'s sales data: the Maven accounts, products and 8,800 opportunities as the
files give them, a stage history consistent with their dates, the generated CRM data on top
(marked as generated), and a second run that changes nothing.

Loading the demo takes a few seconds, so this module loads it once (``demo``) inside a
transaction that is rolled back when the module is done; each test runs in a savepoint of it.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from io import StringIO
from itertools import pairwise
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

import revline
from revline.core.models import AuditEvent
from revline.crm.choices import LEAD_TRANSITIONS, CustomerStatus, LeadStatus
from revline.crm.models import (
    Account,
    Activity,
    Campaign,
    Complaint,
    Contact,
    Lead,
    LeadStatusChange,
    ProspectList,
    Referral,
    SatisfactionResponse,
)
from revline.org.choices import RoleType
from revline.org.models import Position
from revline.pipeline.choices import (
    ApprovalStatus,
    OpportunityStatus,
    OpportunityType,
    QuoteStatus,
    StageKind,
)
from revline.pipeline.models import (
    ApprovalRequest,
    Opportunity,
    PriceBook,
    Product,
    Quote,
    Stage,
    StageChange,
)

pytestmark = pytest.mark.django_db

MAVEN = Path(revline.__file__).parent / "demo_data" / "maven_crm"


def maven(name: str) -> list[dict[str, str]]:
    with (MAVEN / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """``revline demo`` once for the module; rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def test_maven_accounts_and_products(demo):
    rows = maven("accounts.csv")
    accounts = {a.external_id: a for a in Account.objects.filter(is_generated=False)}
    assert len(accounts) == 85
    assert set(accounts) == {r["account"] for r in rows}
    deals = maven("sales_pipeline.csv")
    for row in rows:
        account = accounts[row["account"]]
        assert account.name == row["account"]
        assert account.annual_revenue == Decimal(row["revenue"]) * 1_000_000  # millions in file
        assert account.employees == int(row["employees"])
        assert account.year_established == int(row["year_established"])
        assert account.sector != "technolgy"
        parent = row["subsidiary_of"]
        assert (account.parent.name if account.parent else "") == parent
        mine = [d for d in deals if d["account"] == row["account"]]
        counts = Counter(d["sales_agent"] for d in mine)
        owner = min(counts, key=lambda a: (-counts[a], a))
        assert account.owner_position.holder.full_name == owner
        assert account.owner_position.role == RoleType.AE
        assert account.region_id == account.owner_position.region_id
        won = sorted(d["close_date"] for d in mine if d["deal_stage"] == "Won")
        if won:
            assert account.customer_status == CustomerStatus.CUSTOMER
            assert account.customer_since == dt.date.fromisoformat(won[0])
        else:
            assert account.customer_status == CustomerStatus.PROSPECT

    products = {p.name: p for p in Product.objects.all()}
    assert {r["product"] for r in maven("products.csv")} == set(products)
    for row in maven("products.csv"):
        assert products[row["product"]].list_price == Decimal(row["sales_price"])
        assert products[row["product"]].series == row["series"]
    assert {p.name for p in products.values() if p.is_subscription} == {
        "GTX Pro",
        "GTX Plus Pro",
        "MG Advanced",
        "GTK 500",
    }
    book = PriceBook.objects.get(name="Standard")
    assert book.is_default
    assert {e.product.name: e.unit_price for e in book.entries.select_related("product")} == {
        p.name: p.list_price for p in products.values()
    }


def test_maven_opportunities_as_in_the_file(demo):
    rows = {r["opportunity_id"]: r for r in maven("sales_pipeline.csv")}
    opportunities = {
        o["external_id"]: o
        for o in Opportunity.objects.filter(is_generated=False).values(
            "external_id",
            "status",
            "type",
            "amount",
            "engaged_on",
            "closed_on",
            "close_date",
            "loss_reason",
            "account__name",
            "product__name",
            "product__list_price",
            "owner_position__role",
            "owner_position__holder__full_name",
            "stage__kind",
        )
    }
    assert len(opportunities) == 8800
    assert set(opportunities) == set(rows)
    expected = Counter(
        {"Won": "won", "Lost": "lost"}.get(r["deal_stage"], "open") for r in rows.values()
    )
    assert Counter(o["status"] for o in opportunities.values()) == expected
    assert expected == {"won": 4238, "lost": 2473, "open": 2089}
    for oid, row in rows.items():
        o = opportunities[oid]
        assert o["owner_position__holder__full_name"] == row["sales_agent"], oid
        assert o["owner_position__role"] == RoleType.AE
        assert o["type"] == OpportunityType.NEW_BUSINESS
        assert (o["account__name"] or "") == row["account"]
        assert o["product__name"].replace(" ", "") == row["product"].replace(" ", "")
        assert o["engaged_on"] == (
            dt.date.fromisoformat(row["engage_date"]) if row["engage_date"] else None
        )
        assert o["stage__kind"] == o["status"]
        if row["deal_stage"] in ("Won", "Lost"):
            close = dt.date.fromisoformat(row["close_date"])
            assert o["closed_on"] == close
            assert o["close_date"] == close
        else:
            assert o["closed_on"] is None
            assert o["close_date"] is not None  # an expected close
        if row["deal_stage"] == "Won":
            assert o["amount"] == Decimal(row["close_value"])
            assert o["loss_reason"] == ""
        else:  # the file has no value: the product's list price
            assert o["amount"] == o["product__list_price"]
        if row["deal_stage"] == "Lost":
            assert o["loss_reason"]


def test_stage_history_follows_the_dates(demo):
    opportunities = {
        o["id"]: o
        for o in Opportunity.objects.values(
            "id", "stage_id", "status", "amount", "engaged_on", "closed_on", "created_at"
        )
    }
    stage_kind = dict(Stage.objects.values_list("id", "kind"))
    history = defaultdict(list)
    for change in StageChange.objects.order_by("opportunity_id", "changed_at", "id").values(
        "opportunity_id", "from_stage_id", "to_stage_id", "changed_at", "amount"
    ):
        history[change["opportunity_id"]].append(change)
    assert set(history) == set(opportunities)
    for pk, o in opportunities.items():
        changes = history[pk]
        first, last = changes[0], changes[-1]
        assert first["from_stage_id"] is None, pk
        assert first["changed_at"] == o["created_at"]
        for before, after in pairwise(changes):
            assert after["from_stage_id"] == before["to_stage_id"], pk
            assert after["changed_at"] > before["changed_at"], pk
        assert last["to_stage_id"] == o["stage_id"]
        if o["engaged_on"] is not None:  # engaged: the deal entered discovery that day
            assert local_day(changes[1]["changed_at"]) == o["engaged_on"], pk
        else:  # still prospecting (or a renewal not worked yet)
            assert len(changes) == 1
        if o["status"] == OpportunityStatus.OPEN:
            assert o["closed_on"] is None
            assert all(stage_kind[c["to_stage_id"]] == StageKind.OPEN for c in changes)
        else:
            assert stage_kind[last["to_stage_id"]] == o["status"]
            assert local_day(last["changed_at"]) == o["closed_on"], pk
            assert all(stage_kind[c["to_stage_id"]] == StageKind.OPEN for c in changes[:-1])
        if o["status"] == OpportunityStatus.WON:
            assert last["amount"] == o["amount"]


def test_generated_data_is_marked(demo):
    generated = {
        Contact: 170,
        Campaign: 5,
        Lead: 300,
        Activity: 3000,
        Quote: 100,
        Referral: 10,
        Complaint: 20,
        SatisfactionResponse: 85,
    }
    for model, at_least in generated.items():
        assert model.objects.filter(is_generated=True).count() >= at_least, model
        assert not model.objects.filter(is_generated=False).exists(), model
    assert Account.objects.filter(is_generated=True).count() == 0
    assert Campaign.objects.filter(cost__gt=0).count() >= 5
    assert Contact.objects.filter(email__endswith=".example").count() == Contact.objects.count()
    for account in Account.objects.all():
        assert 2 <= account.contacts.count() <= 4
    assert set(Activity.objects.values_list("kind", flat=True)) == {
        "call",
        "email",
        "meeting",
        "discovery_call",
        "demo",
        "note",
        "task",
    }
    assert Activity.objects.filter(kind="task", due_at__isnull=False, done_at__isnull=True).exists()
    assert ProspectList.objects.filter(owner_position__role=RoleType.BDR).count() == 3
    # Complaints are owned by managers or customer success.
    assert set(Complaint.objects.values_list("owner_position__role", flat=True)) <= {
        RoleType.SALES_MANAGER,
        RoleType.CUSTOMER_SUCCESS,
    }
    customers = set(
        Account.objects.filter(customer_status=CustomerStatus.CUSTOMER).values_list("id", flat=True)
    )
    assert set(SatisfactionResponse.objects.values_list("account_id", flat=True)) == customers
    assert set(SatisfactionResponse.objects.values_list("kind", flat=True)) == {"csat", "nps"}


def test_quotes_and_approvals(demo):
    statuses = set(Quote.objects.values_list("status", flat=True))
    assert {QuoteStatus.PENDING_APPROVAL, QuoteStatus.SENT, QuoteStatus.ACCEPTED} <= statuses
    for quote in Quote.objects.prefetch_related("lines").select_related("opportunity"):
        assert quote.number == f"Q-{quote.pk:06d}"
        assert quote.owner_position_id == quote.opportunity.owner_position_id
        lines = list(quote.lines.all())
        assert lines and quote.subtotal == sum(line.line_total for line in lines)
        if quote.status == QuoteStatus.ACCEPTED:
            assert quote.opportunity.status == OpportunityStatus.WON
            assert quote.total == quote.opportunity.amount
    pending = Quote.objects.filter(status=QuoteStatus.PENDING_APPROVAL)
    assert 0 < pending.count() <= 12
    for quote in pending:
        waiting = quote.approvals.filter(status=ApprovalStatus.PENDING)
        assert waiting.count() == 1
        approver = waiting.get().approver_position
        assert approver.role in (RoleType.SALES_MANAGER, RoleType.VP_SALES)
    assert ApprovalRequest.objects.filter(status=ApprovalStatus.APPROVED).exists()


def test_renewals_of_recent_subscription_deals(demo):
    renewals = Opportunity.objects.filter(type=OpportunityType.RENEWAL).select_related(
        "renewal_of", "product"
    )
    assert renewals.count() > 100
    recent = Opportunity.objects.filter(
        status=OpportunityStatus.WON,
        product__is_subscription=True,
        closed_on__gte=dt.date(2017, 10, 1),
    )
    assert set(renewals.values_list("renewal_of_id", flat=True)) == set(
        recent.values_list("id", flat=True)
    )
    for renewal in renewals:
        won = renewal.renewal_of
        assert renewal.is_generated and renewal.status == OpportunityStatus.OPEN
        assert renewal.owner_position_id == won.owner_position_id
        assert renewal.account_id == won.account_id and renewal.amount == won.amount
        assert renewal.term_months == 12
        expected = won.closed_on.replace(year=won.closed_on.year + 1)
        assert renewal.close_date == expected
        assert renewal.external_id == f"{won.external_id}-renewal"


def test_leads_have_a_true_history(demo):
    leads = {lead.pk: lead for lead in Lead.objects.all()}
    assert set(lead.status for lead in leads.values()) == set(LeadStatus.values)
    changes = defaultdict(list)
    for change in LeadStatusChange.objects.order_by("lead_id", "at", "id"):
        changes[change.lead_id].append(change)
    assert set(changes) == set(leads)
    for pk, lead in leads.items():
        steps = changes[pk]
        assert (steps[0].from_status, steps[0].to_status) == ("", LeadStatus.NEW)
        assert steps[0].at == lead.created_at
        for before, after in pairwise(steps):
            assert after.from_status == before.to_status
            assert after.at > before.at
            assert (
                after.to_status == after.from_status
                or after.to_status in LEAD_TRANSITIONS[after.from_status]
                or after.to_status == LeadStatus.CONVERTED
            )
        assert steps[-1].to_status == lead.status
        assert steps[-1].owner_position_id == lead.owner_position_id
        if lead.status not in (LeadStatus.NEW,):
            assert lead.first_touch_at is not None and lead.first_touch_at > lead.created_at
        if lead.status == LeadStatus.DISQUALIFIED:
            assert lead.disqualify_reason
    owners = set(
        Position.objects.filter(
            pk__in=[lead.owner_position_id for lead in leads.values()]
        ).values_list("role", flat=True)
    )
    assert owners == {RoleType.BDR, RoleType.SDR}

    converted = Lead.objects.filter(status=LeadStatus.CONVERTED).select_related(
        "converted_opportunity", "received_by", "qualified_by"
    )
    assert converted.count() == 90
    for lead in converted:
        deal = lead.converted_opportunity
        assert deal is not None and not deal.is_generated  # a Maven deal
        assert deal.lead_id == lead.pk
        assert lead.received_by_id == deal.owner_position_id
        assert lead.qualified_by.role == RoleType.SDR
        assert lead.converted_at == deal.created_at
        assert lead.converted_account_id == deal.account_id
    referred = Lead.objects.filter(source="referral")
    assert referred.exists()
    assert set(Referral.objects.values_list("lead_id", flat=True)) == set(
        referred.values_list("id", flat=True)
    )
    assert Lead.objects.filter(source="campaign", campaign__isnull=False).exists()


def snapshot() -> dict[str, list[dict]]:
    rows = {}
    for app in ("crm", "pipeline", "org"):
        for model in apps.get_app_config(app).get_models():
            rows[model.__name__] = list(model.objects.order_by("pk").values())
    rows["AuditEvent"] = list(AuditEvent.objects.order_by("pk").values())
    return rows


def test_one_summary_audit_event_and_a_second_run_changes_nothing(demo):
    assert "8,800 opportunities" in demo
    event = AuditEvent.objects.get(action="demo.load")
    assert event.changes["created"][1]["opportunities"] == 8800
    assert not AuditEvent.objects.filter(action__startswith="opportunity.").exists()
    before = snapshot()
    out = StringIO()
    call_command("demo", stdout=out)
    assert "Demo pipeline and CRM data already loaded: nothing to change." in out.getvalue()
    assert snapshot() == before
