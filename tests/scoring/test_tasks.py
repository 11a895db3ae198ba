"""Rescoring when leads change, after a retrain, and the nightly retrain."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from revline.crm import services as crm
from revline.crm.models import Lead
from revline.scoring import services, tasks
from revline.scoring.models import LeadScore, ScoringModel
from revline.scoring.synthetic import generate_leads

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def trained(admin, owner, small_history):
    ids, _ = generate_leads(n=300, owner=owner, source_name="t", seed=41)
    model = services.scoring_model_train(by=admin, source_name="t")
    return ids, model


def test_changed_and_new_leads_are_rescored(admin, owner, trained, settings):
    settings.TASKS = IMMEDIATE
    ids, model = trained
    assert not services.stale_leads().exists()
    lead = Lead.objects.get(pk=int(ids[0]))
    before = LeadScore.objects.get(lead=lead).scored_at
    crm.lead_update(lead=lead, by=admin, sector="Education")
    other = Lead.objects.get(pk=int(ids[1]))
    crm.activity_log(by=admin, kind="call", subject="Intro call", lead=other)
    new = crm.lead_create(by=admin, owner_position=owner, route=False, last_name="New",
                          source_name="t")  # fmt: skip
    assert set(services.stale_leads().values_list("pk", flat=True)) == {lead.pk, other.pk, new.pk}

    result = tasks.scoring_rescore_stale.enqueue()
    assert result.return_value.startswith("rescored 3 changed leads")
    assert LeadScore.objects.get(lead=lead).scored_at > before
    assert LeadScore.objects.get(lead=new).model_id == model.pk
    assert not services.stale_leads().exists()


def test_a_retrain_rescores_every_lead_of_the_source(admin, trained, settings):
    settings.TASKS = IMMEDIATE
    _, first = trained
    result = tasks.scoring_train.enqueue(source_name="t", by_id=admin.pk)
    assert "t v2: active" in result.return_value
    second = ScoringModel.objects.get(source_name="t", version=2)
    assert set(LeadScore.objects.values_list("model_id", flat=True)) == {second.pk}
    first.refresh_from_db()
    assert first.status == "retired"


def test_the_nightly_retrain_waits_for_enough_new_outcomes(admin, owner, trained, settings):
    settings.REVLINE_SCORING_RETRAIN_MIN_NEW_OUTCOMES = 40
    night = timezone.localtime() + dt.timedelta(days=1)
    night = night.replace(hour=3, minute=0)
    assert services.retrain_due(now=night) == []  # nothing new
    generate_leads(n=39, owner=owner, source_name="t", seed=42)
    assert services.retrain_due(now=night) == []
    generate_leads(n=1, owner=owner, source_name="t", seed=43)
    assert services.retrain_due(now=night) == ["t"]
    assert services.retrain_due(now=night.replace(hour=1)) == []  # before the hour
    services.scoring_profile_update(by=admin, source_name="t", auto_retrain=False)
    assert services.retrain_due(now=night) == []


def test_the_clock_rescores_retrains_and_comes_back(admin, owner, trained, settings):
    settings.REVLINE_SCORING_RETRAIN_MIN_NEW_OUTCOMES = 10
    settings.REVLINE_SCORING_RETRAIN_HOUR = 0
    ScoringModel.objects.update(trained_at=timezone.now() - dt.timedelta(days=2))
    generate_leads(n=20, owner=owner, source_name="t", seed=44)
    summary = tasks.scoring_clock.call()
    assert "rescored 20" in summary and "retrained t v2 (active)" in summary
    waiting = DBTaskResult.objects.filter(task_path=tasks.scoring_clock.module_path, status="READY")
    assert waiting.count() == 1 and waiting.get().run_after > timezone.now()
    assert tasks.clock_ensure() is False  # one waiting run is enough


def test_clock_needs_a_deferring_queue(settings):
    settings.TASKS = IMMEDIATE
    assert tasks.clock_ensure() is False


def test_the_model_for_every_lead_scores_sources_without_their_own(admin, owner, trained):
    _, own = trained  # source "t" has its own model
    other, _ = generate_leads(n=300, owner=owner, source_name="u", seed=45)
    everyone = services.scoring_model_train(by=admin, source_name="")
    assert everyone.n == 600  # trained on every lead with an outcome
    by_model = dict(LeadScore.objects.values_list("lead_id", "model_id"))
    assert {by_model[i] for i in other.tolist()} == {everyone.pk}
    assert set(by_model.values()) == {own.pk, everyone.pk}
