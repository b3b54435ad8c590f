"""One input contract for every path (mlops.models.input_contract, docs/serving.md#the-input-contract): the
same rows, edited the way users' data goes wrong, get the same answer from /predict, /invocations (JSON and
CSV), the Open Inference Protocol, batch scoring (`mlops predict --batch`) and `mlops check`: accepted with
the same predictions, or refused naming the same rows and columns in the same words.

One model (the messy housing table, target encoding for its 600-value zip code), trained, batch-scored and
deployed once by `apply`; every case goes down every path against it."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest

from conftest import delete_app, SERVE_PORT, wait_ready
from messy_data import messy_frame
from mlops import api
from mlops.errors import DataError

pytestmark = pytest.mark.slow

SPEC = """\
name: houses
defaults:
  - hardware: local_cpu
  - _self_
data:
  source: {type: csv, path: houses.csv}
  target: price
  id_column: house_id
  split: {method: random, test_size: 0.2, seed: 0}
features:
  high_cardinality: {encoding: target}
model:
  task: regression
  type: sklearn
  estimator: random_forest
  params: {n_estimators: 20, max_depth: 8, random_state: 0}
  metric: rmse
serving:
  mode: both
  batch: {input: houses.csv, output: out/scored.parquet}
  online: {route: /houses, port: PORT, auth: none}
tracking:
  uri: URI
"""
MISSING = "column is missing: it had no missing values in training, so it must be sent (a null is accepted and imputed)"
UNKNOWN = "not a column of the model's training data (it reads "


def edited(**changes):
    """A case's edit of the rows: {column: [value per row]} to set, {column: None} to leave the column out."""

    def edit(rows: list[dict]) -> list[dict]:
        out = [dict(row) for row in rows]
        for column, values in changes.items():
            for i, row in enumerate(out):
                if values is None:
                    row.pop(column, None)
                elif values[i] is not KEEP:
                    row[column] = values[i]
        return out

    return edit


KEEP = object()
# case: (edit of three rows copied from the training file, the answer: None = accepted, else the refused
# (row, column, message) of every path, row None for the whole column)
CASES = {
    "a row of the training file, its ignored columns included": (edited(), None),
    "a column left out that had missing values in training (garage)": (edited(garage=None), None),
    "a column left out that had none (sqft)": (edited(sqft=None), {(None, "sqft", MISSING)}),
    "a null where the model imputes (sqft had no nulls)": (edited(sqft=[KEEP, None, KEEP]), None),
    "unseen categories (city, the high-cardinality zip code)": (edited(city=["atlantis"] * 3, zip_code=[1, 2, 3]), None),
    "a bad cell": (edited(sqft=[KEEP, "big", KEEP]), {(1, "sqft", "value 'big' is not a number")}),
    "a column the training data never had": (edited(surprise=[1, 2, 3]), {(None, "surprise", UNKNOWN)}),
    "dates as ISO text, with an offset, as epoch seconds, unreadable": (
        edited(built_date=["1990-05-01", "1990-05-01T02:00:00+02:00", 641520000]), None),
}


@pytest.fixture(scope="module")
def houses(ray_local, tmp_path_factory):
    """The model, trained on the messy table and deployed once; three rows of its training file."""
    root = tmp_path_factory.mktemp("contract")
    messy_frame(600).to_csv(root / "houses.csv", index=False)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    (root / "spec.yaml").write_text(SPEC.replace("PORT", str(SERVE_PORT)).replace("URI", uri))
    api.apply(root / "spec.yaml", [])
    url = f"http://127.0.0.1:{SERVE_PORT}/houses"
    wait_ready(url)
    frame = pd.read_csv(root / "houses.csv").head(3)  # as a user's file reads: zip codes are numbers
    rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in frame.astype(object).to_dict("records")]
    yield {"root": root, "url": url, "rows": rows}
    delete_app("houses")


def online(field: str, message: str) -> tuple:
    """(row, column, message) from an online error's field, in any protocol's naming."""
    match = re.fullmatch(r"(?:rows|dataframe_split\.data|csv)\.(\d+)\.(.+)", field)
    if match:
        return int(match[1]), match[2], message
    match = re.fullmatch(r"inputs\.([^.]+)(?:\.data\.(\d+))?", field)
    assert match, field
    return (int(match[2]) if match[2] else None), match[1], message


def answered(response: httpx.Response, details) -> tuple:
    """('ok', predictions) or ('refused', problems) of an online answer."""
    if response.status_code == 200:
        body = response.json()
        if "outputs" in body:
            return "ok", next(o["data"] for o in body["outputs"] if o["name"] == "predict")
        return "ok", body["predictions"]
    assert response.status_code == 422, response.text
    return "refused", [online(field, message) for field, message in details(response.json())]


def tensor(name: str, values: list) -> dict:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None for v in values)
    return {"name": name, "datatype": "FP64" if numbers else "BYTES", "shape": [len(values)], "data": values}


def by_predict(houses, rows, tmp):
    response = httpx.post(f"{houses['url']}/predict", json={"rows": rows}, timeout=30)
    return answered(response, lambda body: [(d["field"], d["message"]) for d in body["detail"]])


def by_invocations_json(houses, rows, tmp):
    columns = list(dict.fromkeys(c for row in rows for c in row))  # MLflow's client sends dataframe_split
    split = {"columns": columns, "data": [[row.get(c) for c in columns] for row in rows]}
    response = httpx.post(f"{houses['url']}/invocations", json={"dataframe_split": split}, timeout=30)
    return answered(response, lambda body: [(d["field"], d["message"]) for d in body["detail"]])


def by_invocations_csv(houses, rows, tmp):
    response = httpx.post(f"{houses['url']}/invocations", content=pd.DataFrame(rows).to_csv(index=False),
                          headers={"content-type": "text/csv"}, timeout=30)
    return answered(response, lambda body: [(d["field"], d["message"]) for d in body["detail"]])


def by_open_inference(houses, rows, tmp):
    columns = list(dict.fromkeys(c for row in rows for c in row))
    inputs = [tensor(c, [row.get(c) for row in rows]) for c in columns]
    response = httpx.post(f"{houses['url']}/v2/models/houses/infer", json={"inputs": inputs}, timeout=30)
    return answered(response, lambda body: [part.split(": ", 1) for part in body["error"].split("; ")])


def by_batch(houses, rows, tmp):
    """`mlops predict --batch` (in process): a CSV file of the rows, scored with on_error: fail."""
    pd.DataFrame(rows).to_csv(tmp / "rows.csv", index=False)
    try:
        api.predict_batch(houses["root"] / "spec.yaml", [], str(tmp / "rows.csv"), str(tmp / "out.parquet"))
    except DataError as exc:
        problems = []
        for problem in exc.problems[1:]:  # the first sums them up
            match = re.fullmatch(r"(?:row (\d+), )?column (.+)", problem.path)
            problems.append((int(match[1]) if match[1] else None, match[2], problem.message))
        return "refused", problems
    return "ok", pd.read_parquet(tmp / "out.parquet")["prediction"].tolist()


def by_check(houses, rows, tmp):
    """`mlops check` (in process): the same CSV file against the champion's profile."""
    pd.DataFrame(rows).to_csv(tmp / "rows.csv", index=False)
    _, _, result = api.check(houses["root"] / "spec.yaml", [], str(tmp / "rows.csv"))
    if result.refused:
        assert result.fails("error"), result.verdict()
        return "refused", [(p["row"], p["column"], p["message"]) for p in result.refused]
    return "ok", None


PATHS = {"predict": by_predict, "invocations-json": by_invocations_json, "invocations-csv": by_invocations_csv,
         "open-inference": by_open_inference, "batch": by_batch, "check": by_check}


def columns_whole(problems: list[tuple]) -> set[tuple]:
    """A column's problem named on every row (as a request names it) counts once, for the whole column."""
    rows_of: dict[tuple, set] = {}
    for row, column, message in problems:
        rows_of.setdefault((column, message), set()).add(row)
    return {(None if rows == {0, 1, 2} or rows == {None} else row, column, message)
            for (column, message), rows in rows_of.items() for row in sorted(rows, key=str)}


@pytest.mark.parametrize("case", CASES)
def test_every_path_gives_the_same_answer(houses, case, tmp_path):
    edit, expected = CASES[case]
    rows = edit(houses["rows"])
    answers = {name: path(houses, rows, tmp_path) for name, path in PATHS.items()}
    if expected is None:
        assert all(kind == "ok" for kind, _ in answers.values()), answers
        scored = {name: value for name, (_, value) in answers.items() if value is not None}
        for name, predictions in scored.items():  # the same model call everywhere: the same numbers
            assert np.allclose(predictions, scored["batch"], rtol=1e-9), (name, predictions, scored["batch"])
        return
    for name, (kind, problems) in answers.items():
        assert kind == "refused", (name, problems)
        found = columns_whole(problems)
        assert {(row, column) for row, column, _ in found} == {(row, column) for row, column, _ in expected}, (name, found)
        for (_, _, message), (_, _, start) in zip(sorted(found, key=str), sorted(expected, key=str)):
            assert message.startswith(start), (name, message)
    words = {name: sorted(m for _, _, m in columns_whole(problems)) for name, (_, problems) in answers.items()}
    assert len({tuple(w) for w in words.values()}) == 1, words  # word for word the same on every path


def test_dates_written_every_way_are_the_same_instant(houses, tmp_path):
    """The V2 route (named tensors) and batch scoring read a date column as /predict does."""
    rows = CASES["dates as ISO text, with an offset, as epoch seconds, unreadable"][0](houses["rows"])
    rows = [{**rows[0], "built_date": value} for value in ("1990-05-01", "1990-05-01T02:00:00+02:00", 641520000, "unknown")]
    for path in (by_open_inference, by_batch, by_predict):
        kind, predictions = path(houses, rows, tmp_path)
        assert kind == "ok" and predictions[0] == predictions[1] == predictions[2], (path.__name__, predictions)


def test_batch_scoring_skips_or_imputes_bad_cells_when_asked(houses, tmp_path):
    """--on-error skip drops the rows with a bad cell and says how many; null scores them with the cell
    imputed, as a null would be."""
    rows = edited(sqft=[KEEP, "big", KEEP])(houses["rows"])
    pd.DataFrame(rows).to_csv(tmp_path / "rows.csv", index=False)
    spec, out = houses["root"] / "spec.yaml", str(tmp_path / "out.parquet")
    skipped = api.predict_batch(spec, [], str(tmp_path / "rows.csv"), out, on_error="skip")
    assert (skipped.rows, skipped.skipped) == (2, 1)
    assert pd.read_parquet(out)["house_id"].tolist() == [rows[0]["house_id"], rows[2]["house_id"]]
    nulled = api.predict_batch(spec, [], str(tmp_path / "rows.csv"), out, on_error="null")
    assert (nulled.rows, nulled.nulled) == (3, 1)
    imputed = pd.read_parquet(out)["prediction"].tolist()
    assert by_batch(houses, edited(sqft=[KEEP, None, KEEP])(houses["rows"]), tmp_path) == ("ok", imputed)


def test_the_cli_names_bad_cells_by_row_and_column_and_exits_2(houses, tmp_path):
    """`mlops predict --batch` on a file with a bad cell: exit 2 naming the row and column, no traceback;
    --on-error skip scores the rest and says how many rows it dropped."""
    pd.DataFrame(edited(sqft=[KEEP, "big", KEEP])(houses["rows"])).to_csv(tmp_path / "rows.csv", index=False)

    def predict(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mlops.cli", "predict", str(houses["root"] / "spec.yaml"), "--batch",
                               "--input", "rows.csv", "--output", "out.parquet", *extra], cwd=tmp_path,
                              capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=300)

    failed = predict()
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    assert "row 1, column sqft: value 'big' is not a number" in failed.stderr
    assert "1 bad cell in 1 row" in failed.stderr and not (tmp_path / "out.parquet").exists()
    skipped = predict("--on-error", "skip")
    assert skipped.returncode == 0 and "skipped 1 rows with a bad cell" in skipped.stdout, skipped.stdout + skipped.stderr
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 2
    wrong = predict("--on-error", "sikp")
    assert wrong.returncode == 2 and "did you mean 'skip'" in wrong.stderr and "Traceback" not in wrong.stderr


def test_apply_scores_with_the_specs_on_error(houses):
    """serving.batch.on_error reaches apply's batch_predict node (the stage `mlops predict --batch` runs);
    the default leaves the node's hash as it was before the setting existed."""
    spec = houses["root"] / "spec.yaml"
    assert "on_error" not in api.plan(spec).node("batch_predict").params
    for value in ("skip", "'null'"):
        assert api.plan(spec, [f"serving.batch.on_error={value}"]).node("batch_predict").params["on_error"] == value.strip("'")


def test_ray_data_actors_and_driver_settle_bad_cells_as_the_local_executor_does(houses):
    """The Ray Data executor's actor body (judges and scores a batch) and its driver's settling (numbers the
    rows in file order), run here on two batches: the same cell named, the same row skipped."""
    import pyarrow as pa

    from mlops.stages.batch_ray_data import _Scorer
    from mlops.stages.batch_rows import Settle, batch_contract

    bundle = api.load_model("houses", uri=f"sqlite:///{houses['root'] / 'mlflow.db'}")
    params = {"id_column": "house_id", "include_proba": False}
    frame = pd.DataFrame(edited(sqft=[KEEP, KEEP, "big"])(houses["rows"]))
    for on_error, kept in (("fail", None), ("skip", [0, 1])):
        scorer, settle = _Scorer(bundle, batch_contract(bundle, params), {**params, "on_error": on_error}), Settle(on_error)
        tables = [settle.take(pa.Table.from_pandas(scorer(batch), preserve_index=False))
                  for batch in (frame.iloc[:2], frame.iloc[2:])]
        if kept is None:
            with pytest.raises(DataError) as caught:
                settle.finish()
            assert [(p.path, p.message) for p in caught.value.problems[1:]] == [("row 2, column sqft", "value 'big' is not a number")]
        else:
            settle.finish()
            assert pa.concat_tables(tables).column("house_id").to_pylist() == frame["house_id"].iloc[kept].tolist()
