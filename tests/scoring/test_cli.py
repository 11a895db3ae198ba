"""The contract end to end from the CLI: import part of a data set with outcomes, train, import
the rest without outcomes, evaluate, export every lead's score."""

import csv
import io
import json

from django.core.management import call_command

from revline.crm.models import Lead
from revline.scoring.models import LeadScore
from revline.scoring.synthetic import sample

HEADER = ["Lead Id", "Company", "Industry", "Employees", "Country", "Title", "Visits",
          "Time on site", "Webinar", "Plan", "Segment", "Converted"]  # fmt: skip


def write(path, rows, outcomes=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(HEADER if outcomes is not None else HEADER[:-1])
        for i, r in enumerate(rows):
            c = r["custom"]
            line = [
                r["external_id"], r["company"], r["sector"], r["employees"], r["country"],
                r["title"], c["visits"], c.get("time_on_site", ""),
                "yes" if c["webinar"] else "no", c.get("plan", "Select"), c["segment"],
            ]  # fmt: skip
            if outcomes is not None:
                line.append("won" if outcomes[i] else "lost")
            w.writerow(line)


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def test_import_train_import_open_leads_export(admin, tmp_path):
    import numpy as np

    rows, p = sample(1500, seed=11)
    for i, r in enumerate(rows):
        r["external_id"] = f"L-{i:05d}"
    won = np.random.default_rng(12).random(len(p)) < p
    history, fresh = tmp_path / "history.csv", tmp_path / "fresh.csv"
    write(history, rows[:1200], won[:1200])
    write(fresh, rows[1200:])

    out = run("import", "leads", str(history), "--source", "Trade fair", "--id-column",
              "Lead Id", "--outcome", "Converted", "--delimiter", ";")  # fmt: skip
    assert "created 1200" in out
    out = run("score", "train", "--source", "Trade fair")
    assert "Trade fair v1: Gradient-boosted trees (LightGBM), active; 1,200 leads" in out
    assert "naive Bayes" in out and "logistic regression" in out

    out = run("import", "leads", str(fresh), "--source", "Trade fair", "--id-column", "Lead Id",
              "--delimiter", ";")  # fmt: skip
    assert "created 300" in out
    assert Lead.objects.filter(source_name="Trade fair", outcome__isnull=True).count() == 300
    assert LeadScore.objects.count() == 1200  # the open leads are scored on export (or by a task)

    report = json.loads(run("score", "evaluate", "--source", "Trade fair", "--json"))
    for key in ("auc", "pr_auc", "brier", "n"):
        assert report[key] is not None
    assert report["n"] == 1200 and report["validation"] == "cv"  # the import had no dates
    assert 0.6 < report["auc"] <= 1
    for baseline in ("naive_bayes", "logistic_regression"):
        assert 0.5 < report["baselines"][baseline]["auc"] < 1
    assert len(report["lift"]) == 10 and report["calibration"]
    assert report["top_features"][0]["label"]

    exported = tmp_path / "scores.csv"
    run("score", "export", "--source", "Trade fair", "--format", "csv", "--output", str(exported))
    with open(exported, newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["source_id", "probability", "score", "tier"]
    assert len(table) == 1500
    assert {r["source_id"] for r in table} == {r["external_id"] for r in rows}
    for r in table:
        probability = float(r["probability"])
        assert 0 < probability < 1
        assert int(r["score"]) == round(probability * 100)
        assert r["tier"] in "ABCD"
    fresh_ids = {r["external_id"] for r in rows[1200:]}
    tiers = [r["tier"] for r in table if r["source_id"] in fresh_ids]
    assert len(set(tiers)) >= 3  # open leads spread over the tiers

    # stdout works too, and a second export has nothing left to rescore
    text = run("score", "export", "--source", "Trade fair")
    assert text.splitlines()[0] == "source_id,probability,score,tier"
    assert len(text.splitlines()) == 1501


def test_evaluate_trains_when_there_is_no_model_yet(admin, tmp_path):
    import numpy as np

    rows, p = sample(700, seed=13)
    for i, r in enumerate(rows):
        r["external_id"] = f"E-{i}"
    won = np.random.default_rng(14).random(len(p)) < p
    path = tmp_path / "h.csv"
    write(path, rows, won)
    run("import", "leads", str(path), "--source", "Expo", "--id-column", "Lead Id",
        "--outcome", "Converted")  # fmt: skip
    report = json.loads(run("score", "evaluate", "--source", "Expo", "--json"))
    assert report["model"]["version"] == 1 and report["n"] == 700
    versions = run("score", "versions", "--source", "Expo")
    assert "Expo v1: active, lightgbm, 700 leads, AUC" in versions
