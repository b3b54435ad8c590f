"""A tracking store that cannot be used is said in seconds and by name: a server that does not answer
(MLflow's own client retries for minutes, which reads as a hang), a SQLite store whose folder cannot be
written. Real sockets on loopback and real `mlops` processes."""
from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import time

import pytest

from conftest import free_port
from mlops import registry
from mlops.errors import MlopsError, UnreachableStore


def test_a_refused_connection_is_an_error_within_seconds_that_hides_the_password():
    uri = f"http://alice:s3cret@127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(UnreachableStore) as failed:
        registry.check_reachable(uri)
    assert time.monotonic() - start < registry.REACH_TIMEOUT_S
    assert "connection refused" in str(failed.value) and "s3cret" not in str(failed.value)


def test_any_http_answer_is_a_server_that_is_there():
    class Unauthorized(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's protocol
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Unauthorized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        registry.check_reachable(f"http://127.0.0.1:{server.server_port}")  # no error
    finally:
        server.shutdown()
        server.server_close()


def test_apply_and_plan_against_a_server_that_is_not_there(tmp_path, example):
    spec = example("iris") / "spec.yaml"
    uri = f"tracking.uri=http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    applied = subprocess.run([sys.executable, "-m", "mlops.cli", "apply", str(spec), uri], capture_output=True,
                             text=True, timeout=120)
    assert applied.returncode != 0 and time.monotonic() - start < 30
    assert "cannot reach the MLflow tracking server" in applied.stderr and "Traceback" not in applied.stderr
    planned = subprocess.run([sys.executable, "-m", "mlops.cli", "plan", str(spec), uri], capture_output=True,
                             text=True, timeout=120)
    assert planned.returncode == 0, planned.stderr
    assert "warning: tracking.uri: cannot reach the MLflow tracking server" in planned.stderr
    assert "every node reads as never applied" in planned.stderr


def test_a_sqlite_store_in_a_folder_that_cannot_be_made_names_tracking_uri(tmp_path, example):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    from mlops.registry import Registry

    with pytest.raises(MlopsError, match=r"tracking.uri: cannot create the folder of the SQLite store"):
        Registry(f"sqlite:///{blocked / 'store' / 'mlflow.db'}")
    applied = subprocess.run([sys.executable, "-m", "mlops.cli", "apply", str(example("iris") / "spec.yaml"),
                              f"tracking.uri=sqlite:///{blocked / 'store' / 'mlflow.db'}"],
                             capture_output=True, text=True, timeout=120)
    assert applied.returncode != 0 and "Traceback" not in applied.stderr
    assert "tracking.uri: cannot write the node cache" in applied.stderr
