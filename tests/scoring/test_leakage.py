"""The leakage guard: a field that alone predicts the outcome is flagged before training."""

import io

import pytest
from django.core.management import CommandError, call_command

from revline.crm.models import CustomFieldDefinition, Lead
from revline.scoring import services
from revline.scoring.choices import ModelKind, ModelStatus
from revline.scoring.models import LeadScore, ScoringProfile
from revline.scoring.selectors import active_model, latest_model
from revline.scoring.synthetic import generate_leads


@pytest.fixture
def leaky(admin, owner, small_history):
    """Generated leads plus a field the sales team fills in once the outcome is known."""
    ids, _ = generate_leads(n=600, owner=owner, source_name="leaky", seed=5)
    CustomFieldDefinition.objects.create(entity="lead", key="won_reason", label="Won reason")
    for lead in Lead.objects.filter(pk__in=ids.tolist(), outcome=True):
        lead.custom = {**lead.custom, "won_reason": "Price" if lead.pk % 2 else "Features"}
        lead.save(update_fields=["custom"])
    return ids


def score(*args):
    out = io.StringIO()
    call_command("score", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_leaking_field_stops_training_until_reviewed(admin, leaky):
    with pytest.raises(CommandError, match="flagged for review"):
        score("train", "--source", "leaky")
    profile = ScoringProfile.objects.get(source_name="leaky")
    assert profile.excluded_fields == [] and profile.allowed_fields == []
    latest = latest_model("leaky")
    assert latest.status == ModelStatus.FLAGGED and active_model("leaky") is None
    assert [f["field"] for f in latest.leakage_flags] == ["custom:won_reason"]
    assert latest.leakage_flags[0]["auc"] >= 0.97
    assert "Won reason" in latest.notes
    assert not LeadScore.objects.exists()  # nothing was scored with it

    # excluding it trains, and the exclusion is kept for the next (nightly) training
    out = score("train", "--source", "leaky", "--exclude", "Won reason")
    assert "v2" in out and "active" in out
    model = active_model("leaky")
    assert model.kind == ModelKind.LIGHTGBM and not model.leakage_flags
    assert "custom:won_reason" not in {f["key"] for f in model.feature_spec["features"]}
    assert {"key": "custom:won_reason", "label": "Won reason", "reason": "excluded"} in (
        model.feature_spec["dropped"]
    )
    again = services.scoring_model_train(by=None, source_name="leaky", rescore=False)
    assert again.status == ModelStatus.ACTIVE and again.excluded_fields == ["won_reason"]


def test_allowing_a_reviewed_field_trains_with_it_and_remembers(admin, leaky):
    score("train", "--source", "leaky", "--allow-flagged")
    model = active_model("leaky")
    assert model.leakage_flags and "allowed despite a flag" in model.notes
    assert ScoringProfile.objects.get(source_name="leaky").allowed_fields == ["custom:won_reason"]
    later = services.scoring_model_train(by=None, source_name="leaky", rescore=False)
    assert later.status == ModelStatus.ACTIVE


def test_the_threshold_is_a_setting(admin, leaky, settings):
    settings.REVLINE_SCORING_LEAKAGE_AUC = 1.01  # above 1: the guard is off
    model = services.scoring_model_train(by=admin, source_name="leaky", rescore=False)
    assert model.status == ModelStatus.ACTIVE and not model.leakage_flags
