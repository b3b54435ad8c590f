"""N trivial trials through mlops' tune stage vs the same trials in hand-written Ray Tune, in one Ray session.

    python benchmarks/tune_overhead.py [N]

Each trial fits the same small logistic regression on iris (a hold-out of the training split) and
reports f1_macro; 2 trials at a time, one CPU each. mlops' time covers Tuner.fit() plus everything
mlops adds (building the search space, collecting results, logging every trial as an MLflow child
run with the leaderboard). The hand-written version runs the same search space and trial work, with
and without actor reuse (Tune's default is off; mlops turns it on). Target: mlops <= 1.2x.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

SPEC = """
name: tune-overhead
data: {{source: {{type: sklearn, name: iris}}, target: target, split: {{method: stratified, seed: 0}}}}
model: {{type: sklearn, task: classification, estimator: logistic_regression}}
tuning: {{num_samples: {n}, search: random, search_space: {{params.C: {{loguniform: [0.01, 10.0]}}}}}}
hardware: {{max_concurrent_trials: 2}}
tracking: {{uri: "sqlite:///{db}"}}
"""


def hand_written_trial(config, data=None):
    from ray import tune
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=config["C"], max_iter=1000)).fit(X_tr, y_tr)
    tune.report({"f1_macro": f1_score(y_val, model.predict(X_val), average="macro")})


def run_hand_written(n: int, data, storage: str, reuse: bool, tracking_uri: str | None = None) -> float:
    """Hand-written Tune; with `tracking_uri`, the driver also logs each trial as an MLflow child run."""
    from ray import tune

    start = time.perf_counter()
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(hand_written_trial, data=data), {"cpu": 1}),
        param_space={"C": tune.loguniform(0.01, 10.0)},
        tune_config=tune.TuneConfig(metric="f1_macro", mode="max", num_samples=n, max_concurrent_trials=2, reuse_actors=reuse),
        run_config=tune.RunConfig(storage_path=storage, verbose=0))
    results = tuner.fit()
    assert results.get_best_result().metrics["f1_macro"] > 0.5
    if tracking_uri:
        log_child_runs(tracking_uri, results)
    return time.perf_counter() - start


def log_child_runs(tracking_uri: str, results) -> None:
    """What a careful hand-written script does: a parent run, one child run per trial, from the driver."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("hand-written") or client.get_experiment(client.create_experiment("hand-written"))
    parent = client.create_run(experiment.experiment_id).info.run_id
    now = int(time.time() * 1000)
    for i, result in enumerate(results):
        child = client.create_run(experiment.experiment_id, tags={"mlflow.parentRunId": parent}, run_name=f"trial-{i}")
        client.log_batch(child.info.run_id, metrics=[Metric("f1_macro", result.metrics["f1_macro"], now, 0)],
                         params=[Param("C", str(result.config["C"]))])
        client.set_terminated(child.info.run_id)
    client.set_terminated(parent)


def run_mlops(project, plan, features, split) -> float:
    from mlops.registry import Registry
    from mlops.runtime.tune_runs import tune_in_driver

    registry = Registry(project.spec.tracking.uri)
    start = time.perf_counter()
    run_id = registry.start_run(project.spec.name)
    outcome = tune_in_driver(registry, run_id, project.spec.name, plan.node("tune"), {"features": features, "split": split})
    registry.end_run(run_id)
    assert len(outcome.trials) == plan.node("tune").params["trials"]
    return time.perf_counter() - start


def main(n: int = 16, rounds: int = 3) -> None:
    import ray

    from mlops import api
    from mlops.plan import compile_plan
    from mlops.stages import featurize, load, split as split_stage

    tmp = Path(tempfile.mkdtemp(prefix="mlops-tune-bench-"))
    spec = tmp / "spec.yaml"
    spec.write_text(SPEC.format(n=n, db=tmp / "mlflow.db"))
    project = api.load(spec)
    plan = compile_plan(project)
    loaded = load.run(plan.node("load").call_params())
    features = featurize.run(loaded, plan.node("featurize").call_params())
    split = split_stage.run(features, plan.node("split").call_params())
    data = (split.X_train, split.y_train)

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    run_mlops(project, plan, features, split)  # warm-up: imports, worker processes
    hand_uri = f"sqlite:///{tmp / 'hand.db'}"
    run_hand_written(2, data, str(tmp / "hand"), True, hand_uri)  # warm-up: the store's schema, mlflow imports
    times = {"mlops": [], "hand-written, reuse_actors=True": [], "hand-written + MLflow child runs": [],
             "hand-written, Tune defaults": []}
    for _ in range(rounds):
        times["mlops"].append(run_mlops(project, plan, features, split))
        times["hand-written, reuse_actors=True"].append(run_hand_written(n, data, str(tmp / "hand"), True))
        times["hand-written + MLflow child runs"].append(run_hand_written(n, data, str(tmp / "hand"), True, hand_uri))
        times["hand-written, Tune defaults"].append(run_hand_written(n, data, str(tmp / "hand"), False))
    ray.shutdown()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{n} trials, 2 concurrent, 1 CPU each, median of {rounds} rounds (2-core machine)")
    for name, seconds in med.items():
        print(f"  {name:<34} {seconds:6.2f} s")
    ratio = med["mlops"] / med["hand-written, reuse_actors=True"]
    print(f"mlops / hand-written (same actor reuse): {ratio:.2f}x (target <= 1.2x)")
    tracked = med["mlops"] / med["hand-written + MLflow child runs"]
    print(f"mlops / hand-written logging the same child runs to MLflow: {tracked:.2f}x (same work: the like-for-like figure)")
    print(f"mlops / hand-written (Tune defaults):    {med['mlops'] / med['hand-written, Tune defaults']:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
