"""`model.type: auto` under a fixed time budget vs a default-parameter random forest, on three bundled datasets.

    python benchmarks/auto_vs_defaults.py [BUDGET_S]

Both are full `mlops apply` runs of the same data, split and features in one Ray session; the score
is the spec's metric on the held-out test split (which no trial ever sees). Prints a table.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

DATASETS = [("breast_cancer", "classification", "roc_auc"), ("wine", "classification", "f1_macro"),
            ("diabetes", "regression", "rmse")]

SPEC = """
name: bench-{name}
data: {{source: {{type: sklearn, name: {name}}}, target: target, split: {{method: {split}, test_size: 0.25, seed: 0}}}}
features: {{scale: standard}}
model: {model}
{tuning}
hardware: {{max_concurrent_trials: 2}}
tracking: {{uri: "sqlite:///{db}"}}
"""


def apply(tmp: Path, name: str, task: str, metric: str, auto: bool, budget: float):
    from mlops import api

    split = "stratified" if task == "classification" else "random"
    if auto:
        model = f"{{type: auto, task: {task}, metric: {metric}}}"
        tuning = f"tuning: {{num_samples: 200, time_budget_s: {budget}, search: optuna, scheduler: asha, folds: 3}}"
    else:
        model, tuning = f"{{type: sklearn, task: {task}, estimator: random_forest, metric: {metric}}}", ""
    directory = tmp / f"{name}-{'auto' if auto else 'rf'}"
    directory.mkdir()
    spec = directory / "spec.yaml"
    spec.write_text(SPEC.format(name=name, split=split, model=model, tuning=tuning, db=tmp / "mlflow.db"))
    start = time.perf_counter()
    result = api.apply(spec)
    winner = api.load_model(f"bench-{name}", version=result.version, uri=f"sqlite:///{tmp / 'mlflow.db'}").meta["estimator"]
    return result.metrics[metric], winner, time.perf_counter() - start


def main(budget: float = 45.0) -> None:
    import ray

    from mlops.metrics import METRICS

    tmp = Path(tempfile.mkdtemp(prefix="mlops-auto-bench-"))
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    rows = []
    for name, task, metric in DATASETS:
        rf, _, rf_s = apply(tmp, name, task, metric, False, budget)
        auto, winner, auto_s = apply(tmp, name, task, metric, True, budget)
        better = auto > rf if METRICS[metric].greater_is_better else auto < rf
        rows.append((name, metric, rf, auto, winner, "auto" if better else ("tie" if auto == rf else "default RF"), rf_s, auto_s))
    ray.shutdown()
    print(f"type: auto (time_budget_s={budget:g}, optuna + asha, 3-fold CV on train) vs default random forest; test split")
    print("| dataset | metric | default RF | auto | auto winner | better | RF apply s | auto apply s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, metric, rf, auto, winner, better, rf_s, auto_s in rows:
        print(f"| {name} | {metric} | {rf:.4f} | {auto:.4f} | {winner} | {better} | {rf_s:.1f} | {auto_s:.1f} |")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 45.0)
