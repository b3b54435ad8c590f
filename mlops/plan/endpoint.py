"""The deploy node: every setting of the online endpoint, as plain data. Pure (no Ray, no MLflow).

The deploy step reads these params and nothing else, so any serving setting changes the node's hash
and reaches the running endpoint on the next apply (and an unchanged one leaves it alone).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops import stores
from mlops.plan.graph import Node
from mlops.spec.serving import DeploymentOptions, ReplicaResources


def drift_settings(spec: Any) -> dict[str, Any] | None:
    """The endpoint monitor's drift detector: the spec's validation.drift; without a validation section,
    the default detector when the drift library is installed, none on the core install."""
    from mlops.extras import MONITORING, installed
    from mlops.spec.validation import effective_validation

    drift = effective_validation(spec).drift
    if drift is None or (spec.validation is None and not installed(MONITORING)):
        return None  # `drift: null`, or the core install without a section asking for drift
    return drift.model_dump(mode="json")


def deploy_params(spec: Any) -> dict[str, Any]:
    """Everything the endpoint is built from, except where things are on this machine."""
    from mlops.spec.monitoring import MonitoringSpec

    online = spec.serving.online
    monitoring = spec.monitoring or MonitoringSpec()
    return {
        "name": spec.name, "alias": online.model_alias, "route": online.route or f"/{spec.name}",
        "host": online.host, "port": online.port, "timeout_s": online.timeout_s,
        "max_rows": online.max_rows, "max_request_bytes": online.max_request_bytes,
        "max_batch_size": online.batching.max_batch_size, "wait_ms": online.batching.wait_ms,
        "token_env": online.auth.token_env if online.auth is not None else None,
        "fast_path": online.fast_path, "throughput_mode": online.throughput_mode,
        "deployment_options": DeploymentOptions.of(online, spec.hardware).model_dump(mode="json"),
        "keeps_feedback": spec.monitoring is not None or spec.retraining is not None,
        "drift_window_rows": monitoring.drift_window_rows, "drift_every_s": monitoring.drift_every_s,
        "log_rotate_bytes": int(monitoring.logs.rotate_mb * 2**20), "log_keep_s": monitoring.logs.keep,
        "drift": drift_settings(spec),
    }


def deploy_node(project: Any) -> Node:
    """Node `deploy` (after `register`): runs in the driver, talks to Serve."""
    spec = project.spec
    params = deploy_params(spec)
    resources = ReplicaResources.model_validate(params["deployment_options"]["ray_actor_options"]).resources()
    runtime = {"base_dir": str(Path(project.base_dir).resolve()), "tracking_uri": stores.absolute(spec.tracking.uri),
               "spec_file": str(project.config.spec_file), "overrides": list(project.config.overrides)}
    if spec.serving.online.features_from_store:  # requests filled from the online store by entity key
        from mlops.plan.features import online_store_path, serving_views

        params["feature_views"] = serving_views(spec)
        runtime["online_store"] = str(online_store_path(project))
    return Node("deploy", "deploy", ["register"], params, resources, placement="driver", runtime=runtime)
