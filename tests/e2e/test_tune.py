"""Tuning and AutoML on a real local Ray (Tune) and a real MLflow store; spec errors; Hydra multirun."""
from __future__ import annotations

import itertools

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from conftest import EXAMPLES, write_spec
from mlops import api
from mlops.cli import app

WINE = """
name: {name}
data:
  source: {{type: sklearn, name: wine}}
  target: target
  split: {{method: stratified, seed: 0}}
model:
  type: sklearn
  task: classification
  estimator: random_forest
  params: {{random_state: 0}}
  metric: f1_macro
tuning:
{tuning}
hardware: {{max_concurrent_trials: 2, workers: 1, cpus_per_task: 1}}
tracking: {{uri: "${{oc.env:MLOPS_TRACKING_URI,sqlite:///.mlops/mlflow.db}}"}}
"""

RANDOM_4 = """  num_samples: 4
  search: random
  seed: 1
  search_space:
    params.n_estimators: {randint: [5, 60]}
    params.max_depth: {choice: [1, 2, 6]}"""

GRID = """  search: grid
  search_space:
    params.max_depth: {grid: [2, 4]}
    params.n_estimators: {choice: [5, 10, 20]}"""


def wine_spec(tmp_path, tuning: str, name: str = "wine-tune"):
    return write_spec(tmp_path, WINE.format(name=name, tuning=tuning))


def children(uri: str, run_id: str):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_run(run_id).info.experiment_id
    return client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{run_id}'")


# -- spec and plan (no Ray) ------------------------------------------------------------------------

BAD_SPACES = [
    ("empty-choice", "params.max_depth: {choice: []}", ["tuning.search_space.params.max_depth.choice", "at least 1"]),
    ("unordered", "params.min_samples_leaf: {randint: [10, 2]}", ["tuning.search_space.params.min_samples_leaf.randint", "[10, 2]", "low < high"]),
    ("log-zero", "params.ccp_alpha: {loguniform: [0, 1]}", ["tuning.search_space.params.ccp_alpha.loguniform", "0 < low"]),
    ("q-zero", "params.n_estimators: {qrandint: [10, 100, 0]}", ["tuning.search_space.params.n_estimators.qrandint", "q > 0"]),
    ("unknown-domain", "params.max_depth: {randin: [1, 4]}", ["tuning.search_space.params.max_depth", "did you mean 'randint'"]),
    ("not-a-path", "max_depth: {randint: [1, 4]}", ["tuning.search_space", "max_depth", "params.NAME"]),
    ("torch-key-on-sklearn", "training.lr: {loguniform: [0.001, 0.1]}", ["tuning", "training.lr", "model.type is sklearn"]),
]


@pytest.mark.parametrize("case,line,fragments", BAD_SPACES, ids=[c[0] for c in BAD_SPACES])
def test_bad_search_space_names_the_field(tmp_path, case, line, fragments):
    spec = wine_spec(tmp_path, f"  search_space:\n    {line}")
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} missing from:\n{result.output}"


def test_grid_search_rejects_sampled_domains(tmp_path):
    spec = wine_spec(tmp_path, "  search: grid\n  search_space:\n    params.max_depth: {randint: [1, 4]}")
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2 and "grid and choice domains only" in result.output


def test_hydra_dotted_override_builds_the_same_search_space(tmp_path):
    """`+tuning.search_space.params.C.choice=[...]` nests mappings; it means the key `params.C`."""
    spec = wine_spec(tmp_path, RANDOM_4)
    project = api.load(spec, ["+tuning.search_space.params.min_samples_leaf.choice=[1,5]"])
    space = project.spec.tuning.search_space
    assert set(space) == {"params.n_estimators", "params.max_depth", "params.min_samples_leaf"}
    assert space["params.min_samples_leaf"].args == [1, 5]


def test_misspelt_searched_param_is_a_preflight_error(tmp_path):
    from mlops.errors import SpecError

    spec = wine_spec(tmp_path, "  search_space:\n    params.max_dept: {choice: [2, 4]}")
    with pytest.raises(SpecError, match=r"tuning.search_space.params.max_dept.*did you mean 'max_depth'"):
        api.preflight(api.load(spec))


def test_unknown_auto_candidate_suggests_a_close_name(tmp_path):
    text = WINE.format(name="x", tuning="  num_samples: 2").replace(
        "  type: sklearn\n", "  type: auto\n  candidates: [random_forrest, knn]\n").replace(
        "  estimator: random_forest\n  params: {random_state: 0}\n", "")
    result = CliRunner().invoke(app, ["validate", str(write_spec(tmp_path, text))])
    assert result.exit_code == 2 and "model.candidates" in result.output and "did you mean 'random_forest'" in result.output


def test_plan_shows_the_tune_node_feeding_train(tmp_path):
    plan = api.plan(wine_spec(tmp_path, GRID))
    tune, train = plan.node("tune"), plan.node("train")
    assert tune.kind == "tune" and tune.placement == "driver" and tune.resources == {"CPU": 1.0}
    assert tune.params["trials"] == 6 and tune.params["search"] == "grid" and tune.params["scheduler"] == "fifo"
    assert train.kind == "train_best" and train.inputs == {"features": "featurize", "split": "split", "outcome": "tune"}
    assert tune.runtime["storage"].endswith(".mlops/tune") and tune.runtime["storage"].startswith("/")
    shown = CliRunner().invoke(app, ["plan", str(tmp_path / "spec.yaml")])
    assert "6 trials x (CPU=1)" in shown.output and "search=grid" in shown.output


def test_auto_defaults_come_from_the_registry():
    plan = api.plan(EXAMPLES / "automl" / "spec.yaml", ["~model.candidates", "~tuning"])
    space = plan.node("tune").params["space"]
    assert {"random_forest", "hist_gradient_boosting", "logistic_regression", "lightgbm", "xgboost"} <= set(space)
    assert "linear_regression" not in space and space["random_forest"]["params.n_estimators"] == {"lograndint": [16, 513]}
    assert plan.node("tune").params["tuning"]["time_budget_s"] > 0
    # the search starts with each family's cheap configuration, cheapest family first
    start = [point for point in plan.node("tune").params["start"] if not point.get("portfolio")]
    assert [p["family"] for p in start][:1] == ["logistic_regression"] and start[-1]["family"] == "random_forest"
    assert start[1]["values"]["params.n_estimators"] == 512


# -- on Ray ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_tune_registers_the_best_trial_and_logs_every_trial_as_a_child(ray_local, tracking_uri, tmp_path):
    result = api.apply(wine_spec(tmp_path, RANDOM_4))
    trials = children(tracking_uri, result.run_id)
    assert len(trials) == 4
    parent = MlflowClient(tracking_uri=tracking_uri).get_run(result.run_id)
    best = next(r for r in trials if r.info.run_id == parent.data.tags["mlops.tune.best_child_run"])
    assert best.data.metrics["f1_macro"] == max(r.data.metrics["f1_macro"] for r in trials)
    # folds: auto: wine's 142 training rows are small for any budget, so trials were scored on 5 folds
    assert parent.data.params["tune.validation"] == result.tuning.meta["validation"] == "5-fold cross-validation"
    assert {t.steps for t in result.tuning.trials} == {5}
    estimator = api.load_model("wine-tune", uri=tracking_uri).model.steps[-1][1]
    assert estimator.n_estimators == int(best.data.params["params.n_estimators"])
    assert estimator.max_depth == int(best.data.params["params.max_depth"])
    artifacts = {a.path for a in MlflowClient(tracking_uri=tracking_uri).list_artifacts(result.run_id, "tune")}
    assert artifacts == {"tune/leaderboard.csv", "tune/leaderboard.md", "tune/leaderboard.png", "tune/families.csv",
                         "tune/families.md"}
    assert list((tmp_path / ".mlops" / "tune").iterdir()), "trials belong in the project's .mlops dir"
    # Tune's CSV and JSON results are kept; its TensorBoard logger is not added (tensorboardX imports torch)
    stored = [path.name for path in (tmp_path / ".mlops" / "tune").rglob("*") if path.is_file()]
    assert "progress.csv" in stored and "result.json" in stored, stored
    assert not [name for name in stored if name.startswith("events.out.tfevents")], stored


@pytest.mark.slow
def test_grid_search_covers_the_grid_exactly_once(ray_local, tracking_uri, tmp_path):
    result = api.apply(wine_spec(tmp_path, GRID, name="wine-grid"))
    points = sorted((int(r.data.params["params.max_depth"]), int(r.data.params["params.n_estimators"]))
                    for r in children(tracking_uri, result.run_id))
    assert points == sorted(itertools.product([2, 4], [5, 10, 20]))


@pytest.mark.slow
def test_auto_picks_among_families_and_beats_default_random_forest(ray_local, tracking_uri, example):
    spec = example("automl") / "spec.yaml"
    fast = ["tuning.num_samples=10", "tuning.time_budget_s=60", "~serving"]
    auto = api.apply(spec, fast)
    families = {r.data.tags["mlops.trial_family"] for r in children(tracking_uri, auto.run_id)}
    assert len(families) >= 3, families
    winner = MlflowClient(tracking_uri=tracking_uri).get_run(auto.run_id).data.tags["mlops.tune.best_family"]
    assert winner in families
    assert api.load_model("automl", uri=tracking_uri).meta["estimator"] == winner
    baseline = api.apply(spec, ["~tuning", "~serving", "model.type=sklearn", "~model.candidates",
                                "+model.estimator=random_forest"])
    assert auto.metrics["roc_auc"] >= baseline.metrics["roc_auc"], (auto.metrics, baseline.metrics)


@pytest.mark.slow
def test_trials_that_do_not_fit_the_cluster_fail_before_scheduling(ray_local, tracking_uri, tmp_path):
    from mlops.errors import ResourceError

    spec = wine_spec(tmp_path, RANDOM_4)
    with pytest.raises(ResourceError, match=r"hardware.cpus_per_task=64 but the largest node has 2 CPUs.*'tune'"):
        api.apply(spec, ["hardware.cpus_per_task=64"])


@pytest.mark.slow
def test_multirun_applies_every_combination(ray_local, tracking_uri, tmp_path):
    from mlops.cli.training import comparison_table
    from rich.console import Console

    spec = write_spec(tmp_path, WINE.format(name="wine-sweep", tuning="  num_samples: 1").replace(
        "tuning:\n  num_samples: 1\n", "").replace("  params: {random_state: 0}\n", ""))
    combos = api.multirun(spec, ["model.estimator=random_forest,logistic_regression", "hardware.workers=1,2"])
    assert [c.overrides for c in combos] == [list(p) for p in itertools.product(
        ["model.estimator=random_forest", "model.estimator=logistic_regression"], ["hardware.workers=1", "hardware.workers=2"])]
    assert all(c.ok and c.result.run_id for c in combos), [c.error for c in combos]
    # hardware.workers is read by no stage of an sklearn plan: equal plans run once and share the result
    assert len({c.result.run_id for c in combos}) == 2 and combos[1].same_as == 0
    console = Console(width=200, record=True)
    console.print(comparison_table(combos, ["model.estimator", "hardware.workers"]))
    text = console.export_text()
    assert all(c.result.run_id[:12] in text for c in combos) and "f1_macro" in text
    assert "same plan as #0" in text and "logistic_regression" in text


BUDGET_S = 8  # the short trial's actor starts and fits in 1-3 s on this 2-core VM under the suite's load
BUDGET = f"""  search: grid
  time_budget_s: {BUDGET_S}
  search_space:
    params.n_estimators: {{grid: [10, 40000]}}"""  # one trial of seconds, one of minutes: the budget stops it


@pytest.mark.slow
def test_the_time_budget_bounds_the_whole_search_and_the_time_after_it_is_reported(ray_local, tracking_uri, tmp_path):
    """A trial still fitting when the budget runs out is stopped, not awaited: the search ends within 2 s of
    its budget; the short trial wins; the refit and the logging are reported apart."""
    result = api.apply(wine_spec(tmp_path, BUDGET, name="wine-budget"))
    tuning = result.tuning
    assert tuning.seconds <= BUDGET_S + 2, f"the search took {tuning.seconds:.1f} s on a {BUDGET_S} s budget"
    statuses = {int(t.params["params.n_estimators"]): t.status for t in tuning.trials}
    assert statuses[10] == "ok" and statuses[40000] != "ok", statuses
    assert tuning.best.params["params.n_estimators"] == 10
    assert "logging_s" in tuning.meta and "train" in result.seconds  # the refit of the best trial
    metrics = MlflowClient(tracking_uri=tracking_uri).get_run(result.run_id).data.metrics
    assert "tune.logging_seconds" in metrics and "seconds.train" in metrics


APPLY_BUDGET_S = 20  # the apply's: the search gets what is left after start-up and AFTER_SEARCH_S (~8 s here)


@pytest.mark.slow
def test_a_budget_covering_the_apply_ends_the_apply_within_it(ray_local, tracking_uri, tmp_path):
    """tuning.time_budget_covers: apply: the search stops early enough for the refit, evaluation and
    registration after it, so the whole apply ends within its budget (the search's budget alone would have
    let the long trial run to the 20th second, then the rest come after)."""
    import time

    from mlops.stages.tune import AFTER_SEARCH_S

    spec = wine_spec(tmp_path, BUDGET.replace(f"time_budget_s: {BUDGET_S}", f"time_budget_s: {APPLY_BUDGET_S}\n"
                                              "  time_budget_covers: apply"), name="wine-apply-budget")
    started = time.time()
    result = api.apply(spec, started_at=started)
    took = time.time() - started
    assert took <= APPLY_BUDGET_S + 1, f"the apply took {took:.1f} s on a {APPLY_BUDGET_S} s budget"
    assert result.tuning.seconds <= APPLY_BUDGET_S - AFTER_SEARCH_S + 2, result.tuning.seconds
    statuses = {int(t.params["params.n_estimators"]): t.status for t in result.tuning.trials}
    assert statuses[10] == "ok" and statuses[40000] != "ok", statuses


ENSEMBLE = """
name: wine-ensemble
data:
  source: {type: sklearn, name: wine}
  target: target
  split: {method: stratified, seed: 0}
model:
  type: auto
  task: classification
  candidates: [random_forest, logistic_regression, knn]
  metric: f1_macro
  ensemble: {top_k: 3, method: stacking}
tuning: {num_samples: 6, seed: 2, time_budget_s: 120}
hardware: {max_concurrent_trials: 2, workers: 1, cpus_per_task: 1}
tracking: {uri: "${oc.env:MLOPS_TRACKING_URI,sqlite:///.mlops/mlflow.db}"}
"""


@pytest.mark.slow
def test_an_ensemble_of_the_best_trials_is_registered_and_loads_through_mlflow(ray_local, tracking_uri, tmp_path):
    import mlflow.pyfunc
    from sklearn.datasets import load_wine

    result = api.apply(write_spec(tmp_path, ENSEMBLE))
    bundle = api.load_model("wine-ensemble", uri=tracking_uri)
    assert bundle.meta["estimator"] == "stacking"
    members = bundle.meta["tuned"]["ensemble"]["members"]
    assert len(members) == 3 and set(members) <= {t.trial_id for t in result.tuning.trials}
    # `mlops apply` says what it registered: the ensemble and its members' families and scores
    from mlops.models.stacking import COMBINATIONS

    assert result.ensemble["method"] == "stacking" and result.ensemble["members"] == members
    # which combination of the members (stack, weighted average, best alone) scored best out of fold
    combination, used = result.ensemble["combination"], result.ensemble["used"]
    assert combination in COMBINATIONS and set(used) <= set(members), result.ensemble
    scores = result.ensemble["out_of_fold"]
    assert scores["metric"] == "f1_macro" and scores[combination] == max(scores[c] for c in COMBINATIONS)
    # the members' out-of-fold predictions came from their cross-validated trials, not from fits again
    assert result.tuning.meta["validation"] == "5-fold cross-validation" and scores["from_search"] == 3
    assert set(members) <= set(result.tuning.out_of_fold)
    from mlops.cli.training import ensemble_line

    said = ensemble_line(result.ensemble, result.tuning)
    by_id = {t.trial_id: t for t in result.tuning.trials}
    assert "of the 3 best trials" in said and f"stack {scores['stack']:.4f}" in said, said
    assert "3 of 3 members' out-of-fold predictions from the search" in said, said
    assert all(f"{by_id[m].family}" in said and f"(f1_macro {by_id[m].metrics['f1_macro']:.4f})" in said for m in used), said
    mlflow.set_tracking_uri(tracking_uri)
    loaded = mlflow.pyfunc.load_model(f"models:/wine-ensemble/{result.version}")
    import pandas as pd

    X = pd.DataFrame(load_wine().data[:5], columns=bundle.input_columns)  # mlops' sklearn source names columns safely
    assert list(loaded.predict(X)) == list(bundle.predict(X))


INTERACTIONS = """
name: interactions
data:
  source: {type: csv, path: interactions.csv}
  target: y
  split: {method: stratified, test_size: 0.25, seed: 0}
model: {type: auto, task: classification, metric: roc_auc}
tuning: {num_samples: 14, search: optuna, scheduler: asha, seed: 0}
hardware: {max_concurrent_trials: 1}  # one trial at a time: the seeded search proposes the same trials on any machine
tracking: {uri: "${oc.env:MLOPS_TRACKING_URI}"}
"""
BOOSTING = {"lightgbm", "xgboost", "hist_gradient_boosting"}  # the gradient-boosting families


def interactions_csv(path, rows: int = 3000, seed: int = 0) -> None:
    """Ten numeric features; the label depends on products and sign flips of a few of them (no single feature
    and no linear model says much), as in benchmarks/automl_vs_flaml.py's interactions_20k."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 10))
    logit = 3.0 * X[:, 0] * X[:, 1] - 2.0 * np.sign(X[:, 2]) * X[:, 3] + 0.5 * X[:, 4]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=y).to_csv(path, index=False)


@pytest.mark.slow
def test_on_interactions_a_boosting_family_wins_and_every_familys_best_is_on_the_leaderboard(ray_local, tracking_uri, tmp_path):
    pytest.importorskip("lightgbm")
    pytest.importorskip("xgboost")
    import mlflow.pyfunc
    import pandas as pd

    interactions_csv(tmp_path / "interactions.csv")
    result = api.apply(write_spec(tmp_path, INTERACTIONS))
    tuning = result.tuning
    best_of = {}
    for t in tuning.trials:
        if t.status == "ok" and "roc_auc" in t.metrics:
            best_of[t.family] = max(best_of.get(t.family, 0.0), t.metrics["roc_auc"])
    assert tuning.best.family in BOOSTING, best_of
    # the libraries the boosting extra brings beat every family that is no gradient boosting
    assert max(best_of.get("lightgbm", 0), best_of.get("xgboost", 0)) > max(v for f, v in best_of.items() if f not in BOOSTING)
    assert result.metrics["roc_auc"] > 0.8
    if tuning.best.family != "hist_gradient_boosting":  # it stops early by itself, inside its fit
        assert tuning.best.fitted["n_estimators"] == tuning.best.model["params"]["n_estimators"]  # the refit's rounds
    # MLflow: every trial a child run, and the family board on the apply's run
    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(result.run_id).data
    assert run.tags["mlops.tune.best_family"] == tuning.best.family
    assert run.metrics[f"tune.family.{tuning.best.family}.best_roc_auc"] == tuning.best.metrics["roc_auc"]
    families = pd.read_csv(mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="tune/families.csv",
                                                               tracking_uri=tracking_uri))
    tried = {t.family for t in tuning.trials}
    assert set(families["family"]) == tried and families["trials"].sum() == len(tuning.trials) == len(children(tracking_uri, result.run_id))
    assert families["family"].iloc[0] == tuning.best.family and len(tried) >= 5  # the cheap first trials touch them all
    # `mlops models`: the versions, then the search's families side by side, the winner marked
    shown = CliRunner().invoke(app, ["models", "interactions", "--tracking-uri", tracking_uri], env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    assert "search that produced v1" in shown.output and f"{tuning.best.family} (best trial)" in shown.output
    assert all(family in shown.output for family in tried)
    # the registered model is the winning family's, and loads through mlflow.pyfunc like any other
    bundle = api.load_model("interactions", uri=tracking_uri)
    assert bundle.meta["estimator"] == tuning.best.family
    mlflow.set_tracking_uri(tracking_uri)
    rows = pd.read_csv(tmp_path / "interactions.csv").drop(columns="y").head(20)
    assert list(mlflow.pyfunc.load_model(f"models:/interactions/{result.version}").predict(rows)) == list(bundle.predict(rows))
