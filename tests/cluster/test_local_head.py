"""The state file of mlops' local Ray head: never trusted blindly, never half-written."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from mlops.cluster.processes import alive


def _stop(cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlops.cli", "stop"], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_stop_never_signals_a_process_that_is_not_the_recorded_head(tmp_path):
    """After a reboot the recorded PID can belong to anything: mlops stop must leave it alone."""
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (tmp_path / ".mlops").mkdir()
        (tmp_path / ".mlops" / "ray-head.json").write_text(json.dumps(
            {"gcs": "127.0.0.1:6379", "pid": bystander.pid, "metrics_port": 1, "apps": {"iris": {}}}))
        done = _stop(tmp_path)
        assert done.returncode == 0, done.stderr
        assert "no local mlops Ray head is running" in done.stdout
        time.sleep(0.5)
        assert alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


def test_a_corrupt_state_file_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / ".mlops").mkdir()
    (tmp_path / ".mlops" / "ray-head.json").write_text('{"gcs": "127.0.0.1:1", "pid": ')  # torn write
    done = _stop(tmp_path)
    assert done.returncode == 1
    assert "ray-head.json" in done.stderr and "Traceback" not in done.stderr


def test_a_taken_port_names_the_port_and_its_holder():
    import os
    import socket

    import pytest

    from mlops.errors import MlopsError
    from mlops.serving.deploy import check_port_free

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(MlopsError) as caught:
            check_port_free("127.0.0.1", port)
    message = str(caught.value)
    assert f"serving.online.port={port}" in message and f"pid {os.getpid()}" in message
