"""Feature store: the point-in-time join against pandas `merge_asof`, and online lookups, in one run.

    python benchmarks/feature_store.py [--labels 1000000] [--events 5000000] [--entities 100000]

* PIT join of `--labels` label rows against `--events` feature rows of `--entities` entities (one view,
  TTL 30 days, three features), timed as mlops.feature_store.offline_join.point_in_time_join and as the
  pandas baseline `merge_asof(by=key, tolerance=ttl, direction='backward')` with the sorts it needs and the
  labels put back in their order; the ratio baseline/ours (target >= 1.0x) and whether the rows out are equal.
  Then the same join with its matching spread over one Ray task per CPU of a local Ray (join_partitions).
* Online lookup latency from the SQLite store after materializing the same view: p50/p99 of one key
  (target p50 < 1 ms in-process) and of a batch of 100 keys; and fill_rows of one request row.
* Endpoint (`--endpoint`, in a fresh local Ray in throughput mode): examples/churn-features/online.yaml
  materialized and deployed; one-row /predict requests at concurrency 1 and 32 sending only the entity key
  (`features_from_store` fills the rest) against the same endpoint given full rows (no store read), in
  rounds alternating which goes first (median round reported). `--only-endpoint` skips the join and lookups.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DAY_NS = 86400 * 10**9
TTL_S = 30 * 86400


def generate(labels: int, events: int, entities: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random events over a year and labels over the same year (whole seconds, as event logs stamp them),
    keys uniform over the entities."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01").value
    feats = pd.DataFrame({
        "customer_id": rng.integers(0, entities, events),
        "event_time": pd.to_datetime(start + rng.integers(0, 365 * 86400, events) * 10**9),
        "sessions": rng.integers(0, 50, events),
        "spend": rng.gamma(2.0, 20.0, events),
        "plan": pd.Categorical(rng.choice(["basic", "plus", "pro"], events)).astype(object),
    })
    lab = pd.DataFrame({
        "customer_id": rng.integers(0, entities, labels),
        "label_time": pd.to_datetime(start + rng.integers(0, 365 * 86400, labels) * 10**9),
        "churned": rng.integers(0, 2, labels),
    })
    return lab, feats


def ours(lab: pd.DataFrame, feats: pd.DataFrame, partitions: int = 1) -> pd.DataFrame:
    """mlops' join; with partitions > 1, its matching spread over that many Ray tasks (as join_features
    runs it on a cluster)."""
    from mlops.feature_store.offline_join import ViewFrame, point_in_time_join
    from mlops.stages.join_features import ray_map

    view = ViewFrame("activity", feats, "customer_id", "event_time", ["sessions", "spend", "plan"], TTL_S)
    return point_in_time_join(lab, "label_time", [view], partitions, ray_map if partitions > 1 else map)


def baseline(lab: pd.DataFrame, feats: pd.DataFrame) -> pd.DataFrame:
    """pandas merge_asof: both sides sorted by time (stable, so equal times keep source order), labels
    restored to their order afterwards (a training set keeps its rows where they were)."""
    left = lab.assign(_row=np.arange(len(lab))).sort_values("label_time", kind="stable")
    right = feats.sort_values("event_time", kind="stable")
    joined = pd.merge_asof(left, right, left_on="label_time", right_on="event_time", by="customer_id",
                           tolerance=pd.Timedelta(seconds=TTL_S), direction="backward", allow_exact_matches=True)
    return joined.sort_values("_row").drop(columns=["_row", "event_time"]).reset_index(drop=True)


def equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Same rows out: every column equal, missing counting as equal."""
    for column in ("customer_id", "churned", "sessions", "spend", "plan"):
        x, y = pd.Series(a[column]).reset_index(drop=True), pd.Series(b[column]).reset_index(drop=True)
        same = (x == y) | (x.isna() & y.isna())
        if not bool(same.all()):
            print(f"  differs in {column}: {int((~same).sum())} rows")
            return False
    return True


def timed(fn, *args, repeat: int = 2):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, out


def join_figures(args: argparse.Namespace, lab: pd.DataFrame, feats: pd.DataFrame) -> None:
    t_ours, a = timed(ours, lab, feats)
    t_base, b = timed(baseline, lab, feats)
    print(f"PIT join {len(lab):,} labels x {len(feats):,} events ({args.entities:,} entities): "
          f"mlops {t_ours:.2f}s, pandas merge_asof {t_base:.2f}s = {t_base / t_ours:.2f}x (target >= 1.0x); "
          f"same rows out: {equal(a, b)}; matched {int(a['sessions'].notna().sum()):,}")
    import ray

    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        cpus = int(ray.cluster_resources()["CPU"])
        ours(lab.head(1000), feats.head(1000), cpus)  # the workers start once, as on a running cluster
        t_spread, c = timed(ours, lab, feats, cpus)
    finally:
        ray.shutdown()
    print(f"PIT join spread over {cpus} Ray tasks (features.join_partitions: auto on this {cpus}-CPU Ray): "
          f"{t_spread:.2f}s = {t_ours / t_spread:.2f}x the one-task join, {t_base / t_spread:.2f}x merge_asof; "
          f"same rows as one task: {equal(c, a)}")


def lookup_figures(feats: pd.DataFrame, entities: int) -> None:
    from mlops.feature_store.lookup import fill_rows
    from mlops.feature_store.materialize import materialize
    from mlops.feature_store.online_store import OnlineStore

    with tempfile.TemporaryDirectory() as tmp:
        feats.to_parquet(Path(tmp) / "activity.parquet", index=False)
        view = {"name": "activity", "entity": "customer", "key": "customer_id", "field": "features.views.0",
                "source": {"type": "parquet", "path": "activity.parquet"}, "timestamp": "event_time",
                "ttl_s": None, "features": ["sessions", "spend", "plan"], "defaults": {}}
        store = OnlineStore(Path(tmp) / "store.db")
        start = time.perf_counter()
        done = materialize([view], tmp, store)
        print(f"materialize {len(feats):,} events -> {done[0].entities_written:,} entities: "
              f"{time.perf_counter() - start:.2f}s")
        rng = np.random.default_rng(1)
        keys = rng.integers(0, entities, 20000).tolist()
        single = []
        for key in keys:
            t0 = time.perf_counter_ns()
            store.read_one("activity", key)
            single.append(time.perf_counter_ns() - t0)
        batches = []
        for i in range(0, 20000, 100):
            t0 = time.perf_counter_ns()
            store.read("activity", keys[i:i + 100])
            batches.append(time.perf_counter_ns() - t0)
        fills = []
        for key in keys[:5000]:
            t0 = time.perf_counter_ns()
            fill_rows([{"customer_id": key}], store, [view])
            fills.append(time.perf_counter_ns() - t0)
        store.close()

    def pct(values, q):
        return np.percentile(values, q) / 1e6

    print(f"online lookup, one key: p50 {pct(single, 50):.3f} ms, p99 {pct(single, 99):.3f} ms (target p50 < 1 ms)")
    print(f"online lookup, 100 keys: p50 {pct(batches, 50):.3f} ms, p99 {pct(batches, 99):.3f} ms")
    print(f"fill_rows, one request row: p50 {pct(fills, 50):.3f} ms, p99 {pct(fills, 99):.3f} ms")


ENDPOINT_REQUESTS = {1: 300, 32: 2000}  # per round
ENDPOINT_ROUNDS = 5


def endpoint_figures() -> None:
    """The churn-features endpoint answering key-only rows (filled from the store) vs full rows."""
    from http_load import post_load

    import asyncio
    import json
    import os
    import shutil

    import httpx

    from mlops.cluster.processes import stable_port
    from mlops.serving.deploy import throughput_env

    os.environ.update(throughput_env())
    import ray
    from ray import serve

    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    from mlops import api

    work = Path(tempfile.mkdtemp(prefix="mlops-fs-bench-"))
    project = work / "churn-features"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "churn-features", project,
                    ignore=shutil.ignore_patterns(".mlops", "out"))
    port = stable_port()
    spec = project / "online.yaml"
    overrides = [f"serving.online.port={port}", "serving.online.auth=none", f"tracking.uri=sqlite:///{work / 'mlflow.db'}"]
    api.materialize_features(spec, overrides)
    api.apply(spec, overrides)
    url = f"http://127.0.0.1:{port}/churn/predict"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(url.replace("/predict", "/readyz"), timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    keys = list(range(1, 201))
    key_only = [json.dumps({"rows": [{"customer_id": k}]}).encode() for k in keys]
    full = []
    for k in keys:
        vector = {}
        for found in api.online_features(spec, overrides, {"customer_id": k}):
            vector.update(found.values)
        full.append(json.dumps({"rows": [vector]}).encode())
    for payload in (key_only[0], full[0]):
        assert httpx.post(url, content=payload, headers={"content-type": "application/json"}, timeout=30).status_code == 200
    figures: dict[str, dict[int, list[dict]]] = {"store": {1: [], 32: []}, "full": {1: [], 32: []}}
    for round_ in range(ENDPOINT_ROUNDS):
        for concurrency, total in ENDPOINT_REQUESTS.items():
            order = (("store", key_only), ("full", full))
            for name, payloads in order if round_ % 2 == 0 else order[::-1]:  # neither always goes first
                figures[name][concurrency].append(asyncio.run(post_load(url, payloads, concurrency, total)))
    serve.shutdown()
    ray.shutdown()

    def median(rounds: list[dict]) -> dict:
        return sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2]

    for concurrency in ENDPOINT_REQUESTS:
        store, given = median(figures["store"][concurrency]), median(figures["full"][concurrency])
        errors = sum(r["errors"] for name in figures for r in figures[name][concurrency])
        print(f"endpoint c{concurrency}: key only (features_from_store) {store['rps']:.0f} req/s, p50 {store['p50']:.2f} ms, "
              f"p99 {store['p99']:.2f} ms; full rows {given['rps']:.0f} req/s, p50 {given['p50']:.2f} ms, "
              f"p99 {given['p99']:.2f} ms; store/full throughput {store['rps'] / given['rps']:.2f}x"
              + (f" ({errors} errors)" if errors else ""))


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--endpoint", action="store_true", help="also load the churn-features endpoint (starts a local Ray)")
    parser.add_argument("--only-endpoint", action="store_true", help="only the endpoint figures")
    args = parser.parse_args()
    if not args.only_endpoint:
        lab, feats = generate(args.labels, args.events, args.entities)
        join_figures(args, lab, feats)
        lookup_figures(feats, args.entities)
    if args.endpoint or args.only_endpoint:
        endpoint_figures()


if __name__ == "__main__":
    main()
