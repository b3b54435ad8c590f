"""What the control plane reads instead of the spec file: each app's record (the deploy node it runs) and
the deploy node the last apply recorded beside the store. No Ray: the records are plain files."""
from __future__ import annotations

import json

import pytest

from conftest import EXAMPLES
from mlops import api

ONLINE = EXAMPLES / "iris" / "online.yaml"


@pytest.fixture
def project(tmp_path):
    return api.load(ONLINE, [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"], check_data=False)


def record_state(project, plan, **changes) -> None:
    """Write the apply state as apply does: every node's entry, and the plan itself."""
    from mlops.runtime.node_cache import NodeCache, cache_dir

    entries = {n.id: {"hash": n.hash, "kind": n.kind, "params": n.params, "inputs": dict(n.inputs)} for n in plan.nodes}
    state = {"nodes": entries, "plan_hash": plan.hash, "plan": plan.to_dict(), **changes}
    NodeCache(cache_dir(plan.node("register").runtime["tracking_uri"], project.base_dir)).write_state(plan.name, state)


def test_an_app_record_keeps_the_deploy_node_itself(project, tmp_path, monkeypatch):
    from mlops.cluster.local_head import HeadState
    from mlops.plan import compile_plan
    from mlops.serving.app_records import DeployedApp

    node = compile_plan(project).node("deploy")
    record = DeployedApp("http://127.0.0.1:8000/iris", node)
    monkeypatch.chdir(tmp_path)
    HeadState("127.0.0.1:1", 1, 2, {"iris": record.to_dict()}).save()  # the head's file, as JSON
    read = DeployedApp.from_dict(json.loads((tmp_path / ".mlops" / "ray-head.json").read_text())["apps"]["iris"])
    assert read.node == node and read.settings.max_rows == 1000 and read.tracking_uri == node.runtime["tracking_uri"]
    assert "spec_file" not in read.node.runtime and read.token_env is None


def test_a_redeploy_without_the_token_keeps_the_running_apps_token(tmp_path, monkeypatch):
    """The controller on the head never sees an endpoint's token: its hot swaps, rollout steps and rollbacks
    keep the sha256 the running app was deployed with (recorded in the head's owner-only state file), for
    the same variable only; with the variable set, its value wins (a new token); with neither, refused."""
    import hashlib

    from mlops.cluster.local_head import HeadState
    from mlops.errors import SpecError
    from mlops.plan import compile_plan
    from mlops.plan.endpoint import EndpointSettings
    from mlops.serving import app_records
    from mlops.serving.deploy import token_sha256

    with_auth = api.load(ONLINE, [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
                                  "+serving.online.auth.token_env=REC_TOKEN"], check_data=False)
    node = compile_plan(with_auth).node("deploy")
    settings = EndpointSettings.of(node)
    monkeypatch.delenv("REC_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(app_records, "DEPLOYED_HERE", {})
    with pytest.raises(SpecError, match="REC_TOKEN is not set"):  # nothing runs: no token to keep
        token_sha256(settings, node.runtime["base_dir"])
    running = hashlib.sha256(b"the-running-token").hexdigest()
    record = app_records.DeployedApp("http://127.0.0.1:8000/iris", node, running)
    HeadState("127.0.0.1:1", 1, 2, {"iris": record.to_dict()}).save()
    read = app_records.DeployedApp.from_dict(json.loads((tmp_path / ".mlops" / "ray-head.json").read_text())["apps"]["iris"])
    assert read.token_sha256 == running and read.token_env == "REC_TOKEN"
    monkeypatch.setitem(app_records.DEPLOYED_HERE, "iris", read)
    assert token_sha256(settings, node.runtime["base_dir"]) == running
    monkeypatch.setenv("REC_TOKEN", "a-new-token")
    assert token_sha256(settings, node.runtime["base_dir"]) == hashlib.sha256(b"a-new-token").hexdigest()
    other = compile_plan(api.load(ONLINE, [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}",
                                           "+serving.online.auth.token_env=OTHER_TOKEN"], check_data=False))
    monkeypatch.delenv("OTHER_TOKEN", raising=False)
    with pytest.raises(SpecError, match="OTHER_TOKEN is not set"):  # another variable: not the running token
        token_sha256(EndpointSettings.of(other.node("deploy")), node.runtime["base_dir"])


def test_a_generated_token_is_made_once_beside_the_spec_and_kept_where_the_spec_is_not(tmp_path, monkeypatch):
    """Without token_env: the first deploy writes the token (0600), later ones read it; a deleted file is a
    new token; on a machine without the spec's folder (a controller on a remote head) the running app's."""
    import stat

    from mlops.errors import MlopsError
    from mlops.plan import compile_plan
    from mlops.plan.endpoint import EndpointSettings
    from mlops.serving import app_records
    from mlops.serving.deploy import current_token_sha256, token_sha256
    from mlops.serving.endpoint_token import read_token, sha256, token_file

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(app_records, "DEPLOYED_HERE", {})
    node = compile_plan(api.load(ONLINE, [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"], check_data=False)).node("deploy")
    settings = EndpointSettings.of(node)
    assert settings.auth is not None and settings.auth.token_env is None  # the default
    spec_dir = tmp_path / "project"
    spec_dir.mkdir()
    assert current_token_sha256(settings, spec_dir) is None  # none yet: the deploy makes it
    first = token_sha256(settings, spec_dir)
    path = token_file(spec_dir, "iris")
    assert first == sha256(read_token(spec_dir, "iris")) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert token_sha256(settings, spec_dir) == first == current_token_sha256(settings, spec_dir)  # read, not remade
    path.unlink()
    assert current_token_sha256(settings, spec_dir) is None  # deleted: the next deploy makes another
    second = token_sha256(settings, spec_dir)
    assert second != first
    elsewhere = tmp_path / "on-another-machine"
    with pytest.raises(MlopsError, match="serving.online.auth.token_env"):  # nothing to keep, nowhere to write
        token_sha256(settings, elsewhere)
    monkeypatch.setitem(app_records.DEPLOYED_HERE, "iris", app_records.DeployedApp("http://127.0.0.1:8000/iris", node, second))
    assert token_sha256(settings, elsewhere) == second  # the running app's token is kept
    assert not elsewhere.exists()
    opened = compile_plan(api.load(ONLINE, [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", "serving.online.auth=none"],
                                   check_data=False)).node("deploy")
    assert token_sha256(EndpointSettings.of(opened), spec_dir) is None  # auth: none


def test_a_record_of_an_older_mlops_asks_for_one_apply(monkeypatch):
    from mlops.errors import MlopsError
    from mlops.serving import app_records

    older = {"spec": "/somewhere/online.yaml", "overrides": [], "url": "http://127.0.0.1:8000/iris"}
    monkeypatch.setitem(app_records.DEPLOYED_HERE, "iris", app_records.DeployedApp.from_dict(older))
    with pytest.raises(MlopsError, match="run `mlops apply` on its spec once"):
        app_records.recorded_node("iris")


def test_the_applied_deploy_node_is_the_recorded_one_not_the_edited_spec(project, tmp_path):
    from mlops.plan import compile_plan
    from mlops.runtime.applied import applied_deploy_node

    assert applied_deploy_node(project) is None  # never applied
    applied = compile_plan(project)
    record_state(project, applied)
    edited = api.load(ONLINE, [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", "serving.online.max_rows=1"],
                      check_data=False)
    node = applied_deploy_node(edited)
    assert node.params == applied.node("deploy").params and node.params["max_rows"] == 1000
    assert node.hash == applied.node("deploy").hash and node.runtime == applied.node("deploy").runtime


def test_an_apply_without_an_endpoint_leaves_none_applied(project, tmp_path):
    """The state keeps an earlier apply's deploy entry, but the last applied plan served no endpoint."""
    from mlops.plan import compile_plan
    from mlops.runtime.applied import applied_deploy_node

    online = compile_plan(project)
    batch = compile_plan(api.load(ONLINE, [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", "serving.mode=batch",
                                           "~serving.online"], check_data=False))
    record_state(project, online)
    assert applied_deploy_node(project) is not None
    earlier = online.node("deploy")
    entries = {n.id: {"hash": n.hash, "kind": n.kind, "params": n.params} for n in batch.nodes}
    record_state(project, batch, nodes={**entries, "deploy": {"hash": earlier.hash, "kind": "deploy", "params": earlier.params}})
    assert applied_deploy_node(project) is None


def test_deploy_params_of_an_older_layout_are_not_served(project):
    from mlops.plan import compile_plan
    from mlops.runtime.applied import applied_deploy_node

    plan = compile_plan(project)
    older = {**plan.node("deploy").params, "alias": "champion", "max_batch_size": 32}  # keys of the old layout
    record_state(project, plan, nodes={"deploy": {"hash": "0" * 16, "kind": "deploy", "params": older}})
    assert applied_deploy_node(project) is None


def test_the_serving_line_says_how_to_authenticate(tmp_path, monkeypatch):
    """`mlops apply` and `mlops serve` say where the endpoint's token is (relative to here), which variable
    holds it, or that it is open: a new user can curl it without reading the docs."""
    from mlops.plan import compile_plan
    from mlops.serving import app_records
    from mlops.serving.client import auth_note

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(app_records, "DEPLOYED_HERE", {})
    assert auth_note("iris") == ""  # nothing recorded
    uri = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    for overrides, note in (([], f"token: {(EXAMPLES / 'iris').resolve() / '.mlops' / 'tokens' / 'iris'}"),
                            (["+serving.online.auth.token_env=IRIS_TOKEN"], "token: $IRIS_TOKEN"),
                            (["serving.online.auth=none"], "open to all: auth none")):
        node = compile_plan(api.load(ONLINE, [uri, *overrides], check_data=False)).node("deploy")
        monkeypatch.setitem(app_records.DEPLOYED_HERE, "iris", app_records.DeployedApp("http://127.0.0.1:8000/iris", node))
        assert auth_note("iris") == note
    monkeypatch.chdir(EXAMPLES / "iris")
    node = compile_plan(api.load(ONLINE, [uri], check_data=False)).node("deploy")
    monkeypatch.setitem(app_records.DEPLOYED_HERE, "iris", app_records.DeployedApp("http://127.0.0.1:8000/iris", node))
    assert auth_note("iris") == "token: .mlops/tokens/iris"  # relative to here when it can be


def test_the_cli_sends_the_token_from_where_the_spec_keeps_it(tmp_path, monkeypatch):
    """`mlops predict` and `mlops status` send the variable's value (token_env), or the generated file's, and
    nothing for an open endpoint; a missing token is no header, with a hint naming where it comes from."""
    from mlops.plan import compile_plan
    from mlops.plan.endpoint import EndpointSettings
    from mlops.serving.client import auth_headers, token_hint
    from mlops.serving.endpoint_token import create_token

    uri = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"

    def settings(*overrides):
        return EndpointSettings.of(compile_plan(api.load(ONLINE, [uri, *overrides], check_data=False)).node("deploy"))

    monkeypatch.setenv("IRIS_TOKEN", "s3cret")
    assert auth_headers(settings("+serving.online.auth.token_env=IRIS_TOKEN"), tmp_path) == {"Authorization": "Bearer s3cret"}
    monkeypatch.delenv("IRIS_TOKEN")
    assert auth_headers(settings("+serving.online.auth.token_env=IRIS_TOKEN"), tmp_path) == {}
    assert "export IRIS_TOKEN" in token_hint(settings("+serving.online.auth.token_env=IRIS_TOKEN"), tmp_path)
    assert auth_headers(settings(), tmp_path) == {} and ".mlops/tokens/iris" in token_hint(settings(), tmp_path)
    token = create_token(tmp_path, "iris")
    assert auth_headers(settings(), tmp_path) == {"Authorization": f"Bearer {token}"}
    assert auth_headers(settings("serving.online.auth=none"), tmp_path) == {}
