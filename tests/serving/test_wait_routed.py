"""A deploy returns once Serve's proxy routes the endpoint: HAProxy learns a new route a moment after
serve.run returns, and until then answers 404 (a `mlops serve` that said "serving" got one in a CI run).
A real HTTP server stands in for the proxy."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from mlops.cluster.processes import stable_port
from mlops.serving.deploy import wait_routed


def proxy(not_found_first: int) -> tuple[HTTPServer, list[int]]:
    answered: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            code = 404 if len(answered) < not_found_first else 503  # routed, no model yet: not a 404
            answered.append(code)
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", stable_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, answered


def test_a_deploy_waits_out_the_proxys_404s():
    server, answered = proxy(not_found_first=3)
    try:
        assert wait_routed(f"http://127.0.0.1:{server.server_port}/app", timeout=10) is True
        assert answered == [404, 404, 404, 503]
    finally:
        server.shutdown()


def test_a_route_that_never_comes_ends_at_the_timeout_and_an_unreachable_proxy_at_once():
    server, answered = proxy(not_found_first=10_000)
    try:
        assert wait_routed(f"http://127.0.0.1:{server.server_port}/app", timeout=0.5) is False
        assert 2 <= len(answered) and set(answered) == {404}
    finally:
        server.shutdown()
    began = time.monotonic()
    assert wait_routed(f"http://127.0.0.1:{stable_port()}/app", timeout=30) is False  # nothing listens: no wait
    assert time.monotonic() - began < 5
