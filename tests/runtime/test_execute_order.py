"""The executor hands Ray a node as soon as its inputs exist: a Ray node after a driver node starts while the
driver still records that node (caches its output, writes the apply's state), not after. The stage code is a
stand-in Ray task that notes when it starts; the scheduling under test is mlops.runtime.execute's own."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlops.plan import Node, Plan

pytestmark = pytest.mark.slow


def test_a_ray_node_after_a_driver_node_starts_while_the_driver_records_it(ray_local, tmp_path, monkeypatch):
    import mlops.runtime.execute as execute_module

    @ray_local.remote(num_returns=2)
    def noting_stage(node, *values):
        Path(node.params["marks"], node.id).write_text(str(time.time()))
        return node.id, 0.0

    monkeypatch.setattr(execute_module, "_run_stage", noting_stage)
    marks = str(tmp_path)
    plan = Plan("order", [
        Node("search", "tune", {}, {"marks": marks}, placement="driver"),
        Node("refit", "train_best", {"outcome": "search"}, {"marks": marks}, {"CPU": 1}),
        Node("score", "evaluate", {"trained": "refit"}, {"marks": marks}, {"CPU": 1}),
    ])
    seen_while_recording: dict[str, bool] = {}

    def on_done(node: Node, seconds: float, output) -> None:
        if node.id == "search":  # the driver records its node: the refit should be running meanwhile
            deadline = time.time() + 20
            while not (tmp_path / "refit").exists() and time.time() < deadline:
                time.sleep(0.05)
            seen_while_recording["refit"] = (tmp_path / "refit").exists()

    done = execute_module.execute(plan, {"search", "refit", "score"}, {}, lambda node, inputs: "outcome", on_done)
    assert seen_while_recording == {"refit": True}
    assert set(done.values) == {"search", "refit", "score"}
    assert float((tmp_path / "refit").read_text()) <= float((tmp_path / "score").read_text())
