"""`mlops predict --batch`: the plan's batch_predict node on its own, scoring with a registered version."""
from __future__ import annotations

from typing import Any

from mlops.plan import Node


def score_batch(project: Any, node: Node) -> Any:
    """Score the node's input with the version its alias names. The local executor needs no Ray; Ray
    Data (asked for, or `auto` on a multi-node cluster) runs on the spec's cluster."""
    from mlops.registry import Registry
    from mlops.cluster.session import cluster_nodes, ray_session, resolve_address
    from mlops.runtime.driver_nodes import choose_batch_executor
    from mlops.stages import batch_predict

    params = node.call_params()
    registry = Registry(node.runtime["tracking_uri"])
    version = registry.by_alias(params["name"], params["model_alias"]).version
    bundle = registry.load(params["name"], version=version)  # verifies the sha256
    hardware = project.spec.hardware
    if params["executor"] == "local" or (params["executor"] == "auto" and resolve_address(hardware.cluster, None) is None):
        result = batch_predict.run(bundle, params, "local")
    else:
        with ray_session(hardware.cluster, None, hardware.local_cpus):
            result = batch_predict.run(bundle, params, choose_batch_executor(params["executor"], len(cluster_nodes())))
    result.version = str(version)
    return result
