"""Batch output is replaced atomically: a failure mid-write leaves the previous output whole."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops.stages.batch_predict import OutputWriter


def test_a_failure_mid_write_keeps_the_previous_output_and_leaves_no_temp(tmp_path):
    out = tmp_path / "predictions.parquet"
    with OutputWriter(out) as writer:
        writer.write(pa.table({"prediction": [1, 2, 3]}))
    with pytest.raises(RuntimeError):
        with OutputWriter(out) as writer:
            writer.write(pa.table({"prediction": [9]}))
            raise RuntimeError("the scorer died half way")
    assert pq.read_table(out).column("prediction").to_pylist() == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["predictions.parquet"]


def test_a_finished_write_replaces_the_output(tmp_path):
    out = tmp_path / "p.csv"
    for values in ([1, 2], [3]):
        with OutputWriter(out) as writer:
            writer.write(pa.table({"prediction": values}))
    assert out.read_text().splitlines() == ['"prediction"', "3"]
