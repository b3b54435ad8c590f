"""One replica of two killed with SIGKILL under concurrency-32 load: how many requests fail, and why.

    python benchmarks/replica_kill.py [--concurrency 32] [--before 3] [--after 3] [--rounds baseline current]

The iris endpoint (two replicas) runs on mlops' local Ray head in HAProxy mode, as `mlops apply` starts it.
Clients keep `--concurrency` requests in flight on keep-alive connections; after `--before` seconds one
replica is killed with SIGKILL; the load goes on until Serve has replaced it and `--after` seconds more.
Every answer is counted by status, every failure by kind (HTTP status, or the client's exception) with
its time relative to the kill. A kept-alive connection that HAProxy closes without an answer
(RemoteProtocolError: HAProxy's way of asking the client to retry, see docs/serving.md) is retried once,
as HTTP clients do for idempotent requests; "failed, client retry" counts what that retry did not save.

Each round kills `--kills` replicas one after the other (each once Serve has replaced the previous one).
Rounds, each on a fresh head, in the same run:
  baseline: Ray 2.60's HAProxy configuration as Ray writes it (only the listeners moved to loopback,
            as before issue 22);
  current:  the configuration as mlops' HAProxy wrapper rewrites it now (mlops/serving/haproxy_loopback.py).
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# The wrapper before issue 22: listeners moved to loopback, Ray's retry policy (conn-failure only) untouched.
BASELINE_WRAPPER = r"""#!/bin/sh
prev=''
for arg in "$@"; do
  if [ "$prev" = "-f" ]; then
    sed -i -E 's/^([[:space:]]*bind[[:space:]]+)[*]?:([0-9]+)[[:space:]]*$/\1127.0.0.1:\2/' "$arg" || exit 1
  fi
  prev="$arg"
done
exec '{real}' "$@"
"""
ROW = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}


def cli(*args: str, cwd: Path, env: dict) -> None:
    done = subprocess.run([sys.executable, "-m", "mlops.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env=env)
    if done.returncode != 0:
        sys.exit(f"mlops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def replica_pids(head_pid: int, app: str) -> list[int]:
    from mlops.cluster.processes import descendants

    pids = []
    for pid in descendants(head_pid):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(f"ray::ServeReplica:{app}:endpoint"):
            pids.append(pid)
    return pids


def served_replicas(port: int, app: str) -> int:
    """How many replicas of `app` the HAProxy listening on `port` routes to (its config, as Ray last wrote it)."""
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if entry.name.isdigit() and args[0].endswith("haproxy") and "-f" in args:
                text = Path(args[args.index("-f") + 1]).read_text()
                if f":{port}\n" in text:
                    return text.count(f"server SERVE_REPLICA_{app}-endpoint-")
        except (OSError, IndexError):
            continue
    return 0


async def load(url: str, token: str, concurrency: int, stop: asyncio.Event, outcomes: list) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as http:
        async def attempt() -> str:
            try:
                answer = await http.post(url, json={"rows": [ROW]})
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return str(answer.status_code) + (f" {answer.text[:60]!r}" if answer.status_code >= 500 else "")

        async def worker() -> None:
            while not stop.is_set():
                kind = await attempt()
                retried = None
                if kind == "RemoteProtocolError":  # a kept-alive connection closed with no answer: retry once,
                    retried = await attempt()  # as HTTP clients do for idempotent requests (RFC 9112 9.3.1)
                outcomes.append((time.monotonic(), kind, retried))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def kill_under_load(url: str, token: str, head_pid: int, args) -> dict:
    stop, outcomes = asyncio.Event(), []
    task = asyncio.create_task(load(url, token, args.concurrency, stop, outcomes))
    ready_at = time.monotonic()
    while served_replicas(args.port, "iris") < 2 and time.monotonic() - ready_at < 120:
        await asyncio.sleep(0.2)  # both replicas in HAProxy: never kill the only one that answers
    await asyncio.sleep(args.before)
    before = replica_pids(head_pid, "iris")
    assert len(before) == 2, before
    os.kill(before[0], signal.SIGKILL)
    killed_at = time.monotonic()
    replaced_s = None
    while time.monotonic() - killed_at < 120:
        now = replica_pids(head_pid, "iris")
        if len(now) == 2 and before[0] not in now and served_replicas(args.port, "iris") == 2:
            replaced_s = time.monotonic() - killed_at  # a new replica runs, and HAProxy routes to it
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(args.after)
    stop.set()
    await task
    kinds = collections.Counter(kind for _, kind, _ in outcomes)
    failures = [(round(t - killed_at, 2), kind) for t, kind, _ in outcomes if kind != "200"]
    unrecovered = sum(1 for _, kind, retried in outcomes if kind != "200" and retried != "200")
    return {"requests": len(outcomes), "failed": len(failures), "failed_after_client_retry": unrecovered,
            "by_kind": dict(kinds), "failures_s_after_kill": failures[:20], "replaced_after_s": replaced_s}


def run_round(variant: str, args) -> dict:
    from mlops.cluster.processes import stable_port
    from mlops.serving import haproxy_loopback

    work = Path(tempfile.mkdtemp(prefix=f"mlops-kill-{variant}-"))
    shutil.copytree(ROOT / "examples" / "iris", work / "iris", ignore=shutil.ignore_patterns("out", ".mlops"))
    port, token = stable_port(), "bench-" + os.urandom(6).hex()
    env = {**os.environ, "BENCH_TOKEN": token}
    if variant == "baseline":  # the wrapper as it was: listeners on loopback, Ray's config otherwise untouched
        wrapper = work / "haproxy-baseline"
        wrapper.write_text(BASELINE_WRAPPER.replace("{real}", haproxy_loopback.real_binary()))
        wrapper.chmod(0o700)
        env[haproxy_loopback.BINARY_ENV] = str(wrapper)
    over = [f"serving.online.port={port}", "serving.online.replicas.min=2", "serving.online.replicas.max=2",
            "hardware.cpus_per_replica=0.25", "+serving.online.auth.token_env=BENCH_TOKEN",
            f"tracking.uri=sqlite:///{work / 'mlflow.db'}"]
    try:
        cli("apply", str(work / "iris" / "online.yaml"), *over, cwd=work, env=env)
        head = json.loads((work / ".mlops" / "ray-head.json").read_text())
        url = f"http://127.0.0.1:{port}/iris/predict"
        args.port = port
        kills = [asyncio.run(kill_under_load(url, token, head["pid"], args)) for _ in range(args.kills)]
        result = {key: sum(k[key] for k in kills) for key in ("requests", "failed", "failed_after_client_retry")}
        result["by_kind"] = dict(sum((collections.Counter(k["by_kind"]) for k in kills), collections.Counter()))
        result["failures_s_after_kill"] = [f for k in kills for f in k["failures_s_after_kill"]][:20]
        result["replaced_after_s"] = max((k["replaced_after_s"] or float("nan")) for k in kills)
        result["failed_per_kill"] = [k["failed"] for k in kills]
    finally:
        subprocess.run([sys.executable, "-m", "mlops.cli", "stop"], cwd=work, capture_output=True, env=env)
        shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--before", type=float, default=3.0)
    parser.add_argument("--after", type=float, default=3.0)
    parser.add_argument("--kills", type=int, default=3, help="replicas killed one after the other, per round")
    parser.add_argument("--rounds", nargs="+", default=["baseline", "current"], choices=["baseline", "current"])
    args = parser.parse_args()
    results = {variant: run_round(variant, args) for variant in args.rounds}
    print(f"\n{args.kills} kill(s) per round, concurrency {args.concurrency}")
    print(f"{'round':<9} | {'requests':>8} | {'failed':>6} | {'per kill':>12} | {'failed, client retry':>20} | "
          f"{'replaced after s':>16} | failures by kind")
    print("-" * 100)
    for variant, r in results.items():
        kinds = {k: v for k, v in r["by_kind"].items() if k != "200"}
        print(f"{variant:<9} | {r['requests']:>8,} | {r['failed']:>6} | {str(r['failed_per_kill']):>12} | "
              f"{r['failed_after_client_retry']:>20} | "
              f"{r['replaced_after_s'] or float('nan'):>16.1f} | {kinds}")
    for variant, r in results.items():
        if r["failures_s_after_kill"]:
            print(f"{variant}: failures (seconds after the kill, kind): {r['failures_s_after_kill']}")


if __name__ == "__main__":
    main()
