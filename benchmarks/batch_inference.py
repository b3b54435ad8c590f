"""Batch inference, 1M rows x 20 features: mlops executors vs a single-process loop over the same model.

    python benchmarks/batch_inference.py [--rows 1000000]

Prints rows/s for the baseline (one process, one thread, chunks of 65,536 rows through the same fitted
pipeline), mlops' local executor (thread pool) and mlops' Ray Data executor, and the ratios.
Targets on a 2-core machine: >= 0.9x the baseline for logistic regression, >= 1.5x for the forest.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_data(directory: Path, rows: int, features: int = 20) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, features)).astype("float64"), columns=[f"x{i}" for i in range(features)])
    frame.insert(0, "row_id", np.arange(rows))
    path = directory / "score.parquet"
    frame.to_parquet(path, index=False, row_group_size=131072)
    return path


def fit_bundle(estimator: str, features: int = 20):
    """The same kind of bundle mlops registers: derive -> preprocess -> estimator pipeline."""
    from mlops.models.bundle import Bundle
    from mlops.models.estimators import build_estimator
    from mlops.models.preprocessing import build_pipeline

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(20000, features)), columns=[f"x{i}" for i in range(features)])
    y = np.where(X["x0"] + X["x1"] * X["x2"] > 0, "a", "b")
    params = {"n_estimators": 100, "max_depth": 10, "random_state": 0} if estimator == "random_forest" else {}
    features_cfg = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot", "derived": {}}
    pipeline = build_pipeline(features_cfg, list(X.columns), [], build_estimator({"estimator": estimator, "task": "classification", "params": params}))
    pipeline.fit(X, y)
    schema = [{"name": c, "type": "number"} for c in X.columns]
    return Bundle(pipeline, {"task": "classification", "input_schema": schema, "classes": ["a", "b"]})


def baseline(bundle, path: Path, chunk: int = 65536) -> tuple[float, int]:
    import pyarrow.parquet as pq
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    rows, outputs = 0, []
    classes = bundle.model.classes_
    with threadpool_limits(1):  # one process, one thread: the same output (id, label, probabilities)
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk):
            frame = batch.to_pandas()
            proba = bundle.model.predict_proba(frame[bundle.input_columns])
            out = pd.DataFrame({"row_id": frame["row_id"].to_numpy(), "prediction": classes[proba.argmax(axis=1)]})
            for i, cls in enumerate(classes):
                out[f"proba_{cls}"] = proba[:, i]
            outputs.append(out)
            rows += len(frame)
    pd.concat(outputs).to_parquet(path.parent / "baseline_out.parquet", index=False)
    return time.perf_counter() - start, rows


def mlops_run(bundle, path: Path, executor: str) -> tuple[float, int]:
    from mlops.stages import batch_predict

    params = {"input": {"type": "parquet", "path": str(path)}, "output": str(path.parent / f"{executor}_out.parquet"),
              "batch_size": 65536, "include_proba": True, "id_column": "row_id", "base_dir": str(path.parent)}
    result = batch_predict.run(bundle, params, executor)
    return result.seconds, result.rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-ray-data", action="store_true")
    args = parser.parse_args()
    import ray

    ray.init(address="local", include_dashboard=False, logging_level="ERROR")
    targets = {"logistic_regression": 0.9, "random_forest": 1.5}
    print(f"{args.rows:,} rows x 20 features, {os.cpu_count()} CPUs")
    print(f"{'model':<22}{'executor':<12}{'seconds':>9}{'rows/s':>12}{'vs baseline':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        path = make_data(Path(tmp), args.rows)
        for estimator, target in targets.items():
            bundle = fit_bundle(estimator)
            base_s, rows = baseline(bundle, path)
            print(f"{estimator:<22}{'baseline':<12}{base_s:>9.2f}{rows / base_s:>12,.0f}{'1.00x':>13}")
            for executor in ["local"] + ([] if args.skip_ray_data else ["ray_data"]):
                seconds, n = mlops_run(bundle, path, executor)
                assert n == rows, (n, rows)
                ratio = base_s / seconds
                mark = "ok" if ratio >= target else "below"
                print(f"{estimator:<22}{executor:<12}{seconds:>9.2f}{n / seconds:>12,.0f}{ratio:>12.2f}x  (target {target}x: {mark})")
    ray.shutdown()


if __name__ == "__main__":
    main()
