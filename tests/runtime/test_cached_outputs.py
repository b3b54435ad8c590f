"""Each way a node's output is kept between applies, as an object: it finds an output recorded under the
node's hash, reads it back, stores a new one, says what the state records and why the node runs again.
Plain files in a temp folder: no Ray, no MLflow."""
from __future__ import annotations

import os
from dataclasses import asdict

import pytest

from mlops.plan import Node, Plan
from mlops.plan.kinds import KINDS
from mlops.runtime.cached_outputs import (BY_NAME, CachedOutput, PickledOutput, RegisteredVersion, RunningEndpoint,
                                          WrittenFile, cached_output)
from mlops.runtime.incremental import explain
from mlops.runtime.node_cache import NodeCache
from mlops.stages.batch_predict import BatchResult
from mlops.stages.register import Registration


def hashed(*nodes: Node) -> Plan:
    return Plan("p", list(nodes))


@pytest.fixture
def cache(tmp_path) -> NodeCache:
    return NodeCache(tmp_path / "cache")


def state_of(*entries: tuple[Node, dict]) -> dict:
    return {"nodes": {node.id: entry for node, entry in entries}}


def test_every_kind_names_a_way_that_exists():
    assert {kind.cache for kind in KINDS.values()} <= set(BY_NAME)
    assert {name: type(way) for name, way in BY_NAME.items()} == {
        "none": CachedOutput, "pickle": PickledOutput, "registry": RegisteredVersion, "output": WrittenFile,
        "endpoint": RunningEndpoint}
    plan = hashed(Node("load", "load", {}, {}), Node("register", "register", {"x": "load"}, {}))
    assert isinstance(cached_output(plan.node("load")), PickledOutput)
    assert isinstance(cached_output(plan.node("register")), RegisteredVersion)


def test_a_pickled_output_is_found_by_hash_read_back_and_refused_when_damaged(cache):
    node = hashed(Node("split", "split", {}, {"seed": 0})).node("split")
    way = PickledOutput()
    assert not way.find(node, cache, {})
    way.store(node, cache, {"rows": [1, 2]})
    assert way.find(node, cache, {}) and way.reuse(node, cache, {}) == (True, {"rows": [1, 2]})
    data = next((cache.root / "outputs").rglob("*.pkl"))
    data.write_bytes(data.read_bytes()[:-1])  # truncated: the digest no longer matches
    assert way.reuse(node, cache, {}) == (False, None)
    entry = way.entry(node, {"rows": [1, 2]})
    assert entry == {"hash": node.hash, "kind": "split", "params": {"seed": 0}, "inputs": {}} and not way.records_output
    assert way.why_rerun == "output not in the cache"


def test_a_registration_is_kept_by_hash_while_its_store_holds_it_and_a_settled_decision_is_not_carried_out_twice(
        cache, tmp_path):
    from mlops.registry import Registry

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = Registry(uri)
    run_id = registry.start_run("m")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "model.bin").write_bytes(b"model")
    version = registry.register("m", registry.log_dir(run_id, tmp_path / "bundle", "model"), run_id, "abc").version
    node = hashed(Node("register", "register", {}, {"name": "m"}, runtime={"tracking_uri": uri})).node("register")
    way = RegisteredVersion()
    unsettled = Registration(version, "abc", promoted=True, decision="won", run_id=run_id)
    way.store(node, cache, unsettled)
    assert way.find(node, cache, {}) and way.reuse(node, cache, {})[1].promoted is True  # this apply finishes it
    way.store(node, cache, Registration(version, "abc", promoted=True, decision="won", settled=True, run_id=run_id))
    assert way.reuse(node, cache, {})[1].promoted is False
    assert way.entry(node, unsettled)["output"] == asdict(unsettled)
    # A version the store does not hold (another store at the same path, or the model deleted), or registered by
    # another run: registered again. A deleted store file: not even found (what `mlops plan` can tell).
    for gone in (Registration("7", "abc", promoted=True, decision="won", run_id=run_id),
                 Registration(version, "abc", promoted=True, decision="won", run_id="another-run")):
        way.store(node, cache, gone)
        assert way.find(node, cache, {}) and way.reuse(node, cache, {}) == (False, None)
    moved = hashed(Node("register", "register", {}, {"name": "m"},
                        runtime={"tracking_uri": f"sqlite:///{tmp_path / 'gone.db'}"})).node("register")
    way.store(moved, cache, unsettled)
    assert not way.find(moved, cache, {}) and way.reuse(moved, cache, {}) == (False, None)


def test_a_written_file_is_found_while_its_size_and_time_are_the_recorded_ones(cache, tmp_path):
    node = hashed(Node("batch_predict", "batch_predict", {}, {"output": "out.csv"},
                       runtime={"base_dir": str(tmp_path)})).node("batch_predict")
    way = WrittenFile()
    out = tmp_path / "out.csv"
    out.write_text("a\n1\n")
    result = BatchResult(1, str(out), "local", 0.1, "2")
    entry = way.entry(node, result)
    assert entry["output"] == asdict(result) and entry["stat"]["size"] == out.stat().st_size
    state = state_of((node, entry))
    assert way.find(node, cache, state) and way.reuse(node, cache, state) == (True, result)
    assert not way.find(node, cache, {})  # never recorded
    os.utime(out, ns=(out.stat().st_atime_ns, out.stat().st_mtime_ns + 10**9))
    assert not way.find(node, cache, state)  # written since: scored again
    out.unlink()
    assert not way.find(node, cache, state) and way.why_rerun == "output file missing or changed"


def test_an_endpoint_is_found_only_while_it_serves_the_recorded_version(cache, monkeypatch):
    from mlops.serving import deploy
    from mlops.serving.deploy import Deployed

    node = hashed(Node("deploy", "deploy", {}, {"name": "m"})).node("deploy")
    way = RunningEndpoint()
    deployed = Deployed("m", "http://127.0.0.1:8000/m", "4")
    state = state_of((node, way.entry(node, deployed)))
    asked = []
    monkeypatch.setattr(deploy, "endpoint_unchanged", lambda n, version: asked.append(version) or version == "4")
    assert way.find(node, cache, state) and asked == ["4"]
    assert way.reuse(node, cache, state) == (True, deployed)
    assert not way.find(node, cache, {}) and asked == ["4"]  # nothing recorded: nothing to ask the cluster
    monkeypatch.setattr(deploy, "endpoint_unchanged", lambda n, version: False)
    assert not way.find(node, cache, state)


def test_an_output_not_kept_is_never_found(cache):
    node = hashed(Node("x", "load", {}, {})).node("x")
    way = CachedOutput()
    way.store(node, cache, 1)
    assert not way.find(node, cache, {}) and way.reuse(node, cache, {}) == (False, None)
    assert not any(cache.root.rglob("*.pkl")) and way.why_rerun == "not kept between applies"


def test_a_state_recorded_before_inputs_were_named_reads_as_a_change_never_a_crash(cache):
    plan = hashed(Node("load", "load", {}, {"path": "a.csv"}), Node("split", "split", {"features": "load"}, {"seed": 0}))
    old = {"nodes": {"load": {"hash": "0123456789abcdef", "kind": "load", "params": {"path": "a.csv"}, "inputs": []},
                     "split": {"hash": "fedcba9876543210", "kind": "split", "params": {"seed": 0}, "inputs": ["load"]}}}
    actions = explain(plan, cache, old)  # the old outputs are under the old hashes: nothing is found
    assert actions["load"] == {"action": "run", "reasons": ["recorded before node inputs were named (plan format 3): runs once"]}
    assert actions["split"]["reasons"] == actions["load"]["reasons"]


def test_renamed_inputs_are_a_reason_of_their_own(cache):
    plan = hashed(Node("load", "load", {}, {}), Node("split", "split", {"features": "load"}, {"seed": 0}))
    load, split = plan.nodes
    renamed = {"hash": "x", "kind": "split", "params": {"seed": 0}, "inputs": {"rows": "load"}}
    state = {"nodes": {"load": PickledOutput().entry(load, None), "split": renamed}}
    PickledOutput().store(load, cache, "rows")
    assert explain(plan, cache, state)["split"] == {"action": "run",
                                                    "reasons": ["inputs: {'rows': 'load'} -> {'features': 'load'}"]}
