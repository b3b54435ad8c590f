"""Scheduled scoring on a real champion in a temp MLflow store: one output per due run, each new file scored
once across a restart (the ledger is read back from disk), the version beside each output, bad schedules
named. Scoring uses the local executor (no Ray); only the one apply that registers the champion runs on Ray.
The clock is passed as `now`, so nothing sleeps."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from conftest import write_spec
from mlops import api
from mlops.errors import DataError, SpecError
from mlops.monitoring.scheduled_scoring import dated_output, ledger_path, score_due, scoring_duty

pytestmark = pytest.mark.slow

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
SPEC = """
name: shop
data: {{source: {{type: sklearn, name: iris}}, target: target}}
model: {{task: classification, type: sklearn, estimator: logistic_regression, params: {{max_iter: 300}}}}
serving:
  mode: batch
  batch: {{input: "incoming/*.csv", output: out/predictions.parquet, executor: local, schedule: {schedule}{extra}}}
tracking: {{uri: "{uri}"}}
"""
COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


@pytest.fixture(scope="module")
def shop(ray_local, tmp_path_factory):
    """A champion registered by one apply (a scheduled batch is not scored by apply)."""
    root = tmp_path_factory.mktemp("scheduled")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    spec = write_spec(root, SPEC.format(schedule="{every: 1m}", extra="", uri=uri))
    result = api.apply(spec)
    assert result.version == "1" and not (root / "out").exists()
    return {"root": root, "uri": uri}


@pytest.fixture
def project(shop):
    """A fresh inbox and ledger for each test, same champion."""
    root = shop["root"]
    for folder in (root / "incoming", root / "out", root / "scheduled-scoring"):
        shutil.rmtree(folder, ignore_errors=True)
    (root / "incoming").mkdir()

    def load(schedule: str = "{every: 1m}", extra: str = ""):
        spec = write_spec(root, SPEC.format(schedule=schedule, extra=extra, uri=shop["uri"]))
        return api.load(spec, check_data=False)

    return load


def arrive(root, name: str, rows: int, seed: int, **broken) -> pd.DataFrame:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.sample(rows, random_state=seed).iloc[:, :4]
    frame.columns = COLUMNS
    for column, value in broken.items():
        frame[column] = frame[column].astype(object)
        frame.iloc[0, frame.columns.get_loc(column)] = value
    frame.to_csv(root / "incoming" / name, index=False)
    return frame


def test_each_new_file_is_scored_once_per_due_run_across_a_restart(shop, project):
    root = shop["root"]
    shop_project = project()
    assert score_due(shop_project, now=T0) == []  # due (never ran), nothing has arrived yet
    arrive(root, "a.csv", 20, 1)
    arrive(root, "b.csv", 30, 2)
    assert score_due(shop_project, now=T0 + 30) == []  # arrived, but the next run is at T0 + 1m
    (first,) = score_due(shop_project, now=T0 + 61)
    assert first.rows == 50 and first.version == "1" and [p.rsplit("/", 1)[1] for p in first.files] == ["a.csv", "b.csv"]
    assert first.output == str(root / "out" / "predictions-2027-01-15T0801.parquet")
    scored = pd.read_parquet(first.output)
    assert len(scored) == 50 and set(scored["model_version"]) == {"1"} and "proba_0" in scored.columns
    sidecar = json.loads((root / "out" / "predictions-2027-01-15T0801.json").read_text())
    assert sidecar["version"] == "1" and sidecar["alias"] == "champion" and sidecar["rows"] == 50
    assert sidecar["schedule"] == "every 1m" and len(sidecar["inputs"]) == 2

    arrive(root, "c.csv", 10, 3)
    restarted = project()  # a restarted controller: a new project, the ledger read back from disk
    (second,) = score_due(restarted, now=T0 + 10 * 60 + 5)  # 9 missed runs collapse into one
    assert second.rows == 10 and [p.rsplit("/", 1)[1] for p in second.files] == ["c.csv"]
    assert second.scheduled == T0 + 10 * 60  # anchored at the first run: T0 + k minutes
    assert score_due(restarted, now=T0 + 11 * 60) == []  # due, nothing new: no output
    assert sorted(p.name for p in (root / "out").glob("*.parquet")) == [
        "predictions-2027-01-15T0801.parquet", "predictions-2027-01-15T0810.parquet"]
    ledger = json.loads(ledger_path(restarted).read_text())
    assert len(ledger["files"]) == 3 and ledger["last"] == T0 + 11 * 60


def test_a_file_rewritten_in_place_is_new_again(shop, project):
    root = shop["root"]
    load = project()
    arrive(root, "a.csv", 20, 1)
    assert len(score_due(load, now=T0)) == 1
    arrive(root, "a.csv", 25, 4)  # same path, new size
    (again,) = score_due(load, now=T0 + 60)
    assert again.rows == 25


def test_the_controller_duty_returns_one_record_per_output(shop, project):
    arrive(shop["root"], "a.csv", 5, 1)
    (record,) = scoring_duty(project(), {}, T0)
    assert record["kind"] == "mlops.batch.scored" and record["version"] == "1" and "decision" not in record
    assert record["output"].endswith("predictions-2027-01-15T0800.parquet") and "scored 5 rows" in record["message"]
    assert scoring_duty(project(), {}, T0 + 1) == []


def test_the_input_contract_and_on_error_apply(shop, project):
    root = shop["root"]
    arrive(root, "bad.csv", 10, 1, petal_width_cm="wide")
    with pytest.raises(DataError, match="petal_width_cm"):
        score_due(project(), now=T0)
    assert not list((root / "out").glob("*.parquet"))
    # the failed file stays unscored: the next due run with on_error: skip scores it, minus its bad row
    (skipped,) = score_due(project(extra=", on_error: skip"), now=T0 + 60)
    assert skipped.rows == 9 and skipped.skipped == 1


def test_a_cron_schedule_runs_at_its_times(shop, project):
    root = shop["root"]
    arrive(root, "a.csv", 5, 1)
    cron = project("'0 6 * * *'")  # 06:00 UTC every day
    assert len(score_due(cron, now=T0)) == 1  # never ran: due now
    arrive(root, "b.csv", 5, 2)
    assert score_due(cron, now=T0 + 3600) == []  # 09:00: the next run is tomorrow 06:00
    (run,) = score_due(cron, now=T0 + 23 * 3600)  # 2027-01-16 07:00
    assert run.output.endswith("predictions-2027-01-16T0600.parquet")


def test_schedules_are_checked_where_the_spec_names_them(tmp_path):
    def problems(schedule: str) -> str:
        spec = write_spec(tmp_path, SPEC.format(schedule=schedule, extra="", uri=f"sqlite:///{tmp_path}/m.db"))
        with pytest.raises(SpecError) as error:
            api.validate(spec)
        return str(error.value)

    assert "serving.batch.schedule" in problems("'0 25 * * *'") and "not a cron string" in problems("'0 25 * * *'")
    assert "serving.batch.schedule" in problems("{every: soon}")
    assert "exactly one of" in problems("{every: 1d, cron: '0 6 * * *'}")
    fine = write_spec(tmp_path, SPEC.format(schedule="'*/15 * * * *'", extra="", uri=f"sqlite:///{tmp_path}/m.db"))
    assert api.validate(fine).spec.serving.batch.schedule.cron == "*/15 * * * *"  # an empty glob is no error


def test_dated_outputs_carry_seconds_only_for_sub_minute_schedules():
    from pathlib import Path

    from mlops.spec.batch_schedule import BatchSchedule

    out = Path("out/predictions.parquet")
    assert dated_output(out, T0, BatchSchedule(every="1d")).name == "predictions-2027-01-15T0800.parquet"
    assert dated_output(out, T0 + 5, BatchSchedule(every="30s")).name == "predictions-2027-01-15T080005.parquet"
