"""Too little history: the frequency model, then the fit score alone, and each says so."""

import pytest

from revline.crm.models import Lead
from revline.scoring import services
from revline.scoring.choices import ModelKind, ModelStatus
from revline.scoring.models import FitScore, LeadScore
from revline.scoring.synthetic import generate_leads


def test_under_the_thresholds_the_frequency_model_scores_and_says_so(admin, owner):
    generate_leads(n=300, owner=owner, source_name="small", seed=1)
    services.icp_rule_save(by=admin, name="Software", field="sector", operator="eq",
                           value="software", weight=50)  # fmt: skip
    model = services.scoring_model_train(by=admin, source_name="small")
    assert model.kind == ModelKind.FREQUENCY and model.status == ModelStatus.ACTIVE
    assert model.notes.startswith("fallback: too little history")
    assert "300 leads" in model.notes and "500 leads" in model.notes
    # it is still evaluated honestly, beside both baselines
    assert model.metrics["auc"] is not None
    assert set(model.metrics["baselines"]) == {"naive_bayes", "logistic_regression"}
    scores = LeadScore.objects.filter(lead__source_name="small")
    assert scores.count() == 300
    assert all(s.kind == ModelKind.FREQUENCY and 0 < s.probability < 1 for s in scores)
    # the fit score is kept beside the predictive one
    software = scores.filter(lead__sector="Software")
    assert software.exists() and {s.fit_score for s in software} == {100}
    assert FitScore.objects.filter(lead__source_name="small").count() == 300
    factors = software.first().factors
    assert factors["positive"] or factors["negative"]


def test_thresholds_are_settings(admin, owner, settings):
    generate_leads(n=300, owner=owner, source_name="small", seed=1)
    settings.REVLINE_SCORING_MIN_LEADS = 250
    settings.REVLINE_SCORING_MIN_CONVERSIONS = 30
    model = services.scoring_model_train(by=admin, source_name="small", rescore=False)
    assert model.kind == ModelKind.LIGHTGBM and not model.notes


def test_without_usable_history_the_score_is_the_fit_score(admin, owner):
    generate_leads(n=12, owner=owner, source_name="tiny", seed=2)
    generate_leads(n=5, owner=owner, source_name="tiny", seed=3, labelled=False)
    services.icp_rule_save(by=admin, name="Mid-size", field="employees", operator="range",
                           value={"min": 50, "max": 1000}, weight=60)  # fmt: skip
    services.icp_rule_save(by=admin, name="Finance", field="sector", operator="in",
                           value=["Finance", "Software"], weight=40)  # fmt: skip
    model = services.scoring_model_train(by=admin, source_name="tiny")
    assert model.kind == ModelKind.FIT and model.status == ModelStatus.ACTIVE
    assert "the score is the ICP fit score" in model.notes
    for lead in Lead.objects.filter(source_name="tiny").select_related("score", "fit"):
        expected = (60 if lead.employees and 50 <= lead.employees <= 1000 else 0) + (
            40 if lead.sector in ("Finance", "Software") else 0
        )
        assert lead.score.score == lead.fit.score == lead.score.fit_score == expected
        assert lead.score.probability is None and lead.score.kind == ModelKind.FIT
        assert lead.score.tier == ("A" if expected >= 75 else "B" if expected >= 50 else
                                   "C" if expected >= 25 else "D")  # fmt: skip


@pytest.mark.parametrize("converted", [0, 12])
def test_one_outcome_only_is_no_history(admin, owner, converted):
    ids, _ = generate_leads(n=12, owner=owner, source_name="same", seed=4)
    Lead.objects.filter(pk__in=ids.tolist()).update(outcome=bool(converted))
    model = services.scoring_model_train(by=admin, source_name="same")
    assert model.kind == ModelKind.FIT
    assert f"{converted} converted" in model.notes
