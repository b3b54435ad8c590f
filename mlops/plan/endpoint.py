"""The online endpoint's settings, declared once, and the deploy node that carries them. Pure (no Ray, no MLflow).

`EndpointSettings` is every setting of the endpoint: the compiler makes it from the spec here
(`endpoint_settings`), the deploy node carries its `model_dump(mode="json")` as params (so any setting
changes the node's hash), and the deployment, replicas, ingress and monitor read it back as is
(`EndpointSettings.of(node)`). What is only known at deploy time (the model version and its input schema,
the token's sha256, paths on this machine) is not a setting: see mlops.serving.endpoint_config.

A new setting: a field of the spec section (with its default), a field here and its line in
`endpoint_settings`, and the one place that reads it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from mlops import stores
from mlops.plan.graph import Node, content_hash
from mlops.spec.monitoring import LogsSpec
from mlops.spec.serving import Auth, Batching, DeploymentOptions
from mlops.spec.rollout import RolloutSpec
from mlops.spec.validation import DriftSpec


class EndpointSettings(BaseModel):
    """Every setting of the online endpoint, named as in the spec (whose defaults hold: no field has one here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the spec's name: the application, the registered model, the metrics' label
    model_alias: str  # serving.online.model_alias: the version served (and followed after promote/rollback)
    route: str  # serving.online.route, '/<name>' when unset
    host: str  # serving.online.host
    port: int  # serving.online.port
    timeout_s: float  # serving.online.timeout_s: Serve's HTTP request timeout
    max_rows: int  # serving.online.max_rows: rows per request (the ingress)
    max_request_bytes: int  # serving.online.max_request_bytes (the ingress)
    batching: Batching  # serving.online.batching (the replica)
    auth: Optional[Auth]  # serving.online.auth: the variable holding the bearer token (deploy sends its sha256)
    fast_path: bool  # serving.online.fast_path (the replica)
    throughput_mode: bool  # serving.online.throughput_mode (the Ray cluster's environment)
    feature_views: list[dict[str, Any]]  # serving.online.features_from_store: the views requests are filled from
    deployment_options: DeploymentOptions  # replicas, request limits, replica resources (Serve's own options)
    keeps_feedback: bool  # a monitoring or retraining section: the replicas log predictions and take feedback
    logs: LogsSpec  # monitoring.logs: rotation and retention of those logs
    drift_window_rows: int  # monitoring.drift_window_rows (the replicas and the monitor)
    drift_every_s: float  # monitoring.drift_every_s (the monitor)
    drift: Optional[DriftSpec]  # validation.drift as in force; None: the monitor runs no drift check
    # serving.online.rollout: how a new champion reaches traffic (mlops.monitoring.rollout drives it). Defaulted
    # so that a deploy node recorded before rollouts existed still reads back.
    rollout: RolloutSpec = RolloutSpec()

    @classmethod
    def of(cls, node: Node) -> EndpointSettings:
        """The settings a deploy node carries (its params), typed again."""
        return cls.model_validate(node.params)

    def params(self) -> dict[str, Any]:
        """As plain JSON-able data: the deploy node's params."""
        return self.model_dump(mode="json")

    def settings_hash(self) -> str:
        """A content hash of the settings (equal to the hash of the deploy node's params they came from)."""
        return content_hash(self.params())


def settings_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two deploy nodes' settings (their params), one `field: old -> new` each."""
    from mlops.dotted import flatten

    before, after = flatten(old), flatten(new)
    return [f"{key}: {before.get(key, '(unset)')!r} -> {after.get(key, '(unset)')!r}"
            for key in sorted({*before, *after}) if before.get(key) != after.get(key)]


def drift_settings(spec: Any) -> DriftSpec | None:
    """The endpoint monitor's drift detector: the spec's validation.drift; without a validation section,
    the default detector when the drift library is installed, none on the core install."""
    from mlops.extras import MONITORING, installed
    from mlops.spec.validation import effective_validation

    drift = effective_validation(spec).drift
    if drift is None or (spec.validation is None and not installed(MONITORING)):
        return None  # `drift: null`, or the core install without a section asking for drift
    return drift


def endpoint_settings(spec: Any) -> EndpointSettings:
    """The settings of the spec's online endpoint (serving.online, with hardware, monitoring and validation)."""
    from mlops.spec.monitoring import MonitoringSpec

    online = spec.serving.online
    monitoring = spec.monitoring or MonitoringSpec()
    views = []
    if online.features_from_store:  # requests filled from the online store by entity key
        from mlops.plan.features import serving_views

        views = serving_views(spec)
    return EndpointSettings(
        name=spec.name, model_alias=online.model_alias, route=online.route or f"/{spec.name}", host=online.host,
        port=online.port, timeout_s=online.timeout_s, max_rows=online.max_rows, max_request_bytes=online.max_request_bytes,
        batching=online.batching, auth=online.auth, fast_path=online.fast_path, throughput_mode=online.throughput_mode,
        feature_views=views, deployment_options=DeploymentOptions.of(online, spec.hardware),
        keeps_feedback=spec.monitoring is not None or spec.retraining is not None, logs=monitoring.logs,
        drift_window_rows=monitoring.drift_window_rows, drift_every_s=monitoring.drift_every_s,
        drift=drift_settings(spec), rollout=online.rollout)


def deploy_node(project: Any) -> Node:
    """Node `deploy` (after `register`): runs in the driver, talks to Serve. Its params are the endpoint's
    settings and nothing else; its runtime says where things are on this machine."""
    spec = project.spec
    settings = endpoint_settings(spec)
    runtime = {"base_dir": str(Path(project.base_dir).resolve()), "tracking_uri": stores.absolute(spec.tracking.uri)}
    if settings.feature_views:
        from mlops.plan.features import online_store_path

        runtime["online_store"] = str(online_store_path(project))
    resources = settings.deployment_options.ray_actor_options.resources()
    return Node("deploy", "deploy", {"registration": "register"}, settings.params(), resources, placement="driver",
                runtime=runtime)
