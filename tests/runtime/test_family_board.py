"""The search's families side by side: each family's best trial (finished trials before stopped ones), its trial
count and time, logged on the apply's run as an artifact and as metrics that `mlops models` reads back."""
from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console

from mlops import tracking_tags
from mlops.cli.registry import family_table
from mlops.registry import Registry
from mlops.runtime.tune_runs import (families_from_metrics, family_board, family_metrics, log_trials,
                                     version_families)
from mlops.stages.tune import TrialResult, TuneOutcome


def _trial(i: int, family: str, score: float | None, status: str = "ok", seconds: float = 1.0) -> TrialResult:
    metrics = {} if score is None else {"rmse": score}
    return TrialResult(f"t{i}", {"estimator": family}, {"type": "sklearn", "estimator": family}, metrics, status, seconds, 1)


def _outcome() -> TuneOutcome:
    trials = [_trial(0, "ridge", 3.0), _trial(1, "lightgbm", 2.0, seconds=2.5), _trial(2, "lightgbm", 1.5, "stopped"),
              _trial(3, "xgboost", 2.2), _trial(4, "lightgbm", 1.9, seconds=0.5), _trial(5, "knn", None, "stopped")]
    return TuneOutcome("rmse", "min", trials, trials[4], 10.0, "/tmp/tune")


def test_each_family_shows_its_best_finished_trial_best_family_first():
    board = family_board(_outcome())
    assert list(board["family"]) == ["lightgbm", "xgboost", "ridge", "knn"]  # rmse: lower first; no score last
    lightgbm = board.iloc[0]
    assert lightgbm["best rmse"] == 1.9 and lightgbm["best trial"] == "t4"  # t2's 1.5 was scored on fewer rows
    assert (lightgbm["trials"], lightgbm["finished"], lightgbm["seconds"]) == (3, 2, 4.0)
    assert board["trials"].sum() == 6


def test_the_board_survives_the_trip_through_run_metrics():
    metrics = family_metrics(family_board(_outcome()), "rmse")
    assert metrics["tune.family.lightgbm.best_rmse"] == 1.9 and "tune.family.knn.best_rmse" not in metrics
    rows = families_from_metrics({**metrics, "tune.seconds": 10.0, "rmse": 2.0})
    assert [r["family"] for r in rows] == ["lightgbm", "xgboost", "ridge", "knn"]
    assert rows[0] == {"family": "lightgbm", "best": 1.9, "trials": 3, "seconds": 4.0, "metric": "rmse"}


def test_the_apply_run_carries_the_board_and_the_cli_marks_the_best_trials_family(tracking_uri):
    registry = Registry(tracking_uri)
    run_id = registry.start_run("search")
    log_trials(registry, run_id, "search", _outcome())
    run = registry.client.get_run(run_id)
    assert run.data.tags[tracking_tags.TUNE_BEST_FAMILY] == "lightgbm"
    artifacts = {a.path for a in registry.client.list_artifacts(run_id, "tune")}
    assert {"tune/families.csv", "tune/families.md"} <= artifacts
    rows = version_families(registry, SimpleNamespace(run_id=run_id))  # what `mlops models` shows of a version
    assert [r["family"] for r in rows if r["winner"]] == ["lightgbm"]
    console = Console(width=160, record=True)
    console.print(family_table("3", rows))
    text = console.export_text()
    assert "search that produced v3" in text and "lightgbm (best trial)" in text and "1.9000" in text
    assert "knn" in text and "-" in text.split("knn")[1].splitlines()[0]  # a family with no score shows a dash
