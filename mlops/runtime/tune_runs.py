"""Driver side of tuning: every trial as an MLflow child run, and the leaderboard on the parent run.

Trials never write to MLflow themselves (SQLite takes one writer); they report to Tune, and this
module logs what came back, from the one driver process.
"""
from __future__ import annotations

import io
from concurrent.futures import Future
from typing import Any

from mlops import tracking_tags
from mlops.metrics import METRICS
from mlops.stages.tune import TuneOutcome


def tune_in_driver(registry: Any, run_id: str, experiment: str, node: Any, inputs: dict[str, Any],
                   apply_started_at: float | None = None) -> tuple[TuneOutcome, Future]:
    """The tune node: Tuner.fit() from the driver; then every trial is logged as a child of the apply's run by a
    thread of the driver (the future: the logging's seconds) while the refit of the best trial already runs on
    the cluster (three writes of the store per trial: on SQLite, seconds for a hundred trials, which a budget
    covering the whole apply would otherwise lose). `apply_started_at` (run time, not a plan param): where a
    budget covering the whole apply counts from."""
    from concurrent.futures import ThreadPoolExecutor

    from mlops.stages import tune

    outcome = tune.run(**inputs, params={**node.call_params(), "apply_started_at": apply_started_at})
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-trial-logging")
    logging = pool.submit(_log_timed, registry, run_id, experiment, outcome)
    pool.shutdown(wait=False)  # the thread ends with its one job
    return outcome, logging


def _log_timed(registry: Any, run_id: str, experiment: str, outcome: TuneOutcome) -> float:
    """log_trials, and its seconds (reported apart from the search's own time); it never raises."""
    import time

    started = time.perf_counter()
    log_trials(registry, run_id, experiment, outcome)
    seconds = time.perf_counter() - started
    _try(registry.log_metrics, run_id, {"tune.logging_seconds": seconds})
    return seconds


def best_node(node: Any, outcome: TuneOutcome) -> Any:
    """The train node with the best trial's model section (for trainings that run in the driver)."""
    from dataclasses import replace

    return replace(node, kind=node.params["base_kind"], params={**node.params, "model": outcome.best.model})


def log_trials(registry: Any, run_id: str, experiment: str, outcome: TuneOutcome) -> list[str | None]:
    """One child run per trial (tag mlflow.parentRunId = run_id); returns their run ids in trial order.

    The search has already been paid for: a trial or summary MLflow refuses is recorded as not logged
    (a tag naming why, and a warning), never an error that throws the search away."""
    child_ids = [_log_trial(registry, run_id, experiment, rank, trial) for rank, trial in enumerate(outcome.trials)]
    unlogged = sum(child is None for child in child_ids)
    try:
        _log_summary(registry, run_id, outcome, child_ids[outcome.trials.index(outcome.best)])
    except Exception as exc:  # noqa: BLE001  (MLflow's store errors have no common base beyond Exception)
        _warn(f"the search's summary was not logged to MLflow: {_first_line(exc)}")
    if unlogged:
        _try(registry.set_tags, run_id, {tracking_tags.TUNE_UNLOGGED: unlogged})
    return child_ids


def _log_trial(registry: Any, run_id: str, experiment: str, rank: int, trial: Any) -> str | None:
    """Log one trial as a child run; None (and a warning) when MLflow refuses it."""
    from mlops.dotted import flatten

    child = None
    try:
        child = registry.start_run(experiment, run_name=f"trial-{rank:03d}-{trial.family}", parent_run_id=run_id,
                                   tags={tracking_tags.TRIAL_ID: trial.trial_id, tracking_tags.TRIAL_STATUS: trial.status,
                                         tracking_tags.TRIAL_FAMILY: trial.family, tracking_tags.SCORED_ON: "validation part of the train split",
                                         **({tracking_tags.TRIAL_ERROR: trial.error} if trial.error else {})})
        fitted = {f"fitted.{name}": value for name, value in trial.fitted.items()}  # e.g. the boosting rounds kept
        registry.log_batch(child, {**flatten(trial.params), "estimator": trial.family, **fitted},
                           {**trial.metrics, "seconds": trial.seconds, "steps": trial.steps})
        registry.end_run(child, ok=trial.status != "error")
        return child
    except Exception as exc:  # noqa: BLE001  (see log_trials)
        reason = _first_line(exc)
        _warn(f"trial {trial.trial_id} ({trial.family}) was not logged to MLflow: {reason}")
        if child is not None:
            _try(registry.set_tags, child, {tracking_tags.TRIAL_LOG_ERROR: reason})
            _try(registry.end_run, child, ok=False)
        return None


def _network(model: dict[str, Any]) -> dict[str, Any]:
    """A torch winner's network as the refit builds it: its hidden layers' widths (a search samples a shape,
    depth/width/shrink) and the epochs its trial kept."""
    if model.get("type") != "torch":
        return {}
    epochs = (model.get("training") or {}).get("epochs")
    return {"tune.best.architecture.hidden": (model.get("architecture") or {}).get("hidden"),
            **({"tune.best.training.epochs": epochs} if epochs else {})}


def _log_summary(registry: Any, run_id: str, outcome: TuneOutcome, best_child: str | None) -> None:
    """The parent run's tags, best params and metrics, and the leaderboard artifacts."""
    from mlops.dotted import flatten

    best = outcome.best
    registry.set_tags(run_id, {tracking_tags.TUNE_TRIALS: len(outcome.trials), tracking_tags.TUNE_BEST_TRIAL: best.trial_id,
                               tracking_tags.TUNE_BEST_FAMILY: best.family, tracking_tags.TUNE_STORAGE: outcome.storage,
                               **({tracking_tags.TUNE_BEST_CHILD_RUN: best_child} if best_child else {})})
    registry.log_params(run_id, {**{f"tune.best.{k}": v for k, v in flatten(best.params).items()}, **_network(best.model),
                                 **({"tune.validation": outcome.meta["validation"]} if "validation" in outcome.meta else {})})
    families = family_board(outcome)
    sizing = {"tune.cpus_per_trial": outcome.meta["cpus_per_trial"]} if "cpus_per_trial" in outcome.meta else {}
    registry.log_metrics(run_id, {f"tune.best_validation_{outcome.metric}": best.metrics[outcome.metric],
                                  "tune.seconds": outcome.seconds, "tune.trials": len(outcome.trials), **sizing,
                                  **family_metrics(families, outcome.metric)})
    board = leaderboard(outcome)
    registry.log_text(run_id, board.to_csv(index=False), "tune/leaderboard.csv")
    registry.log_text(run_id, markdown(board), "tune/leaderboard.md")
    registry.log_text(run_id, families.to_csv(index=False), "tune/families.csv")
    registry.log_text(run_id, markdown(families), "tune/families.md")
    registry.log_bytes(run_id, leaderboard_plot(outcome), "tune/leaderboard.png")


def _try(write: Any, *args: Any, **kwargs: Any) -> None:
    """A best-effort MLflow write that records a failure already being reported."""
    try:
        write(*args, **kwargs)
    except Exception:  # noqa: BLE001,S110  (the original failure is what gets reported)
        pass


def _warn(message: str) -> None:
    import warnings

    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]


def leaderboard(outcome: TuneOutcome):
    """Trials best first (finished ones before stopped ones): rank, family, metric, steps, seconds, status, values."""
    import pandas as pd

    rows = [{"trial": t.trial_id, "family": t.family, outcome.metric: t.metrics.get(outcome.metric),
             "steps": t.steps, "seconds": round(t.seconds, 2), "status": t.status,
             "params": ", ".join(f"{k}={_short(v)}" for k, v in t.params.items() if k != "estimator")}
            for t in outcome.trials]
    frame = pd.DataFrame(rows)
    # Finished trials first: a trial the scheduler stopped early scored fewer folds/epochs, not comparable.
    frame["_finished"] = frame["status"] == "ok"
    frame = frame.sort_values(["_finished", outcome.metric], ascending=[False, outcome.mode == "min"], na_position="last",
                              kind="stable").drop(columns="_finished")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


FAMILY_METRIC = "tune.family."  # tune.family.<family>.best_<metric> | .trials | .seconds, on the apply's run


def family_board(outcome: TuneOutcome):
    """Every family's best trial side by side, best family first: its score, trials run (and finished), the
    seconds its trials took, and that trial's id. A family's best counts finished trials before stopped ones."""
    import pandas as pd

    rows = []
    for family in dict.fromkeys(t.family for t in outcome.trials):
        tried = [t for t in outcome.trials if t.family == family]
        scored = [t for t in tried if t.status == "ok" and outcome.metric in t.metrics] or \
            [t for t in tried if outcome.metric in t.metrics]
        best = (max if outcome.mode == "max" else min)(scored, key=lambda t: t.metrics[outcome.metric]) if scored else None
        rows.append({"family": family, f"best {outcome.metric}": best.metrics[outcome.metric] if best else None,
                     "trials": len(tried), "finished": sum(t.status == "ok" for t in tried),
                     "seconds": round(sum(t.seconds for t in tried), 2), "best trial": best.trial_id if best else ""})
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(f"best {outcome.metric}", ascending=outcome.mode == "min", na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def family_metrics(families: Any, metric: str) -> dict[str, float]:
    """The family board as metrics of the apply's run (what `mlops models` reads back: no artifact download)."""
    import pandas as pd

    found = {}
    for row in families.to_dict("records"):
        prefix = f"{FAMILY_METRIC}{row['family']}."
        found.update({prefix + "trials": row["trials"], prefix + "seconds": row["seconds"]})
        if pd.notna(row[f"best {metric}"]):  # a family whose every trial was stopped before it scored has none
            found[f"{prefix}best_{metric}"] = row[f"best {metric}"]
    return found


def families_from_metrics(metrics: dict[str, float]) -> list[dict[str, Any]]:
    """The family board back from a run's metrics (family_metrics' inverse), best family first."""
    rows: dict[str, dict[str, Any]] = {}
    metric = None
    for key, value in metrics.items():
        if key.startswith(FAMILY_METRIC):
            family, _, name = key[len(FAMILY_METRIC):].rpartition(".")
            row = rows.setdefault(family, {"family": family, "best": None, "trials": 0, "seconds": 0.0})
            if name.startswith("best_"):
                row["best"], metric = value, name.removeprefix("best_")
            elif name in ("trials", "seconds"):
                row[name] = int(value) if name == "trials" else value
    greater = METRICS[metric].greater_is_better if metric in METRICS else True
    scored = sorted((r for r in rows.values() if r["best"] is not None), key=lambda r: r["best"], reverse=greater)
    return [{**r, "metric": metric} for r in scored + [r for r in rows.values() if r["best"] is None]]


def version_families(registry: Any, version: Any) -> list[dict[str, Any]]:
    """The family board of the search that produced model `version` (empty when its run did not search)."""
    if not version.run_id:
        return []
    run = registry.client.get_run(version.run_id).data
    winner = run.tags.get(tracking_tags.TUNE_BEST_FAMILY)
    return [{**row, "winner": row["family"] == winner} for row in families_from_metrics(run.metrics)]


def markdown(frame: Any) -> str:
    """A GitHub-style table (pandas' to_markdown needs tabulate, which mlops does not depend on)."""
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def leaderboard_plot(outcome: TuneOutcome) -> bytes:
    """Metric per trial in trial order, coloured by family, the best marked; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    families = sorted({t.family for t in outcome.trials})
    for family in families:
        points = [(i, t.metrics[outcome.metric]) for i, t in enumerate(outcome.trials)
                  if t.family == family and outcome.metric in t.metrics]
        if points:
            ax.scatter(*zip(*points), label=family, s=30)
    best_at = outcome.trials.index(outcome.best)
    ax.scatter([best_at], [outcome.best.metrics[outcome.metric]], s=160, facecolors="none", edgecolors="black", label="best")
    ax.set_xlabel("trial (start order)")
    ax.set_ylabel(f"validation {outcome.metric}")
    ax.set_title(f"{len(outcome.trials)} trials, best {outcome.best.family} {outcome.best.metrics[outcome.metric]:.4f}")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4f}"
    return str(value).replace("|", "\\|")
