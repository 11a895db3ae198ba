"""Leads are rescored by a background job when they change (issue 5, item 3): the CRM's
services call ``scoring.changes.leads_changed``, which queues a ``scoring_rescore`` of the
changed leads once the transaction commits; an import queues one rescore of the changed leads per run."""

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from revline.crm import services as crm
from revline.crm.models import Lead
from revline.scoring import services, tasks
from revline.scoring.models import LeadScore
from tests.crm.import_helpers import run_import, write_csv

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
RESCORE = tasks.scoring_rescore.module_path


@pytest.fixture
def fit_scored(admin, owner, django_capture_on_commit_callbacks):
    """Leads scored by the ideal customer profile alone (no model): software fits."""
    services.icp_rule_save(
        by=admin, name="Software", field="sector", operator="eq", value="Software", weight=50
    )
    with django_capture_on_commit_callbacks(execute=True):  # as if committed
        lead, other = make_two(admin, owner)
    services.leads_score()  # what the job queued for them does
    DBTaskResult.objects.all().delete()
    return lead, other


def make_two(admin, owner):
    lead = crm.lead_create(by=admin, owner_position=owner, route=False, last_name="Ada",
                           company="Acme", sector="Retail")  # fmt: skip
    other = crm.lead_create(by=admin, owner_position=owner, route=False, last_name="Bob",
                            company="Bolt", sector="Retail")  # fmt: skip
    return lead, other


def queued_rescores() -> list[list[int]]:
    return [
        job.args_kwargs["kwargs"]["lead_ids"]
        for job in DBTaskResult.objects.filter(task_path=RESCORE).order_by("enqueued_at")
    ]


def test_a_changed_lead_is_rescored_after_commit(
    admin, fit_scored, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    lead, _ = fit_scored
    assert LeadScore.objects.get(lead=lead).score == 0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        crm.lead_update(lead=lead, by=admin, sector="Software")
        # nothing runs before the commit
        assert LeadScore.objects.get(lead=lead).score == 0
    assert len(callbacks) == 1
    score = LeadScore.objects.get(lead=lead)
    assert score.score == 100 and score.fit_score == 100
    assert not services.stale_leads().filter(pk=lead.pk).exists()


def test_every_change_of_a_transaction_is_queued_after_it_commits(
    admin, fit_scored, django_capture_on_commit_callbacks
):
    lead, other = fit_scored
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        # a touch on a new lead also moves it to contacted: two changes, one lead
        crm.activity_log(by=admin, kind="call", subject="Intro", lead=lead)
        crm.lead_update(lead=other, by=admin, title="CTO")
        assert queued_rescores() == []  # nothing before the commit
    queued = queued_rescores()
    assert {pk for ids in queued for pk in ids} == {lead.pk, other.pk}
    assert all(len(ids) == 1 for ids in queued)  # each job names only the lead it changed
    # the next transaction queues its own job
    with django_capture_on_commit_callbacks(execute=True):
        crm.lead_set_status(lead=lead, status="qualifying", by=admin)
    assert queued_rescores()[len(queued) :] == [[lead.pk]]


def test_a_rolled_back_change_queues_nothing(admin, fit_scored, django_capture_on_commit_callbacks):
    lead, other = fit_scored
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        crm.lead_update(lead=lead, by=admin, sector="Software")
        raise RuntimeError("changed my mind")
    assert callbacks == [] and queued_rescores() == []
    # a later change in the same connection is not mixed with the rolled-back one
    with django_capture_on_commit_callbacks(execute=True):
        crm.lead_update(lead=other, by=admin, sector="Software")
    assert queued_rescores() == [[other.pk]]


def test_nothing_is_queued_while_nothing_scores_leads(
    admin, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        crm.lead_create(by=admin, owner_position=owner, route=False, last_name="Cy")
    assert len(callbacks) == 1 and queued_rescores() == []


def test_an_import_of_leads_queues_one_rescore_per_run(
    admin, owner, fit_scored, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    rows = [["Last name", "Company", "Sector"]]
    rows += [[f"Imported {i}", f"Company {i}", "Software"] for i in range(25)]
    path = write_csv(tmp_path, rows)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = run_import(user=admin, entity="lead", path=path, owner=owner)
    assert job.status == "done" and job.created == 25
    assert len(callbacks) == 1  # one for the run, not one per row
    imported = Lead.objects.filter(last_name__startswith="Imported")
    assert LeadScore.objects.filter(lead__in=imported, score=100).count() == 25
    assert not services.stale_leads().exists()


def test_the_rescore_job_is_idempotent(admin, fit_scored):
    lead, _ = fit_scored
    Lead.objects.filter(pk=lead.pk).update(sector="Software")
    for _ in range(2):
        assert tasks.scoring_rescore.call(lead_ids=[lead.pk]).startswith("scored 1 leads")
        assert LeadScore.objects.filter(lead=lead).count() == 1
        assert LeadScore.objects.get(lead=lead).score == 100


def test_renaming_or_retyping_a_campaign_rescores_its_leads(
    admin, owner, fit_scored, django_capture_on_commit_callbacks
):
    """A campaign's name and kind are features of its leads' scores; its cost is not."""
    lead, _ = fit_scored
    campaign = crm.campaign_create(by=admin, owner_position=owner, name="Webinar")
    Lead.objects.filter(pk=lead.pk).update(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        crm.campaign_update(campaign=campaign, by=admin, cost=500)
    assert queued_rescores() == []
    with django_capture_on_commit_callbacks(execute=True):
        crm.campaign_update(campaign=campaign, by=admin, name="Spring webinar")
    assert queued_rescores() == [[lead.pk]]
