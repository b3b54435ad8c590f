"""Endpoint metrics through Ray's metrics API (exported in Prometheus format on Ray's metrics port)."""
from __future__ import annotations

from typing import Any

LATENCY_MS_BOUNDARIES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
BATCH_BOUNDARIES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


class EndpointMetrics:
    """Created once per replica process; every method is cheap enough for the request path."""

    def __init__(self, model: str):
        from ray.util import metrics

        self.tags = {"model": model}
        # `version`: the registered version that answered (the champion for requests refused before one is picked),
        # so a rollout's versions are told apart in every dashboard.
        self.requests = metrics.Counter("mlops_requests_total", "Prediction requests received.", ("model", "route", "version"))
        self.errors = metrics.Counter("mlops_errors_total", "Failed requests by kind (validation, auth, payload, internal).",
                                      ("model", "kind", "version"))
        self.latency = metrics.Histogram("mlops_request_latency_ms", "End-to-end prediction latency in the replica.",
                                         LATENCY_MS_BOUNDARIES, ("model", "version"))
        self.explain_latency = metrics.Histogram("mlops_explain_latency_ms", "End-to-end /explain latency in the replica.",
                                                 LATENCY_MS_BOUNDARIES, ("model", "version"))
        self.batch_size = metrics.Histogram("mlops_batch_rows", "Rows per model call after dynamic batching.",
                                            BATCH_BOUNDARIES, ("model",))
        self.predicted = metrics.Counter("mlops_predicted_class_total", "Predictions by class.", ("model", "class"))
        self.rows = metrics.Counter("mlops_predicted_rows_total", "Rows predicted.", ("model", "version"))
        self.swap_failures = metrics.Counter("mlops_swap_failures_total",
                                             "Hot swaps refused because the new version did not load.", ("model", "version"))

    def swap_failed(self, version: str) -> None:
        """Count a hot swap to `version` that was refused."""
        self.swap_failures.inc(1, {**self.tags, "version": version})

    def request(self, route: str, version: str = "") -> None:
        """Count a request to `route`, answered by `version`."""
        self.requests.inc(1, {**self.tags, "route": route, "version": version})

    def error(self, kind: str, version: str = "") -> None:
        """Count a failed request of `kind`."""
        self.errors.inc(1, {**self.tags, "kind": kind, "version": version})

    def observe_latency(self, ms: float, version: str = "") -> None:
        """Record one request's latency in ms, answered by `version`."""
        self.latency.observe(ms, {**self.tags, "version": version})

    def observe_explain(self, ms: float, version: str = "") -> None:
        """Record one /explain request's latency in ms, explained by `version`."""
        self.explain_latency.observe(ms, {**self.tags, "version": version})

    def observe_batch(self, rows: int, version: str, labels: Any = None) -> None:
        """Record one model call: its rows, by version, and (for classifiers) the predicted classes."""
        self.batch_size.observe(rows, self.tags)
        self.rows.inc(rows, {**self.tags, "version": version})
        if labels is not None:
            import numpy as np

            values, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
            for value, count in zip(values, counts):
                self.predicted.inc(int(count), {**self.tags, "class": str(value)})
