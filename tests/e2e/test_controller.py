"""The always-on controller on mlops' local head, driven from the command line as a user would: an online
apply starts it, it outlives the CLI (kill -9 included) and its own crashes, runs each missed tick once, logs
a failing tick and goes on, refuses a second controller naming the holder, and, when the served traffic
drifts, retrains and promotes with no failed request. Ticks are 1 s, so nothing here sleeps for long."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pandas as pd
import pytest

from conftest import EXAMPLES, wait_ready, write_spec
from mlops.cluster.processes import alive, stable_port

pytestmark = pytest.mark.slow

_gen = importlib.util.spec_from_file_location("drift_generate", EXAMPLES / "drift" / "generate.py")
generate = importlib.util.module_from_spec(_gen)
_gen.loader.exec_module(generate)
START = pd.Timestamp("2026-01-01")
INPUTS = ["tenure_months", "monthly_charges", "support_calls", "data_gb", "age", "plan"]

SPEC = """
name: churnctl
data:
  source: {{type: csv, path: train.csv}}
  target: churned
  id_column: id
  timestamp: ts
model: {{task: classification, type: sklearn, estimator: logistic_regression, metric: roc_auc}}
validation:
  drift: {{detector: tabular, p_val: 0.05}}
retraining:
  data: {{source: {{type: csv, path: "new/*.csv"}}, holdout_rows: 300}}
  triggers:
    - {{on: drift, min_drifted_features: 0.3}}
  promote: {{metric: roc_auc, min_improvement: 0.0, holdout: latest}}
monitoring:
  controller: {{tick: 1s}}
  sink: {{type: log, path: events.jsonl}}
serving:
  mode: online
  online:
    route: /churnctl
    port: {port}
    replicas: {{fixed: 1}}
    auth: {{token_env: CTL_TOKEN}}
    rollout: {{strategy: canary, steps: [25, 50, 100], step_every: 1s, min_requests: 5, bake: 2s,
               guards: {{prediction_shift_above: null}}}}
tracking: {{uri: "sqlite:///mlflow.db"}}
"""


# The endpoint wants a token: the controller on the head never sees it, yet moves the canary, promotes and
# redeploys the winner (each redeploy keeps the running app's token: mlops.serving.deploy.token_sha256).
TOKEN = "ctl-" + os.urandom(8).hex()


def cli(*args: str, cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, "COLUMNS": "400",  # tables on one line
           "CTL_TOKEN": TOKEN}
    return subprocess.run([sys.executable, "-m", "mlops.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def state(root) -> dict:
    return json.loads((root / "controller" / "churnctl.json").read_text())


def wait_for(what, timeout: float = 60, every: float = 0.3):
    """Poll `what()` until it returns something true; that value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {getattr(what, '__name__', what)}")


def ticks_after(root, n: int, timeout: float = 60) -> dict:
    """The state once the controller has finished `n` more ticks."""
    start = state(root)["ticks"]
    return wait_for(lambda: (s := state(root))["ticks"] >= start + n and s, timeout)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """v1 served on a local head by `mlops apply`, which also starts the controller; stopped at the end."""
    root = tmp_path_factory.mktemp("controller") / "churnctl"
    root.mkdir()
    generate.make_rows(1000, 0, False, 0, START - pd.Timedelta(days=30)).to_csv(root / "train.csv", index=False)
    port = stable_port()
    spec = write_spec(root, SPEC.format(port=port))
    applied = cli("apply", str(spec), cwd=root)
    try:
        assert applied.returncode == 0, applied.stdout + applied.stderr
        url = f"http://127.0.0.1:{port}/churnctl"
        wait_ready(url)
        yield {"root": root, "spec": spec, "url": url, "apply_output": applied.stdout}
    finally:
        stopped = cli("stop", cwd=root)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_an_online_apply_starts_the_controller_and_status_shows_it(project):
    root = project["root"]
    assert "controller churnctl runs on 127.0.0.1:" in " ".join(project["apply_output"].split())
    now = wait_for(lambda: (s := state(root))["decision"] and s)  # the first tick's decision
    assert now["restarts"] == 0 and now["errors"] == [] and now["decision"] == "v1 stays"
    shown = cli("status", cwd=root)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "controllers" in text and "runs" in text and "v1 stays" in text and "no new rows" in text


def test_a_second_controller_is_refused_naming_the_holder(project):
    watch = cli("monitor", str(project["spec"]), "--watch", cwd=project["root"], timeout=120)
    said = " ".join(watch.stderr.split())
    assert watch.returncode == 1 and "a controller for churnctl already runs" in said, said
    assert "controller actor mlops-controller:churnctl pid" in said and "Traceback" not in said


def test_stop_then_detach_from_a_cli_killed_with_sigkill(project):
    root, spec = project["root"], str(project["spec"])
    stopped = cli("monitor", spec, "--stop", cwd=root)
    assert stopped.returncode == 0 and "stopped the controller of churnctl" in stopped.stdout, stopped.stderr
    after = state(root)
    assert after["stopped"] and after["holder"] is None
    time.sleep(1.5)
    assert state(root)["ticks"] == after["ticks"]  # nothing ticks any more
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    starter = subprocess.Popen([sys.executable, "-m", "mlops.cli", "monitor", spec, "--detach"], cwd=root, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in starter.stdout:
            lines.append(line)
            if "controller churnctl runs" in line:
                break
        assert any("controller churnctl runs" in line for line in lines), "".join(lines)
        starter.send_signal(signal.SIGKILL)  # the driver dies without a goodbye: the detached actor stays
        starter.wait(30)
    finally:
        if starter.poll() is None:
            starter.kill()
    now = ticks_after(root, 2)
    assert now["stopped"] is None and now["restarts"] == 0


def test_a_killed_controller_is_restarted_and_runs_the_missed_ticks_once(project):
    root = project["root"]
    before = ticks_after(root, 1)
    os.kill(before["pid"], signal.SIGSTOP)  # frozen for three ticks, then killed: those ticks are missed
    time.sleep(3.2)
    os.kill(before["pid"], signal.SIGKILL)
    killed_at = time.time()
    restarted = wait_for(lambda: (s := state(root))["restarts"] == 1 and s["ticks"] > before["ticks"] + 1 and s, 90)
    assert restarted["pid"] != before["pid"] and not alive(before["pid"])
    log = restarted["tick_log"]
    scheduled = [t["scheduled"] for t in log]
    assert scheduled == sorted(set(scheduled))  # no tick ran twice
    first = next(t for t in log if t["at"] > killed_at)
    assert first["collapsed"] >= 3  # the ticks missed while it was down, run as one
    assert all(b - a >= 0.999 for a, b in zip(scheduled, scheduled[1:]))  # no burst of catch-up ticks
    assert restarted["holder"].startswith("controller actor mlops-controller:churnctl")
    events = [json.loads(line) for line in (root / "events.jsonl").read_text().splitlines()]
    assert [e["restarts"] for e in events if e["kind"] == "controller_restarted"] == [1]


def test_an_apply_of_a_changed_spec_replaces_the_controller(project):
    """The tick is outside the plan: nothing reruns, but the controller is replaced by one with the new spec
    (an updated spec handed to the running actor would be lost at its next restart)."""
    root = project["root"]
    before = state(root)
    applied = cli("apply", str(project["spec"]), "monitoring.controller.tick=1.5s", cwd=root)
    said = " ".join(applied.stdout.split())
    assert applied.returncode == 0 and "up to date" in said and "ticking every 1.5s" in said, said + applied.stderr
    after = ticks_after(root, 1)
    assert after["tick_s"] == 1.5 and after["pid"] != before["pid"] and after["restarts"] == 0
    again = cli("apply", str(project["spec"]), "monitoring.controller.tick=1.5s", cwd=root)
    assert again.returncode == 0 and state(root)["pid"] == after["pid"]  # unchanged: left alone


def test_a_tick_that_raises_is_recorded_and_the_loop_goes_on(project):
    root = project["root"]
    (root / "new").mkdir(exist_ok=True)
    bad = root / "new" / "batch-bad.csv"
    bad.write_bytes(b"\x00\xff\x00garbage")
    failing = wait_for(lambda: (s := state(root))["errors"] and s, 30)
    assert failing["errors"][-1]["duty"] == "monitor"
    later = ticks_after(root, 2)
    assert later["duties"]["monitor"]["failures"] >= 2  # failed again on each tick, and the ticks went on
    bad.unlink()
    recovered = wait_for(lambda: (s := state(root))["duties"]["monitor"]["last_ok"] and
                         s["duties"]["monitor"]["last_ok"] > later["last_tick"] and s, 30)
    assert recovered["decision"] == "v1 stays"


def test_drifting_traffic_is_retrained_rolled_out_as_a_canary_and_promoted_with_no_failed_request(project):
    root, url = project["root"], project["url"]
    failures, answered, versions, stop = [], [0], set(), threading.Event()
    shifted = generate.make_rows(200, 99, True, 0, START)[INPUTS].to_dict(orient="records")

    def traffic() -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not stop.is_set():
                rows = shifted[i % 190: i % 190 + 10]
                try:
                    response = client.post(f"{url}/predict", json={"rows": rows},
                                           headers={"authorization": f"Bearer {TOKEN}"})
                    if response.status_code != 200:
                        failures.append((response.status_code, response.text[:300], round(time.time(), 2)))
                    else:
                        answered[0] += 1
                        versions.add(str(response.json().get("model_version")))
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                i += 1

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    (root / "new").mkdir(exist_ok=True)
    try:
        for i in range(3):  # the same drifted world arrives, labelled, as the retraining data
            frame = generate.make_rows(400, 300 + i, True, 500_000 + i * 400, START + pd.Timedelta(days=i))
            frame.to_csv(root / "new" / f"batch-{i:03d}.tmp", index=False)
            os.replace(root / "new" / f"batch-{i:03d}.tmp", root / "new" / f"batch-{i:03d}.csv")

        def retrained() -> dict | None:  # the sink has every retrain (the state's decision moves on each tick)
            events = (root / "events.jsonl").read_text().splitlines() if (root / "events.jsonl").exists() else []
            return next((e for e in map(json.loads, events) if e["kind"] == "mlops.retrain"), None)

        try:
            event = wait_for(retrained, 150, 1)
        except AssertionError as exc:  # say what the controller decided instead
            raise AssertionError(f"{exc}; controller state: {state(root)}") from None
        assert event["promoted"] and event["challenger_version"] == "2", event
        assert re.search(r"retrained \(drift\): promoted v2", event["message"]), event["message"]

        def rolled_out() -> list[str]:  # the canary's steps on the sink, up to 100% of traffic (then the bake)
            kinds = [e["kind"] for e in map(json.loads, (root / "events.jsonl").read_text().splitlines())
                     if e["kind"].startswith("rollout.") and e.get("challenger") == "2"]
            return kinds if "rollout.promote" in kinds else []

        kinds = wait_for(rolled_out, 90, 0.5)
        assert kinds[:3] == ["rollout.started", "rollout.advance", "rollout.promote"], kinds  # 25%, 50%, then 100%: guards held
        wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).json().get("model_version") == "2", 60)

        def finished() -> dict | None:  # after the bake: v2 deployed plain, by the controller, without the token
            history = json.loads((root / "rollouts" / "churnctl.json").read_text()).get("history", [])
            return next((e for e in history if e["kind"] == "rollout.finish" and e.get("challenger") == "2"
                         and ("deployed" in e or "deploy_error" in e)), None)

        done = wait_for(finished, 60, 0.5)
        assert done.get("deployed") == "2" and "deploy_error" not in done, done
        time.sleep(1)  # traffic on the new version too
    finally:
        stop.set()
        sender.join(30)
    assert failures == [] and answered[0] > 20, (len(failures), failures[:3], failures[-1:], answered)
    assert {"1", "2"} <= versions
    shown = " ".join(cli("status", cwd=root).stdout.split())
    assert re.search(r"retrained \(drift\): promoted v2|v2 stays", shown), shown  # the promotion, or a tick since
    assert shown.count("churnctl: champion v2") == 1, shown  # the model's line once, not once per deployment

