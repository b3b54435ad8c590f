"""Parts of the compiled plan no other fast test pinned (mutants of mlops/plan/compile.py survived them):
a GPU asked for in `hardware` reaches the train task's resources, and the profile node's validation
parameters are the spec's field names as written (`schema`, not pydantic's `schema_`)."""
from __future__ import annotations

from conftest import EXAMPLES
from mlops import api

IRIS = EXAMPLES / "iris" / "spec.yaml"


def test_gpus_and_memory_per_task_reach_the_train_task():
    plan = api.plan(IRIS, ["hardware.gpus_per_task=1", "+hardware.memory_per_task_gb=3"])
    assert plan.node("train").resources == {"CPU": 1.0, "GPU": 1.0, "memory_gb": 3.0}
    assert api.plan(IRIS).node("train").resources == {"CPU": 1.0}  # no GPU key when none is asked for


def test_the_profile_node_reads_validation_by_the_specs_names():
    validation = api.plan(IRIS).node("profile").params["validation"]
    assert validation["schema"] == "infer" and "schema_" not in validation
    assert validation["drift"]["detector"] == "tabular"


def test_light_nodes_ask_for_one_cpu_and_register_for_nothing():
    plan = api.plan(IRIS)
    for node in ("load", "featurize", "split", "evaluate", "profile", "batch_predict"):
        assert plan.node(node).resources == {"CPU": 1.0}, node
    assert plan.node("register").resources == {}


def test_register_and_profile_carry_what_their_stages_read():
    plan = api.plan(IRIS)
    assert plan.node("register").params == {"name": "iris", "metric": "f1_macro", "auto_promote": True,
                                            "code": {"mlops": "0.1.0"}}
    assert set(plan.node("profile").params) == {"validation", "seed", "code"}


def test_an_auto_model_is_tuned_even_without_a_tuning_section():
    ids = [n.id for n in api.plan(EXAMPLES / "automl" / "spec.yaml", ["~tuning"]).nodes]
    assert ids.index("tune") == ids.index("train") - 1
    assert "tune" not in [n.id for n in api.plan(IRIS).nodes]


def test_a_plugin_estimator_puts_its_package_version_in_the_train_nodes_code():
    """The plugin's version is part of the train node's hash (an upgrade retrains); a built-in adds none
    (lightgbm_dart is the plugin's; lightgbm itself is built in)."""
    import pytest

    pytest.importorskip("mlops_lightgbm")
    plugin = api.plan(IRIS, ["model.estimator=lightgbm_dart"]).node("train").params["code"]
    assert plugin == {"mlops": "0.1.0", "mlops-lightgbm": "0.1.0"}
    assert api.plan(IRIS).node("train").params["code"] == {"mlops": "0.1.0"}


def test_the_batch_node_carries_every_setting_the_batch_stage_reads():
    params = api.plan(IRIS).node("batch_predict").params
    assert set(params) == {"name", "input", "input_fingerprint", "output", "executor", "batch_size", "include_proba",
                           "model_alias", "id_column"}
    assert params["name"] == "iris"


def test_each_data_node_carries_exactly_what_its_stage_reads_and_its_code_version():
    plan = api.plan(IRIS)
    assert set(plan.node("load").params) == {"source", "fingerprint", "code"}
    assert set(plan.node("featurize").params) == {"data", "features", "task", "code"}
    assert plan.node("split").params == {"split": {"method": "stratified", "test_size": 0.2, "seed": 42},
                                         "target": "target", "timestamp": None, "task": "classification",
                                         "code": {"mlops": "0.1.0"}}
    assert plan.node("evaluate").params == {"task": "classification", "metric": "f1_macro", "code": {"mlops": "0.1.0"}}


def test_runtime_holds_where_things_are_and_a_secret_param_only_when_there_is_one():
    plan = api.plan(IRIS, ["tracking.uri=sqlite:////tmp/somewhere/mlflow.db"])
    assert plan.node("register").runtime == {"tracking_uri": "sqlite:////tmp/somewhere/mlflow.db", "experiment": "iris"}
    named = api.plan(IRIS, ["tracking.uri=sqlite:////tmp/somewhere/mlflow.db", "+tracking.experiment=trials"])
    assert named.node("register").runtime["experiment"] == "trials"
    for node in plan.nodes:  # no param holds a secret here: none is copied whole into runtime
        assert not set(node.params) & set(node.runtime), node.id
