"""`mlops up` / `mlops down` and which Ray a command uses when mlops' local head is recorded, without starting
one: a stand-in process whose command line is the head's (read_state checks exactly that)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlops.cluster.processes import alive


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlops.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def recorded_head(tmp_path):
    """A process that looks like `ray start --head --port=1` to mlops, recorded as this directory's head."""
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "ray", "start", "--head",
                                 "--port=1"], start_new_session=True)
    (tmp_path / ".mlops").mkdir()
    (tmp_path / ".mlops" / "ray-head.json").write_text(json.dumps(
        {"gcs": "127.0.0.1:1", "pid": stand_in.pid, "metrics_port": 2, "apps": {}}))
    yield stand_in
    stand_in.kill()
    stand_in.wait()


def test_up_when_the_head_runs_says_so_and_starts_no_other(tmp_path, recorded_head):
    done = cli("up", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "already runs at 127.0.0.1:1" in done.stdout
    assert json.loads((tmp_path / ".mlops" / "ray-head.json").read_text())["pid"] == recorded_head.pid


def test_down_stops_the_head_and_forgets_it(tmp_path, recorded_head):
    done = cli("down", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "stopped the local Ray head" in done.stdout
    recorded_head.wait(timeout=10)  # killed with its process group
    assert not alive(recorded_head.pid) and not (tmp_path / ".mlops" / "ray-head.json").exists()


def test_stop_of_an_endpoint_the_head_does_not_run_is_refused_and_leaves_the_head_running(tmp_path, recorded_head):
    done = cli("stop", "nothere", cwd=tmp_path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no endpoint 'nothere' runs on mlops' local head; running: none" in done.stderr
    assert alive(recorded_head.pid) and (tmp_path / ".mlops" / "ray-head.json").exists()


def test_down_without_a_head_says_so(tmp_path):
    done = cli("down", cwd=tmp_path)
    assert done.returncode == 0 and "no local mlops Ray head is running" in done.stdout, done.stderr


def test_a_command_uses_the_recorded_head_only_while_it_runs(tmp_path, recorded_head, monkeypatch):
    from mlops.cluster.session import local_head_address

    monkeypatch.chdir(tmp_path)
    assert local_head_address() == "127.0.0.1:1"
    recorded_head.kill()
    recorded_head.wait()
    assert local_head_address() is None  # a dead head's record: the command starts its own Ray
    (tmp_path / ".mlops" / "ray-head.json").write_text('{"gcs": ')  # torn: `mlops status`/`stop` report it
    assert local_head_address() is None


def test_the_ray_of_this_process_wins_over_the_recorded_head(tmp_path, recorded_head, monkeypatch, ray_local):
    """A test session's (or notebook's) Ray is used as it is: never swapped for the head of the directory."""
    from mlops.cluster.session import ray_session

    monkeypatch.chdir(tmp_path)
    before = ray_local.get_runtime_context().gcs_address
    with ray_session():
        assert ray_local.get_runtime_context().gcs_address == before
    assert ray_local.is_initialized()
