"""The one table of node kinds: what runs a node of each kind, where, and how its output is kept.

Plain data (functions are named as 'module:function' strings), so planning imports none of them. The
runtime looks a node's code up here and nowhere else; a node's `placement` picks between the Ray task
and the driver function of its kind.

A kind's `cache` says how a finished node's output is found again by its hash, so that `apply` reruns
only what changed:

* ``pickle``: the output is pickled into the node cache (a folder beside the tracking store);
* ``registry``: the output is a registered model version (its Registration kept under the node's hash);
* ``output``: the output is a file the node wrote (recorded with its size and modification time);
* ``endpoint``: the output is a running endpoint deployed with the same settings and model version;
* ``none``: always run when needed (no kind uses it now: a search's outcome is kept, so that a failure
  after it, in the refit or later, does not throw the search away).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

Cache = Literal["pickle", "registry", "output", "endpoint", "none"]


@dataclass(frozen=True)
class NodeKind:
    name: str
    task: Optional[str]  # 'module:function' run as a Ray task: fn(*inputs, params) -> output
    driver: Optional[str]  # 'module:function' run in the driver: fn(node, inputs, context) -> output
    cache: Cache
    summary: str


_S, _D = "mlops.stages", "mlops.runtime.driver_nodes"
KINDS: dict[str, NodeKind] = {kind.name: kind for kind in (
    NodeKind("load", f"{_S}.load:run", None, "pickle", "read the training data"),
    NodeKind("join_features", f"{_S}.join_features:run", None, "pickle", "point-in-time join of the feature views"),
    NodeKind("featurize", f"{_S}.featurize:run", None, "pickle", "resolve feature columns, derived features"),
    NodeKind("split", f"{_S}.split:run", None, "pickle", "train/test split"),
    NodeKind("train", f"{_S}.train:run", None, "pickle", "fit preprocessing + estimator"),
    NodeKind("train_torch", None, f"{_D}:train_torch", "pickle", "fit a torch model on Ray Train"),
    NodeKind("tune", None, f"{_D}:tune", "pickle", "search on Ray Tune"),
    NodeKind("train_best", f"{_S}.tune:train_best", f"{_D}:train_best", "pickle", "refit the best configuration"),
    NodeKind("evaluate", f"{_S}.evaluate:run", None, "pickle", "score on the test split"),
    NodeKind("profile", f"{_S}.profile:run", None, "pickle", "data contract, drift reference, outlier detector"),
    NodeKind("register", None, f"{_D}:register", "registry", "register a model version; decide the champion"),
    NodeKind("batch_predict", None, f"{_D}:batch_predict", "output", "score the batch input"),
    NodeKind("deploy", None, f"{_D}:deploy", "endpoint", "deploy or update the online endpoint"),
)}


def kind_of(name: str) -> NodeKind:
    """The NodeKind named `name`; every node kind a plan uses must be in KINDS."""
    assert name in KINDS, f"node kind {name!r} is not in mlops.plan.kinds.KINDS"
    return KINDS[name]
