"""The Ray Serve application: one FastAPI ingress deployment with dynamic batching and hot swap.

(No `from __future__ import annotations` here: FastAPI resolves the locally built request model
from real annotations.)

The request model is built once, at deploy time, from the input schema recorded with the model; the
model is loaded once per replica in `reconfigure` (hash-verified) and swapped atomically when the
deployment's user_config names another version, so in-flight requests finish on the old one.
"""

import hashlib
import hmac
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass
class EndpointConfig:
    """Everything a replica needs, as plain data (it travels to the replicas)."""

    name: str
    tracking_uri: str
    route: str
    version: str
    input_schema: list[dict[str, Any]]
    max_rows: int = 1000
    max_request_bytes: int = 1_000_000
    max_batch_size: int = 32
    wait_ms: float = 5.0
    token_sha256: Optional[str] = None
    deployment_options: dict[str, Any] = field(default_factory=dict)
    monitoring_dir: Optional[str] = None  # prediction log + feedback (when the spec has retraining/monitoring)
    drift_window_rows: int = 1000
    log_rotate_bytes: int = 64 * 2**20  # monitoring.logs: a new log file past this size
    log_keep_s: Optional[float] = None  # log files older than this are deleted
    monitor: Optional[dict[str, Any]] = None  # MonitorConfig fields; None: no monitor deployment
    fast_path: bool = True  # serve sklearn forests through mlops.serving.fast_path when verified

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def code_version(self) -> str:
        """What the replicas' code is built from (and mlops' own version): a change restarts them. Not the
        model version (a `reconfigure`) nor the deployment options, which Serve applies itself: replica
        counts and request limits in place, resources by replacing replicas."""
        import json
        from importlib.metadata import version as installed

        settings = {**self.to_dict(), "version": None, "deployment_options": None, "mlops": installed("mlops")}
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


COMPANY_MEMORY_S = 0.5  # how long one concurrent arrival keeps a replica in batching mode


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _error_details(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """pydantic errors as the 422 body's items: the dotted field and the message."""
    return [{"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")} for e in errors]


class RowRefused(Exception):
    """The model could not score a request's input: answered 422 naming the row, never 500 for others."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message

    def detail(self) -> dict[str, Any]:
        return {"detail": [{"field": self.field, "message": self.message}]}


INPUT_ERRORS = (ValueError, TypeError, ArithmeticError)  # what a model raises on input it cannot take
LOCATE_ROWS = 256  # a refused request up to this size is scored row by row to name the bad row


def refusal(bundle: Any, rows: list[list[Any]], exc: Exception) -> Exception:
    """What to answer a request whose rows failed on their own: a RowRefused naming the first row the
    model cannot take (an input error), or the exception itself (500: the model, not the input)."""
    if not isinstance(exc, INPUT_ERRORS):
        return exc
    field = "rows"
    if 1 < len(rows) <= LOCATE_ROWS:
        for i, row in enumerate(rows):
            try:
                infer(bundle, None, [[row]])
            except INPUT_ERRORS:
                field = f"rows.{i}"
                break
    elif len(rows) == 1:
        field = "rows.0"
    return RowRefused(field, f"the model cannot score this input: {str(exc)[:300]}")


def label_problems(bundle: Any, items: list[Any]) -> list[dict[str, str]]:
    """422 details for labels the model could never have predicted: a class it does not have, or (for
    regression) anything but a finite number. Such labels would only poison metric_drop and retraining."""
    import math

    problems = []
    classes = getattr(bundle.model, "classes_", None) if bundle.task == "classification" else None
    known = sorted({str(c) for c in classes}) if classes is not None else None
    for i, item in enumerate(items):
        label = item.label
        if known is not None:
            if str(label) not in known:
                problems.append({"field": f"labels.{i}.label", "message": f"not a class of the model (got {label!r}; "
                                                                           f"expected one of {known})"})
        elif isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label):
            problems.append({"field": f"labels.{i}.label", "message": f"a regression label must be a finite number (got {label!r})"})
    return problems


def infer(bundle: Any, fast: Any, requests: list[list[list[Any]]]) -> tuple:
    """One model call over the rows of several requests: (frame, labels, probabilities, outlier scores,
    outlier flags). `fast` is the verified forest fast path or None."""
    import pandas as pd

    frame = pd.DataFrame([row for rows in requests for row in rows], columns=bundle.input_columns)
    if fast is not None:
        out = fast(frame)
        proba = out if bundle.task == "classification" else None
        labels = bundle.model.classes_[out.argmax(axis=1)] if proba is not None else out
    else:
        proba = bundle.predict_proba(frame)
        labels = bundle.model.classes_[proba.argmax(axis=1)] if proba is not None else bundle.predict(frame)
    outliers = bundle.monitoring.outliers if bundle.monitoring is not None else None
    scores, flags = outliers.score(frame) if outliers is not None else (None, None)
    return frame, labels, proba, scores, flags


def build_application(cfg: EndpointConfig):
    """A bound Serve application for this endpoint config."""
    import asyncio

    import numpy as np
    import orjson
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import ValidationError
    from ray import serve

    from mlops.serving.schema import FeedbackRequest, PredictResponse, request_model
    from mlops.serving.window import Delta

    PredictRequest = request_model(cfg.input_schema, cfg.max_rows)
    columns = [c["name"] for c in cfg.input_schema]
    state: dict[str, Any] = {"delta": Delta()}  # the replica's metrics and traffic delta, shared with app handlers

    def metrics():
        if "metrics" not in state:
            from mlops.serving.prometheus import EndpointMetrics

            state["metrics"] = EndpointMetrics(cfg.name)
        return state["metrics"]

    def count_error(kind: str) -> None:
        metrics().error(kind)
        state["delta"].error(kind)

    async def send_json(send: Any, status: int, payload: Any, headers: tuple = ()) -> None:
        """A JSON answer straight onto the ASGI channel (no Response object on the hot path)."""
        body = orjson.dumps(payload)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
        await send({"type": "http.response.body", "body": body})

    def body_refusal(headers: dict) -> Optional[tuple[int, str]]:
        """(status, why) when a POST body may not be read, or None: the size limit applies before a byte
        is read, so a client must say how many bytes it sends."""
        length = headers.get(b"content-length")
        if length is None:
            return 411, "Content-Length header is required"
        if not length.isdigit() or int(length) > cfg.max_request_bytes:
            return 413, f"payload of {length.decode(errors='replace')} bytes exceeds max_request_bytes={cfg.max_request_bytes}"
        return None

    async def refuse_token(send: Any) -> None:
        count_error("auth")
        await send_json(send, 401, {"detail": "missing or invalid bearer token"}, ((b"www-authenticate", b"Bearer"),))

    DOC_PATHS = ("/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect")

    class EndpointAPI(FastAPI):
        """FastAPI for routing, validation and /docs, with checks in front of its middleware stack: the
        token before anything is read (the API docs included, with auth on), the request-size limit on
        every POST, and POST /predict answered directly (the hot path; each Starlette layer costs per
        request, and this one route is all the traffic)."""

        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = dict(scope["headers"])
                path = scope["path"].rstrip("/")
                guarded = scope["method"] == "POST" or path.endswith(DOC_PATHS)
                if guarded and not token_ok(headers.get(b"authorization", b"").decode("latin-1")):
                    await refuse_token(send)
                    return
                if scope["method"] == "POST":
                    refused = body_refusal(headers)
                    if refused:
                        count_error("payload")
                        await send_json(send, refused[0], {"detail": [{"field": "body", "message": refused[1]}]})
                        return
                    if path.endswith("/predict") and "endpoint" in state:
                        await predict_fast(scope, receive, send)
                        return
            await super().__call__(scope, receive, send)

    async def predict_fast(scope: dict, receive: Any, send: Any) -> None:
        """POST /predict: the same request model as the documented route (validated from the raw bytes by
        pydantic-core), the same checks, answers and error bodies. The token was checked before this."""
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        try:
            body = PredictRequest.model_validate_json(b"".join(chunks))
        except ValidationError as exc:
            count_error("validation")
            details = _error_details(exc.errors())
            await send_json(send, 422, {"detail": details})
            return
        try:
            answer = await state["endpoint"].answer(body)
        except RowRefused as exc:
            await send_json(send, 422, exc.detail())
            return
        except Exception as exc:  # noqa: BLE001 - counted in answer(); the replica keeps serving
            await send_json(send, 500, {"detail": f"prediction failed: {type(exc).__name__}"})
            return
        await send_json(send, 200, answer)

    api = EndpointAPI(title=f"mlops endpoint: {cfg.name}",
                      description="Predictions from the registered model; the request schema is the training input schema.")

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _error_details(exc.errors())
        count_error("validation")
        return JSONResponse({"detail": details}, status_code=422)

    def token_ok(header: str) -> bool:
        """The Authorization header carries the configured bearer token (always true without auth)."""
        if cfg.token_sha256 is None:
            return True
        presented = header[7:] if header.lower().startswith("bearer ") else ""
        digest = hashlib.sha256(presented.encode()).hexdigest()
        return bool(presented) and hmac.compare_digest(digest, cfg.token_sha256)

    async def require_token(request: Request) -> None:
        if not token_ok(request.headers.get("authorization", "")):
            count_error("auth")
            from fastapi import HTTPException

            raise HTTPException(status_code=401, detail="missing or invalid bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    @serve.deployment(name="endpoint", user_config={"version": cfg.version}, **cfg.deployment_options)
    @serve.ingress(api)
    class Endpoint:
        def __init__(self, monitor: Any = None) -> None:
            self.serving: tuple = (None, None, None)  # (bundle, forest fast path or None, version)
            self.observers: list = []  # callables(frame, predictions, proba, version), e.g. monitoring windows
            self.monitor = monitor  # handle of the app's monitor deployment (None without one)
            self._flusher, self._pending = None, None
            self._inflight, self._batched = 0, 0  # requests in _predict, and those of them in a batch
            self._company_at = 0.0  # when a request last arrived while others were in flight
            self.swap_error: Optional[dict[str, Any]] = None  # the last refused hot swap, until one succeeds
            state["endpoint"] = self  # the middleware's fast path answers through this replica
            self.log, self.feedback_log = None, None
            if cfg.monitoring_dir:
                from mlops.serving.traffic_log import PredictionLog

                from mlops.serving.traffic_log import FeedbackLog

                self.log = PredictionLog(cfg.monitoring_dir, cfg.log_rotate_bytes, cfg.log_keep_s)
                self.feedback_log = FeedbackLog(cfg.monitoring_dir, cfg.log_rotate_bytes, cfg.log_keep_s)

        def _ensure_flusher(self) -> None:
            """Ship the traffic delta to the monitor about once a second (started on the first request)."""
            if self._flusher is None and self.monitor is not None:
                self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

        async def _flush_forever(self) -> None:
            while True:
                await asyncio.sleep(1.0)
                self._flush()

        def _flush(self) -> None:
            delta = state["delta"]
            if self.monitor is not None and not delta.empty():
                state["delta"] = Delta()
                self._pending = self.monitor.record.remote(delta)  # fire and forget; keep the last one referenced

        def reconfigure(self, user_config: dict[str, Any]) -> None:
            """Load the version the user_config names; the old model keeps serving until the swap.

            A version that does not load (registry, disk, hash or input-schema error) is refused, and a
            replica that serves a version keeps serving it: raising here would make Serve replace the
            replica, and its replacements would fail the same way. The refusal is reported by /metadata,
            the mlops_swap_failures_total metric and `mlops status`. A replica with nothing to serve yet
            (its first load) has no old version to fall back on and fails as before."""
            version = str(user_config["version"])
            if version == self.version:
                self.swap_error = None  # asked for what it serves: nothing is refused any more
                return
            try:
                self._swap_to(version)
                self.swap_error = None
            except Exception as exc:  # noqa: BLE001 - any load failure: keep the old version if there is one
                if self.bundle is None:
                    raise
                self.swap_error = {"version": version, "error": f"{type(exc).__name__}: {exc}"[:500], "at": time.time(),
                                   "serving": self.version}
                metrics().swap_failed(version)
                import logging

                logging.getLogger("ray.serve").error("mlops: version %s did not load; still serving version %s: %s",
                                                     version, self.version, exc)

        def _swap_to(self, version: str) -> None:
            from mlops.registry import Registry

            bundle = Registry(cfg.tracking_uri).load(cfg.name, version=version)
            if bundle.input_columns != columns:
                raise ValueError(f"version {version} takes inputs {bundle.input_columns}, the endpoint {columns}: redeploy")
            fast = None
            if cfg.fast_path:
                from mlops.serving.fast_path import verified_fast_path

                fast = verified_fast_path(bundle)
            self.serving = (bundle, fast, version)  # one assignment: a request sees one version's model and path

        @property
        def bundle(self) -> Any:
            return self.serving[0]

        @property
        def version(self) -> Optional[str]:
            return self.serving[2]

        @serve.batch(max_batch_size=cfg.max_batch_size, batch_wait_timeout_s=cfg.wait_ms / 1000.0)
        async def _predict_batch(self, requests: list[list[list[Any]]]) -> list[Any]:
            """On the event loop: measured, a model thread lost more to GIL hand-offs than it gained in overlap."""
            return self._score(requests)

        def _score(self, requests: list[list[list[Any]]]) -> list[Any]:
            """Each request's answer tuple, or the exception that request alone must get. One model call
            for all; if it fails, one per request, so a bad request fails alone (Serve's batching would
            hand one exception to every request in the batch)."""
            bundle, fast, version = self.serving
            try:
                computed = infer(bundle, fast, requests)
            except Exception as exc:  # noqa: BLE001 - sorted out request by request below
                if len(requests) == 1:
                    return [refusal(bundle, requests[0], exc)]
                out: list[Any] = []
                for rows in requests:
                    out.extend(self._score([rows]))
                return out
            return self._account(requests, version, computed)

        async def _predict(self, rows: list[list[Any]]) -> tuple:
            """Batch under load. A replica that has seen no concurrent requests lately answers at once: at
            concurrency 1 the batch window would only be waited out for company that is not coming. "Lately",
            not "now": under load, the first request after a batch often finds the replica empty, and
            answering it alone would cost a whole model call for one row."""
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

        def _account(self, requests: list[list[list[Any]]], version: str, computed: tuple) -> list[tuple]:
            """Metrics, monitoring window and observers for one model call (on the event loop), then each
            request's share of the answers."""
            frame, labels, proba, scores, flags = computed
            delta = state["delta"]
            if scores is not None:
                delta.outliers += int(flags.sum())
                delta.scored_rows += len(frame)
            delta.rows += len(frame)
            if self.monitor is not None:
                delta.inputs.extend(row for rows in requests for row in rows)
                if len(delta.inputs) > cfg.drift_window_rows:
                    del delta.inputs[: len(delta.inputs) - cfg.drift_window_rows]
            metrics().observe_batch(len(frame), version, labels if proba is not None else None)
            for observe in self.observers:
                observe(frame, labels, proba, version)
            out, start = [], 0
            for rows in requests:
                stop = start + len(rows)
                out.append((labels[start:stop], None if proba is None else proba[start:stop], version,
                            None if scores is None else (scores[start:stop], flags[start:stop])))
                start = stop
            return out

        @api.post("/predict", responses={200: {"model": PredictResponse}})  # documented, not re-validated
        async def predict(self, body: PredictRequest, _: None = Depends(require_token)) -> dict[str, Any]:
            """Answered by predict_fast in EndpointAPI; this route documents it (and serves if that is bypassed)."""
            try:
                return await self.answer(body)
            except RowRefused as exc:
                return JSONResponse(exc.detail(), status_code=422)

        async def answer(self, body: Any) -> dict[str, Any]:
            """Predictions, probabilities, outlier flags, version and request id for a validated request."""
            started = time.perf_counter()
            self._ensure_flusher()
            metrics().request("predict")
            rows = [list(row.__dict__.values()) for row in body.rows]
            try:
                labels, proba, version, outliers = await self._predict(rows)
            except RowRefused:
                count_error("validation")
                raise
            except Exception:  # counted, then FastAPI answers 500; the replica keeps serving
                count_error("internal")
                raise
            request_id = uuid.uuid4().hex
            predictions = np.asarray(labels).tolist()
            response = {"predictions": predictions, "model_version": version, "request_id": request_id}
            if proba is not None:
                response["classes"] = np.asarray(self.bundle.model.classes_).tolist()
                response["probabilities"] = proba.tolist()
            if outliers is not None:
                response["outlier_scores"] = outliers[0].tolist()
                response["outliers"] = outliers[1].tolist()
            if self.log is not None:
                self.log.write([(request_id, i) for i in range(len(rows))], [dict(zip(columns, r)) for r in rows],
                               predictions, version)
            elapsed = (time.perf_counter() - started) * 1000
            metrics().observe_latency(elapsed)
            state["delta"].requests += 1
            state["delta"].latency(elapsed)
            return response

        @api.post("/feedback")
        async def feedback(self, body: FeedbackRequest, _: None = Depends(require_token)) -> dict[str, Any]:
            """Ground-truth labels for served rows, by request id (and row index within the request)."""
            if not cfg.monitoring_dir:
                return JSONResponse({"detail": [{"field": "body", "message": "this endpoint keeps no feedback: "
                                                 "add a retraining or monitoring section to the spec"}]}, status_code=404)
            refused = label_problems(self.bundle, body.labels)
            if refused:
                count_error("validation")
                return JSONResponse({"detail": refused}, status_code=422)
            self.feedback_log.write([item.model_dump() for item in body.labels])
            return {"stored": len(body.labels)}

        @api.get("/stats")
        async def stats(self, window_s: float = 300, _: None = Depends(require_token)) -> dict[str, Any]:
            """Traffic, errors, latency percentiles, outlier rate and the last drift check over `window_s`."""
            if self.monitor is None:
                return JSONResponse({"detail": [{"field": "body", "message": "this endpoint has no monitor"}]}, status_code=404)
            self._flush()
            if self._pending is not None:
                await self._pending  # our own latest numbers are in before we ask
            return await self.monitor.stats.remote(window_s)

        @api.get("/healthz")
        async def healthz(self) -> dict[str, str]:
            return {"status": "ok"}

        @api.get("/readyz")
        async def readyz(self):
            if self.bundle is None:
                return JSONResponse({"ready": False}, status_code=503)
            answer = {"ready": True, "model_version": self.version}
            if self.swap_error is not None:  # the version only; the reason is behind the token, at /metadata
                answer["refused_version"] = self.swap_error["version"]
            return answer

        @api.get("/metadata")
        async def metadata(self, _: None = Depends(require_token)) -> dict[str, Any]:
            meta = self.bundle.meta
            return {"name": cfg.name, "version": self.version, "task": meta.get("task"), "metric": meta.get("metric"),
                    "metrics": meta.get("metrics"), "classes": meta.get("classes"), "input_schema": meta.get("input_schema"),
                    "route": cfg.route, "fast_path": self.serving[1] is not None, "swap_error": self.swap_error}

    from mlops.serving.code_version import with_code_version

    Endpoint = with_code_version(Endpoint, cfg.code_version())
    if cfg.monitor is None:
        return Endpoint.bind()
    from mlops.serving.traffic_monitor import MonitorConfig, build_monitor

    return Endpoint.bind(build_monitor(MonitorConfig(**cfg.monitor), cfg.version))

