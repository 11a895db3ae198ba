"""A person's override is kept apart from the automated score, which never overwrites it."""

import pytest
from django.core.exceptions import ValidationError

from revline.core.models import AuditEvent
from revline.crm import services as crm
from revline.crm.models import Lead
from revline.scoring import selectors, services
from revline.scoring.models import LeadScore, ScoreOverride
from revline.scoring.synthetic import generate_leads


def test_rescoring_and_retraining_never_touch_an_override(admin, owner, small_history):
    ids, _ = generate_leads(n=400, owner=owner, source_name="ov", seed=6)
    services.scoring_model_train(by=admin, source_name="ov")
    lead = Lead.objects.get(pk=int(ids[0]))
    automated = LeadScore.objects.get(lead=lead)
    override = services.score_override_set(
        lead=lead, by=admin, score=100, reason="Met them at the trade show; budget confirmed."
    )
    assert override.tier == "A" and override.by == admin
    assert AuditEvent.objects.filter(action="lead.score_override", object_id=lead.pk).exists()

    crm.lead_update(lead=lead, by=admin, employees=(lead.employees or 0) + 5000)
    services.leads_rescore_stale()
    model2 = services.scoring_model_train(by=admin, source_name="ov")
    services.leads_score()

    kept = ScoreOverride.objects.get(lead=lead)
    assert (kept.score, kept.tier, kept.reason, kept.by, kept.at) == (
        100, "A", override.reason, admin, override.at
    )  # fmt: skip
    rescored = LeadScore.objects.get(lead=lead)
    assert rescored.model_id == model2.pk and rescored.scored_at > automated.scored_at
    row = selectors.scored_leads(admin, source_name="ov").get(pk=lead.pk)
    assert (row.effective_score, row.effective_tier) == (100, "A")
    assert row.score.score == rescored.score  # the automated one stays visible beside it
    detail = selectors.lead_score_detail(admin, lead.pk)
    assert "Overridden to A (100)" in detail.summary

    # the queue puts the overridden lead first
    assert selectors.scored_leads(admin, source_name="ov").first().pk == lead.pk

    assert services.score_override_clear(lead=lead, by=admin) is True
    assert not ScoreOverride.objects.filter(lead=lead).exists()
    row = selectors.scored_leads(admin, source_name="ov").get(pk=lead.pk)
    assert row.effective_score == rescored.score


def test_tier_only_override_and_validation(admin, owner, small_history):
    ids, _ = generate_leads(n=300, owner=owner, source_name="ov", seed=7)
    services.scoring_model_train(by=admin, source_name="ov")
    lead = Lead.objects.get(pk=int(ids[1]))
    o = services.score_override_set(lead=lead, by=admin, tier="D", reason="Student")
    assert o.score is None and o.tier == "D"
    row = selectors.scored_leads(admin).get(pk=lead.pk)
    assert row.effective_tier == "D" and row.effective_score == lead.score.score
    with pytest.raises(ValidationError):
        services.score_override_set(lead=lead, by=admin, score=50, reason="")
    with pytest.raises(ValidationError):
        services.score_override_set(lead=lead, by=admin, score=101, reason="x")
    with pytest.raises(ValidationError):
        services.score_override_set(lead=lead, by=admin, tier="E", reason="x")
    with pytest.raises(ValidationError):
        services.score_override_set(lead=lead, by=admin, reason="nothing given")
