"""The numerical parts on their own: explanations add up, calibration, folds, features."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from revline.scoring import features, ml, synthetic


def frame_of(rows):
    """Generated leads as ``load_frame`` would read them (custom fields as ``custom:<key>``)."""
    df = pd.DataFrame([{k: v for k, v in r.items() if k not in ("custom", "last_name")}
                       for r in rows])  # fmt: skip
    custom = pd.DataFrame([r["custom"] for r in rows])
    for key in custom.columns:
        values = custom[key]
        if key == "webinar":
            values = values.map({True: 1.0, False: 0.0})
        df[features.CUSTOM + key] = values
    return df


@pytest.fixture(scope="module")
def data():
    rows, p = synthetic.sample(3000, seed=31)
    y = (np.random.default_rng(32).random(len(p)) < p).astype(np.int64)
    frame = frame_of(rows)
    spec = features.spec_build(frame, names={})
    features.mark_yes_no(spec, frame)
    return frame, spec, features.encode(frame, spec), y


def test_spec_drops_ids_pools_rare_values_and_honours_exclusions(data):
    frame, spec, _, _ = data
    dropped = {d["key"]: d["reason"] for d in spec["dropped"]}
    assert dropped["company"].startswith("nearly every value different")
    assert dropped["custom:note"].startswith("nearly every value different")
    kinds = {f["key"]: f for f in spec["features"]}
    assert kinds["employees"]["type"] == features.NUMERIC
    assert kinds["sector"]["type"] == features.CATEGORICAL
    assert kinds["custom:segment"]["other"]  # 600 codes: the rare ones pooled
    assert kinds["custom:webinar"].get("yes_no")
    again = features.spec_build(
        frame, names={"sector": "Industry"}, excluded=["Industry", "Visits"]
    )
    assert {d["key"] for d in again["dropped"] if d["reason"] == "excluded"} == {
        "sector", "custom:visits"
    }  # fmt: skip


def test_encoding_normalises_case_and_spacing_and_maps_unseen_to_other():
    frame = pd.DataFrame({"source": ["Google"] * 6 + ["google "] * 6 + ["Bing"] * 6 + [None]})
    spec = features.spec_build(frame, names={}, min_count=5)
    f = spec["features"][0]
    assert f["categories"] == ["google", "bing"] and f["display"][0] in ("Google", "google ")
    X = features.encode(pd.DataFrame({"source": ["GOOGLE", "Yahoo", None]}), spec)
    assert X[0, 0] == 0 and X[1, 0] == 2 and np.isnan(X[2, 0])


def test_path_attribution_adds_up_to_the_model_output(data):
    _, spec, X, y = data
    booster = lgb.train(
        {**ml.LGB_PARAMS, "num_threads": 1},
        lgb.Dataset(X, y, categorical_feature=ml.tree_categoricals(spec)),
        num_boost_round=60,
    )
    paths = ml.PathAttribution(booster, X.shape[1])
    leaves = booster.predict(X[:500], pred_leaf=True)
    raw, contrib = paths(np.asarray(leaves))
    expected = booster.predict(X[:500], raw_score=True)
    assert np.allclose(raw, expected, atol=1e-6)
    assert np.allclose(paths.bias + contrib.sum(axis=1), expected, atol=1e-6)
    # the exact TreeSHAP contributions add up too, and agree on the strongest feature often
    shap = booster.predict(X[:500], pred_contrib=True)
    assert np.allclose(shap.sum(axis=1), expected, atol=1e-6)
    same = (np.argmax(np.abs(shap[:, :-1]), axis=1) == np.argmax(np.abs(contrib), axis=1)).mean()
    assert same > 0.5


def test_wide_models_take_the_sparse_path_to_the_same_contributions(data, monkeypatch):
    _, _, X, y = data
    booster = lgb.train({**ml.LGB_PARAMS, "num_threads": 1}, lgb.Dataset(X, y), 30)
    leaves = np.asarray(booster.predict(X[:300], pred_leaf=True))
    dense = ml.PathAttribution(booster, X.shape[1])(leaves)
    monkeypatch.setattr(ml, "DENSE_FEATURES", 0)
    sparse = ml.PathAttribution(booster, X.shape[1])(leaves)
    assert np.allclose(dense[0], sparse[0]) and np.allclose(dense[1], sparse[1])


def test_scorer_round_trip_and_frequency_contributions(data):
    _, spec, X, y = data
    out = ml.train(X, y, np.zeros(len(y)), spec, kind="lightgbm")
    scorer = ml.Scorer("lightgbm", ml.unpack(ml.pack(out.artifact)), spec)
    p, contrib = scorer.score(X[:200])
    assert p.shape == (200,) and contrib.shape == (200, X.shape[1])
    assert np.all((p > 0) & (p < 1))
    exact = scorer.exact_contributions(X[:5])
    assert exact.shape == (5, X.shape[1])

    nb = ml.FrequencyModel.fit(X, y, spec)
    c = nb.contributions(X[:50], spec)
    assert np.allclose(nb.prior + c.sum(axis=1), nb.logit(X[:50], spec))
    freq = ml.train(X, y, np.zeros(len(y)), spec, kind="frequency")
    scorer = ml.Scorer("frequency", ml.unpack(ml.pack(freq.artifact)), spec)
    assert scorer.score(X[:10])[0].shape == (10,)


def test_calibrator_keeps_the_ranking():
    rng = np.random.default_rng(1)
    raw = rng.normal(0, 2, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.5 * raw - 0.3)))).astype(int)
    iso = ml.Calibrator.fit(raw, y)
    assert iso.method == "isotonic"
    grid = np.linspace(-5, 5, 200)
    curve = iso(grid)
    assert np.all(np.diff(curve) >= 0) and len(np.unique(curve)) > 100
    small = ml.Calibrator.fit(raw[:300], y[:300])
    assert small.method == "platt" and 0.3 < small.a < 0.8
    assert ml.Calibrator.from_json(iso.to_json())(grid).tolist() == curve.tolist()


def test_folds_use_time_when_dates_spread():
    y = np.array([0, 1] * 300)
    spread = np.arange(600) * 86400.0
    validation, folds, _ = ml.make_folds(y, spread, 5)
    assert validation == "time_split" and len(folds) == 5
    for train, test in folds:
        assert spread[train].max() < spread[test].min()
    assert sum(len(te) for _, te in folds) == 300
    validation, folds, _ = ml.make_folds(y, np.zeros(600), 5)
    assert validation == "cv" and sum(len(te) for _, te in folds) == 600


def test_metrics_lift_and_gain():
    y = np.array([1] * 100 + [0] * 900)
    p = np.linspace(0.99, 0.01, 1000)
    m = ml.metrics(y, p)
    assert m["auc"] == 1.0 and m["lift"][0]["lift"] == 10.0
    assert m["lift"][-1]["cumulative_gain"] == 1.0
    assert sum(c["n"] for c in m["calibration"]) == 1000
    assert ml.metrics(np.ones(5), np.full(5, 0.5))["auc"] is None
