"""An address where no Ray listens is said within seconds, naming the address and where it came from
(Ray's own client waits about two minutes for a GCS before it gives up). Real sockets, a real `mlops`."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from conftest import free_port
from mlops.cluster.session import GCS_CONNECT_TIMEOUT_S, check_listening


def test_a_port_nobody_listens_on_is_refused_at_once_and_a_listening_one_passes():
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="connection refused"):
        check_listening(f"127.0.0.1:{free_port()}")
    assert time.monotonic() - start < GCS_CONNECT_TIMEOUT_S
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_listening(f"127.0.0.1:{listening.getsockname()[1]}")
        check_listening(f"ray://127.0.0.1:{listening.getsockname()[1]}")
    check_listening("auto")  # left to Ray


def test_apply_and_status_with_an_address_where_no_ray_runs(example):
    spec = example("iris") / "spec.yaml"
    address = f"127.0.0.1:{free_port()}"
    for command in (["apply", str(spec)], ["status"]):
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "mlops.cli", *command, "--address", address],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and time.monotonic() - start < 30, (command, done.stderr)
        assert f"cannot connect to Ray at {address} (--address {address}): nothing listens there" in done.stderr
        assert "Traceback" not in done.stderr
