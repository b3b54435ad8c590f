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


def test_a_torn_log_line_is_skipped_with_a_warning(tmp_path):
    """A crash mid-write leaves a partial last line: readers skip it (and say so) instead of failing."""
    import warnings

    from mlops.monitoring.store import PredictionLog, read_prediction_log

    log = PredictionLog(tmp_path)
    log.write([("r1", 0), ("r1", 1)], [{"x": 1.0}, {"x": 2.0}], [0, 1], "1")
    with log.path.open("a") as handle:
        handle.write('{"request_id": "r2", "row": 0, "ts": 1.0, "vers')  # the torn write
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_prediction_log(tmp_path)
    assert list(frame["request_id"]) == ["r1", "r1"] and list(frame["x"]) == [1.0, 2.0]
    assert any("cut short" in str(w.message) for w in caught)


def test_each_writer_appends_to_its_own_file(tmp_path):
    from mlops.monitoring.store import PredictionLog

    first, second = PredictionLog(tmp_path), PredictionLog(tmp_path)
    assert first.path != second.path and first.path.parent == second.path.parent
