"""The deploy node's parameters pinned (the deploy stage reads these and nothing else; mutants of
mlops/plan/endpoint.py that renamed a key or changed a value survived every other fast test)."""
from __future__ import annotations

from conftest import EXAMPLES
from mlops import api
from mlops.extras import MONITORING, installed

ONLINE = EXAMPLES / "iris" / "online.yaml"
DRIFT = {"detector": "tabular", "p_val": 0.05, "correction": "bonferroni", "reference_rows": 5000}


def test_every_setting_of_the_iris_endpoint_is_in_the_deploy_node():
    node = api.plan(ONLINE).node("deploy")
    assert node.params == {
        "name": "iris", "model_alias": "champion", "route": "/iris", "host": "127.0.0.1", "port": 8000, "timeout_s": 10.0,
        "max_rows": 1000, "max_request_bytes": 1000000, "batching": {"max_batch_size": 32, "wait_ms": 5.0}, "auth": {"token_env": None},
        "fast_path": True, "throughput_mode": True, "feature_views": [],
        "deployment_options": {"replicas": {"min": 1, "max": 2, "target_ongoing_requests": 8.0},
                               "max_ongoing_requests": 64, "max_queued_requests": 256,
                               "backpressure": {"status_code": 503, "retry_after_s": 1.0},
                               "ray_actor_options": {"num_cpus": 1.0, "num_gpus": 0.0}},
        "keeps_feedback": False, "logs": {"rotate_mb": 64.0, "keep": 2592000.0},
        "drift_window_rows": 1000, "drift_every_s": 60.0,
        "drift": DRIFT if installed(MONITORING) else None,
        "rollout": {"strategy": "direct", "steps": [5, 25, 50, 100], "step_every": 300.0, "min_requests": 100,
                    "guards": {"error_rate_above": 0.01, "latency_p99_ms_above": None, "latency_p99_ratio_above": None,
                               "metric_drop_above": 0.05, "min_labels": 30, "prediction_shift_above": 0.25},
                    "bake": 600.0, "split": {"champion": 50, "challenger": 50}, "sticky": None},
    }
    assert set(node.runtime) == {"base_dir", "tracking_uri"}  # where things are; nothing names the spec file
    assert node.resources == {"CPU": 1.0} and node.placement == "driver" and node.inputs == {"registration": "register"}


def test_drift_null_means_no_drift_check_at_the_endpoint():
    assert api.plan(ONLINE, ["+validation.drift=null"]).node("deploy").params["drift"] is None
    with_section = api.plan(ONLINE, ["+validation.null_fraction_tolerance=0.1"]).node("deploy").params["drift"]
    assert with_section == DRIFT  # a validation section asks for drift whatever is installed


def test_an_overridden_setting_reaches_the_deploy_node():
    params = api.plan(ONLINE, ["serving.online.max_rows=7", "serving.online.host=localhost",
                               "serving.online.batching.max_batch_size=3"]).node("deploy").params
    assert (params["max_rows"], params["host"], params["batching"]["max_batch_size"]) == (7, "localhost", 3)


def test_an_endpoint_with_feature_views_is_told_where_the_online_store_is(tmp_path, monkeypatch):
    """The deploy node's runtime (where things are on this machine) carries the online store the replicas
    fill requests from; an endpoint without views has none."""
    import shutil

    from mlops.plan.features import DEFAULT_ONLINE_STORE

    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    shutil.copytree(EXAMPLES / "churn-features", tmp_path / "churn")
    deploy = api.plan(tmp_path / "churn" / "online.yaml").node("deploy")
    assert deploy.runtime["online_store"] == str((tmp_path / "churn" / DEFAULT_ONLINE_STORE).resolve())
    assert "online_store" not in api.plan(ONLINE).node("deploy").runtime


def test_the_settings_are_frozen_and_hash_as_the_deploy_node_they_came_from():
    import pytest
    from pydantic import ValidationError

    from mlops.plan.endpoint import EndpointSettings
    from mlops.plan.graph import content_hash

    node = api.plan(ONLINE).node("deploy")
    settings = EndpointSettings.of(node)
    with pytest.raises(ValidationError):  # what a deploy node says cannot be changed behind its hash
        settings.port = 9000
    assert settings.settings_hash() == content_hash(node.params)
    assert EndpointSettings.of(api.plan(ONLINE, ["serving.online.max_rows=7"]).node("deploy")).settings_hash() \
        != settings.settings_hash()


def test_settings_changes_names_each_changed_leaf_with_both_values():
    from mlops.plan.endpoint import settings_changes

    old = {"port": 8000, "batching": {"max_batch_size": 32, "wait_ms": 5.0}, "auth": {"token_env": "T"}}
    new = {"port": 8000, "batching": {"max_batch_size": 8, "wait_ms": 5.0}, "route": "/x"}
    assert settings_changes(old, new) == ["auth.token_env: 'T' -> '(unset)'", "batching.max_batch_size: 32 -> 8",
                                          "route: '(unset)' -> '/x'"]
    assert settings_changes(old, dict(old)) == []


def test_without_a_validation_section_the_core_install_runs_no_drift_check(monkeypatch):
    """The default detector needs the drift library: without it (the core install) the endpoint runs none,
    unless the spec asks for drift in a validation section (which validate refuses without the extra)."""
    import mlops.extras
    from mlops.plan.endpoint import drift_settings

    spec = api.load(ONLINE, check_data=False).spec
    with_section = api.load(ONLINE, ["+validation={drift: {p_val: 0.01}}"], check_data=False).spec
    monkeypatch.setattr(mlops.extras, "installed", lambda extra: extra is not mlops.extras.MONITORING)
    assert drift_settings(spec) is None
    assert drift_settings(with_section).p_val == 0.01
    monkeypatch.setattr(mlops.extras, "installed", lambda extra: True)
    assert drift_settings(spec).model_dump() == DRIFT
    assert drift_settings(api.load(ONLINE, ["+validation={drift: null}"], check_data=False).spec) is None
