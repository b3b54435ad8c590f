"""A trial's reports: with scheduler: asha and one validation part it fits on 25%, 50%, then all of its training
rows (successive halving on rows: ASHA stops the weak ones after the cheap fits); a boosting trial reports
the rounds it kept, and the refit's model section boosts that many."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.stages import trial
from mlops.stages.trial import ROW_RUNGS, FITTED, TrialData, scores, steps_total

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
            "encode": "onehot", "derived": None}


def _params(scheduler: str, folds: int | None = None) -> dict:
    return {"model": {"type": "sklearn", "task": "classification"}, "metric": "roc_auc", "scheduler": scheduler,
            "features": FEATURES, "tuning": {"folds": folds, "validation_size": 0.25, "seed": 0}, "threads": 1}


def _data(n: int = 800) -> TrialData:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=list("abc"))
    y = pd.Series(np.where(X["a"] * X["b"] + 0.3 * rng.normal(size=n) > 0, 1, 0))
    return TrialData(X, y, list("abc"), [])


def test_steps_are_row_rungs_with_asha_folds_with_folds_else_one():
    assert steps_total(_params("asha")) == len(ROW_RUNGS) == 3
    assert steps_total(_params("fifo")) == 1
    assert steps_total(_params("asha", folds=4)) == 4


def test_asha_trials_fit_on_growing_shares_of_their_rows(monkeypatch):
    seen = []
    fit = trial.fit_and_score

    def counting(section, data, features, train_idx, val_idx, threads=None):
        seen.append((len(train_idx), len(val_idx), threads))
        return fit(section, data, features, train_idx, val_idx, threads)

    monkeypatch.setattr(trial, "fit_and_score", counting)
    section = {"type": "sklearn", "task": "classification", "estimator": "lightgbm", "params": {"n_estimators": 300}}
    reports = list(scores(section, _data(), _params("asha")))
    assert [step for step, _ in reports] == [1, 2, 3]
    assert [rows for rows, _, _ in seen] == [150, 300, 600] and {val for _, val, _ in seen} == {200}
    assert {threads for _, _, threads in seen} == {1}
    assert all(FITTED + "n_estimators" in metrics and "roc_auc" in metrics for _, metrics in reports)
    assert reports[-1][1]["roc_auc"] > 0.8


def test_each_report_says_what_one_fit_on_all_its_training_rows_takes(monkeypatch):
    import time

    from mlops.stages.trial import FIT_SECONDS

    fit = trial.fit_and_score

    def at_least_a_quarter_second(*args, **kwargs):  # a fit of known least length, whatever its rows
        time.sleep(0.25)
        return fit(*args, **kwargs)

    monkeypatch.setattr(trial, "fit_and_score", at_least_a_quarter_second)
    section = {"type": "sklearn", "task": "classification", "estimator": "logistic_regression", "params": {}}
    rungs = [metrics[FIT_SECONDS] for _, metrics in scores(section, _data(), _params("asha"))]
    # a rung's fit on a quarter (a half) of the rows is scaled up to all of them (by the square root of 4, of 2)
    assert 0.5 <= rungs[0] < 0.75 and 0.35 <= rungs[1] < 0.55 and 0.25 <= rungs[2] < 0.4  # sqrt(1/share)
    folds = [metrics[FIT_SECONDS] for _, metrics in scores(section, _data(), _params("asha", folds=3))]
    assert all(0.25 <= seconds < 0.4 for seconds in folds)  # the mean over the folds so far


def test_with_folds_the_reports_are_running_means_and_fifo_reports_once(monkeypatch):
    each, fit = [], trial.fit_and_score

    def recording(*args, **kwargs):
        metrics, fitted = fit(*args, **kwargs)
        each.append(metrics["roc_auc"])
        return metrics, fitted

    monkeypatch.setattr(trial, "fit_and_score", recording)
    section = {"type": "sklearn", "task": "classification", "estimator": "logistic_regression", "params": {}}
    folds = list(scores(section, _data(), _params("asha", folds=3)))
    assert [step for step, _ in folds] == [1, 2, 3]
    assert len(set(each)) == 3  # the folds score differently: a running mean is not the last fold's score
    assert [m["roc_auc"] for _, m in folds] == pytest.approx([np.mean(each[:k]) for k in (1, 2, 3)])
    once = list(scores(section, _data(), _params("fifo")))
    assert [step for step, _ in once] == [1] and FITTED + "n_estimators" not in once[0][1]


@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
def test_the_refit_boosts_as_many_rounds_as_the_trial_kept(family):
    from types import SimpleNamespace

    from mlops.stages.tune import _trial

    params = {**_params("fifo"), "model": {"type": "auto", "task": "classification", "metric": "roc_auc"}}
    result = SimpleNamespace(config={"estimator": family, f"{family}:params.n_estimators": 900},
                             metrics={"roc_auc": 0.9, "step": 1, FITTED + "n_estimators": 137.0, "trial_id": "a1"},
                             error=None, path="/tmp/a1")
    found = _trial(result, params)
    assert found.params["params.n_estimators"] == 900 and found.fitted == {"n_estimators": 137}
    assert found.model["params"]["n_estimators"] == 137 and found.status == "ok"


@pytest.mark.parametrize("rows, columns, budget, folds", [
    (1_347, 64, 60, 5),           # digits at 60 s: 86k cells, small for a minute
    (15_000, 10, 60, None),       # 150k cells: more than 2,000 a second of a minute
    (15_000, 10, 180, 5),         # the same data with three minutes
    (15_000, 40, 180, None),      # 600k cells
    (2_000, 10, None, 5),         # no budget counts as a minute
    (20_000, 10, None, None),     # ... so 200k cells are too many without one
    (8, 2, 60, None),             # fewer rows than two per fold: the hold-out
    (100_000, 1, 3_600, None),    # never k fits of 100k rows and more
])
def test_folds_auto_cross_validates_data_small_for_the_budget(rows, columns, budget, folds):
    tuning = {"folds": "auto", "time_budget_s": budget, "validation_size": 0.2, "seed": 0}
    resolved = trial.resolve_folds(tuning, rows, columns)
    assert resolved["folds"] == folds and resolved["validation_size"] == 0.2
    assert trial.validation_text(resolved) == ("5-fold cross-validation" if folds else "a 20% hold-out")


def test_folds_given_or_null_are_kept():
    for folds in (3, None):
        tuning = {"folds": folds, "time_budget_s": 60, "validation_size": 0.3, "seed": 0}
        assert trial.resolve_folds(tuning, 100, 3) == tuning


def test_folds_field_takes_auto_null_or_at_least_two():
    from pydantic import ValidationError

    from mlops.spec.tuning import TuningSpec

    assert TuningSpec().folds == "auto" and TuningSpec(folds=None).folds is None and TuningSpec(folds=4).folds == 4
    for bad in (1, 0, "some"):
        with pytest.raises(ValidationError, match="folds"):
            TuningSpec(folds=bad)


def test_a_trial_stopped_by_the_budget_is_not_logged_as_an_error_other_errors_are(caplog):
    import logging

    from mlops.stages import tune

    tune._quiet_budget_stops()
    tune._quiet_budget_stops()  # once per process, however often a search runs
    worker = logging.getLogger("ray._private.worker")
    assert sum(getattr(f, "mlops_budget_stops", False) for f in worker.filters) == 1
    with caplog.at_level(logging.ERROR):
        worker.error(f"Unhandled error (suppress with ...): ray::ImplicitFunc.train() ... {trial.OutOfTime.MARK}")
        worker.error("Unhandled error (suppress with ...): ValueError: a real failure")
        try:
            raise trial.OutOfTime(trial.OutOfTime.MARK)
        except trial.OutOfTime:
            logging.getLogger("ray.tune.execution.tune_controller").error("Trial task failed for trial x", exc_info=True)
    assert [r.getMessage() for r in caplog.records] == ["Unhandled error (suppress with ...): ValueError: a real failure"]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_each_fit_reports_its_predictions_seconds_per_row(task):
    """The refit's estimate reads them for what evaluating a model slow to predict costs (tune._RefitEstimate)."""
    import time

    from mlops.stages.trial import PREDICT_SECONDS, fit_and_score

    data, rows = _data(), np.arange(800)
    if task == "regression":
        data = trial.TrialData(data.X, data.y.astype(float) + data.X.iloc[:, 0], data.numeric, data.categorical)
    section = {"type": "sklearn", "task": task, "estimator": "knn", "params": {}}
    began = time.perf_counter()
    metrics, _ = fit_and_score(section, data, FEATURES, rows[:600], rows[600:])
    assert 0 < metrics[PREDICT_SECONDS] * 200 < time.perf_counter() - began
