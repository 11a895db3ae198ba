"""A user only ever sees scores and reports for the leads they may see."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revline.crm.models import Lead
from revline.scoring import ml, selectors, services
from revline.scoring.synthetic import generate_leads


@pytest.fixture
def scored(org, admin, small_history):
    mine, _ = generate_leads(n=300, owner=org["ae1"], source_name="vis", seed=21)
    theirs, _ = generate_leads(n=300, owner=org["ae3"], source_name="vis", seed=22)
    open_mine, _ = generate_leads(n=20, owner=org["ae1"], source_name="vis", seed=23,
                                  labelled=False)  # fmt: skip
    services.scoring_model_train(by=admin, source_name="vis")
    return {"mine": set(mine.tolist()) | set(open_mine.tolist()), "theirs": set(theirs.tolist())}


def test_scores_lists_details_and_exports_follow_visibility(org, scored):
    ae1, ae2, m1 = org["ae1"].holder, org["ae2"].holder, org["m1"].holder
    for user, expected in ((ae1, scored["mine"]), (m1, scored["mine"]), (ae2, set())):
        assert set(selectors.scored_leads(user).values_list("pk", flat=True)) == expected
        assert {row[0] for row in selectors.export_rows(user, source_name="vis")} == {
            lead.external_id for lead in Lead.objects.filter(pk__in=expected)
        }
    other = next(iter(scored["theirs"]))
    with pytest.raises(Lead.DoesNotExist):
        selectors.lead_score_detail(ae1, other)
    with pytest.raises(Lead.DoesNotExist):
        selectors.lead_score_detail(AnonymousUser(), other)
    mine = next(iter(scored["mine"]))
    assert selectors.lead_score_detail(ae1, mine).score is not None
    cso = org["cso"].holder
    assert selectors.scored_leads(cso).count() == 620


def test_reports_cover_only_the_readers_leads(org, scored):
    ae1, ae3, cso = org["ae1"].holder, org["ae3"].holder, org["cso"].holder
    # the leads were created over two years: a time split, tested on the newer half
    model = selectors.active_model("vis")
    tested = ml.unpack_arrays(model.oof)["lead_id"].tolist()
    everyone = selectors.evaluation_report(cso, source_name="vis")
    assert everyone["scope"] == "all" and everyone["n"] == len(tested) == 300
    mine = selectors.evaluation_report(ae1, source_name="vis")
    assert mine["scope"] == "visible" and mine["n"] == len(scored["mine"] & set(tested))
    assert set(mine["baselines"]) == {"naive_bayes", "logistic_regression"}
    theirs = selectors.evaluation_report(ae3, source_name="vis")
    assert theirs["n"] == len(scored["theirs"] & set(tested))
    assert mine["n"] + theirs["n"] == everyone["n"]
    assert mine["converted"] + theirs["converted"] == everyone["converted"]
    nobody = selectors.evaluation_report(org["ae2"].holder, source_name="vis")
    assert nobody["n"] == 0 and nobody["auc"] is None
    anonymous = selectors.evaluation_report(AnonymousUser(), source_name="vis")
    assert anonymous["n"] == 0 and anonymous["auc"] is None

    distribution = selectors.score_distribution(ae1, source_name="vis")
    assert distribution["scored"] == 320
    assert sum(t["closed"] for t in distribution["tiers"]) == 300
    assert selectors.score_distribution(org["ae2"].holder)["scored"] == 0

    # model versions: figures over every lead only for a reader who sees every lead
    assert "metrics" not in selectors.scoring_models(ae1)[0]
    assert selectors.scoring_models(cso)[0]["n"] == 600  # leads with an outcome
    assert selectors.scoring_models(AnonymousUser()) == []


def test_a_managers_evaluation_reads_their_leads_through_the_visibility_subquery(org, scored):
    """The visible leads are selected by the visibility predicate in SQL, never sent back to
    the database as a literal list of ids."""
    with CaptureQueriesContext(connection) as queries:
        report = selectors.evaluation_report(org["m1"].holder, source_name="vis")
    assert report["scope"] == "visible" and report["n"] > 0
    id_list = re.compile(r"IN \((\d+, ){20,}")
    assert not [q["sql"] for q in queries.captured_queries if id_list.search(q["sql"])]
    assert len(queries.captured_queries) <= 8
