"""The tune node's parameters pinned (mutants of mlops/plan/tuning.py that renamed a key or dropped a
resource survived every other fast test): what the tune stage and `mlops plan` read."""
from __future__ import annotations

import dataclasses
import json

import pytest

from conftest import EXAMPLES
from mlops import api
from mlops.errors import SpecError
from mlops.plan.tuning import describe_trials
from mlops.plugins import estimators

AUTOML = EXAMPLES / "automl" / "spec.yaml"


def test_the_tune_node_carries_what_the_tune_stage_reads():
    plan = api.plan(AUTOML)
    tune = plan.node("tune")
    assert set(tune.params) == {"model", "features", "tuning", "space", "metric", "mode", "trials", "search",
                                "scheduler", "max_concurrent_trials", "max_failures", "trial_resources",
                                "resource_fields", "start", "row_limits"}
    assert (tune.params["metric"], tune.params["mode"], tune.params["trials"]) == ("roc_auc", "max", 24)
    assert (tune.params["search"], tune.params["scheduler"]) == ("optuna", "asha")
    assert tune.params["trial_resources"] == tune.resources == {"CPU": 1.0}
    assert tune.params["resource_fields"] == {"CPU": "hardware.cpus_per_task", "GPU": "hardware.gpus_per_task"}
    assert "search_space" not in tune.params["tuning"] and tune.params["tuning"]["time_budget_s"] == 120.0
    assert set(tune.params["space"]) == set(tune.params["model"]["candidates"])  # auto: one space per family
    assert all(isinstance(space, dict) for space in tune.params["space"].values())
    assert [point["family"] for point in tune.params["start"]][0] == "logistic_regression"  # the cheapest first
    train = plan.node("train")
    assert train.kind == "train_best" and train.params["base_kind"] == "train" and train.inputs["outcome"] == "tune"


def test_a_trial_asks_for_the_gpus_and_memory_of_a_task():
    tune = api.plan(AUTOML, ["hardware.gpus_per_task=1", "+hardware.memory_per_task_gb=2"]).node("tune")
    assert tune.params["trial_resources"] == {"CPU": 1.0, "GPU": 1.0, "memory_gb": 2.0}
    assert tune.params["resource_fields"]["memory_gb"] == "hardware.memory_per_task_gb"


def test_describe_trials_names_the_budget_and_the_families():
    line = describe_trials(api.plan(AUTOML).node("tune"))
    assert line.startswith("24 trials x (CPU=1)")
    assert "search=optuna" in line and "scheduler=asha" in line and "<= 2 at once" in line
    assert "budget 120s," in line and "families: random_forest, extra_trees" in line
    assert "whole apply" not in line  # the budget is the search's by default


def test_describe_trials_names_the_apply_wide_budget_the_cheap_starts_the_portfolio_and_the_row_limits():
    line = describe_trials(api.plan(AUTOML, ["~model.candidates", "tuning.time_budget_covers=apply"]).node("tune"))
    assert "budget 120s for the whole apply," in line
    assert "cheap first: logistic_regression, lightgbm, xgboost, hist_gradient_boosting, knn, svm, extra_trees, " in line
    assert "random_forest, then a portfolio: lightgbm x2, xgboost x1, " in line
    assert line.endswith("on small data only: svm (<= 10,000 rows)")
    node = api.plan(AUTOML).node("tune")
    two = dataclasses.replace(node, params={**node.params, "row_limits": {"svm": 10_000, "knn": 5_000}})
    assert describe_trials(two).endswith("on small data only: svm (<= 10,000 rows), knn (<= 5,000 rows)")
    no_boosting = describe_trials(api.plan(AUTOML, ["model.candidates=[knn,svm]"]).node("tune"))
    assert "cheap first: knn, svm" in no_boosting and "portfolio" not in no_boosting


IRIS = EXAMPLES / "iris" / "spec.yaml"
TORCH = EXAMPLES / "tabular-torch" / "spec.yaml"
TORCH_TUNING = "+tuning={search_space: {training.lr: {loguniform: [0.001, 0.1]}}, num_samples: 2}"


def test_a_tuned_model_searches_exactly_the_space_its_spec_writes():
    tune = api.plan(IRIS, ["+tuning={search_space: {params.max_depth: {randint: [2, 8]}, "
                           "params.n_estimators: {choice: [10, 50]}}, num_samples: 4}"]).node("tune")
    # exactly the written domains: no unset kinds dumped as nulls
    assert tune.params["space"] == {"params.max_depth": {"randint": [2, 8]}, "params.n_estimators": {"choice": [10, 50]}}
    assert tune.params["start"] == []  # cheap start points are auto's; a list either way (the stage iterates it)
    assert tune.params["row_limits"] == {}  # auto's too; a mapping either way (plan JSON the same for every model)
    assert tune.params["trials"] == 4


def test_auto_takes_a_familys_space_from_the_spec_or_else_from_its_registration():
    tune = api.plan(AUTOML, ["+model.search_space={knn: {params.n_neighbors: {randint: [2, 9]}}}"]).node("tune")
    assert tune.params["space"]["knn"] == {"params.n_neighbors": {"randint": [2, 9]}}
    # the example sets features.scale, so the families' scaling is not searched (tests/plan/test_searched_scaling.py)
    assert tune.params["space"]["logistic_regression"] == {
        k: v for k, v in estimators.get("logistic_regression").meta["search_space"].items() if k != "preprocessing.scale"}
    assert tune.params["space"]["random_forest"] == estimators.get("random_forest").meta["search_space"]


@pytest.fixture
def plugin_family():
    """Register a plugin-like estimator family for one test, then remove it."""
    added = []

    def add(name: str, **meta):
        estimators.add(name, object(), tasks=("classification",), **meta)
        added.append(name)
        return name

    yield add
    for name in added:
        estimators._entries.pop(name, None)


def test_a_plugin_family_with_an_invalid_search_space_is_a_spec_error_at_model_candidates(plugin_family):
    family = plugin_family("broken_space_family", search_space={"params.depth": {"randint": [5, 1]}})
    with pytest.raises(SpecError) as caught:
        api.plan(AUTOML, [f"model.candidates=[{family}]"])
    (problem,) = caught.value.problems
    assert problem.path == "model.candidates" and family in problem.message and "params.depth" in problem.message


def test_a_family_without_a_declared_cost_counts_as_cost_1_and_keeps_its_listed_order(plugin_family):
    family = plugin_family("uncosted_family", search_space={"params.C": {"loguniform": [0.01, 1.0]}},
                           low_cost={"params.C": 0.1})
    tune = api.plan(AUTOML, [f"model.candidates=[knn,{family},logistic_regression]"]).node("tune")
    assert [point["family"] for point in tune.params["start"]] == [family, "logistic_regression", "knn"]
    assert tune.params["start"][0]["values"] == {"params.C": 0.1}


def test_a_torch_trial_asks_for_what_one_ray_train_worker_asks_for():
    tune = api.plan(TORCH, [TORCH_TUNING, "hardware.cpus_per_worker=2", "hardware.gpus_per_worker=1"]).node("tune")
    assert tune.params["trial_resources"] == tune.resources == {"CPU": 2.0, "GPU": 1.0}
    assert tune.params["resource_fields"] == {"CPU": "hardware.cpus_per_worker", "GPU": "hardware.gpus_per_worker"}
    cpu_only = api.plan(TORCH, [TORCH_TUNING]).node("tune")
    assert cpu_only.params["trial_resources"] == {"CPU": 1.0}  # no GPU key when none is asked for
    assert cpu_only.params["resource_fields"]["CPU"] == "hardware.cpus_per_worker"


def test_a_lower_is_better_metric_is_minimised_and_tune_results_go_under_the_specs_store():
    diabetes = EXAMPLES / "diabetes" / "spec.yaml"
    tune = api.plan(diabetes, ["+tuning={search_space: {params.max_depth: {randint: [2, 8]}}, num_samples: 3}"]).node("tune")
    assert (tune.params["metric"], tune.params["mode"]) == ("rmse", "min")
    assert tune.placement == "driver"  # Tuner.fit() runs where the plan is driven; trials are actors
    assert tune.runtime == {"storage": str((diabetes.parent / ".mlops" / "tune").resolve())}


def test_describe_trials_is_one_exact_line_per_model_type():
    auto = api.plan(AUTOML, ["hardware.gpus_per_task=1"]).node("tune")
    assert describe_trials(auto) == (
        "24 trials x (CPU=1, GPU=1), search=optuna, scheduler=asha, <= 2 at once, budget 120s, cpus per trial: auto, "
        "families: random_forest, extra_trees, hist_gradient_boosting, logistic_regression, knn, "
        "cheap first: logistic_regression, hist_gradient_boosting, knn, extra_trees, random_forest")
    # torch: a trial is one Ray Train worker, its CPUs are hardware.cpus_per_worker (never "auto")
    assert describe_trials(api.plan(TORCH, [TORCH_TUNING]).node("tune")) == "2 trials x (CPU=1), search=random, scheduler=fifo"
    fixed = api.plan(EXAMPLES / "diabetes" / "spec.yaml", ["+tuning={search_space: {params.max_depth: {randint: [2, 8]}}, "
                                                           "num_samples: 3, cpus_per_trial: 2}"]).node("tune")
    assert describe_trials(fixed) == "3 trials x (CPU=2), search=random, scheduler=fifo"  # CPUs chosen: no "auto"


def test_every_node_is_json_as_compiled_so_the_recorded_plan_is_the_plan_that_runs():
    # integer keys (a class weight per label) are what JSON would turn into text: the compiler does it first
    plan = api.plan(IRIS, ["+model.params.class_weight={0: 1, 1: 5, 2: 1}",
                           "+tuning={search_space: {params.max_depth: {randint: [2, 8]}}, num_samples: 2}"])
    for node in plan.to_dict()["nodes"]:
        assert json.loads(json.dumps(node)) == node, node["id"]
    assert plan.node("tune").params["model"]["params"]["class_weight"] == {"0": 1, "1": 5, "2": 1}


def test_default_candidates_carry_the_row_limits_of_their_families_a_listed_family_none():
    tune = api.plan(AUTOML, ["~model.candidates"]).node("tune")
    assert "svm" in tune.params["space"] and tune.params["row_limits"] == {"svm": 10_000}
    assert "on small data only: svm (<= 10,000 rows)" in describe_trials(tune)
    listed = api.plan(AUTOML, ["model.candidates=[svm,knn]"]).node("tune")
    assert listed.params["row_limits"] == {} and "on small data only" not in describe_trials(listed)
    assert api.plan(IRIS).nodes and "row_limits" not in api.plan(IRIS).node("train").params
