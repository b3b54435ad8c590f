"""Infrastructure metrics of the endpoint's replicas: each replica's CPU and memory and, where present, GPU
utilisation and memory; merged into GET {route}/stats (`infra`), exported to Prometheus with the endpoint's
metrics, judged by `monitoring.alerts` (replica_cpu_percent, replica_memory_mb, gpu_util_percent,
gpu_memory_mb: the busiest replica) and shown by `mlops status`.

`sample()` is cheap enough for every second (a clock read, /proc/self/statm, and NVML only when a GPU
is visible). Nothing here is required: no psutil, no pynvml, no torch, no GPU -> those keys are omitted,
never an error. The path: the replica ships `replica_sample(model)` with its traffic delta (about once a
second while it serves), the monitor keeps the latest per replica in an `InfraBoard`, and `merge_infra`
puts them in its /stats answer."""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

STALE_S = 60.0  # a replica that has not reported for this long is gone or idle: its sample is not judged
_GAUGES: dict[str, Any] = {}
GAUGE_HELP = {
    "cpu_percent": ("mlops_replica_cpu_percent", "CPU use of the replica process (100 = one core)."),
    "rss_mb": ("mlops_replica_memory_mb", "Resident memory of the replica process, MiB."),
    "gpu_util_percent": ("mlops_replica_gpu_util_percent", "Utilisation of the replica's GPUs (the busiest), percent."),
    "gpu_memory_mb": ("mlops_replica_gpu_memory_mb", "GPU memory the replica uses, MiB."),
}
# /stats `infra` keys (the alert metric names) -> the per-replica sample key they are the maximum of
ALERT_KEYS = {"replica_cpu_percent": "cpu_percent", "replica_memory_mb": "rss_mb",
              "gpu_util_percent": "gpu_util_percent", "gpu_memory_mb": "gpu_memory_mb"}


class InfraSampler:
    """CPU percent needs the previous reading: one sampler per process keeps it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = (time.monotonic(), time.process_time())
        self._cpu = 0.0
        self._nvml: list[Any] | None = None  # device handles; [] once known to be absent

    def sample(self) -> dict[str, Any]:
        """This process now: cpu_percent (since the last call; 100 = one core), rss_mb, and GPU use if any."""
        with self._lock:
            wall, cpu = time.monotonic(), time.process_time()
            if wall - self._last[0] >= 0.05:  # a burst of calls reuses the last figure instead of dividing by ~0
                self._cpu = max(0.0, (cpu - self._last[1]) / (wall - self._last[0]) * 100.0)
                self._last = (wall, cpu)
            out = {"at": time.time(), "pid": os.getpid(), "cpu_percent": round(self._cpu, 1)}
        rss = _rss_mb()
        if rss is not None:
            out["rss_mb"] = round(rss, 1)
        out.update(self._gpu())
        return out

    def _gpu(self) -> dict[str, Any]:
        if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
            return {}  # Ray hides every GPU from a replica that asked for none
        if self._nvml is None:
            self._nvml = _nvml_handles()
        if self._nvml:
            return _nvml_sample(self._nvml)
        return _torch_sample()


def _rss_mb() -> float | None:
    """Resident memory of this process in MiB (psutil if installed, else /proc; None where neither works)."""
    try:
        import psutil  # type: ignore[import-not-found]

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pass
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def _nvml_handles() -> list[Any]:
    """NVML handles of the GPUs this process may use (CUDA_VISIBLE_DEVICES), [] without pynvml or a GPU."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception:  # noqa: BLE001 - no library, no driver, no device: GPU metrics are simply absent
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    wanted = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(count)]
    handles = []
    for item in wanted:
        try:
            handles.append(pynvml.nvmlDeviceGetHandleByIndex(int(item)) if item.isdigit()
                           else pynvml.nvmlDeviceGetHandleByUUID(item))
        except Exception:  # noqa: BLE001 - a name NVML does not know (a MIG slice): leave it out
            continue
    return handles


def _nvml_sample(handles: list[Any]) -> dict[str, Any]:
    """Busiest visible GPU's utilisation; this process's GPU memory (the devices' used memory when NVML
    cannot see our pid, e.g. in a container with its own pid namespace)."""
    import pynvml  # type: ignore[import-not-found]

    util, ours, used = 0, 0, 0
    try:
        for handle in handles:
            util = max(util, pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            used += pynvml.nvmlDeviceGetMemoryInfo(handle).used
            for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == os.getpid() and proc.usedGpuMemory:
                    ours += proc.usedGpuMemory
    except Exception:  # noqa: BLE001 - a driver hiccup: this sample has no GPU figures
        return {}
    return {"gpus": len(handles), "gpu_util_percent": float(util), "gpu_memory_mb": round((ours or used) / 2**20, 1)}


def _torch_sample() -> dict[str, Any]:
    """GPU memory torch holds, only if the model already imported torch and initialised CUDA (never
    imported here: seconds of import for a metric)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return {}
    count = torch.cuda.device_count()
    reserved = sum(torch.cuda.memory_reserved(i) for i in range(count))
    return {"gpus": count, "gpu_memory_mb": round(reserved / 2**20, 1)}


_SAMPLER = InfraSampler()


def sample() -> dict[str, Any]:
    """The current process (a replica): cpu_percent, rss_mb, and where present gpus, gpu_util_percent, gpu_memory_mb."""
    return _SAMPLER.sample()


def replica_sample(model: str) -> dict[str, Any]:
    """What a replica ships with its traffic delta: `sample()`, named by replica, also set on the Prometheus
    gauges (`ray_mlops_replica_*{model, replica}`) when Ray's metrics are there."""
    found = {**sample(), "replica": _replica_name()}
    export(model, found)
    return found


def _replica_name() -> str:
    try:
        from ray import serve

        context = serve.get_replica_context()
        return str(getattr(getattr(context, "replica_id", None), "unique_id", None) or context.replica_tag)
    except Exception:  # noqa: BLE001 - outside Serve (tests, a plain process): host and pid name it
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"


def export(model: str, found: dict[str, Any]) -> None:
    """Set the replica's gauges; outside a Ray worker (a plain process) nothing is exported."""
    ray = sys.modules.get("ray")  # a replica has imported Ray; importing it here would cost a second
    if ray is None or not ray.is_initialized():
        return
    from ray.util import metrics

    tags = {"model": model, "replica": str(found.get("replica", os.getpid()))}
    for key, (name, help_text) in GAUGE_HELP.items():
        if found.get(key) is None:
            continue
        if key not in _GAUGES:
            _GAUGES[key] = metrics.Gauge(name, help_text, ("model", "replica"))
        _GAUGES[key].set(float(found[key]), tags)


class InfraBoard:
    """The monitor's latest sample per replica (a replica that stopped reporting ages out)."""

    def __init__(self) -> None:
        self.samples: dict[str, dict[str, Any]] = {}

    def add(self, found: dict[str, Any] | None) -> None:
        """Keep a replica's newest sample (None: a delta without one)."""
        if found:
            self.samples[str(found.get("replica", found.get("pid")))] = found

    def latest(self, now: float | None = None) -> list[dict[str, Any]]:
        """Samples of replicas heard from within STALE_S; older ones are dropped."""
        now = time.time() if now is None else now
        self.samples = {k: v for k, v in self.samples.items() if now - float(v.get("at", 0)) <= STALE_S}
        return list(self.samples.values())


def merge_infra(stats: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, Any]:
    """`stats` with an `infra` entry: the busiest replica's figure under each alert metric name
    (replica_cpu_percent, replica_memory_mb, gpu_util_percent, gpu_memory_mb; absent ones omitted), how many
    replicas reported, and each replica's sample."""
    infra: dict[str, Any] = {"replicas": len(samples), "per_replica": samples}
    for alert_key, key in ALERT_KEYS.items():
        values = [float(s[key]) for s in samples if s.get(key) is not None]
        if values:
            infra[alert_key] = max(values)
    return {**stats, "infra": infra}


def infra_columns(stats: dict[str, Any]) -> list[str]:
    """`mlops status` cells: e.g. ['cpu 37% (2 replicas)', 'mem 412 MiB', 'gpu 81%', 'gpu mem 3.1 GiB']; [] without samples."""
    infra = (stats or {}).get("infra") or {}
    if not infra.get("replicas"):
        return []
    count = infra["replicas"]
    cells = [f"cpu {infra.get('replica_cpu_percent', 0):.0f}%" + (f" ({count} replicas, busiest)" if count > 1 else "")]
    if infra.get("replica_memory_mb") is not None:
        cells.append(f"mem {_mib(infra['replica_memory_mb'])}")
    if infra.get("gpu_util_percent") is not None:
        cells.append(f"gpu {infra['gpu_util_percent']:.0f}%")
    if infra.get("gpu_memory_mb") is not None:
        cells.append(f"gpu mem {_mib(infra['gpu_memory_mb'])}")
    return cells


def _mib(value: float) -> str:
    return f"{value / 1024:.1f} GiB" if value >= 1024 else f"{value:.0f} MiB"
