"""tune (runs in the driver): Ray Tune over the search space; train_best: refit the winner on the whole train split."""
from __future__ import annotations

import math
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from mlops.errors import MlopsError
from mlops.metrics import METRICS
from mlops.spec.tuning import AUTO_TRIALS_AT_ONCE
from mlops.stages.search_clock import SearchClock
from mlops.stages.search_space import model_section, set_dotted, trial_params
from mlops.stages.trial import FIT_SECONDS, FITTED, PREDICT_SECONDS, OutOfTime, steps_total

# Tuner.fit() keeps process-wide state (signal handlers, the output engine): one at a time per process,
# also when multirun applies specs in threads.
_TUNE_LOCK = threading.Lock()
STOP_GRACE_S = 1  # seconds a trial stopped by the time budget may take to finish its step before it is killed
# tuning.time_budget_covers: apply. What follows the search's stop besides the refit's fit: Tune ending the
# experiment (0.3 s since the trials leave their fits when the stopper stops: stages.search_clock; 4 s before),
# starting the refit's worker, evaluation (metrics with intervals, bounded permutation importance, plots),
# registration, Ray's stop and the command's exit (the trials are logged beside the refit): 8.0 s measured
# on 2 CPUs (interactions_20k, docs/automl.md), with a second's margin. The refit's share is estimated from the trials.
AFTER_SEARCH_S = 9.0
REFIT_MARGIN = 1.3  # a refit's seconds per trial fit's: all the training rows, where a fold fit saw (k-1)/k


@dataclass
class TrialResult:
    """What one trial chose and scored on its validation data (never the test split)."""

    trial_id: str
    params: dict[str, Any]        # the values it chose (auto: "estimator" plus that family's keys)
    model: dict[str, Any]         # the model section it fitted
    metrics: dict[str, float]
    status: str                   # ok | error | stopped (time budget or scheduler)
    seconds: float = 0.0
    steps: int = 0
    error: str | None = None
    fitted: dict[str, Any] = field(default_factory=dict)  # what its fit settled (boosting rounds), in `model`
    ended_s: float | None = None  # seconds from the search's start to its last report (whole seconds: Tune's clock)

    @property
    def family(self) -> str:
        """The model family the trial fitted: its estimator, else its model type."""
        return self.model.get("estimator") or self.model["type"]


@dataclass
class TuneOutcome:
    metric: str
    mode: str
    trials: list[TrialResult]
    best: TrialResult
    seconds: float
    storage: str
    meta: dict[str, Any] = field(default_factory=dict)
    # trial id -> out_of_fold.Kept: the best trials' out-of-fold predictions, for a stacking ensemble's refit
    out_of_fold: dict[str, Any] = field(default_factory=dict)


def run(features: Any, split: Any, params: dict[str, Any]) -> TuneOutcome:
    """Run the search (trials are Ray actors within hardware limits) and pick the best trial."""
    from ray import tune

    from mlops.stages import out_of_fold
    from mlops.stages.trial import TrialData, resolve_folds, run_trial, validation_text

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: no progress tables in mlops' output
    # The budget is the whole search: when it runs out, Tune stops every trial, and a trial in the middle of
    # a fit is killed after this grace instead of being awaited (Tune's default waits up to 600 s).
    os.environ["TUNE_FORCE_TRIAL_CLEANUP_S"] = str(STOP_GRACE_S)
    data = TrialData(split.X_train, split.y_train, features.numeric, features.categorical)
    if params["model"]["type"] != "torch":  # an auto search's torch trials too: every family on the same rows
        params = {**params, "tuning": resolve_folds(params["tuning"], *split.X_train.shape)}
    elif params["tuning"].get("folds") == "auto":  # a torch model's search: epochs on one hold-out, unless it asks
        params = {**params, "tuning": {**params["tuning"], "folds": None}}
    params, left_out = without_large_families(params, len(split.X_train))
    tuning = params["tuning"]
    # The trials' wall-clock deadline (run time, not plan: the node's hash does not depend on when it ran).
    now = time.time()
    deadline = search_deadline(tuning, params.get("apply_started_at"), now)
    # only when the budget covers the apply
    refit = _refit_estimate(params, (len(split.X_test), split.X_train.shape[1])) if deadline else None
    clock = SearchClock() if refit is not None else None  # the trials stop when the stopper does
    resources = _tune_resources(params)
    store = out_of_fold.start(params)
    for_trials = {**params, "deadline": deadline, "threads": max(int(resources["cpu"]), 1),
                  "out_of_fold": store.name if store else None, "stop_key": clock.key if clock else None}
    trainable = tune.with_resources(tune.with_parameters(run_trial, data=data, params=for_trials),
                                    _per_family(resources, params))
    param_space, search_alg = _search(params)
    tune_config = tune.TuneConfig(
        metric=params["metric"], mode=params["mode"], search_alg=search_alg, scheduler=_scheduler(params),
        num_samples=1 if params["search"] == "grid" else params["trials"],
        max_concurrent_trials=params["max_concurrent_trials"],
        reuse_actors=True, trial_dirname_creator=lambda trial: trial.trial_id)
    run_config = tune.RunConfig(name=f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}", storage_path=params["storage"],
                                failure_config=tune.FailureConfig(max_failures=params["max_failures"]), verbose=0,
                                stop=_deadline_stopper(deadline, refit, shortest_search_end(tuning["time_budget_s"], now),
                                                       clock) if deadline else None,
                                callbacks=_result_files())
    start, started_at = time.perf_counter(), time.time()
    _quiet_budget_stops()
    try:
        with _TUNE_LOCK, _without_tensorboard():
            grid = tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config).fit()
    except BaseException:
        if store is not None:
            store.close()
        raise
    finally:
        if clock is not None:
            clock.close()
    seconds = time.perf_counter() - start
    kept = store.take() if store is not None else {}
    # In start order; a trial the budget ended before it was given a configuration has nothing to show.
    trials = [_trial(result, params, started_at) for result in grid if result.config or (result.metrics or {}).get("step")]
    short_budget = _left_for_the_search(tuning, started_at, deadline) if refit is not None else None
    # No worker is warmed for the refit here: it is submitted as this returns (the trials are logged beside
    # it), so a warming task only started a second worker beside the refit's own (measured: the refit began
    # 2.4 s after the search returned with it, 1.5 s without).
    best = best_trial(trials, params["metric"], params["mode"], short_budget)
    return TuneOutcome(params["metric"], params["mode"], trials, best,
                       seconds, str(grid.experiment_path),
                       meta={"cpus_per_trial": resources["cpu"], "validation": validation_text(tuning),
                             **({"left_out": left_out} if left_out else {})}, out_of_fold=kept)


def without_large_families(params: dict[str, Any], rows: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The tune params without the default families searched only up to fewer rows than the training split has
    (plan param row_limits), and why each was left out. Never every family: then all are kept."""
    over = {family: limit for family, limit in (params.get("row_limits") or {}).items()
            if rows > limit and family in params["space"]}
    if not over or len(over) == len(params["space"]):
        return params, {}
    space = {family: values for family, values in params["space"].items() if family not in over}
    start = [point for point in params.get("start") or [] if point["family"] not in over]
    why = {family: f"{rows:,} training rows, more than the {limit:,} it is searched on by default"
           for family, limit in over.items()}
    return {**params, "space": space, "start": start}, why


def _result_files() -> list[Any]:
    """Tune's CSV and JSON result files in each trial's folder, as Tune writes by default."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    return [CSVLoggerCallback(), JsonLoggerCallback()]


@contextmanager
def _without_tensorboard() -> Iterator[None]:
    """Tune adds a TensorBoard logger when tensorboardX is installed, and tensorboardX imports torch: 1-2 s of
    every search's driver, for event files nobody reads (a scikit-learn search then never loads torch).
    Tune's switch for its default loggers is read when the search starts, so it is set for the fit only (the
    CSV and JSON files are asked for by name: _result_files)."""
    name = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"
    before = os.environ.get(name)
    os.environ[name] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _quiet_budget_stops() -> None:
    """Tune logs every failed trial with its traceback, and Ray logs the error of each stopped trial's last call
    that nobody fetched ('Unhandled error', possibly after the search returned); a trial the time budget stopped
    is not a failure (the leaderboard shows it as stopped), so those records are dropped. Every other error is
    still logged. Installed once per process."""
    import logging

    def keep(record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return OutOfTime.MARK not in (str(error) if error is not None else record.getMessage())

    for name in ("ray.tune.execution.tune_controller", "ray._private.worker"):
        found = logging.getLogger(name)
        if not any(getattr(f, "mlops_budget_stops", False) for f in found.filters):
            keep.mlops_budget_stops = True  # type: ignore[attr-defined]
            found.addFilter(keep)


def search_deadline(tuning: dict[str, Any], apply_started_at: float | None, now: float) -> float | None:
    """When the search ends (wall clock), None without a budget: time_budget_s after it starts, or, when the
    budget covers the whole apply, time_budget_s after the apply started less what follows the search
    (AFTER_SEARCH_S; the refit is taken off as the search learns its cost: _deadline_stopper). A search
    always gets a tenth of the budget (at least a second), even when start-up took the rest."""
    budget = tuning.get("time_budget_s")
    if not budget:
        return None
    if tuning.get("time_budget_covers") == "apply" and apply_started_at is not None:
        return max(apply_started_at + budget - AFTER_SEARCH_S, shortest_search_end(budget, now))
    return now + budget


def shortest_search_end(budget: float, now: float) -> float:
    """The earliest a budgeted search that starts `now` ends: after a tenth of its budget, at least a second."""
    return now + max(0.1 * budget, 1.0)


class _RefitEstimate:
    """What refitting the best trial so far would take, from the results trials report: one fit's seconds
    times REFIT_MARGIN (the refit trains on every training row). A trial that reports its fits' seconds
    (FIT_SECONDS: the scikit-learn and boosting families) is taken at its word, since its own time also holds
    its worker's first imports. Otherwise one fit is a cross-validated trial's time over the folds it
    reported; a torch trial's steps are epochs of one fit, so for it the trial's whole time.
    With `ensemble` (model.ensemble), unless the best trial so far is a torch one (refitted alone), the refit
    is the ensemble of the best trials so far: each member's fit as many times as the method fits it (stacking:
    once, plus once per fold unless the search kept its out-of-fold predictions), with no margin; measured on
    friedman1, a stacking of five members that took 15.6 s was estimated at 23.5 s; on digits, a stacking of
    five took 17.7 s computing its members' out-of-fold predictions and 3.0 s given them.
    With `evaluated` (the test split's rows and the input columns), what the refitted model's evaluation costs
    beyond the share of it in AFTER_SEARCH_S is added (_evaluation_seconds), from the seconds per row that the
    trials' predictions took (PREDICT_SECONDS)."""

    def __init__(self, metric: str, mode: str, per_fold: bool, torch_model: bool, ensemble: dict[str, Any] | None = None,
                 out_of_fold_given: bool = False, evaluated: tuple[int, int] | None = None):
        self.metric, self.mode, self.per_fold, self.torch_model = metric, mode, per_fold, torch_model
        self.ensemble, self.out_of_fold_given, self.evaluated = ensemble, out_of_fold_given, evaluated
        # trial id -> (its score, one fit's seconds, torch, its predictions' seconds per row)
        self.trials: dict[str, tuple[float, float, bool, float]] = {}

    def add(self, trial_id: str, result: dict[str, Any]) -> None:
        score, seconds = result.get(self.metric), result.get("time_total_s")
        if _finite(score) and _finite(seconds):
            torch = self.torch_model or (result.get("config") or {}).get("estimator") == "torch"
            per_row = float(result[PREDICT_SECONDS]) if _finite(result.get(PREDICT_SECONDS)) else 0.0
            if _finite(result.get(FIT_SECONDS)) and not torch:
                self.trials[trial_id] = (float(score), float(result[FIT_SECONDS]), torch, per_row)
                return
            fits = max(int(result.get("training_iteration") or 1), 1) if self.per_fold and not torch else 1
            self.trials[trial_id] = (float(score), float(seconds) / fits, torch, per_row)

    def seconds(self) -> float:
        if not self.trials:
            return 0.0
        ranked = sorted(self.trials.values(), key=lambda entry: entry[0], reverse=self.mode == "max")
        if self.ensemble and not ranked[0][2]:  # a torch best is refitted alone (train_best)
            from mlops.models.ensembles import fits_per_member

            # members are estimator trials (a torch trial is never one), as ensemble_section picks them
            members = [entry for entry in ranked if not entry[2]][:int(self.ensemble["top_k"])]
            if len(members) >= 2:  # no margin: a trial's fit seconds hold its scoring and ran on fewer threads
                fits = sum(entry[1] for entry in members) * fits_per_member(self.ensemble["method"], self.out_of_fold_given)
                return fits + self._evaluation_seconds(sum(entry[3] for entry in members))
        return ranked[0][1] * REFIT_MARGIN + self._evaluation_seconds(ranked[0][3])

    def _evaluation_seconds(self, per_row: float) -> float:
        """Evaluation's cost beyond AFTER_SEARCH_S for a model predicting `per_row` seconds a row: permutation
        importance keeps to PREDICT_BUDGET_S seconds of predictions (within AFTER_SEARCH_S) down to its floor of
        MIN_ROWS test rows x MIN_REPEATS shuffles of each column; a model slower than that costs the floor (on
        digits, a stacking of five that predicted 0.18 ms a row on one CPU: 7 s, 4 s past the budget)."""
        from mlops.explain.importance import MIN_REPEATS, MIN_ROWS, PREDICT_BUDGET_S

        if self.evaluated is None:
            return 0.0
        rows, columns = self.evaluated
        return max(min(rows, MIN_ROWS) * MIN_REPEATS * columns * per_row - PREDICT_BUDGET_S, 0.0)


def _refit_estimate(params: dict[str, Any], evaluated: tuple[int, int]) -> _RefitEstimate | None:
    """A refit estimate when the budget covers the whole apply, else None (the refit comes after the budget).
    `evaluated`: the test split's rows and the input columns."""
    from mlops.stages import out_of_fold

    tuning = params["tuning"]
    if tuning.get("time_budget_covers") != "apply" or params.get("apply_started_at") is None:
        return None
    return _RefitEstimate(params["metric"], params["mode"], per_fold=bool(tuning.get("folds")),
                          torch_model=params["model"]["type"] == "torch", ensemble=params["model"].get("ensemble"),
                          out_of_fold_given=out_of_fold.wanted(params), evaluated=evaluated)


def _deadline_stopper(deadline: float, refit: _RefitEstimate | None = None, earliest: float = 0.0,
                      clock: SearchClock | None = None) -> Any:
    """Ends the experiment at the trials' wall-clock deadline, and, with `refit`, early enough for the refit of
    the best trial so far to fit before it, never before `earliest` (the shortest search); `clock` gets that
    stop time for the trials, which give up their fits then (Tune's end would wait for them). (Tune's own
    time_budget_s counts from its loop's start, seconds after the deadline was set: start-up would be added to
    the budget.)"""
    from ray.tune.stopper import Stopper

    class Deadline(Stopper):
        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            if refit is not None:
                refit.add(trial_id, result)
            return False

        def stop_all(self) -> bool:
            stop_at = max(deadline - (refit.seconds() if refit is not None else 0.0), earliest)
            if clock is not None:
                clock.publish(stop_at)
            return time.time() >= stop_at

    return Deadline()


def train_best(features: Any, split: Any, outcome: TuneOutcome, params: dict[str, Any]) -> Any:
    """The best trial's model section, fitted on the whole training split (the Ray task of `train`)."""
    from mlops.models.ensembles import can_be_member, combination_of, ensemble_section
    from mlops.stages import out_of_fold, train

    ensemble = params["model"].get("ensemble")
    # A torch trial is no member: when one is the best, an ensemble of the others would register a model
    # without it (on clf_20k_40: roc_auc 0.9731 where the torch trial alone reached 0.984), so it is refitted alone.
    best_is_member = can_be_member(outcome.best.model)
    section = ensemble_section(outcome.trials, outcome.metric, outcome.mode, params["model"]["task"], ensemble,
                               params["features"]["scale"]) if ensemble and best_is_member else None
    # a stacking learns from its members' out-of-fold predictions: those the search kept need no fits again
    given = out_of_fold.for_members(getattr(outcome, "out_of_fold", {}), section["members_from_trials"], split.y_train) \
        if section is not None and section["estimator"] == "stacking" else None
    trained = train.run(features, split, {**params, "model": section or outcome.best.model},
                        {"out_of_fold": given} if given else None)
    trained.meta["tuned"] = {"trial_id": outcome.best.trial_id, "params": outcome.best.params,
                             "validation": {outcome.metric: outcome.best.metrics.get(outcome.metric)},
                             **({"fitted": outcome.best.fitted} if outcome.best.fitted else {})}
    if section is not None:
        trained.meta["tuned"]["ensemble"] = {"method": ensemble["method"], "members": section["members_from_trials"],
                                             **combination_of(trained.model, section["members_from_trials"])}
    elif ensemble and not best_is_member:
        trained.meta["tuned"]["ensemble"] = {"method": ensemble["method"], "members": [],
                                             "alone": f"the best trial, {outcome.best.family}, cannot be a member"}
    return trained


def _left_for_the_search(tuning: dict[str, Any], started_at: float, deadline: float | None) -> str | None:
    """Why a search whose budget covers the whole apply may have ended before any trial finished (None when
    its budget is its own)."""
    if tuning.get("time_budget_covers") != "apply" or deadline is None:
        return None
    return (f"tuning.time_budget_s: the apply's {tuning['time_budget_s']:g} s left the search "
            f"{max(deadline - started_at, 0.0):.1f} s after start-up and the {AFTER_SEARCH_S:g} s kept for what follows "
            f"it (tuning.time_budget_covers: apply); raise time_budget_s, or set time_budget_covers: search")


def best_trial(trials: list[TrialResult], metric: str, mode: str, short_budget: str | None = None) -> TrialResult:
    """Best finished trial; trials a scheduler stopped early only count when none finished every step.
    `short_budget`: why the budget may have left no time for a trial, said when none produced the metric."""
    scored = [t for t in trials if t.status == "ok" and _finite(t.metrics.get(metric))]
    if not scored:
        scored = [t for t in trials if _finite(t.metrics.get(metric))]
    if not scored:
        errors = [t.error for t in trials if t.error]
        detail = (f"; first error: {errors[0]}" if errors else
                  f": {short_budget}" if short_budget else " (time budget too small for one trial?)")
        raise MlopsError(f"no tuning trial produced {metric} ({len(trials)} trials){detail}")
    return (max if mode == "max" else min)(scored, key=lambda t: t.metrics[metric])


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _trial(result: Any, params: dict[str, Any], started_at: float | None = None) -> TrialResult:
    metrics = dict(result.metrics or {})
    config = {k: v.item() if hasattr(v, "item") else v for k, v in (result.config or {}).items()}  # numpy -> JSON-able
    trial_id = metrics.get("trial_id") or os.path.basename(str(result.path))
    scored = {k: float(v) for k, v in metrics.items() if _finite(v) and (k in METRICS or k == "loss")}
    steps = int(metrics.get("step") or 0)
    fitted = {k.removeprefix(FITTED): int(round(v)) for k, v in metrics.items() if k.startswith(FITTED) and _finite(v)}
    if result.error is not None and OutOfTime.MARK in str(result.error):
        status, error = "stopped", None  # the budget ran out during a fit: the folds it finished still count
    elif result.error is not None:
        status, error = "error", _first_line(result.error)
    elif params["metric"] not in scored:
        status, error = "stopped", None
    else:
        status = error = None  # decided by the steps it reported, below
    section = model_section(params["model"], config)
    if status is None:
        status, error = ("ok" if steps >= steps_total(params, section) else "stopped"), None
    for name, value in fitted.items():  # the refit boosts as many rounds (trains as many epochs) as the trial kept
        set_dotted(section, name if "." in name else f"params.{name}", value)
    reported_at = metrics.get("timestamp")
    ended = max(float(reported_at) - started_at, 0.0) if reported_at and started_at else None
    return TrialResult(trial_id, trial_params(config), section, scored, status,
                       float(metrics.get("time_total_s") or 0.0), steps, error, fitted, ended)


def _first_line(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return text[-1][:300] if text else type(cause).__name__


def _tune_resources(params: dict[str, Any]) -> dict[str, float]:
    res = params.get("trial_resources") or {}
    out = {"cpu": res.get("CPU", 1.0)}
    if res.get("GPU"):
        out["gpu"] = res["GPU"]
    elif params["model"]["type"] != "torch" and params["tuning"].get("cpus_per_trial", "auto") == "auto":
        out["cpu"] = auto_cpus(_largest_node_cpus(), out["cpu"], params["max_concurrent_trials"])
    if res.get("memory_gb"):
        out["memory"] = res["memory_gb"] * 1e9
    out.update(_custom_resources(res))
    return out


def _custom_resources(res: dict[str, float]) -> dict[str, float]:
    """A trial's resources other than CPU, GPU and memory: hardware.resources_per_task."""
    return {name: amount for name, amount in res.items() if name not in ("CPU", "GPU", "memory_gb")}


def _per_family(resources: dict[str, float], params: dict[str, Any]) -> Any:
    """What each trial asks for: in an auto search with GPUs, only the families that train on them (torch) hold
    one; a forest's trial would keep a GPU idle that a network could use."""
    on_gpu = set(_epoch_families(params)) if params["model"]["type"] == "auto" and resources.get("gpu") else None
    if not on_gpu or on_gpu == set(params["space"]):
        return resources
    from ray.tune.execution.placement_groups import resource_dict_to_pg_factory

    from mlops.stages.search_space import FAMILY_KEY

    with_gpu = resource_dict_to_pg_factory(resources)
    without = resource_dict_to_pg_factory({name: amount for name, amount in resources.items() if name != "gpu"})
    return lambda config: with_gpu if config.get(FAMILY_KEY) in on_gpu else without


def auto_cpus(node_cpus: float, reserved: float, max_concurrent: int | None) -> float:
    """cpus_per_trial: auto. At most AUTO_TRIALS_AT_ONCE trials (or max_concurrent_trials) at once, each with an
    equal share of a node's CPUs as its threads: on 2 CPUs two 1-CPU trials, on 16 four 4-CPU trials."""
    at_once = max_concurrent or min(AUTO_TRIALS_AT_ONCE, max(int(node_cpus // reserved), 1))
    return float(min(max(math.ceil(node_cpus / at_once), reserved), max(node_cpus, reserved)))


def _largest_node_cpus() -> float:
    import ray

    return max((node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node.get("Alive")), default=1.0)


def _search(params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from mlops.stages.search_space import OptunaSpace, first_configs, ray_param_space

    auto, space, seed = params["model"]["type"] == "auto", params["space"], params["tuning"]["seed"]
    first = first_configs(params.get("start") or [], auto)  # cheap configurations first, then the search's own
    if params["search"] == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        return {}, OptunaSearch(OptunaSpace(space, auto), metric=params["metric"], mode=params["mode"],
                                points_to_evaluate=first or None, sampler=_tpe(seed))
    grid = params["search"] == "grid"
    return ray_param_space(space, auto, grid), BasicVariantGenerator(points_to_evaluate=first or None, random_state=seed)


def _tpe(seed: int) -> Any:
    """TPE that models the family and its parameters jointly (group: each family's keys apart), and with
    constant_liar, so that trials running at once are not handed the same proposal."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)


def _scheduler(params: dict[str, Any]) -> Any:
    """ASHA on the reported steps (scheduler: asha). In an auto search each family has its own, and a torch
    family is always stopped early on its epochs, whatever tuning.scheduler says (its trials are the longest)."""
    from mlops.stages.family_scheduler import FamilyScheduler, asha

    if params["model"]["type"] == "auto":
        max_steps = {family: steps_total(params) for family in params["space"]} if params["scheduler"] == "asha" else {}
        max_steps.update(_epoch_families(params))
        return FamilyScheduler(max_steps, params["metric"], params["mode"]) if max_steps else None
    if params["scheduler"] != "asha":
        return None
    max_t = params["model"].get("training", {}).get("epochs") if params["model"]["type"] == "torch" else None
    return asha(max_t or steps_total(params))


def _epoch_families(params: dict[str, Any]) -> dict[str, int]:
    """auto: the families whose trials report epochs (torch), and each one's epochs."""
    from mlops.stages.search_space import FAMILY_KEY

    found = {}
    for family, space in params["space"].items():
        section = model_section(params["model"], {FAMILY_KEY: family})
        if section["type"] != "torch":
            continue
        epochs = [(section.get("training") or {}).get("epochs") or 1]
        if "training.epochs" in space:  # a searched epoch count: ASHA's last rung is the largest it can draw
            (_, args), = space["training.epochs"].items()
            epochs += [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        found[family] = int(max(epochs))
    return found
