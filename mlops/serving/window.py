"""Rolling statistics of served traffic, in time buckets: what alerts and `mlops status` read.

Replicas accumulate a `Delta` locally (cheap, no I/O) and ship it to the app's monitor deployment about
once a second; the monitor merges deltas into 10-second buckets kept for `RETENTION_S`. Latencies are
counted in a fixed log-scale histogram (LATENCY_BINS bins, ~4% apart), so memory stays the same under
any load: 6 h of buckets hold about 2,200 small arrays, not millions of samples, and a percentile is a
walk over summed counts.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

BUCKET_S = 10
RETENTION_S = 6 * 3600
LATENCY_MIN_MS, LATENCY_MAX_MS = 0.01, 600_000.0  # 10 us .. 10 min; outside: clamped to the end bins
LATENCY_BINS = 460  # log-spaced: each bin ~4% wider than the one before
_LOG_MIN = math.log(LATENCY_MIN_MS)
_BIN_WIDTH = (math.log(LATENCY_MAX_MS) - _LOG_MIN) / LATENCY_BINS


def latency_bin(ms: float) -> int:
    """The histogram bin of a latency in ms."""
    if ms <= LATENCY_MIN_MS:
        return 0
    return min(int((math.log(ms) - _LOG_MIN) / _BIN_WIDTH), LATENCY_BINS - 1)


def bin_value(index: int) -> float:
    """The geometric middle of a bin: within ~2% of any latency counted in it."""
    return math.exp(_LOG_MIN + (index + 0.5) * _BIN_WIDTH)


def empty_histogram() -> list[int]:
    """A latency histogram with no requests counted."""
    return [0] * LATENCY_BINS


def percentile(counts: Any, q: float) -> float | None:
    """The q-th percentile (0..100) of the latencies counted in `counts`."""
    total = int(sum(counts))
    if total == 0:
        return None
    rank, seen = q / 100 * total, 0
    for index, n in enumerate(counts):
        seen += n
        if n and seen >= rank:
            return bin_value(index)
    return bin_value(LATENCY_BINS - 1)


@dataclass
class Delta:
    """One replica's traffic since its last flush."""

    requests: int = 0
    rows: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    outliers: int = 0
    scored_rows: int = 0
    latency_counts: dict[int, int] = field(default_factory=dict)  # sparse: bin -> requests
    inputs: list[list[Any]] = field(default_factory=list)  # sampled rows for the drift window
    infra: dict[str, Any] | None = None  # the replica's CPU/memory/GPU sample (mlops.serving.infra_metrics)

    def latency(self, ms: float) -> None:
        """Count one request's latency."""
        index = latency_bin(ms)
        self.latency_counts[index] = self.latency_counts.get(index, 0) + 1

    def error(self, kind: str) -> None:
        """Count one failed request of `kind`."""
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def empty(self) -> bool:
        """Nothing to ship: no request, error or row since the last flush."""
        return not (self.requests or self.errors or self.rows)


@dataclass
class Bucket:
    """The merged deltas of one BUCKET_S span, from `start`."""

    start: float
    requests: int = 0
    rows: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    outliers: int = 0
    scored_rows: int = 0
    latency_counts: dict[int, int] = field(default_factory=dict)  # sparse histogram: at most LATENCY_BINS keys


class TrafficWindow:
    """Buckets of merged deltas; `summary(window_s)` answers over any recent span."""

    def __init__(self) -> None:
        self.buckets: deque[Bucket] = deque()

    def add(self, delta: Delta, now: float | None = None) -> None:
        """Merge a replica's delta into the current bucket; drop buckets past RETENTION_S."""
        now = time.time() if now is None else now
        start = now - now % BUCKET_S
        if not self.buckets or self.buckets[-1].start != start:
            self.buckets.append(Bucket(start))
        b = self.buckets[-1]
        b.requests += delta.requests
        b.rows += delta.rows
        b.outliers += delta.outliers
        b.scored_rows += delta.scored_rows
        for kind, n in delta.errors.items():
            b.errors[kind] = b.errors.get(kind, 0) + n
        for index, n in delta.latency_counts.items():
            b.latency_counts[index] = b.latency_counts.get(index, 0) + n
        while self.buckets and self.buckets[0].start < now - RETENTION_S:
            self.buckets.popleft()

    def summary(self, window_s: float, now: float | None = None) -> dict[str, Any]:
        """Requests, rows, errors, error rate, latency p50/p99 and outlier rate over the last `window_s`."""
        now = time.time() if now is None else now
        recent = [b for b in self.buckets if b.start >= now - window_s - BUCKET_S]
        requests = sum(b.requests for b in recent)
        errors: dict[str, int] = {}
        counts = empty_histogram()
        for b in recent:
            for kind, n in b.errors.items():
                errors[kind] = errors.get(kind, 0) + n
            for index, n in b.latency_counts.items():
                counts[index] += n
        failed = sum(errors.values())
        # A 401 says nothing about the model or the service (a caller without the token, a stranger's probe):
        # counted by kind, left out of the error rate that alerts judge, so nobody can page the owner with it.
        judged = failed - errors.get("auth", 0)
        scored = sum(b.scored_rows for b in recent)
        return {
            "window_s": window_s, "requests": requests + failed, "rows": sum(b.rows for b in recent),
            "errors": errors, "error_rate": judged / (requests + judged) if requests + judged else 0.0,
            "latency_p50_ms": percentile(counts, 50), "latency_p99_ms": percentile(counts, 99),
            "outlier_rate": sum(b.outliers for b in recent) / scored if scored else None,
        }
