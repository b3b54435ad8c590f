"""auto searches the scaling of the families whose results depend on it (preprocessing.scale), unless the spec
sets features.scale; a trial's choice builds its pipeline and its refit's, and an ensemble's members share one."""
from __future__ import annotations

import pytest

from mlops import api
from mlops.errors import SpecError
from mlops.plugins import estimators
from mlops.searched_scaling import SCALE_KEY, SEARCHED_SCALES, pipeline_features

SPEC = """
name: scaled
data:
  source: {type: sklearn, name: iris}
  target: target
model: {type: auto, task: classification, candidates: [svm, knn, logistic_regression, random_forest]}
tuning: {num_samples: 8}
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def test_the_scale_sensitive_families_search_their_scaling_from_the_spec_default(spec):
    tune = api.plan(spec).node("tune")
    for family in ("svm", "knn", "logistic_regression"):
        assert tune.params["space"][family][SCALE_KEY] == {"choice": SEARCHED_SCALES}, family
    assert SCALE_KEY not in tune.params["space"]["random_forest"]  # a tree's splits do not depend on it
    start = tune.params["start"]
    cheap = {p["family"]: p["values"] for p in start if not p.get("portfolio") and not p.get("rescaled")}
    assert cheap["svm"][SCALE_KEY] == "standard" and SCALE_KEY not in cheap["random_forest"]
    # then each scale-sensitive family's cheap configuration under the other scaling, before any portfolio
    rescaled = [(i, p["family"], p["values"]) for i, p in enumerate(start) if p.get("rescaled")]
    assert sorted(family for _, family, _ in rescaled) == ["knn", "logistic_regression", "svm"]
    assert all(values == {**cheap[family], SCALE_KEY: "minmax"} for _, family, values in rescaled)
    assert min(i for i, _, _ in rescaled) == len(cheap)
    from mlops.plan.tuning import describe_trials

    said = describe_trials(api.plan(spec).node("tune"))
    assert ("cheap first: logistic_regression, svm, knn, random_forest, "
            "then rescaled: logistic_regression (minmax), svm (minmax), knn (minmax)") in said, said


def test_a_spec_that_sets_features_scale_keeps_it_for_every_trial(spec):
    tune = api.plan(spec, ["+features.scale=robust"]).node("tune")
    assert not any(SCALE_KEY in space for space in tune.params["space"].values())
    assert not any(SCALE_KEY in p["values"] for p in tune.params["start"])


def test_a_spec_may_search_the_scaling_itself_and_a_bad_one_is_named(spec):
    tune = api.plan(spec, ["+model.search_space={svm: {params.C: {loguniform: [0.1, 10]}, "
                           "preprocessing.scale: {choice: [robust, none]}}}"]).node("tune")
    assert tune.params["space"]["svm"][SCALE_KEY] == {"choice": ["robust", "none"]}
    with pytest.raises(SpecError) as caught:
        api.validate(spec, ["+model.search_space={svm: {preprocessing.scale: {choice: [minmax, log]}, "
                            "preprocessing.center: {choice: [true]}}}"])
    problems = {p.path: p.message for p in caught.value.problems}
    assert "not a scaling: 'log'" in problems["model.search_space.svm.preprocessing.scale"], problems
    assert "not a searchable preprocessing setting" in problems["model.search_space.svm.preprocessing.center"]


def test_a_trials_choice_builds_its_pipeline():
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    from mlops.models.preprocessing import build_pipeline

    features = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
                "encode": "onehot", "derived": {}}
    chosen = pipeline_features(features, {"estimator": "svm", "preprocessing": {"scale": "minmax"}})
    assert chosen["scale"] == "minmax" and features["scale"] == "standard"  # the spec's section is not changed
    assert pipeline_features(features, {"estimator": "random_forest"}) is features

    def scaler(section):
        numeric = build_pipeline(section, ["a"], [], None).named_steps["preprocess"].transformers[0][1]
        return type(numeric.named_steps["scale"])

    assert scaler(chosen) is MinMaxScaler and scaler(features) is StandardScaler


def test_an_ensembles_members_share_the_best_scale_sensitive_trials_scaling():
    from mlops.models.ensembles import ensemble_section, members_of
    from mlops.stages.tune import TrialResult

    def trial(i, family, score, scale=None):
        model = {"type": "sklearn", "task": "classification", "estimator": family, "params": {"i": i}}
        if scale:
            model["preprocessing"] = {"scale": scale}
        return TrialResult(f"t{i}", {"estimator": family}, model, {"accuracy": score}, "ok", 1.0, 1)

    trials = [trial(0, "svm", 0.99, "minmax"), trial(1, "knn", 0.98, "standard"), trial(2, "random_forest", 0.97),
              trial(3, "knn", 0.96, "minmax"), trial(4, "logistic_regression", 0.95)]
    assert estimators.get("knn").meta["search_space"].get(SCALE_KEY)
    # knn t1 scaled otherwise, logistic_regression t4 by the spec's default (standard): not members
    assert [t.trial_id for t in members_of(trials, "accuracy", "max", 5)] == ["t0", "t2", "t3"]
    section = ensemble_section(trials, "accuracy", "max", "classification", {"top_k": 5, "method": "stacking"})
    assert section["preprocessing"] == {"scale": "minmax"} and section["members_from_trials"] == ["t0", "t2", "t3"]
    # the spec's default is minmax: t4, which chose nothing, scaled as t0 did
    assert [t.trial_id for t in members_of(trials, "accuracy", "max", 5, scale="minmax")] == ["t0", "t2", "t3", "t4"]
    trees = [trial(2, "random_forest", 0.97), trial(5, "extra_trees", 0.96)]
    assert "preprocessing" not in ensemble_section(trees, "accuracy", "max", "classification", {"top_k": 5, "method": "voting"})


def test_a_trials_scaling_builds_its_pipeline_and_its_refits():
    """k-NN's distances on a column a thousand times wider than the one that decides the label: unscaled, the
    wide column's noise picks the neighbours; scaled as the trial chose, the deciding column counts."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from mlops.stages import train
    from mlops.stages.trial import TrialData, fit_and_score

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"decides": rng.normal(size=400), "wide": rng.normal(scale=1000.0, size=400)})
    y = pd.Series((X["decides"] > 0).astype(int))
    features = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "none",
                "encode": "onehot", "derived": None}
    data, rows = TrialData(X, y, ["decides", "wide"], []), np.arange(400)
    section = {"type": "sklearn", "task": "classification", "estimator": "knn", "params": {}}
    unscaled, _ = fit_and_score(section, data, features, rows[:300], rows[300:])
    scaled, _ = fit_and_score({**section, "preprocessing": {"scale": "minmax"}}, data, features, rows[:300], rows[300:])
    assert unscaled["accuracy"] < 0.7 < 0.9 < scaled["accuracy"], (unscaled, scaled)
    split = SimpleNamespace(X_train=X, y_train=y)
    frame = SimpleNamespace(numeric=["decides", "wide"], categorical=[], target="y", id_column=None,
                            input_schema=[], fingerprint="f")
    refit = train.run(frame, split, {"features": features, "model": {**section, "preprocessing": {"scale": "minmax"}}})
    numeric = {name: steps for name, steps, _ in refit.model.named_steps["preprocess"].transformers}["numeric"]
    scaler = numeric.named_steps["scale"]
    assert type(scaler).__name__ == "MinMaxScaler"
    plain = train.run(frame, split, {"features": features, "model": section}).model.named_steps["preprocess"]
    assert "scale" not in {name: steps for name, steps, _ in plain.transformers}["numeric"].named_steps
