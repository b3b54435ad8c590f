"""The continuous-operation loop, end to end, with nobody watching: how long from the moment served traffic
drifts to a retrained challenger answering all of it, and how many requests failed on the way.

    python benchmarks/continuous_loop.py [--tick 2s] [--step-every 5s] [--keep DIR]

As a user would, from the command line: `mlops apply` of an online churn spec (examples/drift's generator)
with a drift trigger, a canary rollout (steps 25 -> 100, `step_every`, 20 challenger requests a step, a
bake) and the always-on controller (`tick`), which the apply starts. A client sends 10-row requests without
pause. At the onset the client's rows switch to the drifted world, and the same world arrives, labelled, as
the retraining data (three CSV files). Timed from the onset, each from what a user sees:
  - retrain decided: the controller's `mlops.retrain` event on the sink (drift judged, retrained, the gate);
  - first challenger answer: the first 200 whose `model_version` is the new version;
  - challenger at 100%: the rollout's `rollout.promote` event (the last step: 100% of traffic, then the bake),
    and the last answer by the old version;
and every request that was not a 200 (status or connection error), before and after.
The floor of each figure is a tick or a step: they are spec settings, so the ratio that matters is
(time to 100%) / (time to the retrain decision + the one step_every spent at 25%), printed too.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
_gen = importlib.util.spec_from_file_location("drift_generate", ROOT / "examples" / "drift" / "generate.py")
generate = importlib.util.module_from_spec(_gen)
_gen.loader.exec_module(generate)
START = pd.Timestamp("2026-01-01")
INPUTS = ["tenure_months", "monthly_charges", "support_calls", "data_gb", "age", "plan"]

SPEC = """
name: churnloop
data: {{source: {{type: csv, path: train.csv}}, target: churned, id_column: id, timestamp: ts}}
model: {{task: classification, type: sklearn, estimator: logistic_regression, metric: roc_auc}}
validation: {{drift: {{detector: tabular, p_val: 0.05}}}}
retraining:
  data: {{source: {{type: csv, path: "new/*.csv"}}, holdout_rows: 300}}
  triggers: [{{on: drift, min_drifted_features: 0.3}}]
  promote: {{metric: roc_auc, min_improvement: 0.0, holdout: latest}}
monitoring:
  controller: {{tick: {tick}}}
  sink: {{type: log, path: events.jsonl}}
  drift_every_s: 1
  drift_window_rows: 200
serving:
  mode: online
  online:
    route: /churnloop
    auth: none
    port: {port}
    replicas: {{fixed: 1}}
    rollout: {{strategy: canary, steps: [25, 100], step_every: {step_every}, min_requests: 20, bake: 10s,
               guards: {{prediction_shift_above: null}}}}
tracking: {{uri: "sqlite:///mlflow.db"}}
"""


def cli(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run([sys.executable, "-m", "mlops.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if done.returncode != 0:
        sys.exit(f"mlops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def events(root: Path) -> list[dict]:
    path = root / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tick", default="2s")
    parser.add_argument("--step-every", default="5s")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", help="work here and leave it (default: a temp dir, deleted)")
    args = parser.parse_args()
    from mlops.cluster.processes import stable_port
    from mlops.durations import parse_duration

    root = Path(args.keep or tempfile.mkdtemp(prefix="mlops-loop-"))
    root.mkdir(parents=True, exist_ok=True)
    generate.make_rows(1000, 0, False, 0, START - pd.Timedelta(days=30)).to_csv(root / "train.csv", index=False)
    port = stable_port()
    (root / "spec.yaml").write_text(SPEC.format(port=port, tick=args.tick, step_every=args.step_every))
    url = f"http://127.0.0.1:{port}/churnloop"
    steady = generate.make_rows(400, 7, False, 0, START)[INPUTS].to_dict(orient="records")
    drifted = generate.make_rows(400, 99, True, 0, START)[INPUTS].to_dict(orient="records")
    answers: list[tuple[float, int, str | None]] = []  # (time, status or 0 for a connection error, version)
    world, stop = [steady], threading.Event()

    def traffic() -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not stop.is_set():
                rows = world[0][i % 390: i % 390 + 10]
                try:
                    r = client.post(f"{url}/predict", json={"rows": rows})
                    answers.append((time.time(), r.status_code, r.json().get("model_version") if r.status_code == 200 else None))
                except httpx.HTTPError:
                    answers.append((time.time(), 0, None))
                i += 1

    applied_at = time.time()
    cli("apply", "spec.yaml", cwd=root)
    print(f"apply (train, register, deploy, start the controller): {time.time() - applied_at:.1f} s")
    sender = threading.Thread(target=traffic, daemon=True)
    try:
        sender.start()
        time.sleep(8)  # steady traffic first: the loop must leave a healthy endpoint alone
        onset = time.time()
        world[0] = drifted
        (root / "new").mkdir(exist_ok=True)
        for i in range(3):
            frame = generate.make_rows(400, 300 + i, True, 500_000 + i * 400, START + pd.Timedelta(days=i))
            frame.to_csv(root / "new" / f"batch-{i:03d}.tmp", index=False)
            os.replace(root / "new" / f"batch-{i:03d}.tmp", root / "new" / f"batch-{i:03d}.csv")
        retrained = finished = None
        deadline = onset + args.timeout
        while time.time() < deadline:
            found = events(root)
            retrained = retrained or next((e for e in found if e["kind"] == "mlops.retrain"), None)
            finished = next((e for e in found if e["kind"] == "rollout.promote" and e.get("challenger") == "2"), None)
            rolled_back = next((e for e in found if e["kind"] in ("rollout.rollback", "rollout.restore")), None)
            if rolled_back:
                sys.exit(f"the rollout rolled back: {rolled_back}")
            if retrained and not retrained.get("promoted"):
                sys.exit(f"the challenger was not promoted: {retrained}")
            if finished:
                break
            time.sleep(0.5)
        time.sleep(3)  # traffic on the new champion alone
    finally:
        stop.set()
        sender.join(30)
        cli("stop", cwd=root)
    if not finished:
        sys.exit(f"no promotion within {args.timeout:.0f} s of the onset; events: {events(root)}")
    first_v2 = next((t for t, s, v in answers if t >= onset and v == "2"), None)
    last_v1 = max((t for t, s, v in answers if v == "1"), default=onset)
    before = [a for a in answers if a[0] < onset]
    after = [a for a in answers if a[0] >= onset]
    failed = [a for a in answers if a[1] != 200]
    retrain_at = retrained.get("at") if retrained else None
    floor = parse_duration(args.step_every)  # steps [25, 100]: one step_every at 25%, then 100%
    print(f"tick {args.tick}, canary 25 -> 100 every {args.step_every}")
    print(f"requests: {len(before)} before the onset, {len(after)} after; failed: {len(failed)} "
          f"({sorted({a[1] for a in failed}) or 'none'})")
    if retrain_at:
        print(f"onset -> retrain decided (drift judged, retrained, gate passed): {retrain_at - onset:6.1f} s")
    if first_v2:
        print(f"onset -> first answer by the challenger:                       {first_v2 - onset:6.1f} s")
    print(f"onset -> challenger at 100% of traffic (rollout.promote):       {finished['at'] - onset:6.1f} s")
    print(f"onset -> last answer by the old champion:                       {last_v1 - onset:6.1f} s")
    if retrain_at:
        print(f"time to 100% / (retrain decided + one step_every): {(finished['at'] - onset) / (retrain_at - onset + floor):.2f}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
