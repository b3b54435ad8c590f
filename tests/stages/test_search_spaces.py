"""Every family's registered search space samples parameters its estimator accepts and fits with; auto's search
starts with each family's cheap configuration, cheapest family first; trials get threads sized to the machine."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLES
from mlops import api
from mlops.models.estimators import check_params
from mlops.plugins import estimators
from mlops.spec.tuning import Domain, domain_contains
from mlops.stages.search_space import FAMILY_KEY, OptunaSpace, first_configs, model_section
from mlops.stages.trial import TrialData, fit_and_score
from mlops.stages.tune import auto_cpus

TASKS = ("classification", "regression")
FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
            "encode": "onehot", "derived": None}


def searched_families():
    """(family, task) of every installed registered family with a search space (built-in and plugins')."""
    return [(entry.name, task) for entry in estimators if entry.meta.get("search_space")
            and getattr(entry.target, "installed", True) for task in entry.target.tasks]


def _data(task: str, n: int = 240) -> TrialData:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    score = X["a"] * X["b"] + (X["c"] == "x")
    y = pd.Series(np.where(score > 0.3, "yes", "no") if task == "classification" else score + rng.normal(0, 0.1, n))
    return TrialData(X, y, ["a", "b"], ["c"])


def _samples(space: dict, count: int, seed: int = 0) -> list[dict]:
    """`count` configurations drawn the way the optuna search draws them (define-by-run, one family)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    drawn = []
    for _ in range(count):
        trial = study.ask()
        OptunaSpace(space, auto=False)(trial)
        drawn.append(dict(trial.params))
        study.tell(trial, 0.0)
    return drawn


@pytest.mark.parametrize("family,task", searched_families(), ids=lambda v: str(v))
def test_every_sampled_configuration_is_accepted_and_fits(family, task):
    space = estimators.get(family).meta["search_space"]
    for key, raw in space.items():
        Domain.model_validate(raw)  # the registered space is a valid spec domain
    data = _data(task)
    rows = np.arange(len(data.y))
    for config in _samples(space, 3, seed=len(family)):
        assert all(domain_contains(space[key], value) for key, value in config.items()), config
        if estimators.get(family).meta.get("model_type") == "torch":  # a model section of its own type
            _fits_a_torch_trial(family, task, config, data)
            continue
        section = model_section({"type": "sklearn", "task": task, "metric": "rmse", "estimator": family}, config)
        check_params(section)  # names, types and ranges, as `mlops validate` checks a spec's params
        metrics, fitted = fit_and_score(section, data, FEATURES, rows[:180], rows[180:], threads=1)
        assert metrics, (family, config)
        if fitted:  # a boosting family kept at most its cap of rounds
            assert 1 <= fitted["n_estimators"] <= config["params.n_estimators"]


def _fits_a_torch_trial(family, task, config, data):
    """The sampled values make a valid torch section (depth/width/shrink become its hidden layers), and a trial
    with it trains and reports every epoch."""
    from mlops.models.torch_mlp import complete_section
    from mlops.stages.trial import fit_torch

    metric = "accuracy" if task == "classification" else "rmse"
    base = {"type": "auto", "task": task, "metric": metric}
    section = model_section(base, {FAMILY_KEY: family, **{f"{family}:{k}": v for k, v in config.items()}})
    assert section["type"] == "torch" and "depth" not in section["architecture"]
    assert len(section["architecture"]["hidden"]) == config["architecture.depth"]
    assert section["architecture"]["hidden"][0] == config["architecture.width"]
    complete_section(section)  # the spec's own validation accepts it
    section["training"]["epochs"] = 2
    reported = []
    fit_torch(section, data, {"features": FEATURES, "tuning": {"folds": None, "validation_size": 0.25, "seed": 0},
                              "threads": 1}, lambda step, metrics: reported.append((step, metrics)))
    assert [step for step, _ in reported] == [1, 2] and metric in reported[-1][1]
    assert reported[-1][1]["fitted.training.epochs"] in (1, 2)


def test_every_auto_family_starts_cheap_inside_its_space():
    for entry in estimators:
        if entry.meta.get("auto") and entry.origin == "builtin":
            low_cost, space = entry.meta.get("low_cost"), entry.meta["search_space"]
            assert low_cost, f"{entry.name} registers no low_cost configuration"
            assert all(domain_contains(space[key], value) for key, value in low_cost.items()), entry.name
            for config in entry.meta.get("portfolio") or ():  # whole configurations, each inside the space
                assert set(config) <= set(space) and all(domain_contains(space[k], v) for k, v in config.items()), entry.name


def test_the_search_starts_with_the_cheapest_families_then_samples():
    from ray.tune.search.optuna import OptunaSearch

    plan = api.plan(EXAMPLES / "automl" / "spec.yaml", ["~model.candidates"])
    params = plan.node("tune").params
    start = params["start"]
    cheap = [point for point in start if not point.get("portfolio")]
    portfolio = start[len(cheap):]  # every family's cheap point first, then the portfolios
    assert all(point.get("portfolio") for point in portfolio)
    for points in (cheap, portfolio):
        costs = [estimators.get(point["family"]).meta["cost"] for point in points]
        assert costs == sorted(costs)
    assert sorted(p["family"] for p in cheap) == sorted(params["space"])
    assert cheap[0]["family"] == "logistic_regression" and cheap[-1]["family"] == "random_forest"
    assert [p["family"] for p in portfolio] == ["lightgbm", "lightgbm", "xgboost"]
    assert [p["values"]["params.num_leaves"] for p in portfolio[:2]] == [4, 16]
    searcher = OptunaSearch(OptunaSpace(params["space"], auto=True), metric="roc_auc", mode="max",
                            points_to_evaluate=first_configs(start, auto=True), seed=0)
    proposed = [searcher.suggest(f"t{i}") for i in range(len(start) + 3)]
    assert [c[FAMILY_KEY] for c in proposed[:len(start)]] == [p["family"] for p in start]
    lightgbm = next(c for c in proposed if c[FAMILY_KEY] == "lightgbm")
    assert lightgbm["lightgbm:params.n_estimators"] == 512 and lightgbm["lightgbm:params.num_leaves"] == 8
    assert all(c[FAMILY_KEY] in params["space"] for c in proposed[len(start):])  # then the search's own


def test_a_spec_space_keeps_only_the_start_values_it_can_produce(tmp_path):
    plan = api.plan(EXAMPLES / "automl" / "spec.yaml", [
        "model.candidates=[lightgbm,logistic_regression]",
        "+model.search_space.lightgbm={params.num_leaves: {randint: [16, 64]}, params.learning_rate: {loguniform: [0.01, 0.3]}}"])
    start = [(point["family"], point["values"]) for point in plan.node("tune").params["start"]]
    # num_leaves 8 and 4 are outside [16, 64): sampled instead; 16 is inside
    assert [values for family, values in start if family == "lightgbm"] == [
        {"params.learning_rate": 0.1}, {"params.learning_rate": 0.03},
        {"params.learning_rate": 0.05, "params.num_leaves": 16}]


def test_lograndint_is_a_domain_with_positive_integer_bounds():
    assert Domain.model_validate({"lograndint": [4, 512]}).args == [4, 512]
    for bad in ([0, 10], [10, 4], [1]):
        with pytest.raises(ValueError, match="0 < low < high"):
            Domain.model_validate({"lograndint": bad})
    assert domain_contains({"lograndint": [4, 512]}, 4) and not domain_contains({"lograndint": [4, 512]}, 512)
    assert not domain_contains({"lograndint": [4, 512]}, 8.5) and domain_contains({"qrandint": [1, 9, 2]}, 5)


@pytest.mark.parametrize("node_cpus,reserved,at_most,expected", [
    (2, 1, None, 1.0),   # 2 cores: two 1-thread trials (measured: docs/automl.md)
    (2, 1, 1, 2.0),      # one trial at a time: it gets both cores
    (16, 1, None, 4.0),  # four trials of 4 threads
    (6, 1, None, 2.0),   # three of 2
    (1, 1, None, 1.0),
    (2, 2, None, 2.0),   # never less than hardware.cpus_per_task
    (4, 2, 4, 2.0),      # ... even with more trials at once than that leaves room for
])
def test_auto_cpus_per_trial(node_cpus, reserved, at_most, expected):
    assert auto_cpus(node_cpus, reserved, at_most) == expected


def test_cpus_per_trial_set_in_the_spec_is_what_a_trial_asks_for():
    tune = api.plan(EXAMPLES / "automl" / "spec.yaml", ["+tuning.cpus_per_trial=2"]).node("tune")
    assert tune.resources == {"CPU": 2.0} and tune.params["resource_fields"]["CPU"] == "tuning.cpus_per_trial"
    auto = api.plan(EXAMPLES / "automl" / "spec.yaml").node("tune")
    assert auto.params["tuning"]["cpus_per_trial"] == "auto" and auto.params["resource_fields"]["CPU"] == "hardware.cpus_per_task"


def test_a_default_family_is_left_out_on_more_rows_than_it_is_searched_on():
    from mlops.stages.tune import without_large_families

    params = api.plan(EXAMPLES / "automl" / "spec.yaml", ["~model.candidates"]).node("tune").params
    kept, why = without_large_families(params, 10_000)
    assert kept is params and why == {}
    kept, why = without_large_families(params, 15_000)
    assert "svm" not in kept["space"] and "svm" not in {p["family"] for p in kept["start"]}
    assert set(kept["space"]) == set(params["space"]) - {"svm"} and "svm" in params["space"]  # a copy
    assert why == {"svm": "15,000 training rows, more than the 10,000 it is searched on by default"}
    only = {**params, "space": {"svm": params["space"]["svm"]}}  # never every family
    assert without_large_families(only, 50_000) == (only, {})
