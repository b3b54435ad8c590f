"""The versions one replica holds and which of them answers: the champion alone (a plain endpoint), or a
rollout's routing table (mlops.serving.traffic_split) over the champion and a challenger or previous
champion. Mixed into the replica (mlops.serving.replica.Endpoint).

Two paths bring a table. A rollout hands it to the app's monitor deployment, and each replica polls it
every POLL_S: versions it names that are not loaded yet load in a thread while the current table goes on
serving, then the replica switches; a weight change (a rollback) reaches every answer within about POLL_S
(benchmarks/rollout_router.py measures it). The deployment's user_config (`{"version": champion}`, with an
optional "routing" table) is the other: Serve applies it by calling `reconfigure` on each replica, which
holds the replica out of the proxy's targets while it runs (seconds when it loads a model), so rollouts
never load through it. A rollout's last decision is a plain deploy of the version that stays (already loaded,
so its reconfigure is quick): it clears the monitor's table, and a replica whose monitor holds no table
routes by its own user_config again.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

from mlops.serving.traffic_split import Router, Routing
from mlops.serving.version_stats import VersionDelta

POLL_S = 0.2


class Routed(list):
    """A request's rows with the version the router picked for them (they travel through the batch together)."""

    def __init__(self, rows: list[list[Any]], version: Optional[str]) -> None:
        super().__init__(rows)
        self.version = version


def version_of(rows: list[list[Any]]) -> Optional[str]:
    """The version picked for a request's rows (None: the champion's)."""
    return getattr(rows, "version", None)


class LiveVersions:
    """The replica's loaded versions (version -> (bundle, fast path)), its router and the champion's
    `serving` tuple; the replica provides `config`, `monitor`, `metrics` and `_score_version`."""

    config: Any
    monitor: Any
    metrics: Any
    swap_error: Optional[dict[str, Any]]

    def _init_versions(self) -> None:
        self.serving = (None, None, None)
        self.vdelta = VersionDelta()
        self._poller, self._tried_at = None, 0.0  # the poll task; the newest table already acted on
        self._configured: Optional[Routing] = None  # the user_config's routing (the champion alone, outside tests)
        self._records: dict[str, Any] = {}  # version -> its files' record from the user_config (mlops.registry.load_version)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Load the versions the user_config names (its champion, and a rollout's other versions); the
        versions loaded keep serving until the swap.

        A version that does not load (registry, disk, hash or input-schema error) is refused, and a
        replica that serves a version keeps serving it: raising here would make Serve replace the
        replica, and its replacements would fail the same way. The refusal is reported by /metadata,
        the mlops_swap_failures_total metric and `mlops status`. A replica with nothing to serve yet
        (its first load) has no old version to fall back on and fails as before."""
        version = str(user_config["version"])
        # Where the deployer found each version's files (a rollout's table carries its versions' too).
        self._records = {**((user_config.get("routing") or {}).get("models") or {}), **(user_config.get("models") or {})}
        self._configured = Routing.from_dict(user_config.get("routing"), version)  # what the monitor's tables override
        self._take(self._configured)

    def _take(self, routing: Routing) -> None:
        """Load what `routing` needs, keep what is loaded and still needed, then route by it."""
        loaded, refused = {}, None
        for version in routing.live:
            if version in self.loaded:
                loaded[version] = self.loaded[version]
                continue
            try:
                loaded[version] = self._load(version)
            except Exception as exc:  # noqa: BLE001 - any load failure: keep the old version if there is one
                if self.bundle is None and version == routing.champion:
                    raise
                refused = (version, exc)
        champion = routing.champion if routing.champion in loaded else self.version
        if champion != routing.champion:  # the new champion did not load: the old one serves alone
            loaded, routing = {champion: self.loaded[champion]}, Routing.single(champion)
            self._configured = routing  # (not retried on every poll)
        self.loaded = loaded
        self._serving = (*loaded[champion], champion)  # one assignment: a request sees one version's model and path
        self.router = Router(routing, set(loaded))
        if refused is None:
            self.swap_error = None
            return
        self._refuse(*refused, champion)

    def _refuse(self, version: str, exc: Exception, serving: Optional[str]) -> None:
        """A version that did not load: reported by /metadata, the swap-failures metric and the log."""
        self.swap_error = {"version": version, "error": f"{type(exc).__name__}: {exc}"[:500], "at": time.time(),
                           "serving": serving}
        self.metrics.swap_failed(version)
        logging.getLogger("ray.serve").error("mlops: version %s did not load; still serving version %s: %s",
                                             version, serving, exc)

    def _load(self, version: str) -> tuple:
        """(bundle, verified fast path or None) of a registered version, checked against the endpoint's inputs."""
        from mlops.registry import load_version

        bundle = load_version(self.config.tracking_uri, self.config.name, version, self._records.get(version))
        if bundle.meta.get("flavor") == "torch":  # on the GPU this replica holds (gpus_per_replica), else the CPU
            from mlops.models.device import place

            place(bundle.model)
        if bundle.input_columns != self.columns:
            raise ValueError(f"version {version} takes inputs {bundle.input_columns}, the endpoint {self.columns}: redeploy")
        fast = None
        if self.config.settings.fast_path:
            from mlops.serving.fast_path import verified_fast_path

            fast = verified_fast_path(bundle)
        return bundle, fast

    @property
    def serving(self) -> tuple:
        """The champion's (bundle, forest fast path or None, version)."""
        return self._serving

    @serving.setter
    def serving(self, value: tuple) -> None:
        """Serve this (bundle, fast path, version) alone (as a first load, or a test, sets it)."""
        bundle, fast, version = value
        self._serving = value
        self.loaded = {version: (bundle, fast)} if version is not None else {}
        self.router = Router(Routing.single(version or ""), set(self.loaded))

    @property
    def bundle(self) -> Any:
        """The champion's model bundle (None before the first load)."""
        return self.serving[0]

    @property
    def version(self) -> Optional[str]:
        """The champion's registered version (None before the first load)."""
        return self.serving[2]

    def _ensure_poller(self) -> None:
        """Poll the monitor for a rollout's routing table (started on the first request)."""
        if self._poller is None and self.monitor is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called outside the replica's event loop (a test): nothing to poll from
                return
            self._poller = loop.create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            await self._poll_once()

    async def _poll_once(self) -> None:
        """Ask the monitor for its routing table and route by it when it is newer than the one in force."""
        try:
            table = await self.monitor.routing.remote()
        except Exception as exc:  # noqa: BLE001 - the monitor restarting: the current table stands
            logging.getLogger("ray.serve").warning("mlops: routing poll failed: %s", exc)
            return
        if table and table.get("at", 0) > self.router.routing.at:
            await self._follow(table)
        elif table is None and self._configured is not None and self.router.routing != self._configured:
            # The monitor holds no table: it restarted (the rollout's next tick hands its table over again).
            # Route by the deployment's own user_config.
            self._tried_at = 0.0
            await self._follow({**self._configured.to_dict(), "at": self.router.routing.at + 1e-6}, own=True)

    async def _follow(self, table: dict[str, Any], own: bool = False) -> None:
        """Route by the monitor's newer table. Versions it names that are not loaded yet load in a thread
        first, while the current table goes on serving: a load inside `reconfigure` would hold the replica
        in Serve's UPDATING state, out of the proxy's targets (requests answered 404 meanwhile)."""
        if table.get("at", 0) <= self._tried_at:
            return  # acted on already (a version of it did not load: not retried every poll)
        self._tried_at = table.get("at", 0)
        self._records = {**self._records, **(table.get("models") or {})}  # a rollout's versions' files
        routing = Routing.from_dict(table, self.version)
        for version in [v for v in routing.live if v not in self.loaded]:
            try:
                self.loaded = {**self.loaded, version: await asyncio.to_thread(self._load, version)}
            except Exception as exc:  # noqa: BLE001 - refused like a swap; its share goes to the champion
                self._refuse(version, exc, self.version)
        if table.get("at", 0) <= self.router.routing.at or routing.champion not in self.loaded:
            return  # a newer table came in meanwhile, or the new champion did not load: keep serving
        self.loaded = {v: self.loaded[v] for v in routing.live if v in self.loaded}
        self._serving = (*self.loaded[routing.champion], routing.champion)
        self.router = Router(self._configured if own else routing, set(self.loaded))

    def sticky_value(self, router: Router, body: Any, headers: Optional[dict]) -> Any:
        """The request's sticky key (a field of its first row, or a header), or None."""
        routing = router.routing
        if routing.sticky_key and body.rows:
            return getattr(body.rows[0], routing.sticky_key, None)
        if routing.sticky_header and headers:
            raw = headers.get(routing.sticky_header.lower().encode())
            return raw.decode("latin-1") if raw is not None else None
        return None

    def shadow_score(self, version: str, epoch: int, requests: list, labels: Any) -> None:
        """Score the champion's rows with the shadow version and count agreement; its answers are dropped
        and its failures counted, never raised (scheduled after the champion's answers are handed out)."""
        import numpy as np

        from mlops.serving.scoring import infer

        if version not in self.loaded:
            return
        bundle, fast = self.loaded[version]
        started = time.perf_counter()
        try:
            shadow = infer(bundle, fast, requests)[1]
        except Exception:  # noqa: BLE001 - a failing shadow is a number for the rollout, not an error for callers
            self.vdelta.failed(epoch, version)
            return
        ms = (time.perf_counter() - started) * 1000
        mine, theirs = np.asarray(shadow), np.asarray(labels)
        categorical = bundle.task == "classification"
        agree = int((mine.astype(str) == theirs.astype(str)).sum()) if categorical else int(np.isclose(mine, theirs).sum())
        diff = 0.0 if categorical else float(np.abs(mine.astype(float) - theirs.astype(float)).sum())
        self.vdelta.shadowed(epoch, version, len(requests), len(mine), agree, diff, ms)
        self.vdelta.predicted(epoch, version, mine.tolist(), categorical)
