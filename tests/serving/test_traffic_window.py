"""The endpoint's traffic window: percentiles from a fixed-size histogram, memory that does not grow."""
from __future__ import annotations

import numpy as np

from mlops.serving.window import LATENCY_BINS, Delta, TrafficWindow


def test_percentiles_from_the_histogram_match_the_samples_closely():
    rng = np.random.default_rng(0)
    samples = rng.lognormal(mean=2.0, sigma=0.8, size=50_000)  # ~7 ms median, long tail
    window, delta = TrafficWindow(), Delta()
    for ms in samples:
        delta.latency(float(ms))
    delta.requests = len(samples)
    window.add(delta, now=1000.0)
    summary = window.summary(300, now=1000.0)
    for key, q in (("latency_p50_ms", 50), ("latency_p99_ms", 99)):
        exact = float(np.percentile(samples, q))
        assert abs(summary[key] - exact) / exact < 0.05, (key, summary[key], exact)


def test_a_million_latencies_take_a_bounded_number_of_counters():
    window = TrafficWindow()
    rng = np.random.default_rng(1)
    for second in range(100):
        delta = Delta(requests=10_000)
        for ms in rng.exponential(20.0, size=10_000):
            delta.latency(float(ms))
        window.add(delta, now=float(second))
    counters = sum(len(b.latency_counts) for b in window.buckets)
    assert counters <= len(window.buckets) * LATENCY_BINS and len(window.buckets) == 10
    assert window.summary(300, now=100.0)["requests"] == 1_000_000


def test_refused_tokens_are_counted_but_left_out_of_the_error_rate():
    """A caller without the token (401) says nothing about the model: a stranger cannot fire error_rate alerts."""
    window, delta = TrafficWindow(), Delta(requests=90)
    for kind, n in (("auth", 1000), ("validation", 5), ("internal", 5)):
        for _ in range(n):
            delta.error(kind)
    window.add(delta, now=10.0)
    summary = window.summary(300, now=10.0)
    assert summary["errors"] == {"auth": 1000, "validation": 5, "internal": 5} and summary["requests"] == 1100
    assert summary["error_rate"] == 10 / 100
