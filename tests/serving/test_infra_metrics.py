"""Replica infrastructure metrics: real readings of this process (CPU, memory; GPU keys only where a GPU is
visible), merged into /stats, judged by alerts, shown by `mlops status`, exported to Prometheus from a Ray actor."""
from __future__ import annotations

import gc
import mmap
import os
import time

import pytest

from mlops.monitoring import alerts
from mlops.serving import infra_metrics
from mlops.serving.infra_metrics import InfraBoard, InfraSampler, infra_columns, merge_infra
from mlops.spec.monitoring import Alert


def test_a_sample_reads_this_process_cpu_and_memory():
    sampler = InfraSampler()
    spent, began = time.process_time(), time.perf_counter()
    while time.process_time() - spent < 0.2:  # burn CPU: the figure is CPU time over wall time since the last call
        sum(range(1000))
    busy = sampler.sample()
    # What this process really got, measured here too (on a loaded machine that can be far below 100%).
    expected = 100 * (time.process_time() - spent) / (time.perf_counter() - began)
    assert busy["pid"] == os.getpid() and 0.5 * expected < busy["cpu_percent"] <= 1.5 * expected + 5, (busy, expected)
    # A collection between the two readings would free what earlier tests left in reference cycles and shrink
    # the process by as much (seen once in a full run): collect first, and none in between.
    gc.collect()
    gc.disable()
    try:
        before = sampler.sample()["rss_mb"]
        # Fresh pages from the kernel, each written, so resident: a Python object of the same size may be carved
        # from memory the allocator already holds (resident since an earlier test), and not grow the process
        # at all (seen in full runs: 0 MiB).
        held = mmap.mmap(-1, 200 * 2**20)
        for page in range(0, len(held), mmap.PAGESIZE):
            held[page] = 1
        grown = sampler.sample()["rss_mb"] - before
    finally:
        gc.enable()
    assert grown > 150, grown
    held.close()


def test_no_gpu_means_no_gpu_keys_never_an_error(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # what Ray gives a replica that asked for no GPU
    found = InfraSampler().sample()
    assert not {"gpus", "gpu_util_percent", "gpu_memory_mb"} & set(found)


def test_sampling_is_cheap_enough_for_every_second():
    start = time.perf_counter()
    for _ in range(200):
        infra_metrics.sample()
    assert (time.perf_counter() - start) / 200 < 0.005  # well under 5 ms each, even on a loaded CI machine


def test_stats_carry_the_busiest_replica_and_stale_replicas_age_out():
    now = time.time()
    board = InfraBoard()
    board.add({"replica": "a", "at": now, "cpu_percent": 20.0, "rss_mb": 900.0})
    board.add({"replica": "b", "at": now, "cpu_percent": 85.0, "rss_mb": 300.0})
    board.add({"replica": "gone", "at": now - 120, "cpu_percent": 99.0, "rss_mb": 9000.0})
    board.add(None)  # a delta shipped without a sample
    stats = merge_infra({"requests": 10}, board.latest(now))
    infra = stats["infra"]
    assert stats["requests"] == 10 and infra["replicas"] == 2
    assert infra["replica_cpu_percent"] == 85.0 and infra["replica_memory_mb"] == 900.0
    assert "gpu_util_percent" not in infra and "gpu_memory_mb" not in infra
    assert infra_columns(stats) == ["cpu 85% (2 replicas, busiest)", "mem 900 MiB"]
    gpu = merge_infra({}, [{"replica": "g", "at": now, "cpu_percent": 5, "rss_mb": 2048, "gpu_util_percent": 81,
                            "gpu_memory_mb": 3174.4}])
    assert infra_columns(gpu) == ["cpu 5%", "mem 2.0 GiB", "gpu 81%", "gpu mem 3.1 GiB"]
    assert infra_columns({"requests": 3}) == []


def test_alerts_judge_infra_metrics_from_the_latest_samples():
    stats = merge_infra({"error_rate": 0.0}, [{"replica": "a", "at": time.time(), "cpu_percent": 97.0, "rss_mb": 512.0}])
    rules = [Alert(metric="replica_cpu_percent", above=90), Alert(metric="replica_memory_mb", above=4096),
             Alert(metric="gpu_memory_mb", above=1000)]
    cpu, memory, gpu = alerts.judge(rules, lambda window: stats)
    assert cpu.fired and "over the latest replica samples" in cpu.reason
    assert not memory.fired and memory.value == 512.0
    assert not gpu.fired and gpu.reason.startswith("no data")  # no GPU: nothing measured, nothing fires


@pytest.mark.slow
def test_a_replica_exports_its_gauges_to_prometheus(ray_local):
    from conftest import scrape_metric_names

    @ray_local.remote(num_cpus=0)
    class Replica:
        def ship(self) -> dict:
            return infra_metrics.replica_sample("infratest")

    replica = Replica.remote()
    try:
        shipped = ray_local.get(replica.ship.remote())
        assert shipped["replica"] and shipped["rss_mb"] > 0
        wanted = {"ray_mlops_replica_cpu_percent", "ray_mlops_replica_memory_mb"}
        assert wanted <= scrape_metric_names("infratest", wanted)
    finally:
        ray_local.kill(replica)
