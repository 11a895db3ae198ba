"""Where SDRs work with the lead score (issue 5, item 5; the web half of items 2 and 4): the SDR
queue ordered by score with its factors, the lead page's explanation, fit and override, the
managers' model and evaluation page, the score distribution and conversion, and the ICP rules.

Every test builds a small org with a scored history: 40 past leads for each of two SDRs under
different managers (referrals in software convert, outbound retail leads mostly do not), a
frequency model trained on them (too little history for the gradient-boosted one, which keeps
the tests fast), one ICP rule, and a few open leads.
"""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from revline.core.catalog import CAPABILITIES
from revline.core.models import AuditEvent
from revline.crm.choices import LeadSource, LeadStatus
from revline.crm.models import Lead
from revline.org.choices import RoleType
from revline.scoring import services
from revline.scoring.choices import ModelKind, ModelStatus
from revline.scoring.models import IcpRule, LeadScore, ScoreOverride, ScoringProfile
from tests.crm.factories import make_lead
from tests.org.factories import make_position

pytestmark = pytest.mark.django_db

HOT = {"source": LeadSource.REFERRAL, "sector": "Software"}
COLD = {"source": LeadSource.OUTBOUND, "sector": "Retail"}


def url(name: str, *args) -> str:
    return reverse(f"web:{name}", args=args)


def login(client, position):
    client.force_login(position.holder)
    return client


def add_history(owner, n: int, *, seed: int) -> None:
    """``n`` closed leads of ``owner`` with a known outcome: hot ones convert three times in
    four, cold ones one time in eight."""
    rng = random.Random(seed)
    leads = []
    for i in range(n):
        hot = i % 2 == 0
        converted = rng.random() < (0.75 if hot else 0.125)
        fields = HOT if hot else COLD
        leads.append(
            Lead(
                owner_position=owner,
                first_name="Past",
                last_name=f"Lead {seed}-{i}",
                company=f"Past {seed}-{i}",
                outcome=converted,
                status=LeadStatus.CONVERTED if converted else LeadStatus.DISQUALIFIED,
                **fields,
            )
        )
    Lead.objects.bulk_create(leads)


def leak_the_outcome() -> None:
    """A custom field filled in once the outcome was known: it gives the outcome away."""
    Lead.objects.filter(outcome=True).update(custom={"tags": "Won"})
    Lead.objects.filter(outcome=False).update(custom={"tags": "Lost"})


def build_world(org: dict) -> dict:
    """Two SDRs under different managers, their histories, a trained model, one ICP rule and
    open leads; the leads scored. Used by the browser test as well."""
    org["sdr2"] = make_position(RoleType.SDR, reports_to=org["m2"], title="SDR 2")
    add_history(org["sdr"], 40, seed=1)
    add_history(org["sdr2"], 40, seed=2)
    IcpRule.objects.create(
        name="Software companies", field="sector", operator="eq", value="Software", weight=20
    )
    IcpRule.objects.create(name="Retail", field="sector", operator="eq", value="Retail", weight=-10)
    org["hot"] = make_lead(org["sdr"], first_name="Hana", last_name="Hot", **HOT)
    org["cold"] = make_lead(org["sdr"], first_name="Carl", last_name="Cold", **COLD)
    org["peer_lead"] = make_lead(org["sdr2"], first_name="Pia", last_name="Peer", **HOT)
    org["model"] = services.scoring_model_train(by=None)
    return org


@pytest.fixture
def world(sales_org, settings):
    settings.REVLINE_SCORING_FOLDS = 3  # fewer folds: the figures are not what these tests check
    return build_world(sales_org)


def queue_ids(response) -> list[int]:
    return [row["lead"].pk for row in response.context["rows"]]


# --- the model the fixture trained ---------------------------------------------------------------


def test_the_fixture_trains_a_frequency_model_and_scores_the_open_leads(world):
    model = world["model"]
    assert model.kind == ModelKind.FREQUENCY and model.status == ModelStatus.ACTIVE
    hot = LeadScore.objects.get(lead=world["hot"])
    cold = LeadScore.objects.get(lead=world["cold"])
    assert hot.model_id == model.pk and hot.score > cold.score


# --- the SDR queue ---------------------------------------------------------------------------------


def test_queue_is_ordered_by_score_with_tier_and_factors(client, world):
    response = login(client, world["sdr"]).get(url("lead_queue"))
    assert response.status_code == 200
    assert response.context["order"] == "score"
    assert queue_ids(response) == [world["hot"].pk, world["cold"].pk]
    html = response.content.decode()
    hot = LeadScore.objects.get(lead=world["hot"])
    assert f'data-score="{hot.score}"' in html
    assert f"Tier {hot.tier}" in html
    # the strongest factor of the hot lead, in words
    assert hot.factors["positive"], hot.factors
    first = hot.factors["positive"][0]
    assert f"{first['label']}: {first['value']}" in html


def test_queue_never_shows_a_peers_leads(client, world):
    response = login(client, world["sdr"]).get(url("lead_queue"))
    assert world["peer_lead"].pk not in queue_ids(response)
    assert "Pia Peer" not in response.content.decode()


def test_queue_in_working_order_on_request(client, world):
    response = login(client, world["sdr"]).get(url("lead_queue"), {"order": "work"})
    assert response.context["order"] == "work"
    # working order: new leads oldest first
    assert queue_ids(response) == [world["hot"].pk, world["cold"].pk]
    earlier = world["hot"].created_at.replace(year=2020)
    Lead.objects.filter(pk=world["cold"].pk).update(created_at=earlier)
    response = client.get(url("lead_queue"), {"order": "work"})
    assert queue_ids(response) == [world["cold"].pk, world["hot"].pk]
    response = client.get(url("lead_queue"), {"order": "bogus"})
    assert response.context["order"] == "score"
    assert queue_ids(response) == [world["hot"].pk, world["cold"].pk]


def test_an_override_counts_over_the_automated_score_in_the_queue(client, world):
    services.score_override_set(
        lead=world["hot"],
        by=world["sdr"].holder,
        reason="Went with a competitor",
        score=2,
        tier="D",
    )
    response = login(client, world["sdr"]).get(url("lead_queue"))
    assert queue_ids(response) == [world["cold"].pk, world["hot"].pk]
    row = next(r for r in response.context["rows"] if r["lead"].pk == world["hot"].pk)
    assert row["lead"].effective_score == 2 and row["lead"].effective_tier == "D"
    assert "manual" in response.content.decode()


def test_unscored_leads_follow_the_scored_ones(client, world):
    fresh = make_lead(world["sdr"], first_name="Nora", last_name="New")
    response = login(client, world["sdr"]).get(url("lead_queue"))
    assert queue_ids(response)[-1] == fresh.pk
    assert "not scored" in response.content.decode()


def test_queue_query_count_does_not_grow_with_the_rows(client, world):
    client = login(client, world["sdr"])
    client.get(url("lead_queue"))  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url("lead_queue")).status_code == 200
    for i in range(8):
        make_lead(world["sdr"], last_name=f"More {i}", **(HOT if i % 2 else COLD))
    services.leads_score()
    services.score_override_set(lead=world["cold"], by=None, reason="Asked for a demo", tier="A")
    with CaptureQueriesContext(connection) as large:
        response = client.get(url("lead_queue"))
    assert len(response.context["rows"]) == 10
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]
    assert len(large) <= 12


def test_a_manager_sees_the_score_of_a_reps_queue(client, world):
    response = login(client, world["m1"]).get(url("lead_queue"), {"rep": world["sdr"].pk})
    assert queue_ids(response) == [world["hot"].pk, world["cold"].pk]


# --- the lead page ---------------------------------------------------------------------------------


def test_lead_page_explains_the_score_in_plain_words(client, world):
    response = login(client, world["sdr"]).get(url("lead_detail", world["hot"].pk))
    assert response.status_code == 200
    x = response.context["scoring"]["explanation"]
    score = LeadScore.objects.get(lead=world["hot"])
    assert x.sentence.startswith(f"Scored {score.score}/100 (tier {score.tier}) by model v1")
    assert "most positive: " in x.sentence
    top = score.factors["positive"][0]
    assert f"{top['label']} = {top['value']} (+" in x.sentence
    html = response.content.decode()
    assert 'id="score-explanation"' in html and "Scored " in html
    assert "leads like this one converted" in html
    # the fit with the rules that matched, and the model version
    assert "Software companies" in html and "(+20)" in html
    assert response.context["scoring"]["explanation"].fit.score == 100
    assert "v1 · Frequency model" in html
    # the override form, for the owner; no link to the model page for an SDR
    assert response.context["scoring"]["can_override"]
    assert url("lead_score_override", world["hot"].pk) in html
    assert url("scoring_models") not in html


def test_lead_page_links_the_evaluation_for_a_manager(client, world):
    response = login(client, world["m1"]).get(url("lead_detail", world["hot"].pk))
    assert f"{url('scoring_models')}?source=&amp;model={world['model'].pk}" in (
        response.content.decode()
    )


def test_lead_page_of_a_cold_lead_names_what_lowers_it(client, world):
    response = login(client, world["sdr"]).get(url("lead_detail", world["cold"].pk))
    x = response.context["scoring"]["explanation"]
    assert "most negative: " in x.sentence
    assert x.fit.score == 0 and "Retail" in response.content.decode()


def test_lead_page_of_an_unscored_lead(client, world):
    fresh = make_lead(world["sdr"], last_name="Fresh")
    response = login(client, world["sdr"]).get(url("lead_detail", fresh.pk))
    assert response.context["scoring"]["explanation"].sentence.startswith("Not scored yet")


def test_a_peers_lead_and_its_score_are_404(client, world):
    client = login(client, world["sdr"])
    peer = world["peer_lead"].pk
    assert client.get(url("lead_detail", peer)).status_code == 404
    assert client.get(url("lead_score_explain", peer)).status_code == 404
    response = client.post(url("lead_score_override", peer), {"tier": "A", "reason": "mine"})
    assert response.status_code == 404
    assert client.post(url("lead_score_override_clear", peer)).status_code == 404
    assert not ScoreOverride.objects.filter(lead_id=peer).exists()


def test_explain_page_of_a_visible_lead(client, world):
    response = login(client, world["sdr"]).get(url("lead_score_explain", world["hot"].pk))
    assert response.status_code == 200
    assert "Raise the score" in response.content.decode()


# --- the override ---------------------------------------------------------------------------------


def test_override_form_sets_the_override_and_audits_it(client, world):
    lead = world["hot"]
    response = login(client, world["sdr"]).post(
        url("lead_score_override", lead.pk), {"score": "30", "tier": "", "reason": "No budget"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("lead_detail", lead.pk) + "#score"
    override = ScoreOverride.objects.get(lead=lead)
    assert override.score == 30 and override.tier in "ABCD" and override.reason == "No budget"
    assert override.by == world["sdr"].holder
    assert AuditEvent.objects.filter(action="lead.score_override", object_id=lead.pk).exists()
    page = client.get(url("lead_detail", lead.pk)).content.decode()
    assert "Manual override: 30/100" in page and "No budget" in page


def test_override_form_needs_a_reason_and_a_score_or_tier(client, world):
    client = login(client, world["sdr"])
    lead = world["hot"]
    response = client.post(url("lead_score_override", lead.pk), {"score": "30", "reason": ""})
    assert response.status_code == 400
    assert response.context["scoring"]["override_form"].errors["reason"]
    response = client.post(url("lead_score_override", lead.pk), {"reason": "Gut feeling"})
    assert response.status_code == 400
    assert "Give a score, a tier or both." in response.content.decode()
    response = client.post(url("lead_score_override", lead.pk), {"score": "101", "reason": "x"})
    assert response.status_code == 400
    assert not ScoreOverride.objects.filter(lead=lead).exists()


def test_override_needs_the_right_to_change_the_lead(client, world):
    # marketing sees every lead but changes none: 403, and no form offered
    client = login(client, world["mkt"])
    lead = world["hot"]
    page = client.get(url("lead_detail", lead.pk))
    assert page.status_code == 200 and not page.context["scoring"]["can_override"]
    response = client.post(url("lead_score_override", lead.pk), {"tier": "A", "reason": "x"})
    assert response.status_code == 403
    assert not ScoreOverride.objects.filter(lead=lead).exists()
    # the SDR's manager may
    response = login(client, world["m1"]).post(
        url("lead_score_override", lead.pk), {"tier": "B", "reason": "Coaching call"}
    )
    assert response.status_code == 302 and ScoreOverride.objects.get(lead=lead).tier == "B"


def test_rescoring_never_touches_the_override(client, world):
    lead = world["hot"]
    login(client, world["sdr"]).post(
        url("lead_score_override", lead.pk),
        {"score": "5", "tier": "D", "reason": "Bought elsewhere"},
    )
    before = LeadScore.objects.get(lead=lead)
    services.leads_score()
    services.scoring_model_train(by=None)  # a new version rescores every lead
    after = LeadScore.objects.get(lead=lead)
    assert after.model_id != before.model_id and after.model.version == 2
    override = ScoreOverride.objects.get(lead=lead)
    assert (override.score, override.tier, override.reason) == (5, "D", "Bought elsewhere")
    response = client.get(url("lead_detail", lead.pk))
    x = response.context["scoring"]["explanation"]
    assert x.effective_score == 5 and x.effective_tier == "D"
    assert "by model v2" in x.sentence


def test_clearing_the_override_brings_the_automated_score_back(client, world):
    lead = world["hot"]
    services.score_override_set(lead=lead, by=None, reason="x", tier="D")
    client = login(client, world["sdr"])
    assert client.post(url("lead_score_override_clear", lead.pk)).status_code == 302
    assert not ScoreOverride.objects.filter(lead=lead).exists()
    x = client.get(url("lead_detail", lead.pk)).context["scoring"]["explanation"]
    assert x.effective_score == LeadScore.objects.get(lead=lead).score


# --- the overview: distribution and conversion -----------------------------------------------------


def test_overview_counts_only_the_leads_the_user_sees(client, world):
    response = login(client, world["sdr"]).get(url("scoring"))
    assert response.status_code == 200
    # 40 past leads and 2 open ones; the peer's 41 are not counted
    assert response.context["distribution"]["scored"] == 42
    closed = sum(t["closed"] for t in response.context["distribution"]["tiers"])
    converted = sum(t["converted"] for t in response.context["distribution"]["tiers"])
    mine = Lead.objects.filter(owner_position=world["sdr"], outcome__isnull=False)
    assert closed == 40 and converted == mine.filter(outcome=True).count()
    bands = response.context["bands"]
    assert sum(b["leads"] for b in bands) == 42
    html = response.content.decode()
    assert 'id="score-tiers"' in html and "<svg" in html
    # an SDR gets no link to the model page
    assert url("scoring_models") not in html


def test_overview_per_data_source(client, world):
    add_history(world["sdr"], 6, seed=9)
    Lead.objects.filter(last_name__startswith="Lead 9-").update(source_name="Trade fair 2025")
    fallback = services.scoring_model_train(by=None, source_name="Trade fair 2025")
    assert fallback.kind == ModelKind.FIT
    client = login(client, world["sdr"])
    everything = client.get(url("scoring"))
    assert [s for s, _ in everything.context["sources"]] == ["", "Trade fair 2025"]
    assert everything.context["distribution"]["scored"] == 48
    fair = client.get(url("scoring"), {"source": "Trade fair 2025"})
    assert fair.context["distribution"]["scored"] == 6
    assert fair.context["model"].pk == fallback.pk and not fair.context["probabilistic"]
    assert "the ICP fit, not a probability" in fair.content.decode()
    unknown = client.get(url("scoring"), {"source": "No such source"})
    assert unknown.context["source"] == ""


def test_overview_for_the_company_wide_reader(client, world):
    response = login(client, world["revops"]).get(url("scoring"))
    assert response.context["distribution"]["scored"] == 83
    assert url("scoring_models") in response.content.decode()


def test_scoring_pages_need_a_login(client, world):
    for name in ("scoring", "scoring_models", "scoring_icp"):
        response = client.get(url(name))
        assert response.status_code == 302 and "/login/" in response["Location"], name
    response = client.post(url("lead_score_override", world["hot"].pk), {"tier": "A"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_capability_links_the_scoring_page():
    assert reverse(CAPABILITIES["scoring.leads"].url) == url("scoring")


# --- the model page --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sdr", "ae1", "bdr", "mkt"])
def test_model_page_is_for_managers_and_revops_only(client, world, who):
    client = login(client, world[who])
    assert client.get(url("scoring_models")).status_code == 403
    assert client.post(url("scoring_train"), {"source": ""}).status_code == 403
    assert not DBTaskResult.objects.exists()


def test_model_page_for_revops_shows_the_evaluation_beside_both_baselines(client, world):
    response = login(client, world["revops"]).get(url("scoring_models"))
    assert response.status_code == 200
    report = response.context["report"]
    assert report["scope"] == "all" and report["n"] == 80
    html = response.content.decode()
    for text in ("ROC AUC", "PR AUC", "Brier score", "Naive Bayes (per-field frequency)",
                 "Logistic regression", 'id="calibration-chart"', 'id="gain-chart"',
                 'id="lift"', 'id="features-chart"', "Train a new version"):  # fmt: skip
        assert text in html, text
    rows = {r["key"]: r for r in response.context["metric_rows"]}
    assert rows["auc"]["cells"][0]["value"] == pytest.approx(world["model"].metrics["auc"])
    assert rows["auc"]["cells"][2]["value"] == pytest.approx(
        world["model"].metrics["baselines"]["logistic_regression"]["auc"]
    )
    assert "<svg" in html and "Perfect calibration" in html
    versions = response.context["versions"]
    assert versions[0]["version"] == 1 and versions[0]["metrics"]["auc"] is not None


def test_model_page_for_a_manager_covers_only_the_leads_they_see(client, world):
    response = login(client, world["m1"]).get(url("scoring_models"))
    assert response.status_code == 200
    report = response.context["report"]
    assert report["scope"] == "visible" and report["n"] == 40
    # versions without the company-wide figures; no train button
    assert "metrics" not in response.context["versions"][0]
    assert "Train a new version" not in response.content.decode()
    assert client.post(url("scoring_train"), {"source": ""}).status_code == 403


def test_a_version_outside_the_page_is_404(client, world):
    client = login(client, world["revops"])
    assert client.get(url("scoring_models"), {"model": "999999"}).status_code == 404
    assert client.get(url("scoring_models"), {"model": "x"}).status_code == 404


def test_train_button_queues_the_background_job(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # queued once the request commits
        response = login(client, world["revops"]).post(url("scoring_train"), {"source": ""})
    assert response.status_code == 302
    job = DBTaskResult.objects.get()
    assert job.task_path == "revline.scoring.tasks.scoring_train"
    assert job.args_kwargs["kwargs"] == {"source_name": "", "by_id": world["revops"].holder_id}
    page = client.get(url("scoring_models")).content.decode()
    assert 'id="train-jobs"' in page


def test_leakage_flags_wait_for_review_then_exclude_and_retrain(
    client, world, django_capture_on_commit_callbacks
):
    leak_the_outcome()
    flagged = services.scoring_model_train(by=None)
    assert flagged.status == ModelStatus.FLAGGED
    client = login(client, world["revops"])
    response = client.get(url("scoring_models"))
    assert [m.pk for m in response.context["review"]] == [flagged.pk]
    html = response.content.decode()
    assert "Awaiting review" in html and "Exclude and retrain" in html
    field = flagged.leakage_flags[0]["field"]
    # a manager reads the flag but may not decide
    m1 = login(client.__class__(), world["m1"])
    assert "Awaiting review" in m1.get(url("scoring_models")).content.decode()
    assert (
        m1.post(
            url("scoring_review", flagged.pk), {"field": field, "decision": "exclude"}
        ).status_code
        == 403
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("scoring_review", flagged.pk), {"field": field, "decision": "exclude"}
        )
    assert response.status_code == 302
    assert ScoringProfile.objects.get(source_name="").excluded_fields
    assert DBTaskResult.objects.filter(task_path="revline.scoring.tasks.scoring_train").count() == 1
    retrained = services.scoring_model_train(by=None)  # what the queued job does
    assert retrained.status == ModelStatus.ACTIVE
    assert client.get(url("scoring_models")).context["review"] == []


def test_leakage_review_may_keep_a_reviewed_field(client, world):
    leak_the_outcome()
    flagged = services.scoring_model_train(by=None)
    field = flagged.leakage_flags[0]["field"]
    client = login(client, world["revops"])
    client.post(url("scoring_review", flagged.pk), {"field": field, "decision": "allow"})
    assert field in ScoringProfile.objects.get(source_name="").allowed_fields
    assert services.scoring_model_train(by=None).status == ModelStatus.ACTIVE
    response = client.post(url("scoring_review", flagged.pk), {"decision": "nonsense"})
    assert response.status_code == 302  # refused with a message, nothing recorded


def test_too_little_history_says_so(client, sales_org):
    add_history(sales_org["sdr"], 6, seed=5)
    model = services.scoring_model_train(by=None)
    assert model.kind == ModelKind.FIT
    response = login(client, sales_org["revops"]).get(url("scoring_models"))
    html = response.content.decode()
    assert "fallback" in html and 'id="no-figures"' in html


def test_model_page_without_any_model(client, sales_org):
    response = login(client, sales_org["revops"]).get(url("scoring_models"))
    assert response.status_code == 200 and "No model yet" in response.content.decode()
    assert login(client, sales_org["sdr"]).get(url("scoring")).status_code == 200


# --- the ideal customer profile --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sdr", "m1", "cso"])
def test_icp_rules_are_for_revops_only(client, world, who):
    client = login(client, world[who])
    rule = IcpRule.objects.first()
    assert client.get(url("scoring_icp")).status_code == 404
    assert client.get(url("scoring_icp_edit", rule.pk)).status_code == 404
    assert client.post(url("scoring_icp_delete", rule.pk)).status_code == 404
    assert client.post(url("scoring_icp_refresh")).status_code == 404
    assert IcpRule.objects.filter(pk=rule.pk).exists()


def test_icp_rules_add_edit_delete_and_recompute(client, world, django_capture_on_commit_callbacks):
    client = login(client, world["revops"])
    response = client.get(url("scoring_icp"))
    assert response.status_code == 200 and "Software companies" in response.content.decode()
    response = client.post(
        url("scoring_icp"),
        {"name": "Mid-size", "field": "employees", "operator": "range", "value_min": "50",
         "value_max": "500", "weight": "15", "applies_to": "both", "active": "on", "order": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    rule = IcpRule.objects.get(name="Mid-size")
    assert rule.value == {"min": 50.0, "max": 500.0} and rule.weight == 15
    assert (
        "Employees at least 50 and at most 500" in client.get(url("scoring_icp")).content.decode()
    )
    response = client.post(
        url("scoring_icp_edit", rule.pk),
        {"name": "Mid-size", "field": "", "custom_field": "headcount_band", "operator": "in",
         "value": "50-200, 200-500", "weight": "25", "applies_to": "leads", "order": "1"},
    )  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.field == "custom:headcount_band" and rule.value == ["50-200", "200-500"]
    assert rule.active is False and rule.applies_to == "leads"
    assert client.post(url("scoring_icp_delete", rule.pk)).status_code == 302
    assert not IcpRule.objects.filter(pk=rule.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url("scoring_icp_refresh")).status_code == 302
    assert DBTaskResult.objects.get().task_path == "revline.scoring.tasks.scoring_fit_refresh"


def test_icp_rule_form_shows_the_services_refusal(client, world):
    client = login(client, world["revops"])
    response = client.post(
        url("scoring_icp"),
        {"name": "Nothing", "field": "sector", "operator": "eq", "value": "", "weight": "10",
         "applies_to": "both"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.context["form"].errors["value"]
    response = client.post(
        url("scoring_icp"),
        {"name": "Zero", "field": "sector", "operator": "eq", "value": "Software", "weight": "0",
         "applies_to": "both"},
    )  # fmt: skip
    assert response.status_code == 400 and response.context["form"].errors["weight"]
    assert client.get(url("scoring_icp_edit", 999999)).status_code == 404


# --- the gradient-boosted model's exact explanation -------------------------------------------


def test_lead_page_links_the_exact_contributions_of_the_gradient_boosted_model(
    client, sales_org, small_history
):
    small_history.REVLINE_SCORING_FOLDS = 3
    add_history(sales_org["sdr"], 240, seed=6)
    hot = make_lead(sales_org["sdr"], first_name="Gina", last_name="Boost", **HOT)
    model = services.scoring_model_train(by=None)
    assert model.kind == ModelKind.LIGHTGBM and model.status == ModelStatus.ACTIVE
    client = login(client, sales_org["sdr"])
    page = client.get(url("lead_detail", hot.pk))
    assert page.context["scoring"]["explanation"].sentence.startswith(
        f"Scored {LeadScore.objects.get(lead=hot).score}/100"
    )
    assert url("lead_score_explain", hot.pk) in page.content.decode()
    response = client.get(url("lead_score_explain", hot.pk))
    assert response.status_code == 200
    x = response.context["explanation"]
    assert x.exact and x.positive
    assert "Exact contribution of each field (TreeSHAP)" in response.content.decode()
    # the models page of a gradient-boosted version shows its top features by gain
    response = login(client, sales_org["revops"]).get(url("scoring_models"))
    assert response.context["report"]["top_features"]
    assert 'id="features-chart"' in response.content.decode()
