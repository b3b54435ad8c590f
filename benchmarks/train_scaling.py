"""Torch MLP epoch time on Ray Train with 1 vs 2 workers, against an in-process baseline, 200k rows.

    python benchmarks/train_scaling.py [--rows 200000] [--epochs 3] [--batch-size 1024]

All three go through mlops' own code: the in-process baseline is `fit_in_process` (one process, one
torch thread), the Ray Train runs are `mlops.stages.train_torch.run` (the train_torch node) with
1 and 2 workers of 1 CPU each. Epoch time is the median of the epochs after the first, measured
inside rank 0 (the training pass only; validation, Ray Train's per-epoch report/checkpoint and
start-up are printed separately as the rest of the wall time).
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import dataclass


@dataclass
class Table:
    """The two fields of a FeatureSet the train_torch stage reads."""

    numeric: list[str]
    categorical: list[str]
    input_schema: list = None
    target: str = "label"
    id_column: str | None = None
    fingerprint: dict = None


def make_data(rows: int, columns: int = 20):
    import pandas as pd
    from sklearn.datasets import make_classification

    from mlops.stages.split import Split

    X, y = make_classification(rows, columns, n_informative=12, n_classes=3, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(columns)])
    cut = int(rows * 0.9)
    return Table(list(frame.columns), []), Split(frame[:cut], frame[cut:], y[:cut], y[cut:])


def params_for(workers: int, epochs: int, batch_size: int, storage: str) -> dict:
    from mlops.spec.features import FeaturesSpec
    from mlops.spec.model import TorchModelSpec

    model = TorchModelSpec(task="classification", training={"epochs": epochs, "batch_size": batch_size})
    return {"model": model.model_dump(mode="json"), "features": FeaturesSpec().model_dump(mode="json"),
            "workers": workers, "resources_per_worker": {"CPU": 1.0}, "use_gpu": False, "gpus_per_worker": 0.0,
            "max_failures": 0, "checkpoint_dir": storage}


def steady_epoch(history: list[dict]) -> float:
    return statistics.median(h["epoch_seconds"] for h in history[1:] or history)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import numpy as np
    import ray
    import torch

    from mlops.models.torch_mlp import fit_in_process, holdout
    from mlops.stages import train_torch

    table, split = make_data(args.rows)
    cores = os.cpu_count()
    print(f"{args.rows} rows x 20 features, 3 classes; MLP [64, 32]; global batch {args.batch_size}; {cores} cores")

    params = params_for(1, args.epochs, args.batch_size, "")
    X = split.X_train.to_numpy(np.float32)
    X_tr, X_val, y_tr, y_val = holdout(params["model"], X, split.y_train)
    torch.set_num_threads(1)  # the same single core a 1-CPU worker gets
    start = time.perf_counter()
    model = fit_in_process(params["model"], X_tr, y_tr, X_val, y_val)
    baseline = steady_epoch(model.history_)
    print(f"in-process baseline (fit_in_process, 1 thread): {baseline:.2f} s/epoch, fit {time.perf_counter() - start:.1f} s")

    ray.init(address="local", num_cpus=cores, include_dashboard=False, logging_level="ERROR")
    epoch = {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as storage:
        for workers in (1, 2):
            start = time.perf_counter()
            out = train_torch.run(table, split, params_for(workers, args.epochs, args.batch_size, storage),
                                  use_gpu=False, run_name=f"bench-{workers}")
            wall = time.perf_counter() - start
            epoch[workers] = steady_epoch(out.history)
            print(f"Ray Train, {workers} worker(s) x 1 CPU: {epoch[workers]:.2f} s/epoch, fit {wall:.1f} s "
                  f"(start-up, preprocessing, validation, reports/checkpoints: {wall - sum(h['epoch_seconds'] for h in out.history):.1f} s)")
    ray.shutdown()
    print(f"speed-up 2 vs 1 workers: {epoch[1] / epoch[2]:.2f}x; 2 workers vs in-process: {baseline / epoch[2]:.2f}x")
    steps = len(X_tr) // args.batch_size + 1
    per_step_ms = 1000 * epoch[1] / steps
    print(f"limit: with 2 cores both workers share the only cores with the Ray controller, the driver and gloo's "
          f"threads, and each of the {steps} steps per epoch ends in a gradient all-reduce over gloo whose fixed "
          f"latency is comparable to the step's own compute on this small MLP (~{per_step_ms:.1f} ms with 1 worker); "
          f"halving the rows per worker saves less than the synchronisation costs. Fewer, larger steps "
          f"(--batch-size 8192) shrink that share; data parallelism pays off when each worker has its own cores or GPU.")


if __name__ == "__main__":
    main()
