"""Plan and Node: plain, JSON-serializable data with a content hash per node."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Placement = Literal["ray", "driver"]
# plan.json's layout: 2 added each node's `runtime` (locations kept out of the hash); 3 named each node's
# inputs ({"split": "split"} instead of a list of node ids).
PLAN_FORMAT = 3


@dataclass
class Node:
    """One stage of the plan: what runs, on what inputs, with what resources.

    `inputs` names each input of the node's code and the node it comes from ({"trained": "train"}): the
    code receives them as keyword arguments. A list of node ids names each input after its node."""

    id: str
    kind: str
    inputs: dict[str, str]
    params: dict[str, Any]
    resources: dict[str, float] = field(default_factory=dict)
    placement: Placement = "ray"  # driver: stages that write to MLflow (single writer) or orchestrate Ray Data
    hash: str = ""
    # Where things are on this machine (the project directory, absolute stores): read by the node's code,
    # not part of its hash, so moving the project reruns nothing. What the node computes is in params.
    runtime: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, dict):
            self.inputs = {node_id: node_id for node_id in self.inputs}

    @property
    def upstream(self) -> list[str]:
        """The ids of the nodes this one reads, in the order its inputs are named."""
        return list(dict.fromkeys(self.inputs.values()))

    def call_params(self) -> dict[str, Any]:
        """What the node's code receives: its params and its runtime locations."""
        return {**self.params, **self.runtime}


@dataclass
class Plan:
    """The whole graph, in topological order."""

    name: str
    nodes: list[Node]

    def __post_init__(self) -> None:
        ids = {n.id for n in self.nodes}
        seen: set[str] = set()
        for node in self.nodes:
            missing = [i for i in node.upstream if i not in ids]
            assert not missing, f"node {node.id} reads unknown nodes {missing}"
            assert all(i in seen for i in node.upstream), f"nodes are not in topological order at {node.id}"
            seen.add(node.id)
        self._hash_nodes()

    def _hash_nodes(self) -> None:
        # Merkle-style: a node's hash covers its own params and its inputs' names and hashes, so a change
        # upstream changes everything downstream and nothing upstream.
        by_id = {n.id: n for n in self.nodes}
        for node in self.nodes:
            inputs = {name: by_id[source].hash for name, source in node.inputs.items()}
            payload = {"kind": node.kind, "params": node.params, "inputs": inputs}
            node.hash = content_hash(payload)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """(input id, node id) for every input of every node."""
        return [(src, n.id) for n in self.nodes for src in n.upstream]

    @property
    def hash(self) -> str:
        """Hash of the whole plan: of every node's hash (each covers its inputs', so a change anywhere shows)."""
        return content_hash(sorted(n.hash for n in self.nodes))

    def node(self, node_id: str) -> Node:
        """The node with id `node_id` (StopIteration when there is none)."""
        return next(n for n in self.nodes if n.id == node_id)

    def to_nodes(self, *node_ids: str) -> "Plan":
        """The part of the plan that produces `node_ids`: those nodes and everything upstream of them (Kedro's
        `to_nodes`). Hashes are unchanged: each node keeps its params and inputs."""
        by_id = {n.id: n for n in self.nodes}
        keep: set[str] = set()
        pending = list(node_ids)
        while pending:
            node_id = pending.pop()
            if node_id not in keep:
                keep.add(node_id)
                pending += by_id[node_id].upstream
        return Plan(self.name, [replace(n, inputs=dict(n.inputs)) for n in self.nodes if n.id in keep])

    def to_dict(self) -> dict[str, Any]:
        """The plan as data: format, mlops version, name, hash, nodes and edges."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            mlops_version = version("mlops")
        except PackageNotFoundError:
            mlops_version = "unknown"
        return {"format": PLAN_FORMAT, "mlops_version": mlops_version, "name": self.name, "hash": self.hash,
                "nodes": [asdict(n) for n in self.nodes], "edges": [list(e) for e in self.edges]}

    def to_json(self) -> str:
        """to_dict() as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str)


def content_hash(payload: Any) -> str:
    """Stable short sha256 of JSON-able data (key order does not matter)."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
