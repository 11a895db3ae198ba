"""The CRM's writes: the lead flow, routing, the hand-off, activities, lists, custom fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from revline.core.models import AuditEvent
from revline.crm import selectors, services
from revline.crm.choices import CustomFieldType, LeadStatus, RoutingMethod
from revline.crm.custom_fields import custom_field_save, custom_values_clean
from revline.crm.models import (
    Account,
    Contact,
    Lead,
    LeadStatusChange,
    RoutingMember,
    RoutingRule,
)
from revline.org.choices import RoleType
from revline.pipeline.choices import OpportunityStatus, OpportunityType
from tests.crm.factories import make_account, make_contact, make_lead
from tests.org.factories import RegionFactory, TeamFactory, make_position

pytestmark = pytest.mark.django_db


def statuses(lead):
    return list(
        LeadStatusChange.objects.filter(lead=lead)
        .exclude(from_status="", to_status="")
        .values_list("from_status", "to_status")
    )


class TestLeadFlow:
    def test_create_records_new_status_and_the_bdr_who_generated_it(self, sales_org):
        bdr = sales_org["bdr"]
        lead = services.lead_create(by=bdr.holder, last_name="Ng", company="Acme", route=False)
        assert lead.owner_position == bdr
        assert lead.generated_by == bdr
        assert lead.status == LeadStatus.NEW
        assert statuses(lead) == [("", "new")]
        assert AuditEvent.objects.filter(action="lead.create", object_id=lead.pk).exists()

    def test_a_lead_needs_something_to_identify_it(self, sales_org):
        with pytest.raises(ValidationError):
            services.lead_create(by=sales_org["bdr"].holder, route=False)

    def test_transitions_are_enforced(self, sales_org):
        lead = make_lead(sales_org["sdr"])
        by = sales_org["sdr"].holder
        with pytest.raises(ValidationError, match="cannot become"):
            services.lead_set_status(lead=lead, status=LeadStatus.SALES_QUALIFIED, by=by)
        with pytest.raises(ValidationError):
            services.lead_set_status(lead=lead, status=LeadStatus.CONVERTED, by=by)
        services.lead_set_status(lead=lead, status=LeadStatus.CONTACTED, by=by)
        services.lead_set_status(lead=lead, status=LeadStatus.QUALIFYING, by=by)
        assert statuses(lead) == [("", "new"), ("new", "contacted"), ("contacted", "qualifying")]

    def test_disqualify_needs_a_reason_and_can_be_recycled(self, sales_org):
        lead = make_lead(sales_org["sdr"])
        by = sales_org["sdr"].holder
        with pytest.raises(ValidationError, match="why"):
            services.lead_set_status(lead=lead, status=LeadStatus.DISQUALIFIED, by=by)
        services.lead_set_status(
            lead=lead, status=LeadStatus.DISQUALIFIED, by=by, reason="no_budget"
        )
        lead.refresh_from_db()
        assert lead.disqualify_reason == "no_budget"
        services.lead_set_status(lead=lead, status=LeadStatus.RECYCLED, by=by)
        lead.refresh_from_db()
        assert lead.status == LeadStatus.RECYCLED

    def test_a_touch_sets_first_touch_and_contacted(self, sales_org):
        created = timezone.now() - dt.timedelta(hours=5)
        lead = services.lead_create(
            by=None, owner_position=sales_org["sdr"], last_name="Ode", route=False, at=created
        )
        services.activity_log(
            by=sales_org["sdr"].holder, kind="note", subject="research", lead=lead
        )
        lead.refresh_from_db()
        assert lead.first_touch_at is None and lead.status == LeadStatus.NEW
        touched = timezone.now() - dt.timedelta(hours=2)
        services.activity_log(
            by=sales_org["sdr"].holder, kind="call", subject="c", lead=lead, occurred_at=touched
        )
        lead.refresh_from_db()
        assert lead.first_touch_at == touched
        assert lead.status == LeadStatus.CONTACTED
        assert round((lead.first_touch_at - lead.created_at) / dt.timedelta(hours=1)) == 3

    def test_qualify_records_bant_and_the_sdr(self, sales_org):
        lead = make_lead(sales_org["bdr"])
        with pytest.raises(ValidationError, match="need"):
            services.lead_qualify(lead=lead, by=sales_org["sdr"].holder)
        services.lead_qualify(
            lead=lead,
            by=sales_org["sdr"].holder,
            budget=Decimal("50000"),
            authority="decision_maker",
            need="Replace spreadsheets",
            timeline=dt.date(2027, 3, 1),
        )
        lead.refresh_from_db()
        assert lead.status == LeadStatus.SALES_QUALIFIED
        assert lead.qualified_by == sales_org["sdr"]
        assert lead.bant_budget == Decimal("50000")


class TestConvert:
    def qualified(self, sales_org, **fields):
        lead = make_lead(sales_org["sdr"], **fields)
        return services.lead_qualify(
            lead=lead, by=sales_org["sdr"].holder, need="n", budget=Decimal("12000")
        )

    def test_creates_account_contact_and_opportunity_for_the_ae(self, sales_org):
        lead = self.qualified(sales_org, company="Zephyr Labs", first_name="Ann", last_name="Lee")
        result = services.lead_convert(
            lead=lead, by=sales_org["sdr"].holder, ae_position=sales_org["ae1"]
        )
        assert not result.account_matched and not result.contact_matched
        assert result.account.owner_position == sales_org["ae1"]
        assert result.contact.account == result.account
        opp = result.opportunity
        assert opp.owner_position == sales_org["ae1"]
        assert opp.type == OpportunityType.NEW_BUSINESS
        assert opp.status == OpportunityStatus.OPEN
        assert opp.amount == Decimal("12000")
        assert opp.stage.name == "Prospecting"
        assert opp.stage_changes.count() == 1
        lead.refresh_from_db()
        assert lead.status == LeadStatus.CONVERTED
        assert lead.received_by == sales_org["ae1"]
        assert lead.converted_opportunity == opp
        assert lead.handed_over_at is not None

    def test_matches_an_existing_account_fuzzily_and_a_contact_by_email(self, sales_org):
        account = make_account(sales_org["ae3"], name="ACME Corporation")
        contact = make_contact(sales_org["ae3"], account=account, email="ann@acme.test")
        lead = self.qualified(sales_org, company="Acme Corp.", email="ANN@acme.test")
        result = services.lead_convert(
            lead=lead, by=sales_org["sdr"].holder, ae_position=sales_org["ae1"]
        )
        assert result.account_matched and result.account == account
        assert result.contact_matched and result.contact == contact
        assert Account.objects.count() == 1 and Contact.objects.count() == 1

    def test_a_different_company_is_not_matched(self, sales_org):
        make_account(sales_org["ae3"], name="Acme Corporation")
        lead = self.qualified(sales_org, company="Apex Dynamics")
        result = services.lead_convert(
            lead=lead, by=sales_org["sdr"].holder, ae_position=sales_org["ae1"]
        )
        assert not result.account_matched

    def test_only_a_sales_qualified_lead_converts_and_only_to_a_seller(self, sales_org):
        lead = make_lead(sales_org["sdr"])
        with pytest.raises(ValidationError, match="qualif"):
            services.lead_convert(lead=lead, by=None, ae_position=sales_org["ae1"])
        lead = self.qualified(sales_org)
        with pytest.raises(ValidationError):
            services.lead_convert(lead=lead, by=None, ae_position=sales_org["bdr"])

    def test_is_one_transaction(self, sales_org, monkeypatch):
        from revline.pipeline import services as pipeline_services

        lead = self.qualified(sales_org, company="Rollback Inc")

        def boom(**kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr(pipeline_services, "opportunity_create", boom)
        with pytest.raises(RuntimeError):
            services.lead_convert(lead=lead, by=None, ae_position=sales_org["ae1"])
        assert not Account.objects.filter(name="Rollback Inc").exists()
        lead.refresh_from_db()
        assert lead.status == LeadStatus.SALES_QUALIFIED


class TestRouting:
    def rule(self, method, positions, **fields):
        rule = RoutingRule.objects.create(name=method, method=method, **fields)
        for p in positions:
            RoutingMember.objects.create(rule=rule, position=p)
        return rule

    def test_round_robin_takes_turns_and_skips_opted_out(self, sales_org):
        s1 = sales_org["sdr"]
        s2 = make_position(RoleType.SDR, reports_to=sales_org["m1"])
        s3 = make_position(RoleType.SDR, reports_to=sales_org["m1"])
        rule = self.rule(RoutingMethod.ROUND_ROBIN, [s1, s2, s3])
        owners = [services.lead_create(by=None, last_name=f"L{i}").owner_position for i in range(4)]
        assert owners == [s1, s2, s3, s1]
        rule.members.filter(position=s2).update(opted_out=True)
        owners = [services.lead_create(by=None, last_name=f"M{i}").owner_position for i in range(2)]
        assert owners == [s3, s1]

    def test_territory_routes_by_region(self, sales_org):
        east, west = RegionFactory(), RegionFactory()
        s_east = make_position(RoleType.SDR, reports_to=sales_org["m1"], region=east)
        s_west = make_position(RoleType.SDR, reports_to=sales_org["m1"], region=west)
        self.rule(RoutingMethod.TERRITORY, [s_east, s_west])
        assert services.lead_create(by=None, last_name="W", region=west).owner_position == s_west
        assert services.lead_create(by=None, last_name="E", region=east).owner_position == s_east

    def test_capacity_fills_the_member_with_most_room(self, sales_org):
        s1 = sales_org["sdr"]
        s2 = make_position(RoleType.SDR, reports_to=sales_org["m1"])
        rule = self.rule(RoutingMethod.CAPACITY, [s1, s2])
        rule.members.filter(position=s1).update(capacity=1)
        rule.members.filter(position=s2).update(capacity=2)
        owners = [services.lead_create(by=None, last_name=f"C{i}").owner_position for i in range(3)]
        assert sorted(p.pk for p in owners) == sorted([s1.pk, s2.pk, s2.pk])
        # everyone is full: the rule does not apply, the lead stays with its creator
        lead = services.lead_create(by=sales_org["bdr"].holder, last_name="Over")
        assert lead.owner_position == sales_org["bdr"]

    def test_rule_filters_by_source_and_team_default_members(self, sales_org):
        team = TeamFactory()
        s_team = make_position(RoleType.SDR, reports_to=sales_org["m1"], team=team)
        RoutingRule.objects.create(
            name="web", method=RoutingMethod.ROUND_ROBIN, source="web", team=team
        )
        assert services.lead_create(by=None, last_name="A", source="web").owner_position == s_team
        lead = services.lead_create(by=sales_org["bdr"].holder, last_name="B", source="event")
        assert lead.owner_position == sales_org["bdr"]


class TestActivitiesAndLists:
    def test_task_needs_due_date_and_completes(self, sales_org):
        lead = make_lead(sales_org["sdr"])
        by = sales_org["sdr"].holder
        with pytest.raises(ValidationError):
            services.activity_log(by=by, kind="task", subject="call back", lead=lead)
        task = services.activity_log(
            by=by, kind="task", subject="call back", lead=lead, due_at=timezone.now()
        )
        assert task.done_at is None
        services.activity_complete(activity=task, by=by, outcome="completed")
        task.refresh_from_db()
        assert task.done_at is not None and task.outcome == "completed"

    def test_activity_needs_a_target(self, sales_org):
        with pytest.raises(ValidationError):
            services.activity_log(by=sales_org["ae1"].holder, kind="call", subject="x")

    def test_prospect_lists(self, sales_org):
        bdr = sales_org["bdr"]
        plist = services.prospect_list_create(by=bdr.holder, name="Fintech Q1")
        assert plist.owner_position == bdr
        lead = services.prospect_add(
            prospect_list=plist, by=bdr.holder, last_name="Pro", company="FinCo", sector="Fintech"
        )
        assert lead.source == "outbound" and lead.owner_position == bdr
        other = make_lead(bdr, sector="Fintech")
        make_lead(bdr, sector="Retail")
        assert (
            services.prospect_list_add(prospect_list=plist, leads=[lead, other], by=bdr.holder) == 1
        )
        services.prospect_list_update(
            prospect_list=plist, by=bdr.holder, rule={"sector": "fintech"}
        )
        assert services.prospect_list_refresh(prospect_list=plist, by=bdr.holder) == 0
        third = make_lead(bdr, sector="Fintech")
        assert services.prospect_list_refresh(prospect_list=plist, by=bdr.holder) == 1
        assert plist.members.filter(lead=third, how="rule").exists()
        with pytest.raises(ValidationError):
            services.prospect_list_update(prospect_list=plist, by=bdr.holder, rule={"bogus": 1})

    def test_member_count_counts_only_leads_the_user_sees(self, sales_org):
        bdr, m1 = sales_org["bdr"], sales_org["m1"]
        plist = services.prospect_list_create(by=bdr.holder, name="Mixed")
        mine = make_lead(bdr)
        moved = make_lead(bdr)
        services.prospect_list_add(prospect_list=plist, leads=[mine, moved], by=bdr.holder)
        # the lead goes to another manager's rep: it stays on the list, out of the BDR's sight
        Lead.objects.filter(pk=moved.pk).update(owner_position=sales_org["ae3"])
        counts = {
            who: selectors.prospect_lists(user=who.holder).get(pk=plist.pk).member_count
            for who in (bdr, m1, sales_org["vp"])
        }
        assert counts == {bdr: 1, m1: 1, sales_org["vp"]: 2}
        members = selectors.prospect_list_members(user=bdr.holder, prospect_list=plist)
        assert [m.lead_id for m in members] == [mine.pk]

    def test_refresh_adds_only_leads_the_user_sees(self, sales_org):
        bdr = sales_org["bdr"]
        plist = services.prospect_list_create(
            by=bdr.holder, name="All retail", rule={"sector": "Retail"}
        )
        make_lead(sales_org["ae3"], sector="Retail")  # another manager's rep: invisible to the BDR
        assert services.prospect_list_refresh(prospect_list=plist, by=bdr.holder) == 0


class TestServiceRecords:
    def test_complaints_are_owned_by_managers_or_customer_success(self, sales_org):
        account = make_account(sales_org["ae1"])
        with pytest.raises(ValidationError):
            services.complaint_create(
                by=None, owner_position=sales_org["ae1"], account=account, subject="Late"
            )
        complaint = services.complaint_create(
            by=None, owner_position=sales_org["cs"], account=account, subject="Late delivery"
        )
        with pytest.raises(ValidationError):
            services.complaint_resolve(complaint=complaint, by=None, resolution=" ")
        services.complaint_resolve(complaint=complaint, by=None, resolution="Refunded shipping")
        complaint.refresh_from_db()
        assert complaint.status == "resolved" and complaint.resolved_at

    @pytest.mark.parametrize(
        ("kind", "score", "ok"),
        [("csat", 0, False), ("csat", 5, True), ("nps", 10, True), ("nps", 11, False)],
    )
    def test_survey_score_ranges(self, sales_org, kind, score, ok):
        account = make_account(sales_org["ae1"])
        call = lambda: services.survey_record(  # noqa: E731
            by=None, owner_position=sales_org["cs"], account=account, kind=kind, score=score
        )
        if ok:
            assert call().score == score
        else:
            with pytest.raises(ValidationError):
                call()

    def test_referral_marks_the_lead_and_follows_conversion(self, sales_org):
        referrer = make_contact(sales_org["ae1"])
        lead = make_lead(sales_org["sdr"])
        referral = services.referral_create(
            by=None, owner_position=sales_org["sdr"], lead=lead, referrer_contact=referrer
        )
        lead.refresh_from_db()
        assert lead.source == "referral"
        services.lead_qualify(lead=lead, by=None, need="n")
        services.lead_convert(lead=lead, by=None, ae_position=sales_org["ae1"])
        referral.refresh_from_db()
        assert referral.outcome == "qualified"


class TestCustomFields:
    def test_typed_values_are_validated_and_filterable(self, sales_org):
        from revline.crm.selectors import leads_list

        custom_field_save(
            by=None, entity="lead", key="seats", label="Seats", field_type=CustomFieldType.INTEGER
        )
        custom_field_save(
            by=None,
            entity="lead",
            key="tier",
            label="Tier",
            field_type=CustomFieldType.CHOICE,
            choices=["Gold", "Silver"],
            required=True,
        )
        assert custom_values_clean(entity="lead", values={"seats": "1,200", "tier": "gold"}) == {
            "seats": 1200,
            "tier": "Gold",
        }
        with pytest.raises(ValidationError) as err:
            custom_values_clean(entity="lead", values={"seats": "1.5", "nope": 1})
        assert set(err.value.message_dict) == {"custom.seats", "custom.nope", "custom.tier"}
        lead = make_lead(sales_org["sdr"], custom={"seats": 50, "tier": "Silver"})
        make_lead(sales_org["sdr"], custom={"seats": 5, "tier": "Gold"})
        user = sales_org["sdr"].holder
        assert list(leads_list(user=user, filters={"cf_seats": "50"})) == [lead]
        assert list(leads_list(user=user, filters={"cf_tier": "silver"})) == [lead]
        assert list(leads_list(user=user, filters={"cf_seats": "many"})) == []
        with pytest.raises(ValidationError):
            make_lead(sales_org["sdr"], custom={"seats": 5})  # the required tier is missing

    def test_update_merges_custom_values(self, sales_org):
        custom_field_save(by=None, entity="account", key="plan", label="Plan")
        custom_field_save(
            by=None, entity="account", key="seats", label="Seats", field_type="integer"
        )
        account = make_account(sales_org["ae1"], custom={"plan": "pro"})
        account = services.account_update(account=account, by=None, custom={"seats": "9"})
        assert account.custom == {"plan": "pro", "seats": 9}


def test_account_parent_cycle_refused(sales_org):
    parent = make_account(sales_org["ae1"])
    child = make_account(sales_org["ae1"], parent=parent)
    with pytest.raises(ValidationError, match="own parent"):
        services.account_update(account=parent, by=None, parent=child)


def test_lead_assign_keeps_history(sales_org):
    lead = make_lead(sales_org["bdr"])
    services.lead_assign(lead=lead, to_position=sales_org["sdr"], by=sales_org["bdr"].holder)
    lead.refresh_from_db()
    assert lead.owner_position == sales_org["sdr"]
    last = LeadStatusChange.objects.filter(lead=lead).last()
    assert last.owner_position == sales_org["sdr"]
    assert Lead.objects.visible_to(sales_org["sdr"].holder).filter(pk=lead.pk).exists()


class TestImplicitAccountAccess:
    """Rule 6 of the predicate: a deal (or complaint) lends view access to its account."""

    def test_deal_owner_and_managers_view_the_account_but_cannot_change_it(self, sales_org):
        from revline.crm.models import Account
        from revline.org.visibility import can
        from tests.crm.factories import make_opportunity

        account = make_account(sales_org["ae3"], name="Shared Co")  # Manager 2's rep owns it
        assert not can(sales_org["ae1"].holder, "view", account)
        make_opportunity(sales_org["ae1"], account=account)
        for viewer in ("ae1", "m1", "vp"):
            user = sales_org[viewer].holder
            assert can(user, "view", account), viewer
            assert Account.objects.visible_to(user).filter(pk=account.pk).exists()
        assert not can(sales_org["ae1"].holder, "change", account)
        for outsider in ("ae2", "sdr", "m2"):
            if outsider == "m2":  # Manager 2 sees it as the owner's manager anyway
                assert can(sales_org[outsider].holder, "view", account)
            else:
                assert not can(sales_org[outsider].holder, "view", account), outsider

    def test_complaint_owner_views_the_account(self, sales_org):
        from revline.org.visibility import can

        account = make_account(sales_org["ae3"])
        assert not can(sales_org["cs"].holder, "view", account)
        services.complaint_create(
            by=None, owner_position=sales_org["cs"], account=account, subject="Late"
        )
        assert can(sales_org["cs"].holder, "view", account)
