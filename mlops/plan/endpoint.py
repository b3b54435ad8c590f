"""The deploy node: every setting of the online endpoint, as plain data. Pure (no Ray, no MLflow).

The deploy step reads these params and nothing else, so any serving setting changes the node's hash
and reaches the running endpoint on the next apply (and an unchanged one leaves it alone).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.plan.graph import Node


def absolute_store(uri: str) -> str:
    """A relative SQLite tracking URI made absolute (replicas and Ray tasks run in other directories)."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return f"{prefix}{(Path.cwd() / uri[len(prefix):]).resolve()}"
    return uri


def drift_settings(spec: Any) -> dict[str, Any] | None:
    """The endpoint monitor's drift detector: the spec's validation.drift; without a validation section,
    the default detector when the drift library is installed, none on the core install."""
    if spec.validation is not None:
        drift = spec.validation.drift
        return drift.model_dump(mode="json") if drift is not None else None
    from mlops.extras import MONITORING, installed
    from mlops.spec.validation import DriftSpec

    return DriftSpec().model_dump(mode="json") if installed(MONITORING) else None


def deploy_params(spec: Any) -> dict[str, Any]:
    """Everything the endpoint is built from, except where things are on this machine."""
    from mlops.spec.monitoring import MonitoringSpec

    online, hardware = spec.serving.online, spec.hardware
    monitoring = spec.monitoring or MonitoringSpec()
    options: dict[str, Any] = {
        "max_ongoing_requests": online.max_ongoing_requests,
        "max_queued_requests": online.max_queued_requests,
        "backpressure_config": {"status_code": 503, "retry_after_s": 1},
        "ray_actor_options": {"num_cpus": hardware.cpus_per_replica, "num_gpus": hardware.gpus_per_replica},
    }
    if hasattr(online.replicas, "fixed"):
        options["num_replicas"] = online.replicas.fixed
    else:
        options["autoscaling_config"] = {"min_replicas": online.replicas.min, "max_replicas": online.replicas.max,
                                         "target_ongoing_requests": online.replicas.target_ongoing_requests}
    return {
        "name": spec.name, "alias": online.model_alias, "route": online.route or f"/{spec.name}",
        "host": online.host, "port": online.port, "timeout_s": online.timeout_s,
        "max_rows": online.max_rows, "max_request_bytes": online.max_request_bytes,
        "max_batch_size": online.batching.max_batch_size, "wait_ms": online.batching.wait_ms,
        "token_env": online.auth.token_env if online.auth is not None else None,
        "fast_path": online.fast_path, "throughput_mode": online.throughput_mode,
        "deployment_options": options,
        "keeps_feedback": spec.monitoring is not None or spec.retraining is not None,
        "drift_window_rows": monitoring.drift_window_rows, "drift_every_s": monitoring.drift_every_s,
        "log_rotate_bytes": int(monitoring.logs.rotate_mb * 2**20), "log_keep_s": monitoring.logs.keep,
        "drift": drift_settings(spec),
    }


def deploy_node(project: Any) -> Node:
    """Node `deploy` (after `register`): runs in the driver, talks to Serve."""
    spec, hardware = project.spec, project.spec.hardware
    resources = {"CPU": hardware.cpus_per_replica, **({"GPU": hardware.gpus_per_replica} if hardware.gpus_per_replica else {})}
    runtime = {"base_dir": str(Path(project.base_dir).resolve()), "tracking_uri": absolute_store(spec.tracking.uri),
               "spec_file": str(project.config.spec_file), "overrides": list(project.config.overrides)}
    return Node("deploy", "deploy", ["register"], deploy_params(spec), resources, placement="driver", runtime=runtime)
