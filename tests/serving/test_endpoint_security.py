"""What an endpoint tells a caller without the token (no more than a 401, but on the probes' routes), the
spec warning for an endpoint open to the network without auth, and the prediction log's file modes."""
from __future__ import annotations

import hashlib
import os
import stat
import warnings
from importlib.metadata import version

import pytest
from fastapi.testclient import TestClient

from mlops.serving.endpoint_config import EndpointConfig
from serving_settings import settings_for
from mlops.serving.ingress import OPEN_PATHS, EndpointAPI
from mlops.serving.traffic_log import FeedbackLog, PredictionLog
from mlops.spec.monitoring import LogsSpec
from mlops.spec.serving import OnlineServing, SpecWarning

SCHEMA = [{"name": "x", "type": "number", "nullable": False}]
AUTH = {"authorization": "Bearer t0ken"}


class FakeReplica:
    """Serves model 'shop' version 4 (never asked to score here)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def count_error(self, kind):
        self.errors.append(kind)

    def readiness(self):
        return {"ready": True, "model_version": "4"}

    def metadata(self):
        return {"name": "shop", "version": "4", "task": "classification", "classes": [0, 1]}


def endpoint(token: bool) -> TestClient:
    config = EndpointConfig(settings_for("shop"), tracking_uri="sqlite://", version="4", input_schema=SCHEMA,
                            token_sha256=hashlib.sha256(b"t0ken").hexdigest() if token else None)
    return TestClient(EndpointAPI(config, FakeReplica()))


STRANGERS = [("GET", "/v2/models/nope/ready"), ("GET", "/v2/models/shop/ready"), ("GET", "/v2/models/nope"),
             ("GET", "/v2/models/nope/versions/9/ready"), ("GET", "/v2/models/shop/versions/9"), ("GET", "/v2"),
             ("GET", "/metadata"), ("GET", "/stats"), ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/no/such/path"),
             ("POST", "/v2/models/nope/infer"), ("POST", "/feedback"), ("DELETE", "/predict"), ("PUT", "/healthz/x")]


@pytest.mark.parametrize("method,path", STRANGERS)
def test_with_auth_on_every_route_but_the_probes_is_a_401_that_names_nothing(method, path):
    """The issue's reproduction: /v2/models/nope/ready answered 404 naming the served model and version, /v2
    the mlops version. With auth on, the token is checked first, on every path but OPEN_PATHS."""
    with endpoint(token=True) as client:
        response = client.request(method, path, headers={"authorization": "Bearer wrong"})
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert "shop" not in response.text and "4" not in response.text and version("mlops") not in response.text
        assert client.app.replica.errors == ["auth"]


def test_the_probes_stay_open_and_a_caller_with_the_token_is_told_what_is_served():
    with endpoint(token=True) as client:
        assert OPEN_PATHS == {"/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"}
        for path in OPEN_PATHS:
            assert client.get(path).status_code == 200, path
        unknown = client.get("/v2/models/nope/ready", headers=AUTH)
        assert unknown.status_code == 404 and "'shop'" in unknown.json()["error"]
        assert client.get("/v2", headers=AUTH).json()["version"] == version("mlops")
    with endpoint(token=False) as client:  # without auth the endpoint is open: nothing to hide behind a token
        assert client.get("/v2/models/nope/ready").status_code == 404 and client.get("/v2").status_code == 200


@pytest.mark.parametrize("host,warns", [("0.0.0.0", True), ("::", True), ("10.1.2.3", True), ("example.org", True),
                                        ("127.0.0.1", False), ("127.0.0.2", False), ("localhost", False), ("::1", False)])
def test_a_non_loopback_host_with_auth_none_is_a_spec_warning(host, warns):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        OnlineServing(host=host, auth="none")
        OnlineServing(host=host, auth={"token_env": "TOKEN"})  # with auth: no warning
        OnlineServing(host=host)  # the default: a generated token, no warning
    assert [str(w.message).split(" ")[0] for w in caught if w.category is SpecWarning] == (
        [f"serving.online.host={host}"] if warns else [])


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_prediction_and_feedback_logs_are_0600_in_0700_folders(tmp_path):
    """Served inputs are the owner's alone, whatever the umask; a folder an older mlops left 0755 is tightened."""
    endpoint_dir = tmp_path / ".mlops" / "monitoring" / "shop"
    (endpoint_dir / "feedback").mkdir(parents=True, mode=0o755)
    old = os.umask(0)  # the explicit modes hold even where the umask would grant everything
    try:
        log = PredictionLog(endpoint_dir, LogsSpec())
        log.write([("r1", 0)], [{"x": 1.5}], [1], "4")
        feedback = FeedbackLog(endpoint_dir, LogsSpec())
        feedback.write([{"request_id": "r1", "label": 1}])
    finally:
        os.umask(old)
    assert mode(log.path) == 0o600 and mode(feedback.log.path) == 0o600
    assert mode(endpoint_dir) == mode(endpoint_dir / "predictions") == mode(endpoint_dir / "feedback") == 0o700
