"""Plan and Node as data (mutants of mlops/plan/graph.py survived every other fast test: the plan hash
replaced by None, the JSON layout's keys renamed, the hash's separators changed)."""
from __future__ import annotations

import hashlib
import json

import pytest

from mlops.plan.graph import PLAN_FORMAT, Node, Plan, content_hash


def _plan(param: int = 1) -> Plan:
    return Plan("p", [Node("a", "load", [], {"x": param}), Node("b", "train", ["a"], {"y": 2}, {"CPU": 1.0})])


def test_content_hash_is_the_short_sha256_of_compact_sorted_json():
    payload = {"b": [1, 2], "a": {"z": None, "y": "t"}}
    expected = hashlib.sha256(b'{"a":{"y":"t","z":null},"b":[1,2]}').hexdigest()[:16]
    assert content_hash(payload) == expected == content_hash(dict(reversed(payload.items())))


def test_node_hashes_chain_and_the_plan_hash_covers_every_node():
    plan = _plan()
    a, b = plan.nodes
    assert a.hash == content_hash({"kind": "load", "params": {"x": 1}, "inputs": {}})
    assert b.hash == content_hash({"kind": "train", "params": {"y": 2}, "inputs": {"a": a.hash}})
    assert plan.hash == content_hash(sorted([a.hash, b.hash]))
    changed = _plan(param=2)
    assert changed.hash != plan.hash and changed.nodes[1].hash != b.hash  # upstream change reaches downstream


def test_a_node_defaults_to_a_ray_task_with_no_runtime():
    node = Node("a", "load", [], {})
    assert (node.placement, node.resources, node.runtime, node.hash) == ("ray", {}, {}, "")
    assert Node("a", "load", [], {"p": 1}, runtime={"r": 2}).call_params() == {"p": 1, "r": 2}


def test_the_plan_as_data():
    plan = _plan()
    data = plan.to_dict()
    assert PLAN_FORMAT == 3 and data["format"] == 3
    assert set(data) == {"format", "mlops_version", "name", "hash", "nodes", "edges"}
    assert data["mlops_version"] != "unknown" and data["name"] == "p" and data["hash"] == plan.hash
    assert data["edges"] == [["a", "b"]] and plan.edges == [("a", "b")]
    assert [n["id"] for n in data["nodes"]] == ["a", "b"] and data["nodes"][1]["inputs"] == {"a": "a"}
    assert json.loads(plan.to_json()) == data
    # the text itself: two-space indents, the keys in the order above (a reader diffing two plans sees that)
    assert plan.to_json() == json.dumps(data, indent=2, default=str)
    assert plan.to_json().splitlines()[1] == '  "format": 3,'
    assert plan.node("b").kind == "train"
    with pytest.raises(StopIteration):
        plan.node("c")


def test_a_plan_out_of_order_or_reading_an_unknown_node_is_refused():
    with pytest.raises(AssertionError, match="unknown nodes"):
        Plan("p", [Node("b", "train", ["z"], {})])
    with pytest.raises(AssertionError, match="topological order"):
        Plan("p", [Node("b", "train", ["a"], {}), Node("a", "load", [], {})])


def test_a_plan_made_by_an_uninstalled_mlops_says_its_version_is_unknown(monkeypatch):
    import importlib.metadata

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)  # a checkout on sys.path, not installed
    assert _plan().to_dict()["mlops_version"] == "unknown"
