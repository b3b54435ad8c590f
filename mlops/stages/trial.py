"""One Ray Tune trial: fit the spec's pipeline with the trial's configuration on part of the TRAINING split.

The test split never reaches a trial. Trials report to Tune only; the driver writes MLflow afterwards.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterator

from mlops.errors import MlopsError
from mlops.searched_scaling import pipeline_features
from mlops.stages.search_space import model_section


@dataclass
class TrialData:
    """The training split and the resolved feature lists (shipped to trials once, via the object store)."""

    X: Any
    y: Any
    numeric: list[str]
    categorical: list[str]


# Successive halving on rows: with scheduler: asha and one validation part, a trial fits on growing shares of
# its training rows and reports after each, so ASHA stops weak configurations after their cheap first fits.
ROW_RUNGS = (0.25, 0.5, 1.0)
FITTED = "fitted."  # reported keys under this prefix: parameters a fit settled (boosting rounds), for the refit
# Reported with each step: the seconds one fit on all of the step's training rows took (a row rung's fit scaled
# up to them), for the refit's estimate; the trial's own time also holds its worker's imports and Tune's reports.
# A rung's fit is scaled by the square root of the rows' ratio, not the ratio: on small data costs that do not
# grow with the rows weigh (measured: LightGBM on 25% of friedman1's 12k rows took 0.45 of the whole fit's time).
FIT_SECONDS = "fit_seconds"
# Reported with each step: the seconds its predictions took per validation row, for the refit's estimate of what
# evaluating the registered model costs (its permutation importance predicts many shuffled rows).
PREDICT_SECONDS = "predict_seconds_per_row"
CLOCK_POLL_S = 0.2  # how often a trial waiting on its fit reads its search's stop time (stages.search_clock)


def steps_total(params: dict[str, Any], section: dict[str, Any] | None = None) -> int:
    """How many reports a trial that runs to the end makes: epochs (torch), folds, row rungs (asha), or one.
    `section`: the trial's model section (auto: its family's), default the spec's."""
    section = section or params["model"]
    if section["type"] == "torch":
        training = section.get("training") or {}
        # With early stopping a trial may legitimately end at any epoch; without, it runs them all.
        return 1 if training.get("early_stopping") else int(training.get("epochs") or 1)
    if params["tuning"]["folds"]:
        return params["tuning"]["folds"]
    return len(ROW_RUNGS) if params["scheduler"] == "asha" else 1


def resolve_folds(tuning: dict[str, Any], rows: int, columns: int) -> dict[str, Any]:
    """`tuning` with folds: auto decided for a training split of `rows` x `columns` (see spec/tuning.py)."""
    from mlops.spec.tuning import AUTO_CV_CELLS_PER_S, AUTO_CV_MAX_ROWS, AUTO_CV_UNBUDGETED_S, AUTO_FOLDS

    if tuning.get("folds") != "auto":
        return tuning
    budget = tuning.get("time_budget_s") or AUTO_CV_UNBUDGETED_S
    small = rows * columns <= AUTO_CV_CELLS_PER_S * budget and rows < AUTO_CV_MAX_ROWS and rows >= 2 * AUTO_FOLDS
    return {**tuning, "folds": AUTO_FOLDS if small else None}


def validation_text(tuning: dict[str, Any]) -> str:
    """How trials were scored, in words (the apply's output and the MLflow run)."""
    if tuning.get("folds"):
        return f"{tuning['folds']}-fold cross-validation"
    return f"a {tuning['validation_size']:.0%} hold-out"


def run_trial(config: dict[str, Any], data: TrialData | None = None, params: dict[str, Any] | None = None) -> None:
    """Tune function trainable: one report per fold, row rung (or epoch for torch), the running score."""
    from ray import tune

    _quiet_termination()
    section = model_section(params["model"], config)
    if section["type"] == "torch":
        fit_torch(section, data, params, lambda step, metrics: tune.report({**metrics, "step": step}))
        return
    for step, metrics in scores(section, data, params, _collector(params, data, section)):
        tune.report({**metrics, "step": step})


def _collector(params: dict[str, Any], data: TrialData, section: dict[str, Any]) -> Any:
    """Where the trial's out-of-fold predictions go when the search keeps them (mlops.stages.out_of_fold)."""
    from mlops.stages.out_of_fold import Collector

    store = params.get("out_of_fold")
    return Collector(store, data.y, section["task"]) if store else None


def _quiet_termination() -> None:
    """Tune ends a trial the time budget stopped with SIGTERM after a grace; Ray's handler raises SystemExit, and
    when that lands in a weakref callback Python prints it as "Exception ignored in ..." with a traceback, which
    Ray forwards to the apply's output. That exit is expected: it is not printed (other unraisable errors are)."""
    import sys

    if getattr(sys.unraisablehook, "mlops_quiet_exit", False):
        return
    default = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, SystemExit):
            default(unraisable)

    hook.mlops_quiet_exit = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def scores(section: dict[str, Any], data: TrialData, params: dict[str, Any],
           out_of_fold: Any = None) -> Iterator[tuple[int, dict[str, float]]]:
    """(step, metrics) after each fold (the mean over the folds so far) or each row rung (that fit's scores),
    with the values the fits settled under FITTED (their mean over folds). `out_of_fold` (an
    out_of_fold.Collector): gets each fit's predictions, and sends them on before the last report."""
    tuning, metric = params["tuning"], params["metric"]
    splits = list(_splits(data, section["task"], tuning))
    rungs = ROW_RUNGS if steps_total(params) == len(ROW_RUNGS) and not tuning["folds"] else (1.0,)
    parts = [(train_idx[:max(int(len(train_idx) * share), 1)], val_idx, share)
             for train_idx, val_idx in splits for share in rungs]  # train_test_split's rows come shuffled
    totals: dict[str, float] = {}
    _import_for(section, data, params["features"])  # a worker's first trial of a family: imports are not fit time
    for step, (train_idx, val_idx, share) in enumerate(parts, start=1):
        began = time.perf_counter()
        fit = fit_and_score if out_of_fold is None else partial(fit_and_score, predictions=out_of_fold.add)
        metrics, fitted = by_deadline(params.get("deadline"), fit, section, data, params["features"],
                                      train_idx, val_idx, params.get("threads"), stop_key=params.get("stop_key"))
        if not _finite(metrics.get(metric)):
            raise MlopsError(_uncomputable(metric, section, data.y.iloc[train_idx], data.y.iloc[val_idx]))
        reported = {**metrics, **{FITTED + name: value for name, value in fitted.items()},
                    FIT_SECONDS: (time.perf_counter() - began) / share ** 0.5}
        if tuning["folds"]:
            for name, value in reported.items():
                totals[name] = totals.get(name, 0.0) + value
            reported = {name: total / step for name, total in totals.items()}
        if out_of_fold is not None and step == len(parts):  # its last fit: the trial has predicted what it will
            out_of_fold.send(_trial_id(), reported[metric])
        yield step, {name: float(value) for name, value in reported.items()}


def _trial_id() -> str:
    from ray import tune

    return tune.get_context().get_trial_id()


def _import_for(section: dict[str, Any], data: TrialData, features: dict[str, Any]) -> None:
    """Import what fitting `section` needs (its library, the preprocessing), building an estimator and a pipeline
    that are never fitted."""
    from mlops.models.estimators import build_estimator
    from mlops.models.preprocessing import build_pipeline
    from mlops.models.scores import compute_metrics  # noqa: F401

    build_pipeline(pipeline_features(features, section), data.numeric, data.categorical, build_estimator(section))


def _finite(value: Any) -> bool:
    import math

    return isinstance(value, (int, float)) and math.isfinite(value)


def _uncomputable(metric: str, section: dict[str, Any], y_train: Any, y_val: Any) -> str:
    """Why a trial's validation rows gave no `metric`: a label the fit never saw, one class only, or a family
    without class probabilities."""
    family = section.get("estimator", section["type"])
    shown = lambda values: ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in sorted(values, key=str)[:5])  # noqa: E731
    unseen, absent = set(y_val.unique()) - set(y_train.unique()), set(y_train.unique()) - set(y_val.unique())
    if unseen or absent:
        which = (f"they hold class {shown(unseen)}, which its training rows lack" if unseen else
                 f"they lack class {shown(absent)}, which its training rows have (scored over every class)")
        return (f"model.metric={metric} cannot be computed on a trial's validation rows: {which}; a class of a few "
                f"rows cannot be in every fold: choose a metric from labels (e.g. f1_macro), or give the class more rows")
    if section["task"] == "regression":
        return (f"model.metric={metric} could not be computed on a trial's {len(y_val)} validation rows; give the "
                f"search more rows (tuning.validation_size) or choose another metric")
    if y_val.nunique() < 2:
        return (f"model.metric={metric} cannot be computed on a trial's validation rows: they hold one class only; "
                f"give the search more rows (tuning.validation_size) or choose a metric from labels")
    return (f"model.metric={metric} cannot be computed for {family} (it needs predict_proba); choose another "
            f"metric or leave this family out")


class OutOfTime(MlopsError):
    """A trial's fit still ran when the search's time budget ran out: the trial stops there."""

    MARK = "stopped at the search's time budget"


def by_deadline(deadline: float | None, fit: Callable[..., Any], *args: Any, stop_key: str | None = None) -> Any:
    """fit(*args), unless it is still running at `deadline` (wall-clock time), or at the stop time its search
    published under `stop_key` (stages.search_clock: earlier, by the refit's estimate): then OutOfTime. A fit
    cannot be interrupted, so it runs in a daemon thread that this trial leaves behind; Tune then ends the
    trial's actor, and the thread with it. Tune's own stop would wait for the running step (5 s at its end)."""
    import threading
    import time

    from mlops.stages.search_clock import stop_time

    if deadline is None:
        return fit(*args)
    if time.time() >= stop_time(deadline, stop_key):
        raise OutOfTime(OutOfTime.MARK)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fit(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the trial's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="mlops-trial-fit", daemon=True)
    worker.start()
    while True:
        stop_at = stop_time(deadline, stop_key)
        worker.join(max(min(stop_at - time.time(), CLOCK_POLL_S if stop_key else float("inf")), 0.0))
        if not worker.is_alive():
            break
        if time.time() >= stop_at:
            raise OutOfTime(OutOfTime.MARK)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _splits(data: TrialData, task: str, tuning: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """k folds, or one hold-out of validation_size; stratified for classification when every class allows it."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    y = np.asarray(data.y)
    stratify = task == "classification" and np.unique(y, return_counts=True)[1].min() >= (tuning["folds"] or 2)
    rows = np.arange(len(y))
    if tuning["folds"]:
        splitter = (StratifiedKFold if stratify else KFold)(tuning["folds"], shuffle=True, random_state=tuning["seed"])
        yield from splitter.split(rows, y if stratify else None)
        return
    yield tuple(train_test_split(rows, test_size=tuning["validation_size"], random_state=tuning["seed"],
                                 stratify=y if stratify else None))


def fit_and_score(section: dict[str, Any], data: TrialData, features: dict[str, Any], train_idx: Any, val_idx: Any,
                  threads: int | None = None, predictions: Callable[..., None] | None = None,
                  ) -> tuple[dict[str, float], dict[str, int]]:
    """Fit preprocessing + estimator on the `train_idx` rows, every metric of the task on the `val_idx` rows;
    also the parameters the fit settled (a boosting family stops early on the validation rows). `predictions`:
    called with the validation rows' predictions (rows, probabilities or values, the fitted classes)."""
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    from mlops.models.estimators import build_estimator, key_by_labels
    from mlops.models.preprocessing import build_pipeline
    from mlops.models.scores import compute_metrics, predict_with_proba
    from mlops.plugins import estimators

    X_tr, y_tr, X_val, y_val = data.X.iloc[train_idx], data.y.iloc[train_idx], data.X.iloc[val_idx], data.y.iloc[val_idx]
    family = estimators.get(section["estimator"])
    estimator = build_estimator(section)
    if "random_state" in estimator.get_params() and "random_state" not in section.get("params", {}):
        estimator.set_params(random_state=0)  # a seeded search then scores the same trials alike on any run
    if threads and family.meta.get("threads_param"):  # the trial's CPUs, never every core of the machine
        estimator.set_params(**{family.meta["threads_param"]: threads})
    pipeline = build_pipeline(pipeline_features(features, section), data.numeric, data.categorical, estimator)
    key_by_labels(pipeline, y_tr)
    early = getattr(family.target, "fit_early_stopping", None)
    # OpenMP and BLAS pools too (set in this thread, the one that fits)
    with threadpool_limits(limits=threads) if threads else nullcontext():
        if early is None:
            pipeline.fit(X_tr, y_tr)
            fitted = {}
        else:  # the same steps as pipeline.fit, with the validation rows, preprocessed, watched while boosting
            prepare = pipeline[:-1]
            fitted = early(estimator, prepare.fit_transform(X_tr, y_tr), y_tr, prepare.transform(X_val), y_val)
        began = time.perf_counter()
        classes = getattr(pipeline, "classes_", None)
        if section["task"] == "classification":
            y_pred, proba = predict_with_proba(pipeline, X_val)
        else:
            y_pred, proba = pipeline.predict(X_val), None
        per_row = {PREDICT_SECONDS: (time.perf_counter() - began) / max(len(val_idx), 1)}
        if predictions is not None and section["task"] == "classification":
            predictions(val_idx, proba, classes)  # None without probabilities: the collector drops the trial's
        elif predictions is not None:
            predictions(val_idx, y_pred)
        return {**compute_metrics(section["task"], y_val, y_pred, proba, classes), **per_row}, fitted


def fit_torch(section: dict[str, Any], data: TrialData, params: dict[str, Any],
              report: Callable[[int, dict[str, float]], None]) -> None:
    """A torch trial: scored on the same folds (or hold-out) as every family, reporting after every epoch (the
    validation metrics averaged over the folds, and the best epoch so far for the refit), so that ASHA can stop
    weak architectures early. It trains on the GPU the trial holds, else on its CPUs' threads."""
    import time

    import numpy as np
    import torch

    from mlops.models.device import held_device
    from mlops.models.preprocessing import DerivedColumns, build_preprocessor
    from mlops.models.torch_loop import Part, train_parts
    from mlops.models.torch_mlp import complete_section
    from mlops.stages.search_clock import stop_time

    model = complete_section(section)
    if params.get("threads"):
        torch.set_num_threads(int(params["threads"]))
    derive = DerivedColumns(params["features"].get("derived") or None, nulls_as_nan=True)
    parts, splits = [], list(_splits(data, model["task"], params["tuning"]))
    for train_idx, val_idx in splits:
        pre = build_preprocessor(params["features"], data.numeric, data.categorical)
        X_tr = pre.fit_transform(derive.transform(data.X.iloc[train_idx]), data.y.iloc[train_idx])
        X_val = pre.transform(derive.transform(data.X.iloc[val_idx]))
        parts.append(Part(np.asarray(X_tr, dtype=np.float32), np.asarray(data.y.iloc[train_idx]),
                          np.asarray(X_val, dtype=np.float32), np.asarray(data.y.iloc[val_idx])))
    deadline, stop_key = params.get("deadline"), params.get("stop_key")

    def on_epoch(state: Any, metrics: dict[str, float]) -> None:
        scores = {k.removeprefix("val_"): float(v) for k, v in metrics.items() if k.startswith("val_")}
        if params.get("metric") and not _finite(scores.get(params["metric"])):  # as the other families' trials say
            reasons = [_uncomputable(params["metric"], section, data.y.iloc[t], data.y.iloc[v]) for t, v in splits]
            raise MlopsError(next((r for r in reasons if "lack" in r or "one class" in r), reasons[0]))
        report(state.epoch, {**scores, FITTED + "training.epochs": state.best_epoch})
        if deadline is not None and time.time() >= stop_time(deadline, stop_key):
            raise OutOfTime(OutOfTime.MARK)  # the epochs reported so far still count

    train_parts(model, parts, held_device(), on_epoch)
