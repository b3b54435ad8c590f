"""Explanation cost per model family: rows/s of `ModelExplainer.explain` (what `mlops explain` and the
endpoint's explain route run) against `predict` of the same pipeline on the same rows, measured in the same run.

    python benchmarks/explain.py [--rows 10000]
    python benchmarks/explain.py --endpoint     # /explain against /predict on the same served endpoint

--endpoint applies one online spec per family on the same generated data (embedded local Ray, one replica
each, no token), then sends one-row requests at concurrency 1 (and 8) to each endpoint's /predict and
/explain, alternating rounds: p50/p99 latency and requests/s, and the ratio of /explain's p50 to /predict's.

Data: 10 numeric columns and one categorical, a binary target. The permutation explainer's first call in
a process compiles SHAP's numba kernels: it is warmed up on a few rows before timing, as a served model is.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def data(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
    frame["city"] = rng.choice(["paris", "lyon", "nice", "lille"], size=rows)
    y = np.where(frame["x0"] + 0.5 * frame["x1"] - frame["x2"] * frame["x3"] + (frame["city"] == "paris") > 0, "yes", "no")
    return frame, y


def families() -> dict:
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from mlops.models.torch_mlp import TorchMLP

    return {"random_forest (tree)": RandomForestClassifier(100, max_depth=8, random_state=0, n_jobs=1),
            "hist_gradient_boosting (tree)": HistGradientBoostingClassifier(max_iter=100, random_state=0),
            "lightgbm (tree)": LGBMClassifier(n_estimators=100, verbose=-1),
            "logistic_regression (permutation)": LogisticRegression(max_iter=500),
            "torch MLP (permutation)": TorchMLP(model={"task": "classification", "type": "torch",
                                                       "training": {"epochs": 5}})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    from mlops.explain.explainer import ModelExplainer
    from mlops.models.bundle import Bundle
    from mlops.models.preprocessing import build_pipeline

    train, y = data(5000)
    rows, _ = data(args.rows, seed=1)
    features = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot"}
    schema = [{"name": c, "type": "number"} for c in train.columns[:-1]] + [{"name": "city", "type": "string"}]
    print(f"{'family':36} {'predict rows/s':>15} {'explain rows/s':>15} {'ratio':>8}  rows explained")
    for name, estimator in families().items():
        pipe = build_pipeline(features, list(train.columns[:-1]), ["city"], estimator).fit(train, y)
        bundle = Bundle(pipe, {"task": "classification", "input_schema": schema})
        explainer = ModelExplainer(bundle, background=train)
        explainer.explain(rows.head(5))  # builds the explainer (and compiles numba's kernels once)
        limit = min(len(rows), explainer.row_limit())
        start = time.perf_counter()
        pipe.predict(rows)
        predict_rate = len(rows) / (time.perf_counter() - start)
        start = time.perf_counter()
        explainer.explain(rows.head(limit))
        explain_rate = limit / (time.perf_counter() - start)
        print(f"{name:36} {predict_rate:15,.0f} {explain_rate:15,.0f} {predict_rate / explain_rate:7.0f}x  {limit}")


ENDPOINT_SPEC = """
name: NAME
data: {source: {type: csv, path: DIR/train.csv}, target: y}
features: {impute: {numeric: median, categorical: most_frequent}, scale: standard, encode: onehot}
model: {task: classification, type: sklearn, estimator: ESTIMATOR, params: PARAMS}
serving:
  mode: online
  online: {route: /NAME, port: PORT, replicas: {fixed: 1}, batching: {max_batch_size: 32, wait_ms: 5}, auth: none}
hardware: {cpus_per_replica: 0.25}
tracking: {uri: "sqlite:///DIR/mlflow.db"}
"""
ENDPOINT_FAMILIES = {"random_forest": "{n_estimators: 100, max_depth: 8, random_state: 0}",
                     "hist_gradient_boosting": "{max_iter: 100, random_state: 0}",
                     "lightgbm": "{n_estimators: 100}",
                     "logistic_regression": "{max_iter: 500}"}


def endpoint_main(rounds: int = 3) -> None:
    import asyncio
    import json
    import statistics
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from http_load import post_load

    import httpx
    import ray

    from mlops import api
    from mlops.cluster.processes import stable_port

    workdir = Path(tempfile.mkdtemp(prefix="mlops-explain-bench-"))
    train, y = data(5000)
    train.assign(y=y).to_csv(workdir / "train.csv", index=False)
    row = data(1, seed=2)[0].iloc[0].to_dict()
    port = stable_port()
    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    urls = {}
    for family, params in ENDPOINT_FAMILIES.items():
        spec = workdir / f"{family}.yaml"
        spec.write_text(ENDPOINT_SPEC.replace("NAME", family).replace("ESTIMATOR", family).replace("PARAMS", params)
                        .replace("DIR", str(workdir)).replace("PORT", str(port)))
        api.apply(spec)
        urls[family] = f"http://127.0.0.1:{port}/{family}"
        answer = httpx.post(f"{urls[family]}/explain", json={"rows": [row]}, timeout=120)  # warm: builds the explainer
        assert answer.status_code == 200, answer.text
    payload = [json.dumps({"rows": [row]}).encode()]
    found: dict = {}
    for _ in range(rounds):
        for family, url in urls.items():
            for route, concurrency, total in (("predict", 1, 300), ("explain", 1, 100), ("predict", 8, 600), ("explain", 8, 200)):
                measured = asyncio.run(post_load(f"{url}/{route}", payload, concurrency, total))
                found.setdefault((family, route, concurrency), []).append(measured)
    print(f"{'family':24} {'c':>2} {'predict p50 ms':>15} {'explain p50 ms':>15} {'ratio':>7} {'predict req/s':>14} "
          f"{'explain req/s':>14} {'errors':>7}")
    for family in urls:
        for concurrency in (1, 8):
            p, e = found[(family, "predict", concurrency)], found[(family, "explain", concurrency)]
            p50 = statistics.median(m["p50"] for m in p)
            e50 = statistics.median(m["p50"] for m in e)
            errors = sum(m["errors"] for m in p + e)
            print(f"{family:24} {concurrency:>2} {p50:15.1f} {e50:15.1f} {e50 / p50:6.1f}x "
                  f"{statistics.median(m['rps'] for m in p):14,.0f} {statistics.median(m['rps'] for m in e):14,.0f} {errors:7}")
    from ray import serve

    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    import sys

    if "--endpoint" in sys.argv:
        endpoint_main()
    else:
        main()
