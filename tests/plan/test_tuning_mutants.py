"""The tune node's parameters pinned (mutants of mlops/plan/tuning.py that renamed a key or dropped a
resource survived every other fast test): what the tune stage and `mlops plan` read."""
from __future__ import annotations

from conftest import EXAMPLES
from mlops import api
from mlops.plan.tuning import describe_trials

AUTOML = EXAMPLES / "automl" / "spec.yaml"


def test_the_tune_node_carries_what_the_tune_stage_reads():
    plan = api.plan(AUTOML)
    tune = plan.node("tune")
    assert set(tune.params) == {"model", "features", "tuning", "space", "metric", "mode", "trials", "search",
                                "scheduler", "max_concurrent_trials", "max_failures", "trial_resources",
                                "resource_fields", "start"}
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
    assert "budget 120s" in line and "families: random_forest, extra_trees" in line
