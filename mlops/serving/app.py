"""The Serve application of an endpoint: its endpoint deployment (mlops.serving.replica, with the settings'
deployment options and a stable code version) bound to its monitor deployment (mlops.serving.traffic_monitor)."""
from __future__ import annotations

from typing import Any

from mlops.serving.endpoint_config import EndpointConfig


def build_application(cfg: EndpointConfig, routing: dict[str, Any] | None = None) -> Any:
    """A bound Serve application for this endpoint config; `routing`: a rollout's table (the versions the
    replicas load and how traffic is split: mlops.serving.traffic_split), in the user_config beside the version."""
    from ray import serve

    from mlops.serving.code_version import with_code_version
    from mlops.serving.replica import Endpoint
    from mlops.serving.traffic_monitor import build_monitor

    options = cfg.settings.deployment_options.serve_options()
    user_config = {"version": cfg.version, "models": cfg.model_records, **({"routing": routing} if routing else {})}
    endpoint = serve.deployment(Endpoint, name="endpoint", user_config=user_config, **options)
    endpoint = with_code_version(endpoint, cfg.code_version())
    return endpoint.bind(cfg, build_monitor(cfg, user_config))
