"""The endpoint replica: the Serve deployment class that loads the model, swaps it in place, batches and
scores requests, logs predictions and ships traffic numbers to the monitor.

The model is loaded once per replica in `reconfigure` (hash-verified) and swapped atomically when the
deployment's user_config names another version, so in-flight requests finish on the old one. During a
rollout the replica holds every live version and a router picks one per request (mlops.serving.live_versions). The HTTP
side (routes, limits, token, error bodies) is mlops.serving.ingress, built on the replica after its
constructor. The class is module-level, so Serve pickles it by reference and replicas import it.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Optional

import numpy as np
from ray import serve

from mlops.models.device import device_of
from mlops.serving.endpoint_config import EndpointConfig
from mlops.serving.live_versions import LiveVersions, Routed, version_of
from mlops.serving.served_explanations import ServedExplanations
from mlops.serving.scoring import RowRefused, infer, label_problems, refusal, store_refusal
from mlops.serving.version_stats import VersionDelta
from mlops.serving.window import Delta

INFRA_EVERY_S = 5.0  # how often an idle replica still sends its infrastructure sample

COMPANY_MEMORY_S = 0.5  # how long one concurrent arrival keeps a replica in batching mode


@serve.ingress()
class Endpoint(LiveVersions, ServedExplanations):
    """One replica of the endpoint deployment, configured by its EndpointConfig (and the monitor's handle)."""

    def __init__(self, config: EndpointConfig, monitor: Any = None) -> None:
        self.config = config
        self.columns, self.row_fields = config.columns, config.row_fields
        self._init_versions()  # every live version (a rollout's challenger too), the router between them, the champion
        self._explainers = {}  # version -> SHAP explainer, built by the first /explain of that version
        self.observers: list = []  # callables(frame, predictions, proba, version), e.g. monitoring windows
        self.monitor = monitor  # handle of the app's monitor deployment (None without one)
        self.delta = Delta()  # traffic since the last flush to the monitor
        self._metrics: Any = None
        self._flusher, self._pending = None, None
        self._infra_at = 0.0  # when the last infrastructure sample was shipped
        self._inflight, self._batched = 0, 0  # requests in _predict, and those of them in a batch
        self._company_at = 0.0  # when a request last arrived while others were in flight
        self.swap_error: Optional[dict[str, Any]] = None  # the last refused hot swap, until one succeeds
        self.log, self.feedback_log = None, None
        self.store = None  # the online store, when requests are filled from it (features_from_store)
        # Only the features the model takes: a view feature it dropped never needs a lookup (nor a 404).
        self.views = [{**v, "features": [f for f in v["features"] if f in self.columns]} for v in config.settings.feature_views]
        if config.online_store:
            from mlops.feature_store.online_store import OnlineStore

            self.store = OnlineStore(config.online_store, create=False)  # missing: "run mlops features materialize"
        if config.monitoring_dir:
            from mlops.serving.traffic_log import FeedbackLog, PredictionLog

            self.log = PredictionLog(config.monitoring_dir, config.settings.logs)
            self.feedback_log = FeedbackLog(config.monitoring_dir, config.settings.logs)
        # The batch queue belongs to the method, in this replica's process: sized here, before its first use
        # (larger on a replica that holds a GPU: mlops.models.device.batch_size_for_device).
        from mlops.models.device import batch_size_for_device

        self.max_batch = batch_size_for_device(config.settings.batching.max_batch_size)
        self._predict_batch.set_max_batch_size(self.max_batch)
        self._predict_batch.set_batch_wait_timeout_s(config.settings.batching.wait_ms / 1000.0)
        self._explain_batch.set_max_batch_size(config.settings.batching.max_batch_size)
        self._explain_batch.set_batch_wait_timeout_s(config.settings.batching.wait_ms / 1000.0)

    def __serve_build_asgi_app__(self) -> Any:
        """The replica's FastAPI app (Serve calls this after the constructor)."""
        from mlops.serving.ingress import EndpointAPI

        return EndpointAPI(self.config, self)

    @property
    def metrics(self) -> Any:
        """The replica's Prometheus metrics (created on first use, in the replica)."""
        if self._metrics is None:
            from mlops.serving.prometheus import EndpointMetrics

            self._metrics = EndpointMetrics(self.config.name)
        return self._metrics

    def count_error(self, kind: str, version: Optional[str] = None) -> None:
        """One failed request of `kind` (validation, auth, payload, internal), in metrics and traffic."""
        self.metrics.error(kind, version=version or self.version or "")
        self.delta.error(kind)

    def _ensure_flusher(self) -> None:
        """Ship the traffic delta to the monitor about once a second (started on the first request)."""
        if self._flusher is None and self.monitor is not None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._flush()

    def _flush(self) -> None:
        from mlops.serving.infra_metrics import replica_sample

        delta, versions = self.delta, self.vdelta
        now = time.monotonic()
        # An idle replica still reports its CPU/memory now and then, so infrastructure alerts can resolve.
        if self.monitor is None or (delta.empty() and versions.empty() and now - self._infra_at < INFRA_EVERY_S):
            return
        self._infra_at, delta.infra = now, replica_sample(self.config.name)
        self.delta, self.vdelta = Delta(), VersionDelta()
        self._pending = self.monitor.record.remote(delta, versions)  # fire and forget; keep the last one referenced

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)  # sized from the config in __init__
    async def _predict_batch(self, requests: list[list[list[Any]]]) -> list[Any]:
        """On the event loop: measured, a model thread lost more to GIL hand-offs than it gained in overlap."""
        return self._score(requests)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)  # sized from the config in __init__
    async def _explain_batch(self, requests: list[list[list[Any]]]) -> list[Any]:
        """/explain's batches, in a worker thread: an explanation costs far more than a prediction, and
        the event loop must go on answering /predict meanwhile."""
        outcomes = await asyncio.to_thread(self.explain_requests, requests)
        return outcomes

    def _score(self, requests: list[list[list[Any]]]) -> list[Any]:
        """Each request's answer tuple, or the exception that request alone must get (a request's rows are
        Routed when the router picked its version). With the online store, the requests' rows are filled
        first, with one store read per view for the whole batch (read per request, on the event loop before
        each request joined its batch, they made the batches smaller); a row the store cannot fill refuses
        its own request only."""
        if self.store is None:
            return self._score_versions(requests)
        from mlops.feature_store.lookup import fill_requests

        names, columns = self.row_fields, self.columns
        filled = fill_requests([[dict(zip(names, row)) for row in rows] for rows in requests], self.store, self.views)
        outcomes: list[Any] = [store_refusal(rows) if isinstance(rows, Exception)
                               else Routed([[row[c] for c in columns] for row in rows], version_of(requests[k]))
                               for k, rows in enumerate(filled)]
        ready = [k for k, outcome in enumerate(outcomes) if not isinstance(outcome, Exception)]
        for k, answer in zip(ready, self._score_versions([outcomes[k] for k in ready]) if ready else []):
            outcomes[k] = answer
        return outcomes

    def _score_versions(self, requests: list[list[list[Any]]]) -> list[Any]:
        """_score of model input rows: one model call per version in the batch (one, outside a rollout)."""
        versions = [version_of(rows) for rows in requests]
        if all(version == versions[0] for version in versions):
            return self._score_rows(requests, versions[0])
        out: list[Any] = [None] * len(requests)
        for version in dict.fromkeys(versions):
            mine = [k for k, v in enumerate(versions) if v == version]
            for k, answer in zip(mine, self._score_rows([requests[k] for k in mine], version)):
                out[k] = answer
        return out

    def _score_rows(self, requests: list[list[list[Any]]], version: Optional[str] = None) -> list[Any]:
        """One model call of `version` (default: the champion) for all; if it fails, one per request, so a
        bad request fails alone (Serve's batching would hand one exception to every request in the batch)."""
        if version not in self.loaded:  # the champion's, or unloaded since it was picked (a rollback)
            version = self.version
        bundle, fast = self.loaded[version]
        try:
            computed = infer(bundle, fast, requests)
        except Exception as exc:  # noqa: BLE001 - sorted out request by request below
            if len(requests) == 1:
                return [refusal(bundle, requests[0], exc)]
            out: list[Any] = []
            for rows in requests:
                out.extend(self._score_rows([rows], version))
            return out
        router = self.router
        if router.shadow is not None and version == router.routing.champion and router.shadow != version:
            asyncio.get_running_loop().call_soon(self.shadow_score, router.shadow, router.epoch, requests, computed[1])
        return self._account(requests, version, bundle, computed)

    async def _predict(self, rows: list[list[Any]], version: Optional[str] = None) -> tuple:
        """Batch under load. A replica that has seen no concurrent requests lately answers at once: at
        concurrency 1 the batch window would only be waited out for company that is not coming. "Lately",
        not "now": under load, the first request after a batch often finds the replica empty, and
        answering it alone would cost a whole model call for one row."""
        rows = Routed(rows, version) if version is not None else rows
        self._inflight += 1
        try:
            await asyncio.sleep(0)  # requests that arrived with this one get to count themselves first
            now = time.monotonic()
            if self._inflight > 1 or self._batched:
                self._company_at = now
            if now - self._company_at > COMPANY_MEMORY_S:
                outcome = self._score([rows])[0]
            else:
                self._batched += 1
                try:
                    outcome = await self._predict_batch(rows)
                finally:
                    self._batched -= 1
        finally:
            self._inflight -= 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _account(self, requests: list[list[list[Any]]], version: str, bundle: Any, computed: tuple) -> list[tuple]:
        """Metrics, monitoring window, per-version numbers and observers for one model call (on the event
        loop), then each request's share of the answers, and its rows as scored."""
        frame, labels, proba, scores, flags = computed
        delta = self.delta
        if scores is not None:
            delta.outliers += int(flags.sum())
            delta.scored_rows += len(frame)
        delta.rows += len(frame)
        if self.monitor is not None:
            delta.inputs.extend(row for rows in requests for row in rows)
            window = self.config.settings.drift_window_rows
            if len(delta.inputs) > window:
                del delta.inputs[: len(delta.inputs) - window]
            self.vdelta.predicted(self.router.epoch, version, labels, bundle.task == "classification")
        self.metrics.observe_batch(len(frame), version, labels if proba is not None else None)
        for observe in self.observers:
            observe(frame, labels, proba, version)
        out, start = [], 0
        for rows in requests:
            stop = start + len(rows)
            out.append((labels[start:stop], None if proba is None else proba[start:stop], version,
                        None if scores is None else (scores[start:stop], flags[start:stop]), rows, bundle))
            start = stop
        return out

    def request_rows(self, body: Any) -> tuple[list[list[Any]], Optional[list[Any]]]:
        """A validated request's rows as values in the model's column order, and the rows' ids (None when
        no row carries the id column). Every route's request takes this path. With the online store, the
        rows keep every field (EndpointConfig.row_fields' order) and become model input in the batch,
        which fills what they lack by entity key (_score)."""
        width = len(self.columns)
        values = [list(row.__dict__.values()) for row in body.rows]  # in EndpointConfig.row_fields' order
        ids = None
        if self.config.id_column:
            ids = [row[width] for row in values]
            ids = ids if any(i is not None for i in ids) else None
        if self.store is not None:
            return values, ids
        return [row[:width] for row in values], ids

    async def answer(self, body: Any, route: str = "predict", headers: Optional[dict] = None) -> dict[str, Any]:
        """Predictions, probabilities, outlier flags, echoed ids, the version that answered and the request id
        for a validated request (of any route: each protocol renders this answer its own way). The router
        picks the version (the champion alone outside a rollout); `headers` (raw ASGI) may hold its sticky key."""
        started = time.perf_counter()
        self._ensure_flusher()
        self._ensure_poller()
        router = self.router
        version = router.only or router.pick(self.sticky_value(router, body, headers) if router.routing.sticky else None)
        self.metrics.request(route, version)
        values, ids = self.request_rows(body)
        try:
            labels, proba, version, outliers, rows, bundle = await self._predict(values, version)
        except RowRefused:
            self.count_error("validation", version)
            raise
        except Exception:  # counted, then answered 500; the replica keeps serving
            self.count_error("internal", version)
            self.vdelta.failed(router.epoch, version)
            raise
        request_id = uuid.uuid4().hex
        predictions = np.asarray(labels).tolist()
        response = {"predictions": predictions, "model_version": version, "request_id": request_id}
        if proba is not None:
            response["classes"] = np.asarray(bundle.model.classes_).tolist()
            response["probabilities"] = proba.tolist()
        if ids is not None:
            response["ids"] = ids
        if outliers is not None:
            response["outlier_scores"] = outliers[0].tolist()
            response["outliers"] = outliers[1].tolist()
        if self.log is not None:
            self.log.write([(request_id, i) for i in range(len(rows))], [dict(zip(self.columns, r)) for r in rows],
                           predictions, version)
        elapsed = (time.perf_counter() - started) * 1000
        self.metrics.observe_latency(elapsed, version)
        self.delta.requests += 1
        self.delta.latency(elapsed)
        self.vdelta.answered(router.epoch, version, elapsed)
        return response

    def store_feedback(self, items: list[Any]) -> list[dict[str, str]]:
        """Store ground-truth labels; the 422 details of labels the model could never have predicted
        instead (nothing is stored then)."""
        refused = label_problems(self.bundle, items)
        if not refused:
            self.feedback_log.write([item.model_dump() for item in items])
        return refused

    async def traffic_stats(self, window_s: float) -> Optional[dict[str, Any]]:
        """The monitor's numbers over `window_s`, this replica's latest included (None without a monitor)."""
        if self.monitor is None:
            return None
        self._flush()
        if self._pending is not None:
            await self._pending  # our own latest numbers are in before we ask
        return await self.monitor.stats.remote(window_s)

    def readiness(self) -> dict[str, Any]:
        """{"ready": False} before the first load; else the version served (and a refused one, if any)."""
        if self.bundle is None:
            return {"ready": False}
        answer = {"ready": True, "model_version": self.version}
        if self.swap_error is not None:  # the version only; the reason is behind the token, at /metadata
            answer["refused_version"] = self.swap_error["version"]
        return answer

    def metadata(self) -> dict[str, Any]:
        """What is served: name, version, task, metrics, input schema, route, fast path, the last refused swap,
        the device the champion predicts on and the replica's batch cap,
        the id column, the columns where null is accepted, the ignored target column, the feature views
        requests are filled from, and the hash of the endpoint's settings (equal to the hash of the deploy
        node's params in the recorded plan: what runs is what was applied)."""
        self._ensure_poller()  # a replica that has seen no request yet still takes a rollout's table
        meta, settings = self.bundle.meta, self.config.settings
        return {"name": settings.name, "version": self.version, "task": meta.get("task"), "metric": meta.get("metric"),
                "metrics": meta.get("metrics"), "classes": meta.get("classes"), "input_schema": meta.get("input_schema"),
                "route": settings.route, "fast_path": self.serving[1] is not None, "swap_error": self.swap_error,
                "id_column": self.config.id_column, "takes_null": self.config.takes_null,
                "target_column": self.config.target_column,
                "features_from_store": [v["name"] for v in settings.feature_views] or None,
                "settings_hash": settings.settings_hash(), "live_versions": list(self.loaded),
                # where the champion predicts (a torch model on the GPU this replica holds) and its batch cap
                "device": device_of(self.bundle.model),
                "max_batch_size": self.max_batch,
                "routing": {**self.router.routing.to_dict(), "shares": self.router.shares()}}
