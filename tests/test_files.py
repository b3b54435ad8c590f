"""Files replaced whole (mlops.files): concurrent writers of one file, in threads of one process as a
multirun's combinations are, each replace it whole and none fails; permissions hold from the start."""
from __future__ import annotations

import os
import stat
import threading

import pytest

from mlops.files import write_atomic


def test_threads_writing_one_file_each_replace_it_whole(tmp_path):
    """A temporary name made of the process id alone was shared by the threads: one thread's rename took
    another's file away (FileNotFoundError), as two combinations of a multirun caching one node did."""
    path = tmp_path / "state" / "spec.json"
    start, failures = threading.Barrier(8), []

    def writer(n: int) -> None:
        start.wait()
        for i in range(200):
            try:
                write_atomic(path, f"writer {n} write {i}\n" * 50)
            except OSError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    lines = set(path.read_text().splitlines())
    assert len(lines) == 1 and lines.pop().startswith("writer ")  # one write, whole
    assert os.listdir(path.parent) == ["spec.json"]  # no temporary file left behind


def test_a_private_file_is_never_readable_by_others_and_a_failed_write_keeps_the_old_one(tmp_path):
    path = tmp_path / "token"
    write_atomic(path, b"old", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == b"old"

    with pytest.raises(TypeError):
        write_atomic(path, 42)  # neither text nor bytes: refused mid-write
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["token"]
