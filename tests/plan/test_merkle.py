"""Node hashes are Merkle hashes: a change upstream reruns everything downstream and nothing upstream;
where things are on this machine (runtime) reruns nothing."""
from __future__ import annotations

from mlops.plan.graph import Node, Plan


def chain(load_params: dict, train_params: dict, runtime: dict | None = None) -> dict[str, str]:
    """Hashes of load -> featurize -> train, plus a side branch load -> profile."""
    nodes = [Node("load", "load", [], load_params, runtime=runtime or {}),
             Node("featurize", "featurize", ["load"], {"scale": "standard"}),
             Node("train", "train", ["featurize"], train_params),
             Node("profile", "profile", ["load"], {})]
    return {n.id: n.hash for n in Plan("p", nodes).nodes}


def test_a_change_upstream_changes_every_node_downstream_and_nothing_upstream():
    base = chain({"path": "a.csv"}, {"depth": 3})
    data_changed = chain({"path": "b.csv"}, {"depth": 3})
    assert all(data_changed[n] != base[n] for n in base)  # featurize's own params are the same: its input changed
    model_changed = chain({"path": "a.csv"}, {"depth": 4})
    assert {n for n in base if model_changed[n] != base[n]} == {"train"}


def test_the_same_params_under_other_ids_or_kinds_hash_differently():
    a = Plan("p", [Node("x", "load", [], {"k": 1}), Node("y", "train", ["x"], {})])
    b = Plan("p", [Node("x", "load", [], {"k": 1}), Node("y", "evaluate", ["x"], {})])
    assert a.node("x").hash == b.node("x").hash and a.node("y").hash != b.node("y").hash


def test_runtime_locations_are_outside_the_hash():
    assert chain({"path": "a.csv"}, {}, {"base_dir": "/home/a"}) == chain({"path": "a.csv"}, {}, {"base_dir": "/srv/b"})
