"""The one table of node kinds: what runs a node of each kind, where, and how its output is kept.

Plain data (functions are named as 'module:function' strings), so planning imports none of them. The
runtime looks a node's code up here and nowhere else; a node's `placement` picks between the Ray task
and the driver function of its kind.

A kind's `cache` names how a finished node's output is found again by its hash, so that `apply` reruns
only what changed. The runtime holds one object per name that finds, stores and explains such outputs
(mlops.runtime.cached_outputs); the plan only names it:

* ``pickle``: the output is pickled into the node cache (a folder beside the tracking store);
* ``registry``: the output is a registered model version (its Registration kept under the node's hash);
* ``output``: the output is a file the node wrote (recorded with its size and modification time);
* ``endpoint``: the output is a running endpoint deployed with the same settings and model version;
* ``none``: always run when needed (no kind uses it now: a search's outcome is kept, so that a failure
  after it, in the refit or later, does not throw the search away).

A node's code receives its inputs by name: a task is called as ``fn(**inputs, params=params)`` (Kedro's
named inputs), a driver function as ``fn(node, inputs, context)`` with ``inputs`` a dict by the same names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

Cache = Literal["pickle", "registry", "output", "endpoint", "none"]


@dataclass(frozen=True)
class NodeKind:
    name: str
    task: Optional[str]  # 'module:function' run as a Ray task: fn(**inputs, params=params) -> output
    driver: Optional[str]  # 'module:function' run in the driver: fn(node, inputs: dict, context) -> output
    cache: Cache
    inputs: tuple[str, ...] = ()  # the names its code receives its inputs by (the compiler wires each to a node)


_S, _D = "mlops.stages", "mlops.runtime.driver_nodes"
_FIT = ("features", "split")  # what each fit, search and profile reads
KINDS: dict[str, NodeKind] = {kind.name: kind for kind in (
    NodeKind("load", f"{_S}.load:run", None, "pickle"),  # read the training data
    # the point-in-time join of the feature views
    NodeKind("join_features", f"{_S}.join_features:run", None, "pickle", ("loaded",)),
    # resolve the feature columns, derive features
    NodeKind("featurize", f"{_S}.featurize:run", None, "pickle", ("loaded",)),
    NodeKind("split", f"{_S}.split:run", None, "pickle", ("features",)),  # the train/test split
    NodeKind("train", f"{_S}.train:run", None, "pickle", _FIT),  # fit preprocessing + estimator
    NodeKind("train_torch", None, f"{_D}:train_torch", "pickle", _FIT),  # fit a torch model on Ray Train
    NodeKind("tune", None, f"{_D}:tune", "pickle", _FIT),  # search on Ray Tune
    # refit the best configuration
    NodeKind("train_best", f"{_S}.tune:train_best", f"{_D}:train_best", "pickle", (*_FIT, "outcome")),
    NodeKind("evaluate", f"{_S}.evaluate:run", None, "pickle", ("trained", "split")),  # score on the test split
    # the data contract, the drift reference, the outlier detector
    NodeKind("profile", f"{_S}.profile:run", None, "pickle", _FIT),
    # register a model version; decide the champion
    NodeKind("register", None, f"{_D}:register", "registry", ("trained", "evaluation", "monitoring", "split")),
    NodeKind("batch_predict", None, f"{_D}:batch_predict", "output", ("registration",)),  # score the batch input
    NodeKind("deploy", None, f"{_D}:deploy", "endpoint", ("registration",)),  # deploy or update the endpoint
)}


def kind_of(name: str) -> NodeKind:
    """The NodeKind named `name`; every node kind a plan uses must be in KINDS."""
    assert name in KINDS, f"node kind {name!r} is not in mlops.plan.kinds.KINDS"
    return KINDS[name]
