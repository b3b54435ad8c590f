"""Every endpoint setting is declared once (mlops.plan.endpoint.EndpointSettings) and reaches the deploy
node: for each field of the settings' schema, walked from the model itself (a new field fails here until
it has a spec change below), changing the spec changes that setting and the deploy node's hash."""
from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from conftest import EXAMPLES
from mlops import api
from mlops.errors import SpecError
from mlops.plan.endpoint import EndpointSettings

IRIS = EXAMPLES / "iris" / "online.yaml"
CHURN = EXAMPLES / "churn-features" / "online.yaml"

# setting -> (the spec, the change); None: not a spec setting (a fixed part of Serve's options).
SPEC_CHANGES: dict[str, tuple | None] = {
    "name": (IRIS, "name=iris_other"),
    "model_alias": (IRIS, "serving.online.model_alias=challenger"),
    "route": (IRIS, "serving.online.route=/other"),
    "host": (IRIS, "serving.online.host=localhost"),
    "port": (IRIS, "serving.online.port=8123"),
    "timeout_s": (IRIS, "serving.online.timeout_s=11"),
    "max_rows": (IRIS, "serving.online.max_rows=7"),
    "max_request_bytes": (IRIS, "serving.online.max_request_bytes=4096"),
    "batching.max_batch_size": (IRIS, "serving.online.batching.max_batch_size=3"),
    "batching.wait_ms": (IRIS, "serving.online.batching.wait_ms=1"),
    "auth.token_env": (IRIS, "+serving.online.auth.token_env=IRIS_TOKEN"),
    "fast_path": (IRIS, "serving.online.fast_path=false"),
    "throughput_mode": (IRIS, "serving.online.throughput_mode=false"),
    "feature_views": (CHURN, "serving.online.features_from_store=false"),
    "deployment_options.replicas": (IRIS, "serving.online.replicas.max=3"),
    "deployment_options.max_ongoing_requests": (IRIS, "serving.online.max_ongoing_requests=48"),
    "deployment_options.max_queued_requests": (IRIS, "serving.online.max_queued_requests=9"),
    "deployment_options.backpressure.status_code": None,
    "deployment_options.backpressure.retry_after_s": None,
    "deployment_options.ray_actor_options.num_cpus": (IRIS, "hardware.cpus_per_replica=2"),
    "deployment_options.ray_actor_options.num_gpus": (IRIS, "hardware.gpus_per_replica=1"),
    "keeps_feedback": (IRIS, "+monitoring.drift_every_s=30"),
    "logs.rotate_mb": (IRIS, "+monitoring.logs.rotate_mb=8"),
    "logs.keep": (IRIS, "+monitoring.logs.keep=7d"),
    "drift_window_rows": (IRIS, "+monitoring.drift_window_rows=500"),
    "drift_every_s": (IRIS, "+monitoring.drift_every_s=30"),
    "drift.detector": (IRIS, "+validation.drift.detector=ks"),
    "drift.p_val": (IRIS, "+validation.drift.p_val=0.01"),
    "drift.correction": (IRIS, "+validation.drift.correction=fdr"),
    "drift.reference_rows": (IRIS, "+validation.drift.reference_rows=100"),
    "rollout.strategy": (IRIS, "+serving.online.rollout.strategy=canary"),
    "rollout.steps": (IRIS, "+serving.online.rollout.steps=[10,100]"),
    "rollout.step_every": (IRIS, "+serving.online.rollout.step_every=1m"),
    "rollout.min_requests": (IRIS, "+serving.online.rollout.min_requests=7"),
    "rollout.guards.error_rate_above": (IRIS, "+serving.online.rollout.guards.error_rate_above=0.2"),
    "rollout.guards.latency_p99_ms_above": (IRIS, "+serving.online.rollout.guards.latency_p99_ms_above=90"),
    "rollout.guards.latency_p99_ratio_above": (IRIS, "+serving.online.rollout.guards.latency_p99_ratio_above=3"),
    "rollout.guards.metric_drop_above": (IRIS, "+serving.online.rollout.guards.metric_drop_above=0.1"),
    "rollout.guards.min_labels": (IRIS, "+serving.online.rollout.guards.min_labels=5"),
    "rollout.guards.prediction_shift_above": (IRIS, "+serving.online.rollout.guards.prediction_shift_above=0.5"),
    "rollout.bake": (IRIS, "+serving.online.rollout.bake=1h"),
    "rollout.split": (IRIS, "+serving.online.rollout.split={champion:70,challenger:30}"),
    "rollout.sticky.key": (IRIS, "+serving.online.rollout.sticky.key=user"),
    "rollout.sticky.header": (IRIS, "+serving.online.rollout.sticky.header=x-user"),
}


def _model_of(annotation: typing.Any) -> type[BaseModel] | None:
    """The one model an annotation holds (Optional[Model] included); None for a plain value or a union of models."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    return args[0] if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel) else None


def leaf_settings(model: type[BaseModel] = EndpointSettings, prefix: str = "") -> list[str]:
    """Every setting of the schema as a dotted path, nested models walked into."""
    out = []
    for name, info in model.model_fields.items():
        inner = _model_of(info.annotation)
        out += leaf_settings(inner, f"{prefix}{name}.") if inner is not None else [f"{prefix}{name}"]
    return out


def value_at(params: dict, path: str) -> typing.Any:
    for part in path.split("."):
        params = (params or {}).get(part)
    return params


def test_every_setting_of_the_schema_has_a_spec_change():
    assert sorted(leaf_settings()) == sorted(SPEC_CHANGES), "a new endpoint setting: add the spec change that sets it"


@pytest.fixture(scope="module")
def baselines() -> dict:
    return {spec: api.plan(spec).node("deploy") for spec in (IRIS, CHURN)}


@pytest.mark.parametrize("setting", [s for s, change in SPEC_CHANGES.items() if change is not None])
def test_changing_a_setting_changes_the_deploy_node_hash(setting, baselines):
    spec, override = SPEC_CHANGES[setting]
    before, after = baselines[spec], api.plan(spec, [override]).node("deploy")
    assert value_at(after.params, setting) != value_at(before.params, setting), override
    assert after.hash != before.hash
    assert EndpointSettings.of(after).params() == after.params  # the node's params are the typed settings, whole


def test_a_fixed_option_is_not_a_spec_setting():
    """Serve's backpressure answer is mlops' own: the spec has no field for it (so the table says None)."""
    assert "backpressure" not in IRIS.read_text()
    assert all(SPEC_CHANGES[s] is None for s in leaf_settings() if ".backpressure." in s)
    with pytest.raises(SpecError, match=r"serving\.online\.backpressure: unknown key"):  # and no spec can set it
        api.plan(IRIS, ["+serving.online.backpressure.status_code=429"])
