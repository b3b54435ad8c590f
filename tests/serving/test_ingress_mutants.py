"""The ingress' small pure parts pinned exactly (mutants of mlops/serving/ingress.py that survived the
endpoint tests): the path within the route, and the refusal texts a client reads."""
from __future__ import annotations

from mlops.serving.ingress import body_refusal, route_path
from serving.test_protocol_routes import AUTH, client  # noqa: F401 - the endpoint in process, as a fixture


def test_the_route_prefix_is_cut_only_when_serve_passes_it():
    assert route_path({"root_path": "/iris"}, "/iris/predict") == "/predict"
    assert route_path({"root_path": "/iris"}, "/predict") == "/predict"  # Serve already cut it
    assert route_path({}, "/iris/predict") == "/iris/predict"  # no root: the path as it came
    assert route_path({"root_path": ""}, "/healthz") == "/healthz"


def test_refusals_say_what_the_client_must_change():
    assert body_refusal({}, 1000) == (411, "Content-Length header is required")
    assert body_refusal({b"content-length": b"1001"}, 1000) == (413, "payload of 1001 bytes exceeds max_request_bytes=1000")
    # a length that is not text still gets an answer, its bytes shown as they can be
    assert body_refusal({b"content-length": b"\xff1"}, 1000) == (413, "payload of \ufffd1 bytes exceeds max_request_bytes=1000")


def test_the_get_routes_with_data_need_the_token_too(client):
    """/metadata (like /stats) needs the token as the scoring routes do: the door refuses it before any route."""
    for presented in ({}, {"authorization": "Bearer wrong"}, {"authorization": "t0ken"}):
        refused = client.get("/metadata", headers=presented)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", refused.text
    assert client.replica.errors == ["auth", "auth", "auth"]  # counted as refusals of the token
    allowed = client.get("/metadata", headers=AUTH)
    assert allowed.status_code == 200 and allowed.json()["version"] == "4"
