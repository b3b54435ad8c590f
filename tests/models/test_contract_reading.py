"""The input contract on its own: a value gets the same answer whether it arrives in a request's row
(`read_row`, every online route) or in a frame's column (`judge`, batch scoring and `mlops check`), and a
CSV cell read as text agrees with pandas.read_csv reading the same file. Batch scoring numbers the refused
rows across its batches and lists the first 20."""
from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlops.errors import DataError
from mlops.models.input_contract import InputContract, read_text
from mlops.stages.batch_rows import LISTED, NULLED, REFUSED, Settle

SCHEMA = [{"name": "size", "type": "number", "nullable": False}, {"name": "rooms", "type": "integer", "nullable": False},
          {"name": "plan", "type": "string", "nullable": True}, {"name": "active", "type": "boolean", "nullable": False},
          {"name": "built", "type": "datetime", "nullable": False}]
CONTRACT = InputContract.of(SCHEMA, imputed=["size", "plan", "built"], ignored=["id", "label"])
GOOD = {"size": 1.5, "rooms": 3, "plan": "pro", "active": True, "built": "2020-01-31"}
# column: values, each None (taken) or the start of the refusal
VALUES = {
    "size": {2: None, 1e300: "value 1e+300 is larger than a model takes", math.inf: "value inf is not a finite number",
             "big": "value 'big' is not a number", True: "value True is not a number", None: None},
    "rooms": {None: "value is missing and the model does not impute this column", "3.5": None},
    "plan": {"gold": None, 10007: None, None: None},
    "active": {False: None, 1: "value 1 is not true or false", None: "value is missing"},
    "built": {"2020-01-31T08:00:00+02:00": None, 641520000: None, "not a date": None, True: "value True is not a date/time"},
}
CASES = [(column, value, answer) for column, answers in VALUES.items() for value, answer in answers.items()]


@pytest.mark.parametrize("column, value, answer", CASES, ids=[f"{c}={v!r}" for c, v, _ in CASES])
def test_a_value_gets_the_same_answer_in_a_request_row_and_in_a_frame(column, value, answer):
    """Text in a frame is a file's cell, as a CSV request's cell is text: it reads as a number where it is
    one. (In JSON a number is a JSON number: "3.5" there is refused, see the test below.)"""
    _, problems = CONTRACT.read_row({**GOOD, column: read_text("number", value) if isinstance(value, str) and
                                     column in ("size", "rooms") else value})
    row_says = [exc.message for _, exc in problems]
    # Cell by cell (a column of objects), and whole columns of the dtypes pandas infers (float64, bool, ...).
    for frame in (pd.DataFrame([{**GOOD, column: value}, GOOD], dtype=object), pd.DataFrame([{**GOOD, column: value}, GOOD])):
        judged = CONTRACT.judge(frame)
        frame_says = [p.message for p in judged.cells]
        assert row_says == frame_says, (row_says, frame_says, frame.dtypes[column])
    if answer is None:
        assert row_says == []
    else:
        assert len(row_says) == 1 and row_says[0].startswith(answer) and judged.cells[0].row == 0


def test_in_json_a_number_is_a_json_number():
    _, problems = CONTRACT.read_row({**GOOD, "rooms": "3"})
    assert [(name, exc.message) for name, exc in problems] == [("rooms", "value '3' is not a number")]


def test_columns_left_out_and_unknown_get_the_same_answer_in_a_row_and_a_frame():
    row = {k: v for k, v in GOOD.items() if k not in ("size", "plan")} | {"id": 7, "colour": "red"}
    _, problems = CONTRACT.read_row(row)
    judged = CONTRACT.judge(pd.DataFrame([row]))
    assert sorted((name, exc.message) for name, exc in problems) == sorted((p.column, p.message) for p in judged.columns)
    assert {name for name, _ in problems} == {"size", "colour"}  # plan had nulls in training: imputed
    assert judged.imputed_columns == ["plan"] and math.isnan(judged.frame["plan"].iloc[0])


def test_a_csv_request_reads_as_batch_scoring_reads_the_same_file():
    text = "size,rooms,plan,active,built\nNA,2,NULL,true,2020-01-01\n2.5,3,,FALSE,\nbig,4,n/a,maybe,1990-05-01\n"
    judged = CONTRACT.judge(pd.read_csv(io.StringIO(text)))  # batch scoring and mlops check
    kinds = {c["name"]: c["type"] for c in SCHEMA}
    header, *lines = text.splitlines()
    rows = [{c: read_text(kinds[c], cell) for c, cell in zip(header.split(","), line.split(","))} for line in lines]
    online = [(i, name, exc.message) for i, row in enumerate(rows) for name, exc in CONTRACT.read_row(row)[1]]
    assert sorted(online) == sorted((p.row, p.column, p.message) for p in judged.cells)
    assert sorted(online)[0][0] == 2 and [name for _, name, _ in sorted(online)] == ["active", "size"]  # row 2: big, maybe
    assert judged.frame["active"].tolist()[:2] == [True, False] and math.isnan(judged.frame["size"].iloc[0])


def scored(refused: list) -> pa.Table:
    return pa.table({"prediction": [1.0] * len(refused), REFUSED: pa.array(refused, pa.string()),
                     NULLED: [0] * len(refused)})


def test_batch_scoring_numbers_refused_rows_across_batches_and_lists_the_first_twenty():
    settle = Settle("fail")
    assert settle.take(scored([None, None])).num_rows == 2
    assert settle.take(scored([None, "size\tvalue 'big' is not a number"] + ["rooms\tvalue is missing"] * 30)) is None
    with pytest.raises(DataError) as caught:
        settle.finish()
    problems = caught.value.problems
    assert problems[0].message.startswith("31 bad cells in 31 rows") and len(problems) == 1 + LISTED
    assert (problems[1].path, problems[1].message) == ("row 3, column size", "value 'big' is not a number")


def test_skip_drops_refused_rows_and_counts_them():
    settle = Settle("skip")
    kept = settle.take(scored([None, "size\tvalue 'big' is not a number", None]))
    settle.finish()
    assert kept.num_rows == 2 and kept.column_names == ["prediction"] and settle.skipped == 1


def test_a_frame_of_many_rows_is_judged_whole_column_at_a_time(monkeypatch):
    from mlops.models import input_contract

    reads, read = [], input_contract.ColumnRule.read
    monkeypatch.setattr(input_contract.ColumnRule, "read", lambda rule, value: reads.append(rule.name) or read(rule, value))
    frame = pd.DataFrame({"size": np.arange(200_000, dtype=float), "rooms": 3, "plan": "pro", "active": True,
                          "built": "2020-01-31"})
    frame.loc[123_456, "size"] = np.inf
    judged = CONTRACT.judge(frame)
    assert [(p.row, p.column) for p in judged.cells] == [(123_456, "size")]
    assert reads == ["size"]  # only the refused cell is read on its own: no column is read cell by cell
