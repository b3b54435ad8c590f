"""How long `mlops stop` takes, from the command line, on a real endpoint on mlops' local Ray head.

    python benchmarks/endpoint_stop.py [--keep DIR]

Two iris endpoints (`iris` and `iris2`) are applied into one project directory, so they share a head. Then:
  1. `mlops stop iris2` while `iris` stays: Serve deletes one application (its replicas drain, then stop);
     timed to the command's exit and to the route answering 404;
  2. `mlops stop`: nothing else left, so the whole head goes; timed to the command's exit, to the port
     refusing connections and to the head's process being gone.
Baseline, measured in the same run on the same head before step 1: the previous `mlops stop NAME` (a
blocking `serve.delete`, whose wait polls once a second), run in this process against iris2, timed from the
call to its return, next to the current one (`control.stop`) on the same app redeployed; both include
the replicas' drain (deploy.LOCAL_DRAIN_S, 2 s; Ray's own default is 30 s, which made every stop take
31 s before it). Also printed: the CLI's own start-up (`mlops --help`), which every command pays.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlops.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        sys.exit(f"mlops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start, done


def wait_until(check, timeout: float = 120) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            return float("nan")
        time.sleep(0.05)
    return time.perf_counter() - start


def status_of(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="work in this directory and keep it")
    args = parser.parse_args()
    from mlops.cluster.processes import alive, stable_port

    work = Path(args.keep or tempfile.mkdtemp(prefix="mlops-stop-"))
    shutil.copytree(ROOT / "examples" / "iris", work / "iris", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("out", ".mlops"))
    port = stable_port()
    common = [f"serving.online.port={port}", "serving.online.auth=none", "serving.online.replicas.min=1", "serving.online.replicas.max=1",
              "hardware.cpus_per_replica=0.25", f"tracking.uri=sqlite:///{work / 'mlflow.db'}"]
    spec = str(work / "iris" / "online.yaml")
    try:
        apply_s, _ = cli("apply", spec, *common, cwd=work)
        cli("apply", spec, *common, "name=iris2", "serving.online.route=/iris2", cwd=work)
        head = json.loads((work / ".mlops" / "ray-head.json").read_text())
        base, url2 = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/iris2/healthz"
        help_s, _ = cli("--help", cwd=work)
        previous_s, current_s = in_process(head["gcs"], work, spec, common, url2)

        stop_one_s, _ = cli("stop", "iris2", cwd=work)
        gone_one_s = stop_one_s + wait_until(lambda: status_of(url2) == 404)
        assert status_of(f"{base}/iris/healthz") == 200, "stopping iris2 touched iris"
        stop_all_s, _ = cli("stop", cwd=work)
        closed_s = stop_all_s + wait_until(lambda: status_of(f"{base}/iris/healthz") == -1)
        exited_s = stop_all_s + wait_until(lambda: not alive(head["pid"]))
    finally:
        if (work / ".mlops" / "ray-head.json").exists():
            subprocess.run([sys.executable, "-m", "mlops.cli", "stop"], cwd=work, capture_output=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"apply (train + deploy) {apply_s:.1f} s; CLI start-up (mlops --help) {help_s:.2f} s\n")
    print(f"{'what':<58} | {'seconds':>7}")
    print("-" * 68)
    print(f"{'baseline: previous stop of iris2 in-process (serve.delete)':<58} | {previous_s:>7.2f}")
    print(f"{'current stop of iris2 in-process (control.stop)':<58} | {current_s:>7.2f}")
    print(f"{'mlops stop iris2 (one app of two): command exits':<58} | {stop_one_s:>7.2f}")
    print(f"{'  ... route answers 404':<58} | {gone_one_s:>7.2f}")
    print(f"{'mlops stop (last app: the head goes): command exits':<58} | {stop_all_s:>7.2f}")
    print(f"{'  ... port refuses connections':<58} | {closed_s:>7.2f}")
    print(f"{'  ... head process gone':<58} | {exited_s:>7.2f}")
    print(f"\nin-process stop of one app: {previous_s / current_s:.2f}x faster than the previous one")


def in_process(gcs: str, work: Path, spec: str, common: list[str], url: str) -> tuple[float, float]:
    """(previous stop's serve.delete, current control.stop) of iris2, each on a fresh deploy of it."""
    from ray import serve

    from mlops.cluster.session import ray_session
    from mlops.serving import control

    redeploy = ["apply", spec, *common, "name=iris2", "serving.online.route=/iris2"]
    here = os.getcwd()
    os.chdir(work)  # the session and control.stop read the head's record from .mlops/ here
    try:
        with ray_session("local", gcs):
            start = time.perf_counter()
            serve.delete("iris2")  # what `mlops stop iris2` called before
            previous_s = time.perf_counter() - start
            cli(*redeploy, cwd=work)
            wait_until(lambda: status_of(url) == 200)
            start = time.perf_counter()
            control.stop("iris2")
            current_s = time.perf_counter() - start
    finally:
        os.chdir(here)
    cli(*redeploy, cwd=work)  # back, for the command-line stop
    wait_until(lambda: status_of(url) == 200)
    return previous_s, current_s


if __name__ == "__main__":
    main()
