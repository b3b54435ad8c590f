"""Torch on the CPU and a GPU, and AutoML with the torch family (issue "GPUs that do the work").

    python benchmarks/torch_device.py epochs            # MLP epoch seconds per device and precision
    python benchmarks/torch_device.py serving           # one-row /predict at c32: a torch endpoint, CPU vs GPU replica
    python benchmarks/torch_device.py automl [--budget 60] [--rows 10000]

epochs: one MLP (2 hidden layers of 512 and 256 units) on 50,000 x 64 generated rows, batch 512, three epochs
through `fit_in_process` on each device this machine has (cuda only where torch sees one) and each precision
the device runs; the median epoch's seconds, and each row's speed-up over the CPU in fp32 (measured in the
same run).

serving: a torch model (the same MLP shape, trained briefly on 20 numeric columns) served by mlops' endpoint
(throughput mode, one replica, @serve.batch of up to 64 requests per 5 ms): one-row requests at
concurrency 32, three rounds, the median round; with a GPU, the same endpoint again with
`hardware.gpus_per_replica: 1` (the replica places the model on its GPU) and the ratio of the two.

automl: `model.type: auto` on a smooth function of 20 features (an MLP's home ground, tests/e2e/test_nas.py's
data at `--rows`), the default candidates with and without the torch family, the same time budget, one search
after the other: the best validation rmse, the test rmse of the refitted winner, when the best trial ended
(seconds from the search's start) and the trials each family got.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def devices() -> list[str]:
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def precisions(device: str) -> list[str]:
    return ["fp32", "bf16"] + (["fp16"] if device == "cuda" else [])


def epochs() -> None:
    import numpy as np

    from mlops.models.torch_mlp import fit_in_process

    rng = np.random.default_rng(0)
    X = rng.normal(size=(55_000, 64)).astype(np.float32)
    y = (X[:, :8].sum(axis=1) + np.sin(X[:, 8]) > 0).astype(int)
    section = {"task": "classification", "metric": "accuracy", "architecture": {"hidden": [512, 256]},
               "training": {"epochs": 3, "batch_size": 512, "lr": 1e-3}}
    rows, baseline = [], None
    for device in devices():
        for precision in precisions(device):
            model = fit_in_process({**section, "training": {**section["training"], "precision": precision}},
                                   X[:50_000], y[:50_000], X[50_000:], y[50_000:], device=device)
            seconds = statistics.median(h["epoch_seconds"] for h in model.history_)
            baseline = baseline or seconds
            rows.append((device, precision, seconds, baseline / seconds, model.history_[-1]["val_accuracy"]))
    print(f"{'device':8}{'precision':>10}{'epoch s':>10}{'vs cpu fp32':>13}{'val acc':>9}")
    for device, precision, seconds, speedup, accuracy in rows:
        print(f"{device:8}{precision:>10}{seconds:10.3f}{speedup:12.2f}x{accuracy:9.4f}")


SERVING_SPEC = """
name: NAME
data: {source: {type: csv, path: DATA}, target: y, split: {test_size: 0.2, seed: 0}}
model:
  type: torch
  task: regression
  architecture: {hidden: [512, 256]}
  training: {epochs: 3, batch_size: 256}
serving:
  mode: online
  online: {route: /NAME, port: PORT, replicas: {fixed: 1}, batching: {max_batch_size: 64, wait_ms: 5}, throughput_mode: true, auth: none}
hardware: {cpus_per_replica: 1, gpus_per_replica: GPUS}
tracking: {uri: "sqlite:///DIR/mlflow.db"}
"""


def serving() -> None:
    import os

    import numpy as np
    import pandas as pd
    import ray

    from http_load import post_load
    from mlops.cluster.processes import stable_port
    from mlops.serving.deploy import throughput_env

    workdir = Path(tempfile.mkdtemp(prefix="mlops-torch-serving-"))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 20))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]).assign(y=X[:, 0] - X[:, 1] * X[:, 2])
    frame.to_csv(workdir / "data.csv", index=False)
    os.environ.update(throughput_env())
    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    from mlops import api
    from mlops.project import load_project
    from mlops.serving.deploy import deploy_project

    port = stable_port()
    has_gpu = ray.cluster_resources().get("GPU", 0) > 0
    payload = json.dumps({"rows": [frame.drop(columns="y").iloc[0].to_dict()]}).encode()
    found = {}
    for name, gpus in (("torch_cpu", 0), *((("torch_gpu", 1),) if has_gpu else ())):
        spec = workdir / f"{name}.yaml"
        spec.write_text(SERVING_SPEC.replace("NAME", name).replace("DATA", str(workdir / "data.csv")).replace("PORT", str(port))
                        .replace("GPUS", str(gpus)).replace("DIR", str(workdir)))
        api.apply(spec)
        deploy_project(load_project(spec))
        url = f"http://127.0.0.1:{port}/{name}/predict"
        rounds = [asyncio.run(post_load(url, [payload], 32, 2000)) for _ in range(3)]
        found[name] = sorted(rounds, key=lambda r: r["rps"])[1]
    ray.shutdown()
    print(f"{'endpoint':12}{'c32 req/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, r in found.items():
        print(f"{name:12}{r['rps']:11.0f}{r['p50']:9.1f}{r['p99']:9.1f}{r['errors']:8d}")
    if "torch_gpu" in found:
        print(f"GPU replica / CPU replica at c32: {found['torch_gpu']['rps'] / found['torch_cpu']['rps']:.2f}x")
    else:
        print("no GPU in this Ray cluster: the GPU replica was not measured")


AUTOML_SPEC = """
name: NAME
data: {source: {type: csv, path: DATA}, target: y, split: {test_size: 0.25, seed: 0}}
model: {type: auto, task: regression, metric: rmse}
tuning: {num_samples: 100000, search: optuna, seed: 0, time_budget_s: BUDGET}
tracking: {uri: "sqlite:///DIR/mlflow.db"}
"""


def automl(budget: float, rows: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from e2e.test_nas import write_data

    from mlops import api
    from mlops.spec.model import auto_candidates

    workdir = Path(tempfile.mkdtemp(prefix="mlops-nas-"))
    write_data(workdir, rows=rows)
    without = [c for c in auto_candidates("regression") if c != "torch"]
    results = {}
    for name, overrides in (("with_torch", []), ("without_torch", [f"model.candidates=[{','.join(without)}]"])):
        spec = workdir / f"{name}.yaml"
        spec.write_text(AUTOML_SPEC.replace("NAME", name).replace("DATA", str(workdir / "smooth.csv"))
                        .replace("BUDGET", str(budget)).replace("DIR", str(workdir)))
        started = time.perf_counter()
        result = api.apply(spec, overrides)
        tuning = result.tuning
        per_family: dict = {}
        for trial in tuning.trials:
            per_family[trial.family] = per_family.get(trial.family, 0) + 1
        results[name] = {"validation": tuning.best.metrics["rmse"], "test": result.metrics["rmse"],
                         "family": tuning.best.family, "best_at_s": tuning.best.ended_s,
                         "wall_s": time.perf_counter() - started, "trials": per_family,
                         "curve": sorted((t.ended_s, t.metrics["rmse"]) for t in tuning.trials
                                         if t.ended_s is not None and "rmse" in t.metrics)}
    print(f"smooth {rows} x 20, budget {budget:g} s")
    print(f"{'search':15}{'best family':>13}{'val rmse':>10}{'test rmse':>11}{'best at s':>11}{'wall s':>8}  trials")
    for name, r in results.items():
        at = f"{r['best_at_s']:.0f}" if r["best_at_s"] is not None else "-"
        print(f"{name:15}{r['family']:>13}{r['validation']:10.4f}{r['test']:11.4f}{at:>11}{r['wall_s']:8.0f}  "
              + ", ".join(f"{f} {n}" for f, n in sorted(r["trials"].items(), key=lambda kv: -kv[1])))
    target = results["without_torch"]["validation"]
    reached = next((at for at, score in results["with_torch"]["curve"] if score <= target), None)
    print(f"the search with torch reached the scikit-learn-only search's best validation rmse ({target:.4f}) at "
          + (f"{reached:.0f} s" if reached is not None else "no point") + " of its budget")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["epochs", "serving", "automl"])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    if args.what == "epochs":
        epochs()
    elif args.what == "serving":
        serving()
    else:
        automl(args.budget, args.rows)


if __name__ == "__main__":
    main()
