"""The endpoint lifecycle from the command line, as a user runs it: apply/serve, status, predict, stop."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlops.cluster.local_head import temp_dir
from mlops.cluster.processes import stable_port

pytestmark = pytest.mark.slow


def cli(*args: str, cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
    return subprocess.run([sys.executable, "-m", "mlops.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_apply_online_then_status_predict_promote_stop(tmp_path, example, monkeypatch):
    spec = example("iris") / "online.yaml"
    port = stable_port()
    token = "ep-token-" + os.urandom(8).hex()
    monkeypatch.setenv("EP_TOKEN", token)  # the CLI deploys with it, and predict/status send it
    over = [f"serving.online.port={port}", "+serving.online.auth.token_env=EP_TOKEN"]
    done = cli("apply", str(spec), *over, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"http://127.0.0.1:{port}/iris/predict serves v1" in done.stdout
    head = json.loads((tmp_path / ".mlops" / "ray-head.json").read_text())
    try:
        # mlops' line, not Serve's: no start-up banner from its controller, no driver-side INFO lines repeating it
        said = done.stdout + done.stderr
        assert "Throughput optimized" not in said and "Started Serve" not in said and "is ready at" not in said, said
        # The token works, yet no process of the head (its Serve controller, proxy and replicas included)
        # has it in its environment: only its sha256 travels to the replicas (docs/security.md).
        assert httpx.post(f"http://127.0.0.1:{port}/iris/predict", json={"rows": []}, timeout=10).status_code == 401
        environments = replica_environments(head["pid"])
        assert environments and all("EP_TOKEN" not in env and token not in str(env) for env in environments.values())
        replicas = [env for title, env in environments.items() if "ServeReplica" in title]
        assert all(env.get("RAY_AUTH_MODE") == "token" and "PATH" in env for env in replicas)  # what Ray needs stays
        assert (tmp_path / ".mlops" / "ray-head.json").stat().st_mode & 0o077 == 0  # it keeps the store URI of each deploy node
        # The head keeps its sessions in its own folder: it never becomes the machine's "current cluster"
        # that an operator's `ray status` or ray.init("auto") would dial.
        gcs_port = head["gcs"].rsplit(":", 1)[1]
        assert (temp_dir(gcs_port) / "ray_current_cluster").read_text().strip().endswith(f":{gcs_port}")
        current = Path("/tmp/ray/ray_current_cluster")
        assert not (current.exists() and current.read_text().strip().endswith(f":{gcs_port}"))
        status = cli("status", cwd=tmp_path)
        assert status.returncode == 0 and "iris" in status.stdout and "RUNNING" in status.stdout
        # Every process of the head serving the endpoint listens on loopback only, HAProxy (frontend,
        # stats page, metrics exporter) included; the one exception is each replica's inter-deployment
        # gRPC server, which Ray 2.60 binds to [::] (hard-coded) and guards with the Ray token
        # (docs/security.md).
        from test_ray_access import _loopback_only, _tree, listening_processes

        deadline, opened = time.time() + 30, []
        while time.time() < deadline:
            opened = listening_processes(_tree(head["pid"]))
            if f"127.0.0.1:{port}" in {address for address, _ in opened}:
                break
            time.sleep(1)
        assert any(title.startswith("haproxy") or "haproxy" in title for _, title in opened), opened
        exposed = [(a, t) for a, t in opened if not _loopback_only([a])]
        # Serve's fallback proxy (HAProxy's target while an app has no ready replica) binds with SO_REUSEPORT:
        # on its default port, two clusters on one machine shared their requests. This head has its own.
        fallback = environments[next(t for t in environments if t.split()[0] == str(head["pid"]))]["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"]
        addresses = {a for a, _ in opened}
        assert f"127.0.0.1:{fallback}" in addresses and not any(a.endswith(":8500") for a in addresses), opened
        assert f"127.0.0.1:{port}" in {a for a, _ in opened} and all(t.startswith("ray::ServeReplica") for _, t in exposed), exposed
        rows = spec.parent / "rows.json"
        answer = cli("predict", str(spec), *over, "--input", str(rows), cwd=tmp_path)
        assert answer.returncode == 0, answer.stderr
        assert json.loads(answer.stdout)["predictions"] == [0, 2]
        local = cli("predict", str(spec), *over, "--input", str(rows), "--local", cwd=tmp_path)
        assert local.returncode == 0, local.stderr
        assert json.loads(local.stdout)["predictions"] == [0, 2]
        # a second version, then a promote that the running endpoint follows
        assert cli("apply", str(spec), *over, "model.params.max_depth=2", cwd=tmp_path).returncode == 0
        promoted = cli("promote", "iris", "2", cwd=tmp_path)
        assert "endpoint now serves v2" in promoted.stdout, promoted.stdout + promoted.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/iris/readyz").json()["model_version"] == "2"
        # The spec edited but not applied: the rollback redeploys the recorded deploy node, not the file.
        spec.write_text(spec.read_text().replace("    timeout_s: 10\n", "    timeout_s: 10\n    max_rows: 1\n"))
        rolled = cli("rollback", "iris", cwd=tmp_path)
        assert "rolled back to v1" in rolled.stdout
        assert httpx.get(f"http://127.0.0.1:{port}/iris/readyz").json()["model_version"] == "1"
        five = json.loads(rows.read_text())["rows"] * 3  # over the edited max_rows, within the applied one
        answer = httpx.post(f"http://127.0.0.1:{port}/iris/predict", json={"rows": five[:5]},
                            headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["model_version"] == "1", answer.text
    finally:
        stopped = cli("stop", cwd=tmp_path)
    assert "local Ray head" in stopped.stdout
    assert not (tmp_path / ".mlops" / "ray-head.json").exists()
    assert not temp_dir(head["gcs"].rsplit(":", 1)[1]).exists()  # its logs and sockets went with it
    from mlops.cluster.processes import alive

    deadline = time.time() + 30
    while alive(head["pid"]) and time.time() < deadline:  # `mlops stop` signals the head; it exits soon after
        time.sleep(0.1)
    assert not alive(head["pid"])
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/iris/healthz", timeout=2)


def replica_environments(head_pid: int, timeout: float = 60) -> dict[str, dict[str, str]]:
    """The environment of every process of the head, once its Serve replicas run: {"pid title": env}."""
    from test_ray_access import _tree

    deadline, found = time.time() + timeout, {}
    while time.time() < deadline:
        found = {}
        for pid in _tree(head_pid):
            try:
                title = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode(errors="replace")
                raw = open(f"/proc/{pid}/environ", "rb").read()
            except OSError:
                continue
            found[f"{pid} {title}"] = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        if any("ServeReplica" in key for key in found):
            return found
        time.sleep(1)
    raise AssertionError(f"no Serve replica under the head: {sorted(found)}")


def test_serve_in_foreground_stops_cleanly_on_ctrl_c(tmp_path, example, tracking_uri, ray_local):
    """The foreground endpoint, with the default auth (a token mlops generates beside the spec): its embedded
    Ray never sees the token, `mlops predict` sends it; Ctrl-C stops it cleanly."""
    from mlops import api

    spec = example("iris") / "online.yaml"
    port = stable_port()
    over = [f"serving.online.port={port}", f"tracking.uri={tracking_uri}", "serving.mode=online", "~serving.batch"]
    # Register a model without deploying it (in this process, on the session's Ray: the command under test
    # is `serve`, which starts its own).
    api.apply(spec, [*over, "~serving.online", "serving.mode=batch", "+serving.batch={input: 'sklearn:iris'}"])
    proc = subprocess.Popen([sys.executable, "-m", "mlops.cli", "serve", str(spec), *over], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:  # the CLI says when it is serving and how to stop it
            lines.append(line)
            if "Ctrl-C to stop" in line:
                break
        assert any("serving iris" in line for line in lines), "".join(lines)
        assert httpx.get(f"http://127.0.0.1:{port}/iris/readyz", timeout=5).status_code == 200
        url = f"http://127.0.0.1:{port}/iris/predict"
        assert httpx.post(url, json={"rows": []}, timeout=10).status_code == 401
        token = (spec.parent / ".mlops" / "tokens" / "iris").read_text().strip()  # `mlops predict` sends it
        row = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}
        answer = httpx.post(url, json={"rows": [row]}, headers={"authorization": f"Bearer {token}"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["model_version"] == "1", answer.text
        environments = replica_environments(proc.pid)
        assert all(token not in str(env) for env in environments.values())
        assert any("ServeReplica" in title for title in environments)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        out = "".join(lines) + out
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopped" in out and "Traceback" not in out
