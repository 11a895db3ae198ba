"""The ICP fit score: weighted rules on firmographics of leads and accounts."""

import pytest
from django.core.exceptions import ValidationError

from revline.scoring import services
from revline.scoring.models import FitScore, LeadScore
from tests.crm.factories import make_account, make_lead
from tests.org.factories import RegionFactory


@pytest.fixture
def rules(admin):
    def rule(name, field, operator, value, weight, **kw):
        return services.icp_rule_save(by=admin, name=name, field=field, operator=operator,
                                      value=value, weight=weight, **kw)  # fmt: skip

    return [
        rule("Software or finance", "sector", "in", ["software", "FINANCE"], 30),
        rule("Mid-size", "employees", "range", {"min": 50, "max": 1000}, 30),
        rule("Revenue over 10M", "annual_revenue", "range", {"min": 10_000_000}, 20),
        rule("EMEA", "region", "eq", "emea", 20),
        rule(
            "Partner channel", "custom:channel", "contains", "partner", 0 + 10, applies_to="leads"
        ),
        rule("Competitor", "custom:competitor", "eq", "yes", -50),
    ]


def test_lead_and_account_fit(admin, owner, rules):
    from revline.crm.models import CustomFieldDefinition

    emea = RegionFactory(name="Europe, Middle East and Africa", code="emea")
    CustomFieldDefinition.objects.create(entity="lead", key="channel", label="Channel")
    CustomFieldDefinition.objects.create(entity="lead", key="competitor", label="Competitor",
                                         field_type="boolean")  # fmt: skip
    best = make_lead(owner, sector="Software", employees=200, annual_revenue=20_000_000,
                     region=emea, custom={"channel": "Via Partner network"})  # fmt: skip
    half = make_lead(owner, sector="Finance", employees=5000)
    rival = make_lead(owner, sector="Software", custom={"competitor": True})
    nothing = make_lead(owner)
    account = make_account(owner, name="Acme", sector="finance", employees=60, region=emea)

    leads, accounts = services.fit_scores_refresh()
    assert (leads, accounts) >= (4, 1)
    fit = {f.lead_id: f for f in FitScore.objects.filter(lead__isnull=False)}
    assert fit[best.pk].score == 100
    assert {m["name"] for m in fit[best.pk].matched} == {
        "Software or finance", "Mid-size", "Revenue over 10M", "EMEA", "Partner channel"
    }  # fmt: skip
    assert fit[half.pk].score == round(100 * 30 / 110)
    assert fit[rival.pk].score == 0  # 30 gained, 50 lost
    assert fit[nothing.pk].score == 0 and fit[nothing.pk].matched == []
    # accounts: the leads-only rule does not count
    assert FitScore.objects.get(account=account).score == round(100 * 80 / 100)
    # without a model the lead's score is its fit
    assert LeadScore.objects.get(lead=best).score == 100
    assert LeadScore.objects.get(lead=best).tier == "A"


@pytest.mark.parametrize(
    "field, operator, value",
    [
        ("size", "eq", "x"),
        ("sector", "like", "x"),
        ("employees", "range", {"min": "many"}),
        ("employees", "range", {}),
        ("sector", "in", []),
        ("sector", "eq", ""),
    ],
)
def test_bad_rules_are_refused(admin, field, operator, value):
    with pytest.raises(ValidationError):
        services.icp_rule_save(by=admin, name="r", field=field, operator=operator, value=value)


def test_weight_and_name_are_checked(admin):
    with pytest.raises(ValidationError):
        services.icp_rule_save(by=admin, name="r", field="sector", operator="eq", value="x",
                               weight=0)  # fmt: skip
    with pytest.raises(ValidationError):
        services.icp_rule_save(by=admin, name=" ", field="sector", operator="eq", value="x")
