"""The endpoint's monitor: one small deployment per application that merges the replicas' traffic
deltas, keeps a bounded window of recent inputs and runs the drift detector on it periodically. During a
rollout it also merges the per-version numbers (mlops.serving.version_stats) and holds the routing table
the replicas poll (mlops.serving.live_versions: the fast path of a weight change).

Its numbers are exported through Ray's metrics API (mlops_window_*, mlops_drift_*) and answered at
GET {route}/stats, which `mlops status` and the alerts of `mlops monitor` read.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any

from mlops.serving.endpoint_config import EndpointConfig
from mlops.serving.infra_metrics import InfraBoard, merge_infra
from mlops.serving.traffic_split import Routing
from mlops.serving.version_stats import VersionStats
from mlops.serving.window import TrafficWindow

DRIFT_MIN_ROWS = 50  # a drift check waits for this many recent inputs


class Monitor:
    """The monitor deployment's one replica, configured by the endpoint's config (its settings: the drift
    window, how often to check and the detector; the model's name, store and input columns)."""

    def __init__(self, config: EndpointConfig) -> None:
        self.config, self.settings = config, config.settings
        self.traffic = TrafficWindow()
        self.inputs: deque = deque(maxlen=self.settings.drift_window_rows)
        self.version: str | None = None
        self.reference = None
        self.drift: dict[str, Any] | None = None
        self.last_check = 0.0
        self.checking = False
        self.gauges = None
        self.load_error: dict[str, Any] | None = None  # the last version whose reference did not load
        self.versions = VersionStats()
        self.table: dict[str, Any] | None = None  # a rollout's routing table; None: the champion alone
        self.infra = InfraBoard()  # each replica's latest CPU/memory/GPU sample

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Follow the endpoint's version (and a rollout's routing table). A version whose reference does not
        load never raises (Serve would replace this replica, and its replacements would fail the same way):
        the monitor keeps its current version and reference, as the endpoint's replicas keep their model."""
        table, version = user_config.get("routing"), str(user_config["version"])
        if table is None and self.table is not None:
            # A plain deploy ends a rollout. Serve reconfigures this monitor and the replicas in no set order: a
            # replica polling before its own reconfigure would find no table and fall back on its previous
            # user_config (the version the rollout replaced). "The deployed version alone", newer than the
            # table it replaces, keeps every replica on it meanwhile.
            self.table = {**Routing.single(version).to_dict(), "at": self.table.get("at", 0) + 1e-6}
        elif table is not None and (self.table is None or table.get("at", 0) > self.table.get("at", 0)):
            self.table = table  # a newer table replaces ours
        if version == self.version:
            return
        reference = None
        if self.settings.drift is not None:
            from mlops.registry import load_drift_reference_of

            record = (user_config.get("models") or {}).get(version)
            try:  # the reference alone: the model (and its outlier detector) are the replicas' to load
                reference = load_drift_reference_of(self.config.tracking_uri, self.config.name, version, record)
            except Exception as exc:  # noqa: BLE001 - reported in /stats; traffic keeps being counted
                self.load_error = {"version": version, "error": f"{type(exc).__name__}: {exc}"[:500]}
                if self.version is None:  # nothing to keep: watch traffic, judge no drift
                    self.version = version
                return
        self.version, self.reference, self.load_error = version, reference, None
        self.inputs.clear()  # a new model has a new reference: judge only what it serves
        self.drift = None
        if self.reference is not None:
            self._warm_up()

    def _warm_up(self) -> None:
        """Run the detector once on reference rows now: its first run imports the drift library
        (seconds of CPU), which belongs to deploy time, not to the first minute of traffic."""
        from mlops.detectors.builtin import run_drift

        try:
            run_drift(self.reference, self.reference.frame.head(DRIFT_MIN_ROWS), self.settings.drift)
        except (ValueError, KeyError):  # a sample the test cannot judge: the import is done all the same
            pass

    def set_routing(self, table: dict[str, Any]) -> dict[str, Any]:
        """Take a rollout's newer routing table (the replicas poll it); returns the table in force."""
        if self.table is None or table.get("at", 0) > self.table.get("at", 0):
            self.table = table
        return self.table

    def routing(self) -> dict[str, Any] | None:
        """The routing table in force (None: the champion alone), as the replicas poll it."""
        return self.table

    def version_stats(self, epoch: int | None = None) -> dict[str, Any]:
        """Per-version numbers of `epoch` (default: the routing table's), for rollout decisions."""
        if epoch is None and self.table is not None:
            epoch = self.table.get("epoch")
        return self.versions.summary(epoch)

    async def record(self, delta: Any, versions: Any = None) -> None:
        """Merge a replica's traffic delta (and per-version numbers); start a drift check when one is due."""
        self.traffic.add(delta)
        self.versions.add(versions)
        self.infra.add(getattr(delta, "infra", None))
        self.inputs.extend(delta.inputs)
        self._export()
        if (self.reference is not None and not self.checking and len(self.inputs) >= DRIFT_MIN_ROWS
                and time.time() - self.last_check >= self.settings.drift_every_s):
            import asyncio

            self.checking = True
            rows = list(self.inputs)
            asyncio.get_running_loop().run_in_executor(None, self._check_drift, rows)

    def _check_drift(self, rows: list[list[Any]]) -> None:
        """Judge drift on a copy of the input window (in a thread), then export the result."""
        import pandas as pd

        from mlops.detectors.builtin import run_drift

        try:
            frame = pd.DataFrame(rows, columns=self.config.columns)
            report = run_drift(self.reference, frame, self.settings.drift)
            self.drift = {"drift_share": report.drift_share, "is_drift": report.is_drift,
                          "drifted_features": report.drifted_features, "rows": len(frame),
                          "checked_at": time.time(), "version": self.version}
        except (ValueError, KeyError) as exc:  # e.g. a window of one constant column: report, keep serving
            self.drift = {"error": str(exc), "checked_at": time.time(), "version": self.version}
        finally:
            self.last_check, self.checking = time.time(), False
        self._export()

    def stats(self, window_s: float) -> dict[str, Any]:
        """Traffic over `window_s`, the version followed and the last drift check (GET {route}/stats)."""
        return merge_infra({**self.traffic.summary(window_s), "version": self.version, "drift": self.drift,
                            "drift_window_rows": len(self.inputs), "drift_checks": self.settings.drift is not None,
                            "load_error": self.load_error, "versions": self.version_stats(), "routing": self.table},
                           self.infra.latest())

    def _export(self) -> None:
        from ray.util import metrics

        if self.gauges is None:
            tags = ("model",)
            self.gauges = {
                "drift_share": metrics.Gauge("mlops_drift_share", "Share of features drifted in the recent-input window.", tags),
                "drift_detected": metrics.Gauge("mlops_drift_detected", "1 when the last drift check found drift.", tags),
                "error_rate": metrics.Gauge("mlops_window_error_rate", "Error rate over the last 5 minutes.", tags),
                "latency_p99_ms": metrics.Gauge("mlops_window_latency_p99_ms", "p99 latency over the last 5 minutes.", tags),
                "outlier_rate": metrics.Gauge("mlops_window_outlier_rate", "Outlier rate over the last 5 minutes.", tags),
            }
        tags = {"model": self.config.name}
        summary = self.traffic.summary(300)
        for key in ("error_rate", "latency_p99_ms", "outlier_rate"):
            if summary[key] is not None:
                self.gauges[key].set(summary[key], tags)
        if self.drift and "drift_share" in self.drift:
            self.gauges["drift_share"].set(self.drift["drift_share"], tags)
            self.gauges["drift_detected"].set(float(self.drift["is_drift"]), tags)


def build_monitor(cfg: EndpointConfig, user_config: dict[str, Any] | None = None) -> Any:
    """The bound monitor deployment (the ingress gets its handle); it restarts when the replicas do. Its
    user_config is the endpoint's (the version, and a rollout's routing table)."""
    from ray import serve

    from mlops.serving.code_version import with_code_version

    user_config = user_config or {"version": cfg.version}
    monitor = serve.deployment(Monitor, name="monitor", num_replicas=1, user_config=user_config,
                               ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
    return with_code_version(monitor, cfg.code_version()).bind(cfg)
