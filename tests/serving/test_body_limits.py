"""The request-size rules at the endpoint's door, in process: a POST must say its length (411), and a
length past max_request_bytes is refused (413) before a byte of the body is read."""
from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from mlops.serving.endpoint_config import EndpointConfig
from serving_settings import settings_for
from mlops.serving.ingress import EndpointAPI, body_refusal
from serving.test_protocol_routes import AUTH, SCHEMA, FakeReplica

LIMIT = 1000


@pytest.mark.parametrize("length, status", [
    (None, 411), (b"0", None), (b"999", None), (b"1000", None), (b"1001", 413), (b"1900", 413),
    (b"99999999999999999999", 413), (b"-1", 413), (b"1e3", 413), (b" 10", 413), (b"", 413),
], ids=["absent", "0", "999", "1000", "1001", "1900", "huge", "negative", "float", "leading-space", "empty"])
# (ids: a node id with a space or an empty value cannot be named on pytest's command line)
def test_body_refusal_by_declared_length(length, status):
    headers = {} if length is None else {b"content-length": length}
    refusal = body_refusal(headers, LIMIT)
    assert (refusal[0] if refusal else None) == status


@pytest.fixture
def client():
    config = EndpointConfig(settings_for("shop", max_request_bytes=LIMIT), tracking_uri="sqlite://", version="4",
                            input_schema=SCHEMA, token_sha256=hashlib.sha256(b"t0ken").hexdigest())
    with TestClient(EndpointAPI(config, FakeReplica())) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/predict", "/invocations", "/v2/models/shop/infer"])
def test_every_scoring_route_refuses_an_unsized_or_oversized_body(client, path):
    chunked = client.post(path, content=iter([b'{"rows": []}']), headers={**AUTH, "content-type": "application/json"})
    assert chunked.status_code == 411, chunked.text
    base = b'{"rows": [{"x": 1.5, "city": "rome"}]'
    at_limit = base + b" " * (LIMIT - len(base) - 1) + b"}"
    assert len(at_limit) == LIMIT
    json_body = {**AUTH, "content-type": "application/json"}
    over = client.post(path, content=at_limit + b" ", headers=json_body)  # one byte past the limit
    assert over.status_code == 413 and "max_request_bytes=1000" in over.text, over.text
    assert client.post("/predict", content=at_limit, headers=json_body).status_code == 200


def test_a_large_predict_body_is_validated_off_the_event_loop(monkeypatch):
    """Parsing 1 MB of rows takes ~0.1 s: past OFFLOAD_BYTES it runs in a thread, so other requests are served."""
    from mlops.serving import ingress

    threaded = []
    real = ingress.asyncio.to_thread

    async def to_thread(fn, *args):
        threaded.append(fn)
        return await real(fn, *args)

    monkeypatch.setattr(ingress.asyncio, "to_thread", to_thread)
    config = EndpointConfig(settings_for("shop", max_rows=5000), tracking_uri="sqlite://", version="4",
                            input_schema=SCHEMA, token_sha256=hashlib.sha256(b"t0ken").hexdigest())
    with TestClient(EndpointAPI(config, FakeReplica())) as client:
        small = client.post("/predict", json={"rows": [{"x": 1.5, "city": "rome"}]}, headers=AUTH)
        assert small.status_code == 200 and threaded == []
        large = client.post("/predict", json={"rows": [{"x": 1.5, "city": "r" * 40}] * 2000}, headers=AUTH)
        assert large.status_code == 200 and len(threaded) == 1
        refused = client.post("/predict", json={"rows": [{"x": 1.5, "city": "r" * 40}] * 6000}, headers=AUTH)
        assert refused.status_code == 422 and len(threaded) == 2 and "rows" in refused.text
