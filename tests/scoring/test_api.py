"""``/api/v1/scoring``: the same scores, reports and rules as the CLI, through the visibility
rule (404 outside the caller's view) and the rights (403 for a visible lead one may not change,
RevOps-only training and rules)."""

import csv
import io

import pytest

from revline.crm.models import Lead
from revline.scoring import services
from revline.scoring.models import IcpRule, ScoreOverride, ScoringModel
from revline.scoring.synthetic import generate_leads
from tests.api.conftest import ApiClient, assert_error, token_for


@pytest.fixture
def world(org, admin, small_history):
    mine, _ = generate_leads(n=250, owner=org["ae1"], source_name="api", seed=51)
    theirs, _ = generate_leads(n=250, owner=org["ae3"], source_name="api", seed=52)
    services.scoring_model_train(by=admin, source_name="api")
    return {"mine": mine.tolist(), "theirs": theirs.tolist()}


def client(position):
    return ApiClient(token_for(position.holder))


def test_lead_score_and_overrides_follow_visibility(org, world):
    ae1, m1, ae3 = client(org["ae1"]), client(org["m1"]), client(org["ae3"])
    mine, theirs = world["mine"][0], world["theirs"][0]
    body = ae1.get(f"/scoring/leads/{mine}").json()
    assert body["lead"] == mine and 0 <= body["score"] <= 100 and body["tier"] in "ABCD"
    assert body["kind"] == "lightgbm" and body["model_version"] == 1
    assert body["factors"]["positive"] or body["factors"]["negative"]
    # the lead page's words (one phrasing: ``LeadScoreView.sentence``)
    assert body["summary"].startswith(
        f"Scored {body['score']}/100 (tier {body['tier']}) by model v1"
    )
    exact = ae1.get(f"/scoring/leads/{mine}", {"exact": "true"}).json()
    assert exact["exact"] is True
    assert_error(ae1.get(f"/scoring/leads/{theirs}"), 404, "not_found")
    assert_error(ApiClient().get(f"/scoring/leads/{mine}"), 401, "unauthorized")

    # the AE overrides their own lead; the peer cannot even see it
    r = ae1.put(f"/scoring/leads/{mine}/override", {"tier": "A", "reason": "Champion found"})
    assert r.status_code == 200 and r.json()["tier"] == "A"
    assert ae1.get(f"/scoring/leads/{mine}").json()["effective_tier"] == "A"
    assert_error(
        ae3.put(f"/scoring/leads/{mine}/override", {"tier": "D", "reason": "x"}), 404, "not_found"
    )
    assert_error(ae1.put(f"/scoring/leads/{mine}/override", {"score": 120, "reason": "x"}),
                 422, "validation_error")  # fmt: skip
    # Marketing sees every lead but may not change a rep's lead
    marketing = client(org["mkt"])
    assert marketing.get(f"/scoring/leads/{mine}").status_code == 200
    assert_error(marketing.delete(f"/scoring/leads/{mine}/override"), 403, "forbidden")
    assert m1.delete(f"/scoring/leads/{mine}/override").status_code == 204
    assert not ScoreOverride.objects.exists()
    assert_error(m1.delete(f"/scoring/leads/{mine}/override"), 404, "not_found")


def test_reports_and_export_cover_the_callers_leads(org, world):
    ae1, cso = client(org["ae1"]), client(org["cso"])
    mine = ae1.get("/scoring/evaluation", {"source": "api"}).json()
    everyone = cso.get("/scoring/evaluation", {"source": "api"}).json()
    assert mine["scope"] == "visible" and everyone["scope"] == "all"
    assert 0 < mine["n"] < everyone["n"]
    assert {"naive_bayes", "logistic_regression"} <= set(everyone["baselines"])
    assert_error(cso.get("/scoring/evaluation", {"source": "nothing"}), 404, "not_found")

    r = ae1.get("/scoring/export", {"source": "api"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode())))
    expected = set(Lead.objects.filter(pk__in=world["mine"]).values_list("external_id", flat=True))
    assert {row["source_id"] for row in table} == expected
    assert list(table[0]) == ["source_id", "probability", "score", "tier"]
    rows = cso.get("/scoring/export", {"source": "api", "format": "json"}).json()
    assert len(rows) == 500 and {"source_id", "probability", "score", "tier"} == set(rows[0])

    assert ae1.get("/scoring/distribution", {"source": "api"}).json()["scored"] == 250
    versions = ae1.get("/scoring/models").json()
    assert versions[0]["version"] == 1 and versions[0]["metrics"] is None
    assert cso.get("/scoring/models").json()[0]["metrics"]["auc"] > 0.5


def test_training_and_rules_are_for_revops(
    org, world, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert_error(client(org["ae1"]).post("/scoring/train", {"source": "api"}), 403, "forbidden")
    revops = client(org["revops"])
    r = revops.post("/scoring/train", {"source": "api", "wait": True, "exclude": ["Segment code"]})
    assert r.status_code == 201, r.content
    assert r.json()["version"] == 2 and r.json()["status"] == "active"
    assert ScoringModel.objects.get(source_name="api", version=2).excluded_fields == [
        "segment_code"
    ]
    with django_capture_on_commit_callbacks(execute=True):  # the job is queued on commit
        r = revops.post("/scoring/train", {"source": "api"})
    assert r.status_code == 202 and r.json()["queued"] is True
    assert ScoringModel.objects.filter(source_name="api", version=3).exists()  # ran at once

    rule = {"name": "Software", "field": "sector", "operator": "eq", "value": "Software",
            "weight": 40}  # fmt: skip
    assert_error(client(org["ae1"]).post("/scoring/icp-rules", rule), 403, "forbidden")
    created = revops.post("/scoring/icp-rules", rule)
    assert created.status_code == 201
    pk = created.json()["id"]
    bad = {**rule, "field": "shoe_size"}
    assert_error(revops.put(f"/scoring/icp-rules/{pk}", bad), 422, "validation_error")
    assert revops.put(f"/scoring/icp-rules/{pk}", {**rule, "weight": 50}).json()["weight"] == 50
    assert client(org["ae1"]).get("/scoring/icp-rules").json()[0]["name"] == "Software"
    with django_capture_on_commit_callbacks(execute=True):
        assert revops.post("/scoring/fit/refresh").status_code == 202
    lead = Lead.objects.filter(sector="Software", owner_position=org["ae1"]).first()
    assert client(org["ae1"]).get(f"/scoring/leads/{lead.pk}").json()["fit"]["score"] == 100
    assert revops.delete(f"/scoring/icp-rules/{pk}").status_code == 204
    assert not IcpRule.objects.exists()
    assert_error(revops.delete(f"/scoring/icp-rules/{pk}"), 404, "not_found")
