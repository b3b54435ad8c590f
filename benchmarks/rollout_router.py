"""The rollout router's cost and its rollback speed, on one local Ray in throughput mode.

    python benchmarks/rollout_router.py [--rounds 3] [--requests 2000]

One iris endpoint (a 100-tree forest, one replica, batching 32 / 5 ms), v1 champion and v2 registered by
the retraining plan. Throughput at concurrency 32 (one-row /predict POSTs, bounded aiohttp load on loopback)
of the same endpoint four ways, alternating in each round (this VM's noise is +-15% run to run), the median
round reported:
  direct       a plain deploy of v1 (strategy: direct, today's endpoint);
  canary 0%    both versions loaded, the canary table at 0% to v2 (the router, per-version numbers);
  canary 100%  the same table at 100% to v2;
  canary 50%   a real split: one draw per request and two model calls per batch.
Target: canary 0%/100% >= 0.95x direct.

Rollback speed: under c32 load with v2 answering everything (canary 100%), the rollback's routing table
(v1 at 100%) is handed over at t0 as `rollout_tick` does on a breach (the monitor's table, polled by the
replicas every 0.2 s); reported: the time from t0 until every answer completed after it comes from v1. The
same through Serve's user_config update (a redeploy with the table, what a replica restart would read) for
comparison. Target: < 1 s.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

NAME = "rollbench"
SPEC = """
name: rollbench
data: {{source: {{type: sklearn, name: iris}}, target: target}}
model: {{task: classification, type: sklearn, estimator: random_forest, params: {{n_estimators: 100, random_state: 0}}}}
serving:
  mode: online
  online: {{route: /rollbench, port: {port}, replicas: {{fixed: 1}}, batching: {{max_batch_size: 32, wait_ms: 5}}, auth: none,
           rollout: {{strategy: canary, steps: [5, 25, 50, 100]}}}}
hardware: {{cpus_per_replica: 0.5}}
tracking: {{uri: "sqlite:///{dir}/mlflow.db"}}
"""
ROW = {"sepal_length_cm": 5.9, "sepal_width_cm": 3.0, "petal_length_cm": 5.1, "petal_width_cm": 1.8}


def table(champion: str, weights: dict[str, float], epoch: int) -> dict:
    from mlops.serving.traffic_split import Routing

    return {**Routing(champion, weights, mode="canary").to_dict(), "epoch": epoch, "at": time.time()}


def routed(url: str, epoch: int) -> None:
    """Wait until the replica routes by the table of `epoch` (it loads a version it lacks first, in a thread)."""
    import httpx

    deadline = time.time() + 60
    while httpx.get(f"{url}/metadata", timeout=10).json()["routing"]["epoch"] != epoch:
        assert time.time() < deadline, f"table {epoch} never taken"
        time.sleep(0.05)


def settled(url: str) -> None:
    """Wait after a redeploy until the route has answered 200 for a whole second (HAProxy's targets follow
    Serve's replica states: a replica in its `reconfigure` is out of them for a moment)."""
    import httpx

    deadline, good_since = time.time() + 60, None
    while time.time() < deadline:
        ok = httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        good_since = (good_since or time.time()) if ok else None
        if good_since and time.time() - good_since > 1.0:
            return
        time.sleep(0.05)
    raise AssertionError("the endpoint never settled after the redeploy")


def c32(url: str, requests: int) -> float:
    import orjson
    from http_load import post_load

    result = asyncio.run(post_load(f"{url}/predict", [orjson.dumps({"rows": [ROW]})], 32, requests))
    assert result["errors"] == 0, result
    return result["rps"]


class Watch:
    """c32 load in a thread, keeping (completed at, version) of every answer, until stopped."""

    def __init__(self, url: str):
        self.url, self.answers, self.stop = url, [], threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)

    async def run(self) -> None:
        import aiohttp

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
            async def worker() -> None:
                while not self.stop.is_set():
                    async with session.post(f"{self.url}/predict", json={"rows": [ROW]}) as response:
                        body = await response.json() if response.status == 200 else {}  # a 404 is text
                        self.answers.append((time.time(), response.status, body.get("model_version")))

            await asyncio.gather(*(worker() for _ in range(32)))

    def settled_after(self, t0: float, version: str) -> float:
        """Seconds from t0 until every later answer is from `version` (and how many failed)."""
        wrong = [at for at, status, v in self.answers if at > t0 and v != version]
        return (max(wrong) - t0) if wrong else 0.0

    def failed(self) -> int:
        return sum(status != 200 for _, status, _ in self.answers)


def rollback_speed(url: str, push) -> tuple[float, int]:
    """Seconds from handing over v1 at 100% (via `push`) until all answers are v1; failed requests."""
    watch = Watch(url)
    watch.thread.start()
    time.sleep(1.5)
    t0 = time.time()
    push()
    time.sleep(max(3.0, time.time() - t0 + 1.5))
    watch.stop.set()
    watch.thread.join(timeout=30)
    return watch.settled_after(t0, "1"), watch.failed()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    import ray

    from mlops import api
    from mlops.cluster.processes import stable_port
    from mlops.serving.deploy import throughput_env
    from mlops.serving.routing_control import deploy_routing, end_routing, push_routing

    os.environ.update(throughput_env())
    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    work = Path(tempfile.mkdtemp(prefix="rollbench-"))
    port = stable_port()
    spec = work / "spec.yaml"
    spec.write_text(SPEC.format(port=port, dir=work))
    api.apply(spec)
    from mlops.plan.compile import compile_retrain_plan
    from mlops.runtime.apply import apply_plan

    project = api.load(spec, ["model.params.random_state=1"])
    apply_plan(project, compile_retrain_plan(project, project.spec.data.source), force=True)
    url = f"http://127.0.0.1:{port}/rollbench"
    rounds: dict[str, list[float]] = {"direct": [], "canary 0%": [], "canary 100%": [], "canary 50%": []}
    epoch = 1
    for _ in range(args.rounds):
        end_routing(NAME, "1")
        settled(url)
        rounds["direct"].append(c32(url, args.requests))
        for share in (0.0, 100.0, 50.0):
            epoch += 1
            push_routing(NAME, table("1", {"2": share, "1": 100 - share}, epoch))
            routed(url, epoch)
            rounds[f"canary {share:.0f}%"].append(c32(url, args.requests))
    direct = statistics.median(rounds["direct"])
    print(f"c32 throughput, median of {args.rounds} rounds of {args.requests} one-row requests (rps):")
    for name, values in rounds.items():
        median = statistics.median(values)
        print(f"  {name:12s} {median:8.0f}  ({median / direct:.2f}x direct)  rounds: {', '.join(f'{v:.0f}' for v in values)}")

    epoch += 1
    push_routing(NAME, table("1", {"2": 100.0, "1": 0.0}, epoch))
    routed(url, epoch)
    epoch += 1
    fast_table = table("1", {"1": 100.0, "2": 0.0}, epoch)
    fast, fast_failed = rollback_speed(url, lambda: push_routing(NAME, fast_table))
    epoch += 1
    push_routing(NAME, table("1", {"2": 100.0, "1": 0.0}, epoch))
    routed(url, epoch)
    epoch += 1
    slow_table = table("1", {"1": 100.0, "2": 0.0}, epoch)
    slow, slow_failed = rollback_speed(url, lambda: deploy_routing(NAME, slow_table))
    print("rollback: breach decision to 100% of answers from the champion, under c32 load:")
    print(f"  monitor table, replicas poll every 0.2 s: {fast:.3f} s  (failed requests: {fast_failed})")
    print(f"  Serve user_config update (redeploy):      {slow:.3f} s  (failed requests: {slow_failed})")
    print("  (every replica polls the monitor every 0.2 s, direct endpoints included: its cost is in every figure)")
    from ray import serve

    serve.delete(NAME)
    ray.shutdown()


if __name__ == "__main__":
    main()
