"""Injected faults and what they leave: a store locked by another writer, a process killed with -9 while
it registers a version, an output that cannot be written."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import session_ray_env
from figures import record
from mlops import api
from mlops.errors import MlopsError
from mlops.registry import CHAMPION, Registry

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_a_store_locked_by_another_writer_is_waited_for_not_corrupted(tmp_path):
    """The SQLite store locked by another writer for 3 s: the write is retried, then lands; the file is intact."""
    db = tmp_path / "mlflow.db"
    registry = Registry(f"sqlite:///{db}")
    run_id = registry.start_run("locked")
    held = threading.Event()

    def hold() -> None:  # another process's writer, as SQLite sees it: an exclusive transaction for 3 s
        holder = sqlite3.connect(db, timeout=30, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(3.0)
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10), "the lock was not taken: nothing would be tested"
    start = time.monotonic()
    registry.set_tags(run_id, {"written": "after the lock"})
    waited = time.monotonic() - start
    thread.join()
    assert waited > 2.0, f"the write did not wait for the lock ({waited:.2f} s)"
    assert registry.client.get_run(run_id).data.tags["written"] == "after the lock"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    record("fault_store_locked", {"held_s": 3.0, "write_waited_s": round(waited, 2), "integrity": "ok"})


def _versions(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("select count(*) from model_versions").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_while_registering_leaves_no_served_partial_version(ray_local, example, tmp_path):
    """`kill -9` of an apply the moment its version appears in the registry: nothing half-registered is
    promoted, and applying again finishes with a champion that loads and verifies."""
    spec = example("iris") / "spec.yaml"
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    proc = subprocess.Popen([sys.executable, "-m", "mlops.cli", "apply", str(spec), f"tracking.uri={uri}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=session_ray_env(ray_local))
    deadline = time.monotonic() + 240
    while _versions(db) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at_versions = _versions(db)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, as a crash would (Ray ends the dead driver's job)
    proc.wait(30)
    assert killed_at_versions == 1, "the apply ended before registering: the fault was not injected"
    registry = Registry(uri, create=False)
    try:
        registry.by_alias("iris", CHAMPION)
        promoted_before_kill = True
    except MlopsError:
        promoted_before_kill = False
    done = api.apply(spec, [f"tracking.uri={uri}"])
    champion = registry.by_alias("iris", CHAMPION)
    registry.load("iris", version=champion.version)  # verified against its manifest hash
    assert done.version == champion.version
    record("fault_kill_during_register", {"promoted_before_kill": promoted_before_kill,
                                          "versions_after_reapply": len(registry.versions("iris")),
                                          "champion_loads": True})
    assert not promoted_before_kill


def test_an_output_that_cannot_be_written_is_a_clear_error_and_no_partial_file(ray_local, example, tracking_uri, tmp_path):
    """Batch output under a path that is a file: the apply stops with a message naming the output; no
    partial or temporary file is left; the model is still registered and promoted by a fixed apply."""
    spec = example("iris") / "spec.yaml"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(MlopsError, match="serving.batch.output"):
        api.apply(spec, [f"serving.batch.output={blocker / 'predictions.parquet'}"])
    assert blocker.read_text() == "a file where a folder should be"
    assert not list(tmp_path.glob("**/*.tmp"))
    fixed = api.apply(spec, [f"serving.batch.output={tmp_path / 'out' / 'predictions.parquet'}"])
    assert fixed.batch.rows == 150 and (tmp_path / "out" / "predictions.parquet").is_file()

