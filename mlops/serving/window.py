"""Rolling statistics of served traffic, in time buckets: what alerts and `mlops status` read.

Replicas accumulate a `Delta` locally (cheap, no I/O) and ship it to the app's monitor deployment about
once a second; the monitor merges deltas into 10-second buckets kept for `RETENTION_S`.
"""
from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

BUCKET_S = 10
RETENTION_S = 6 * 3600
LATENCY_SAMPLES_PER_DELTA = 512  # reservoir per delta: percentiles stay cheap under any load


@dataclass
class Delta:
    """One replica's traffic since its last flush."""

    requests: int = 0
    rows: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    outliers: int = 0
    scored_rows: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seen_latencies: int = 0
    inputs: list[list[Any]] = field(default_factory=list)  # sampled rows for the drift window

    def latency(self, ms: float) -> None:
        self.seen_latencies += 1
        if len(self.latencies_ms) < LATENCY_SAMPLES_PER_DELTA:
            self.latencies_ms.append(ms)
        else:  # reservoir sampling keeps a uniform sample of this interval
            j = random.randrange(self.seen_latencies)
            if j < LATENCY_SAMPLES_PER_DELTA:
                self.latencies_ms[j] = ms

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def empty(self) -> bool:
        return not (self.requests or self.errors or self.rows)


@dataclass
class Bucket:
    start: float
    requests: int = 0
    rows: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    outliers: int = 0
    scored_rows: int = 0
    latencies_ms: list[float] = field(default_factory=list)


class TrafficWindow:
    """Buckets of merged deltas; `summary(window_s)` answers over any recent span."""

    def __init__(self) -> None:
        self.buckets: deque[Bucket] = deque()

    def add(self, delta: Delta, now: float | None = None) -> None:
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
        b.latencies_ms.extend(delta.latencies_ms)
        while self.buckets and self.buckets[0].start < now - RETENTION_S:
            self.buckets.popleft()

    def summary(self, window_s: float, now: float | None = None) -> dict[str, Any]:
        import numpy as np

        now = time.time() if now is None else now
        recent = [b for b in self.buckets if b.start >= now - window_s - BUCKET_S]
        requests = sum(b.requests for b in recent)
        errors: dict[str, int] = {}
        for b in recent:
            for kind, n in b.errors.items():
                errors[kind] = errors.get(kind, 0) + n
        failed = sum(errors.values())
        latencies = np.array([x for b in recent for x in b.latencies_ms]) if recent else np.array([])
        scored = sum(b.scored_rows for b in recent)
        return {
            "window_s": window_s, "requests": requests + failed, "rows": sum(b.rows for b in recent),
            "errors": errors, "error_rate": failed / (requests + failed) if requests + failed else 0.0,
            "latency_p50_ms": float(np.percentile(latencies, 50)) if latencies.size else None,
            "latency_p99_ms": float(np.percentile(latencies, 99)) if latencies.size else None,
            "outlier_rate": sum(b.outliers for b in recent) / scored if scored else None,
        }
