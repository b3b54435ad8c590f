"""A retrain is the apply plan, compiled by the same compiler: fed the retraining data at `load` and
registering a challenger for the champion gate (auto_promote=False), up to `register` (serving stays with
the applied plan). Node by node, nothing else differs. Pure: compiles only (no Ray, no MLflow)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from mlops import api
from mlops.monitoring.retrain import retrain_plan
from mlops.plan import Plan, compile_plan
from mlops.plan.compile import RETRAIN_SUFFIX, compile_retrain_plan

# One spec with feature views (a point-in-time join before featurize), one with torch (Ray Train from the driver).
EXAMPLES = ["churn-features", "tabular-torch"]


def same_rows_in_parquet(project, path):
    """The spec's training data, as the retrain writes its window: one parquet file."""
    from mlops.stages.load import read_source

    read_source(project.spec.data.source.model_dump(mode="json"), str(project.base_dir)).to_parquet(path, index=False)
    return path


def layout(node):
    return node.id, node.kind, node.inputs, node.resources, node.placement, node.runtime


@pytest.mark.parametrize("name", EXAMPLES)
def test_fed_the_specs_own_data_the_retrain_plan_is_the_apply_plan_with_a_challenger_register(example, name):
    project = api.load(example(name) / "spec.yaml")
    applied = compile_plan(project)
    retrain = compile_retrain_plan(project, project.spec.data.source)
    assert retrain.name == applied.name + RETRAIN_SUFFIX
    assert [n.id for n in retrain.nodes] == [n.id for n in applied.to_nodes("register").nodes]
    assert not {"batch_predict", "deploy"} & {n.id for n in retrain.nodes}  # serving follows the champion alias
    for ours in retrain.nodes:
        theirs = applied.node(ours.id)
        assert layout(ours) == layout(theirs)
        if ours.id == "register":
            assert theirs.params["auto_promote"] is True and ours.params == {**theirs.params, "auto_promote": False}
            assert ours.hash != theirs.hash
        else:
            assert (ours.params, ours.hash) == (theirs.params, theirs.hash), ours.id


@pytest.mark.parametrize("name", EXAMPLES)
def test_fed_a_retraining_window_only_the_load_source_and_the_gate_differ(example, tmp_path, name):
    project = api.load(example(name) / "spec.yaml")
    applied = compile_plan(project)
    window = same_rows_in_parquet(project, tmp_path / "window.parquet")
    retrain = retrain_plan(project, window)  # what `mlops monitor` applies
    load, theirs = retrain.node("load"), applied.node("load")
    assert load.params["source"]["type"] == "parquet" and load.params["source"]["path"] == str(window)
    assert load.params["fingerprint"] is not None
    assert {k: v for k, v in load.params.items() if k not in ("source", "fingerprint")} == \
           {k: v for k, v in theirs.params.items() if k not in ("source", "fingerprint")}
    for ours in retrain.nodes[1:]:
        theirs = applied.node(ours.id)
        assert layout(ours) == layout(theirs)
        expected = {**theirs.params, "auto_promote": False} if ours.id == "register" else theirs.params
        assert ours.params == expected, ours.id
    # Every other hash differs only through the Merkle chain: the apply plan's nodes with this load and
    # this gate hash exactly like the retrain plan's.
    rebuilt = Plan("rebuilt", [replace(n, params=retrain.node(n.id).params) if n.id in ("load", "register") else replace(n)
                               for n in applied.to_nodes("register").nodes])
    assert [n.hash for n in rebuilt.nodes] == [n.hash for n in retrain.nodes]


def test_a_tuned_retrain_searches_and_refits_as_the_apply_does(example):
    project = api.load(example("automl") / "spec.yaml")
    applied, retrain = compile_plan(project), compile_retrain_plan(project, project.spec.data.source)
    for node_id in ("tune", "train"):
        assert (retrain.node(node_id).params, retrain.node(node_id).hash) == \
               (applied.node(node_id).params, applied.node(node_id).hash)
    assert retrain.node("train").inputs == {"features": "featurize", "split": "split", "outcome": "tune"}
