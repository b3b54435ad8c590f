"""A bounded soak of one endpoint: memory held steady, errors only where the limits say.

    python benchmarks/soak.py [--seconds 60]

On a fresh local Ray (throughput mode), the iris random forest is served by one replica with a monitor
(the spec has a `monitoring` section, so traffic windows, the prediction log and drift checks all run).
Phase 1: `--seconds` at concurrency 32 with generous limits; reports requests, status codes, p50/p99, and
the RSS of the replica and of the monitor before and after (the traffic window is a fixed-size
histogram, so the monitor must not grow with traffic). Phase 2: the limits are cut by a serving-only
apply to max_ongoing_requests=8, max_queued_requests=8 and the same concurrency 32 (2x what the replica
then takes) runs for a quarter of the time: the excess must get 503 with Retry-After, never a timeout
or another 5xx.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROW = {"sepal_length_cm": 5.9, "sepal_width_cm": 3.0, "petal_length_cm": 5.1, "petal_width_cm": 1.8}
CONCURRENCY = 32
SPEC = """
name: soak
data: {source: {type: sklearn, name: iris}, target: target}
model: {task: classification, type: sklearn, estimator: random_forest, params: {n_estimators: 100, random_state: 0}}
serving:
  mode: online
  online: {route: /soak, port: PORT, replicas: {fixed: 1}, throughput_mode: true, auth: none}
hardware: {cpus_per_replica: 0.5}
monitoring: {alerts: [{metric: error_rate, above: 0.01}], drift_window_rows: 1000, drift_every_s: 10}
tracking: {uri: "sqlite:///DIR/mlflow.db"}
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def actor_pids() -> dict[str, int]:
    """The replica's and the monitor's process ids, by the process titles Ray gives actors
    (`ray::ServeReplica:<app>:<deployment>`; no dashboard here for the state API)."""
    pids = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::ServeReplica:soak:"):
            pids["monitor" if title.split()[0].endswith(":monitor") else "replica"] = int(entry.name)
    return pids


async def hammer(url: str, seconds: float) -> dict:
    import aiohttp

    statuses: collections.Counter = collections.Counter()
    latencies: list[float] = []
    retry_after_missing = 0
    body = json.dumps({"rows": [ROW]}).encode()
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY), timeout=timeout) as session:
        async def worker() -> None:
            nonlocal retry_after_missing
            while time.monotonic() < deadline:
                start = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers={"content-type": "application/json"}) as r:
                        await r.read()
                        statuses[r.status] += 1
                        retry_after_missing += r.status == 503 and "retry-after" not in r.headers
                except asyncio.TimeoutError:
                    statuses["timeout"] += 1
                except aiohttp.ClientError:
                    statuses["connection error"] += 1
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    latencies.sort()
    return {"requests": sum(statuses.values()), "statuses": dict(statuses), "rps": sum(statuses.values()) / seconds,
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(0.99 * len(latencies)) - 1],
            "retry_after_missing": retry_after_missing}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="mlops-soak-"))
    from mlops.cluster.processes import stable_port
    from mlops.serving.deploy import throughput_env

    os.environ.update(throughput_env())
    port = stable_port()
    import ray

    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    from mlops import api

    spec = workdir / "soak.yaml"
    spec.write_text(SPEC.replace("PORT", str(port)).replace("DIR", str(workdir)))
    api.apply(spec)
    url = f"http://127.0.0.1:{port}/soak/predict"
    asyncio.run(hammer(url, 5))  # warm-up: every code path loaded, first drift checks run
    pids = actor_pids()
    before = {role: rss_mb(pid) for role, pid in pids.items()}
    soak = asyncio.run(hammer(url, args.seconds))
    after = {role: rss_mb(pid) for role, pid in pids.items()}
    api.apply(spec, ["serving.online.max_ongoing_requests=8", "serving.online.max_queued_requests=8"])
    overload = asyncio.run(hammer(url, args.seconds / 4))
    from ray import serve

    serve.shutdown()
    ray.shutdown()

    print(f"phase 1: {args.seconds:.0f} s at concurrency {CONCURRENCY}: {soak['requests']} requests "
          f"({soak['rps']:.0f}/s), statuses {soak['statuses']}, p50 {soak['p50_ms']:.1f} ms, p99 {soak['p99_ms']:.1f} ms")
    for role in sorted(pids):
        print(f"  {role:<8} RSS {before[role]:7.1f} MB -> {after[role]:7.1f} MB ({after[role] - before[role]:+.1f} MB)")
    over_5xx = {k: v for k, v in overload["statuses"].items() if k not in (200, 503)}
    print(f"phase 2: limits 8 ongoing + 8 queued, concurrency {CONCURRENCY} for {args.seconds / 4:.0f} s: "
          f"{overload['requests']} requests, statuses {overload['statuses']}, p99 {overload['p99_ms']:.1f} ms, "
          f"503 without Retry-After: {overload['retry_after_missing']}")
    five_xx = {k: v for k, v in soak["statuses"].items() if k != 200}
    ok = not five_xx and not over_5xx and overload["statuses"].get(503, 0) > 0 and not overload["retry_after_missing"]
    print("targets: no error below capacity, only 503 + Retry-After above it: " + ("met" if ok else "MISSED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
