"""Batch scoring with a registered version: the one path of the plan's batch_predict node, run by `apply`
(mlops.runtime.driver_nodes) and alone by `mlops predict --batch`."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from mlops.plan import Node
from mlops.runtime.model_work import in_process


def choose_batch_executor(requested: str, cluster_nodes: int) -> str:
    """auto: Ray Data only pays off when there is more than this machine (see benchmarks/batch_inference)."""
    if requested != "auto":
        return requested
    return "ray_data" if cluster_nodes > 1 else "local"


def score_with_alias(node: Node, registry: Any, version_for: Callable[[str, str], str], cluster_nodes: int,
                     work: Callable[..., Any] = in_process) -> Any:
    """Score the node's input with the version its alias names (`version_for(name, alias)`): fetch it (its
    signature checked), pick the executor for a cluster of `cluster_nodes` machines, run the stage. The local
    executor runs through `work` (apply hands it to a worker on the driver's node: mlops.runtime.model_work),
    which loads the version, its files verified; Ray Data's is driven from here."""
    params = node.call_params()
    version = version_for(params["name"], params.get("model_alias", "champion"))
    executor = choose_batch_executor(params["executor"], cluster_nodes)
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        fetched = registry.fetch(params["name"], Path(tmp), version=version)
        result = (work if executor == "local" else in_process)(score_fetched, fetched, params, executor)
    result.version = str(version)
    return result


def score_fetched(fetched: Any, params: dict[str, Any], executor: str) -> Any:
    """Load the fetched version (verified) and score the input with it."""
    from mlops.stages import batch_predict

    return batch_predict.run(fetched.load(), params, executor)


def score_batch(project: Any, node: Node) -> Any:
    """`mlops predict --batch`: the node on its own, with the version its alias names now. The local
    executor needs no Ray; Ray Data (asked for, or `auto` on a multi-node cluster) runs on the spec's cluster."""
    from mlops.registry import Registry
    from mlops.cluster.session import cluster_nodes, ray_session, resolve_address

    registry = Registry(node.runtime["tracking_uri"])
    by_alias = lambda name, alias: registry.by_alias(name, alias).version  # noqa: E731
    hardware = project.spec.hardware
    executor = node.params["executor"]
    if executor == "local" or (executor == "auto" and resolve_address(hardware.cluster, None) is None):
        return score_with_alias(node, registry, by_alias, cluster_nodes=1)
    with ray_session(hardware.cluster, None, hardware.local_cpus):
        return score_with_alias(node, registry, by_alias, len(cluster_nodes()))
