"""`model.type: auto` against FLAML on the same data, the same split and the same time budget.

    python benchmarks/automl_vs_flaml.py [--budgets 60,180] [--flaml-python PATH] [--datasets a,b] [--covers apply]
                                         [--ensemble stacking|voting]

FLAML runs in its own virtual environment, so neither tool's pins constrain the other; make it once with

    python -m venv /tmp/flamlvenv && /tmp/flamlvenv/bin/pip install "flaml[automl]" xgboost pandas

Each data set is generated (or bundled with scikit-learn) and written to CSV with a `row` column; both
tools train on the first 75% of the rows and are scored on the last 25% (mlops: `split.method: time`
on `row`, so its evaluate node scores exactly those rows; FLAML: its model's predictions on them, scored
with scikit-learn's metric functions). Wall time is the whole command for each: `mlops apply` in a fresh
process (Ray start-up, search, refit, registration) and FLAML's fit in a fresh process. mlops' budget covers
the whole apply (`tuning.time_budget_covers: apply`, as FLAML's covers its fit; `--covers search` gives the
search alone the budget). `--ensemble METHOD` has mlops register an ensemble of its 5 best trials
(`model.ensemble`), whose refit the budget covers too. Prints one Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# name -> (task, metric); the generators below make each one
DATASETS = {
    "clf_20k_40": ("classification", "roc_auc"),
    "friedman1_20k": ("regression", "rmse"),
    "interactions_20k": ("classification", "roc_auc"),
    "digits": ("classification", "accuracy"),
}

SPEC = """
name: flaml-{name}
data:
  source: {{type: csv, path: {csv}}}
  target: y
  timestamp: row
  split: {{method: time, test_size: 0.25, seed: 0}}
model: {{type: auto, task: {task}, metric: {metric}{ensemble}}}
tuning: {{num_samples: 100000, time_budget_s: {budget}, time_budget_covers: {covers}, search: optuna, scheduler: asha}}
tracking: {{uri: "sqlite:///{db}"}}
"""

MLOPS_RUN = r"""
import time
started_at = time.time()  # the budget covering the apply counts from the process's start, as `mlops apply`'s does
import json, sys
from mlops import api
spec, name, metric, uri = sys.argv[1:5]
result = api.apply(spec, started_at=started_at)
# The family the search picked, from the run's tags (loading the model to read it would add its load to
# mlops' wall time, which is the apply's alone).
tags = api.registry(uri).client.get_run(result.run_id).data.tags
picked = tags.get("mlops.tune.best_family")
if result.ensemble and result.ensemble["members"]:
    ensemble = result.ensemble  # stacking: which combination of its members scored best out of fold
    how = {"stack": ": stack", "weighted": f": average of {len(ensemble.get('used', ()))}",
           "member": ": best alone"}.get(ensemble.get("combination"), "")
    picked = f"{ensemble['method']} of {len(ensemble['members'])}{how} (best {picked})"
print(json.dumps({"score": float(result.metrics[metric]), "picked": picked}), flush=True)
import os
os._exit(0)  # as `mlops apply` ends: without the interpreter's teardown of every module (mlops.cli)
"""

FLAML_RUN = r"""
import json, sys, time
import numpy as np, pandas as pd
from flaml import AutoML
from sklearn import metrics
csv, task, metric, budget = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
frame = pd.read_csv(csv)
cut = int(round(len(frame) * 0.75))
train, test = frame.iloc[:cut], frame.iloc[cut:]
features = [c for c in frame.columns if c not in ("y", "row")]
automl = AutoML()
automl.fit(train[features], train["y"], task=task, metric=metric, time_budget=budget, verbose=0, seed=0)
if metric == "roc_auc":
    score = metrics.roc_auc_score(test["y"], automl.predict_proba(test[features])[:, 1])
elif metric == "rmse":
    score = float(np.sqrt(metrics.mean_squared_error(test["y"], automl.predict(test[features]))))
else:
    score = metrics.accuracy_score(test["y"], automl.predict(test[features]))
print(json.dumps({"score": float(score), "picked": automl.best_estimator}))
"""


def make_data(name: str):
    """The data set as a frame with feature columns, `y` and `row` (its order: the split's time)."""
    import numpy as np
    import pandas as pd
    from sklearn import datasets

    rng = np.random.default_rng(0)
    if name == "clf_20k_40":
        X, y = datasets.make_classification(n_samples=20_000, n_features=40, n_informative=12, n_redundant=8,
                                            flip_y=0.03, class_sep=0.8, random_state=0)
    elif name == "friedman1_20k":
        X, y = datasets.make_friedman1(n_samples=20_000, n_features=20, noise=1.0, random_state=0)
    elif name == "interactions_20k":  # a few features decide the label only through their interactions
        X = rng.normal(size=(20_000, 10))
        logit = 2.0 * X[:, 0] * X[:, 1] - 1.5 * np.sign(X[:, 2]) * X[:, 3] + 0.5 * X[:, 4]
        y = (rng.random(20_000) < 1 / (1 + np.exp(-logit))).astype(int)
    elif name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        order = rng.permutation(len(y))  # the bundled file is sorted in blocks: shuffle before the cut
        X, y = X[order], y[order]
    else:
        raise SystemExit(f"unknown data set {name}; known: {', '.join(DATASETS)}")
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return frame.assign(y=y, row=range(len(frame)))


def run_mlops(tmp: Path, name: str, csv: Path, budget: float, covers: str = "apply", ensemble: str | None = None) -> dict:
    """One apply (what `mlops apply` runs) in a fresh process; its test-split score and the winning family."""
    task, metric = DATASETS[name]
    directory = tmp / f"mlops-{name}-{budget:g}"
    directory.mkdir()
    db = directory / "mlflow.db"
    spec = directory / "spec.yaml"
    spec.write_text(SPEC.format(name=name, csv=csv, task=task, metric=metric, budget=budget, db=db, covers=covers,
                                ensemble=f", ensemble: {{top_k: 5, method: {ensemble}}}" if ensemble else ""))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MLOPS_RUN, str(spec), f"flaml-{name}", metric, f"sqlite:///{db}"],
                          capture_output=True, text=True, cwd=directory)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"score": float("nan"), "picked": f"failed: {done.stderr.strip().splitlines()[-1:]}", "wall": wall}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": wall}


def run_flaml(python: str, name: str, csv: Path, budget: float) -> dict:
    """FLAML's fit in a fresh process of its own environment; its score on the same held-out rows."""
    task, metric = DATASETS[name]
    start = time.perf_counter()
    done = subprocess.run([python, "-c", FLAML_RUN, str(csv), task, metric, str(budget)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"score": float("nan"), "picked": f"failed: {done.stderr.strip().splitlines()[-1:]}", "wall": wall}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": wall}


def main() -> None:
    from mlops.metrics import METRICS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="60,180")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--flaml-python", default="/tmp/flamlvenv/bin/python")
    parser.add_argument("--covers", default="apply", choices=("apply", "search"),
                        help="what mlops' budget covers (tuning.time_budget_covers)")
    parser.add_argument("--ensemble", choices=("stacking", "voting"), help="mlops registers an ensemble of its 5 best trials")
    args = parser.parse_args()
    if not Path(args.flaml_python).exists():
        raise SystemExit(f"no FLAML environment at {args.flaml_python}: see this script's docstring")
    tmp = Path(tempfile.mkdtemp(prefix="mlops-vs-flaml-"))
    rows = []
    for name in args.datasets.split(","):
        csv = tmp / f"{name}.csv"
        make_data(name).to_csv(csv, index=False)
        for budget in (float(b) for b in args.budgets.split(",")):
            ours = run_mlops(tmp, name, csv, budget, args.covers, args.ensemble)
            theirs = run_flaml(args.flaml_python, name, csv, budget)
            metric = DATASETS[name][1]
            sign = 1 if METRICS[metric].greater_is_better else -1
            verdict = "mlops" if sign * (ours["score"] - theirs["score"]) >= 0 else "FLAML"
            rows.append((name, metric, budget, ours, theirs, verdict))
            print(f"{name} {budget:g}s: mlops {ours['score']:.4f} ({ours['picked']}, {ours['wall']:.0f} s) "
                  f"FLAML {theirs['score']:.4f} ({theirs['picked']}, {theirs['wall']:.0f} s)", file=sys.stderr)
    print("| data (metric) | budget | mlops | FLAML | picked (mlops vs FLAML) | wall s (mlops / FLAML) | at least FLAML's |")
    print("|---|---|---|---|---|---|---|")
    for name, metric, budget, ours, theirs, verdict in rows:
        print(f"| {name} ({metric}) | {budget:g} s | {ours['score']:.4f} | {theirs['score']:.4f} | "
              f"{ours['picked']} vs {theirs['picked']} | {ours['wall']:.0f} / {theirs['wall']:.0f} | "
              f"{'yes' if verdict == 'mlops' else 'no'} |")


if __name__ == "__main__":
    main()
