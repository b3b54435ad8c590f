"""Nodes name their inputs (Kedro: inputs={"trained": "train", "split": "split"}); each stage function takes
them by those names. The names are part of a node's hash, and the kinds table declares them."""
from __future__ import annotations

import inspect

import pytest

from conftest import EXAMPLES
from mlops import api
from mlops.plan import Node, Plan
from mlops.plan.kinds import KINDS
from mlops.plugins import import_reference

PLANS = [("iris/spec.yaml", []), ("iris/online.yaml", []), ("automl/spec.yaml", []), ("tabular-torch/spec.yaml", []),
         ("churn-features/spec.yaml", []),
         ("tabular-torch/spec.yaml", ["+tuning={search_space: {training.lr: {loguniform: [0.001, 0.1]}}, num_samples: 2}"])]


@pytest.mark.parametrize("spec, overrides", PLANS)
def test_every_node_names_its_inputs_as_its_kind_declares(spec, overrides):
    plan = api.plan(EXAMPLES / spec, overrides)
    ids = [n.id for n in plan.nodes]
    for node in plan.nodes:
        assert tuple(node.inputs) == KINDS[node.kind].inputs, node.id
        assert all(source in ids[:ids.index(node.id)] for source in node.inputs.values())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kinds_code_takes_its_inputs_by_name(kind):
    declared = KINDS[kind]
    if declared.task is not None:  # fn(**inputs, params=...)
        parameters = inspect.signature(import_reference(declared.task)).parameters
        assert [*declared.inputs, "params"] == list(parameters)[:len(declared.inputs) + 1]
    if declared.driver is not None:  # fn(node, inputs: dict, context)
        assert list(inspect.signature(import_reference(declared.driver)).parameters) == ["node", "inputs", "context"]


def test_the_wiring_follows_the_spec_without_rewiring_by_position():
    views = api.plan(EXAMPLES / "churn-features" / "spec.yaml")
    assert views.node("featurize").inputs == {"loaded": "join_features"}
    assert views.node("join_features").inputs == {"loaded": "load"}
    tuned = api.plan(EXAMPLES / "automl" / "spec.yaml")
    assert tuned.node("tune").inputs == {"features": "featurize", "split": "split"}
    assert tuned.node("train").inputs == {"features": "featurize", "split": "split", "outcome": "tune"}
    register = tuned.node("register")
    assert register.inputs == {"trained": "train", "evaluation": "evaluate", "monitoring": "profile", "split": "split"}


def test_an_inputs_name_is_part_of_the_hash_and_a_list_names_inputs_after_their_nodes():
    def plan(inputs) -> Plan:
        return Plan("p", [Node("load", "load", {}, {"x": 1}), Node("split", "split", inputs, {})])

    assert plan(["load"]).node("split").inputs == {"load": "load"}
    assert plan(["load"]).node("split").hash == plan({"load": "load"}).node("split").hash
    assert plan({"features": "load"}).node("split").hash != plan({"rows": "load"}).node("split").hash
    assert plan({"features": "load"}).edges == [("load", "split")]


def test_two_inputs_from_one_node_make_one_edge():
    plan = Plan("p", [Node("a", "load", {}, {}), Node("b", "train", {"features": "a", "split": "a"}, {})])
    assert plan.edges == [("a", "b")] and plan.node("b").upstream == ["a"]


def test_to_nodes_keeps_what_a_node_needs_with_the_same_hashes():
    plan = api.plan(EXAMPLES / "iris" / "spec.yaml")
    part = plan.to_nodes("register")
    assert [n.id for n in part.nodes] == [n.id for n in plan.nodes if n.id != "batch_predict"]
    assert all(n.hash == plan.node(n.id).hash for n in part.nodes)
    assert [n.id for n in plan.to_nodes("split").nodes] == ["load", "featurize", "split"]
    assert plan.node("batch_predict").hash  # the filter copied the nodes: the whole plan is untouched


def test_the_plan_json_names_inputs():
    data = api.plan(EXAMPLES / "iris" / "spec.yaml").to_dict()
    assert data["format"] == 3
    assert next(n for n in data["nodes"] if n["id"] == "evaluate")["inputs"] == {"trained": "train", "split": "split"}
