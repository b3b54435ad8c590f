"""Batch output is replaced atomically: a failure mid-write leaves the previous output whole."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops.stages.batch_output import OutputWriter


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

    from mlops.serving.traffic_log import PredictionLog, read_prediction_log
    from mlops.spec.monitoring import LogsSpec

    log = PredictionLog(tmp_path, LogsSpec())
    log.write([("r1", 0), ("r1", 1)], [{"x": 1.0}, {"x": 2.0}], [0, 1], "1")
    with log.path.open("a") as handle:
        handle.write('{"request_id": "r2", "row": 0, "ts": 1.0, "vers')  # the torn write
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_prediction_log(tmp_path)
    assert list(frame["request_id"]) == ["r1", "r1"] and list(frame["x"]) == [1.0, 2.0]
    assert any("cut short" in str(w.message) for w in caught)


def test_each_writer_appends_to_its_own_file(tmp_path):
    from mlops.serving.traffic_log import PredictionLog
    from mlops.spec.monitoring import LogsSpec

    first, second = PredictionLog(tmp_path, LogsSpec()), PredictionLog(tmp_path, LogsSpec())
    assert first.path != second.path and first.path.parent == second.path.parent


def test_a_log_rotates_and_old_files_are_deleted(tmp_path):
    import os
    import time

    from mlops.serving.traffic_log import PredictionLog, read_prediction_log
    from mlops.spec.monitoring import LogsSpec

    log = PredictionLog(tmp_path, LogsSpec(rotate_mb=300 / 2**20, keep=3600))
    for i in range(6):
        log.write([(f"r{i}", 0)], [{"x": float(i)}], [i % 2], "1")
    files = sorted((tmp_path / "predictions").glob("*.jsonl"))
    assert len(files) >= 2 and all(f.stat().st_size < 600 for f in files)
    assert list(read_prediction_log(tmp_path)["x"]) == [float(i) for i in range(6)]
    old = time.time() - 7200
    os.utime(files[0], (old, old))  # untouched for two hours: past `keep`
    remaining = read_prediction_log(tmp_path, keep_s=3600)
    assert not files[0].exists() and len(remaining) < 6 and remaining["x"].iloc[-1] == 5.0


def test_logs_are_read_incrementally(tmp_path):
    """A second read parses only what was appended since the first (the rest comes from .read/)."""
    from mlops.serving.traffic_log import READ_CACHE, PredictionLog, read_prediction_log
    from mlops.spec.monitoring import LogsSpec

    log = PredictionLog(tmp_path, LogsSpec())
    log.write([("a", 0), ("a", 1)], [{"x": 1.0}, {"x": 2.0}], [0, 1], "1")
    assert len(read_prediction_log(tmp_path)) == 2
    kept = list((tmp_path / "predictions" / READ_CACHE).glob("*.parquet"))
    assert [int(k.name.split(".")[1]) for k in kept] == [log.path.stat().st_size]
    # Rewrite the already-read bytes in place (same length): a re-parse would see "9.0"; an incremental
    # read never looks at them again.
    size = log.path.stat().st_size
    log.path.write_bytes(log.path.read_bytes().replace(b'"x": 1.0', b'"x": 9.0'))
    assert log.path.stat().st_size == size
    log.write([("b", 0)], [{"x": 3.0}], [1], "1")
    frame = read_prediction_log(tmp_path)
    assert list(frame["x"]) == [1.0, 2.0, 3.0]
    assert len(list((tmp_path / "predictions" / READ_CACHE).glob("*.parquet"))) == 1


def test_posted_feedback_rotates_like_the_prediction_log(tmp_path):
    from mlops.serving.traffic_log import FeedbackLog, read_feedback
    from mlops.spec.monitoring import LogsSpec

    log = FeedbackLog(tmp_path, LogsSpec(rotate_mb=100 / 2**20))
    for i in range(5):
        log.write([{"request_id": f"r{i}", "row": 0, "label": i}])
    assert len(list((tmp_path / "feedback").glob("*.jsonl"))) >= 2
    assert sorted(read_feedback(tmp_path)["key"]) == [f"r{i}" for i in range(5)]


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB filesystem (tmpfs) that a large output cannot fit on; unmounted even when the test fails."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:  # mounting needs root (CI's container has it)
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.reliability
@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_a_full_disk_is_a_clear_error_and_keeps_the_previous_output(full_disk, suffix):
    """Disk full mid-write (a real ENOSPC from a 256 KiB filesystem): an error naming the output and the
    cause, the previous output whole, no temp file left to fill the disk further."""
    import numpy as np

    from mlops.errors import DataError

    out = full_disk / f"predictions.{suffix}"
    with OutputWriter(out) as writer:
        writer.write(pa.table({"prediction": [1, 2, 3]}))
    before = out.read_bytes()
    big = pa.table({"prediction": np.random.default_rng(0).random(200_000)})  # ~1.6 MB, far over the disk
    with pytest.raises(DataError) as failed:
        with OutputWriter(out) as writer:
            for _ in range(4):
                writer.write(big)
    problem = failed.value.problems[0]
    assert problem.path == "serving.batch.output" and "No space left" in problem.message, problem
    assert problem.value == str(out)
    assert out.read_bytes() == before and [p.name for p in full_disk.iterdir()] == [out.name]
