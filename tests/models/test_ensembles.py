"""model.ensemble: the best trials of a search stacked (or soft-voted) into one model that is fitted, saved,
loaded and scored like any other; on data where several families are good in different ways it scores at
least as well as its best member on the test split. In process: the stages a plan runs, no Ray."""
from __future__ import annotations


import pytest

from mlops import api
from mlops.models.ensembles import ensemble_section, members_of
from mlops.runtime.node_calls import run_here
from mlops.stages.tune import TrialResult, TuneOutcome

SPEC = """
name: ens
data:
  source: {type: csv, path: data.csv}
  target: label
  split: {method: stratified, test_size: 0.3, seed: 3}
model:
  task: classification
  type: auto
  candidates: [random_forest, extra_trees, logistic_regression, knn]
  metric: roc_auc
  ensemble: {top_k: 4, method: METHOD}
tuning: {num_samples: 4, time_budget_s: 60}
tracking: {uri: "sqlite:///DB"}
"""
MEMBERS = [("random_forest", {"n_estimators": 150, "min_samples_leaf": 5, "random_state": 0}, 0.90),
           ("extra_trees", {"n_estimators": 150, "min_samples_leaf": 5, "random_state": 0}, 0.89),
           ("logistic_regression", {"C": 1.0, "max_iter": 2000}, 0.85), ("knn", {"n_neighbors": 25}, 0.84)]


def generated(path) -> None:
    """A label that is partly linear (what logistic regression finds) and partly an interaction of two
    columns (what trees find): no one family gets all of it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 6))
    logit = 1.2 * X[:, 0] - 1.0 * X[:, 1] + 2.0 * np.sign(X[:, 2] * X[:, 3]) + rng.normal(scale=1.0, size=3000)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]).assign(label=(logit > 0).astype(int))
    frame.to_csv(path, index=False)


def stages(tmp_path, method: str):
    """load..split of the spec's plan, run in this process; the train node's params."""
    generated(tmp_path / "data.csv")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("METHOD", method).replace("DB", str(tmp_path / "m.db")))
    plan = api.plan(spec)
    values = run_here(plan, "split")
    return values["featurize"], values["split"], plan.node("train").call_params()


def outcome(trials: list[TrialResult]) -> TuneOutcome:
    return TuneOutcome("roc_auc", "max", trials, trials[0], 1.0, "/tmp")


def trial(i: int, family: str, params: dict, score: float, status: str = "ok") -> TrialResult:
    return TrialResult(f"t{i}", {"estimator": family}, {"type": "sklearn", "task": "classification", "estimator": family,
                                                         "params": params}, {"roc_auc": score, "accuracy": score}, status, 1.0, 1)


def test_the_members_are_the_best_finished_distinct_trials():
    trials = [trial(0, "knn", {"n_neighbors": 3}, 0.90), trial(1, "knn", {"n_neighbors": 3}, 0.90),
              trial(2, "random_forest", {}, 0.95), trial(3, "extra_trees", {}, 0.99, status="stopped"),
              trial(4, "logistic_regression", {}, 0.93)]
    assert [t.trial_id for t in members_of(trials, "accuracy", "max", 3)] == ["t2", "t4", "t0"]
    assert [t.trial_id for t in members_of(trials, "accuracy", "min", 2)] == ["t0", "t4"]
    assert ensemble_section(trials[:2], "accuracy", "max", "classification", {"top_k": 5, "method": "voting"}) is None


def test_a_torch_trial_is_never_a_member():
    """A network is a model type of its own, not an estimator with params: the best estimators are combined."""
    network = TrialResult("t9", {"estimator": "torch"}, {"type": "torch", "task": "classification",
                                                         "architecture": {"hidden": [8]}}, {"accuracy": 0.99}, "ok", 1.0, 1)
    trials = [network, trial(2, "random_forest", {}, 0.95), trial(4, "logistic_regression", {}, 0.93)]
    assert [t.trial_id for t in members_of(trials, "accuracy", "max", 3)] == ["t2", "t4"]
    section = ensemble_section(trials, "accuracy", "max", "classification", {"top_k": 3, "method": "voting"})
    assert [m["estimator"] for m in section["params"]["members"]] == ["random_forest", "logistic_regression"]


@pytest.mark.parametrize("method", ["stacking", "voting"])
def test_the_ensemble_scores_at_least_as_well_as_its_best_member_and_loads_back(tmp_path, method):
    from mlops.models import safe_format
    from mlops.models.scores import compute_metrics
    from mlops.stages import train
    from mlops.stages.tune import train_best

    features, split, params = stages(tmp_path, method)
    trials = [trial(i, family, p, score) for i, (family, p, score) in enumerate(MEMBERS)]
    ensemble = train_best(features, split, outcome(trials), params)
    record = ensemble.meta["tuned"]["ensemble"]
    assert ensemble.meta["estimator"] == method and record["members"] == ["t0", "t1", "t2", "t3"]
    if method == "stacking":  # which combination its out-of-fold scores chose, and the members it uses
        assert record["combination"] in ("stack", "weighted", "member") and set(record["used"]) <= set(record["members"])
        assert record["out_of_fold"]["metric"] == "roc_auc"

    def auc(model) -> float:
        proba = model.predict_proba(split.X_test)
        return compute_metrics("classification", split.y_test, model.predict(split.X_test), proba, model.classes_)["roc_auc"]

    members = [auc(train.run(features, split, {**params, "model": t.model}).model) for t in trials]
    if method == "stacking":  # it learns how much to trust each member: at least the best of them
        assert auc(ensemble.model) >= max(members), (auc(ensemble.model), members)
    else:  # an unweighted average: better than the typical member, not necessarily the best one
        assert auc(ensemble.model) > sorted(members)[len(members) // 2], (auc(ensemble.model), members)
    safe_format.save(ensemble.model, tmp_path / "pipeline.skops")  # only trusted types: it loads back, same answers
    loaded = safe_format.load(tmp_path / "pipeline.skops")
    assert (loaded.predict(split.X_test) == ensemble.model.predict(split.X_test)).all()


def test_an_ensemble_spec_is_validated_at_its_fields(tmp_path):
    from mlops.errors import SpecError

    generated(tmp_path / "data.csv")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("METHOD", "bagging").replace("DB", str(tmp_path / "m.db")))
    with pytest.raises(SpecError) as caught:
        api.validate(spec, ["model.ensemble.top_k=1"])
    assert {p.path for p in caught.value.problems} == {"model.ensemble.method", "model.ensemble.top_k"}


def test_when_the_best_trial_cannot_be_a_member_it_is_refitted_alone_and_the_apply_says_so(tmp_path):
    """An ensemble of the others would register a model without the best one (a network is no member)."""
    from types import SimpleNamespace

    from mlops.cli.training import ensemble_line
    from mlops.stages.search_space import FAMILY_KEY, model_section
    from mlops.stages.tune import train_best

    features, split, params = stages(tmp_path, "stacking")
    network = model_section(params["model"], {FAMILY_KEY: "torch"})
    network["training"]["epochs"] = 2
    best = TrialResult("t9", {"estimator": "torch"}, network, {"roc_auc": 0.99}, "ok", 1.0, 2)
    trials = [best] + [trial(i, family, p, score) for i, (family, p, score) in enumerate(MEMBERS)]
    trained = train_best(features, split, outcome(trials), params)
    assert trained.meta["flavor"] == "torch" and trained.meta["tuned"]["trial_id"] == "t9"
    alone = trained.meta["tuned"]["ensemble"]
    assert alone["members"] == [] and "the best trial, torch, cannot be a member" in alone["alone"]
    said = ensemble_line(alone, SimpleNamespace(trials=trials, metric="roc_auc", best=best))
    assert "cannot be a member, so it was registered alone" in said and "ensemble of" not in said
