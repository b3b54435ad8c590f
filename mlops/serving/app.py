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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def build_application(cfg: EndpointConfig):
    """A bound Serve application for this endpoint config."""
    import numpy as np
    import pandas as pd
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, ORJSONResponse
    from ray import serve

    from mlops.serving.schema import PredictResponse, request_model

    PredictRequest = request_model(cfg.input_schema, cfg.max_rows)
    columns = [c["name"] for c in cfg.input_schema]
    api = FastAPI(title=f"mlops endpoint: {cfg.name}", default_response_class=ORJSONResponse,
                  description="Predictions from the registered model; the request schema is the training input schema.")
    state: dict[str, Any] = {}  # the replica's metrics, shared with the app-level handlers

    def metrics():
        if "metrics" not in state:
            from mlops.serving.metrics import EndpointMetrics

            state["metrics"] = EndpointMetrics(cfg.name)
        return state["metrics"]

    def error(status: int, kind: str, field_name: str, message: str) -> JSONResponse:
        metrics().error(kind)
        return JSONResponse({"detail": [{"field": field_name, "message": message}]}, status_code=status)

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")} for e in exc.errors()]
        metrics().error("validation")
        return JSONResponse({"detail": details}, status_code=422)

    @api.middleware("http")
    async def limit_body(request: Request, call_next):
        if request.method == "POST":
            length = request.headers.get("content-length")
            if length is None:
                return error(422, "payload", "body", "Content-Length header is required")
            if int(length) > cfg.max_request_bytes:
                return error(422, "payload", "body", f"payload of {length} bytes exceeds max_request_bytes={cfg.max_request_bytes}")
        return await call_next(request)

    async def require_token(request: Request) -> None:
        if cfg.token_sha256 is None:
            return
        header = request.headers.get("authorization", "")
        presented = header[7:] if header.lower().startswith("bearer ") else ""
        digest = hashlib.sha256(presented.encode()).hexdigest()
        if not presented or not hmac.compare_digest(digest, cfg.token_sha256):
            metrics().error("auth")
            from fastapi import HTTPException

            raise HTTPException(status_code=401, detail="missing or invalid bearer token",
                                headers={"WWW-Authenticate": "Bearer"})

    @serve.deployment(name="endpoint", user_config={"version": cfg.version}, **cfg.deployment_options)
    @serve.ingress(api)
    class Endpoint:
        def __init__(self) -> None:
            self.bundle, self.version = None, None
            self.observers: list = []  # callables(frame, predictions, proba, version), e.g. monitoring windows

        def reconfigure(self, user_config: dict[str, Any]) -> None:
            """Load the version the user_config names; the old model keeps serving until the swap."""
            version = str(user_config["version"])
            if version == self.version:
                return
            from mlops.registry import Registry

            bundle = Registry(cfg.tracking_uri).load(cfg.name, version=version)
            if bundle.input_columns != columns:
                raise ValueError(f"version {version} takes inputs {bundle.input_columns}, the endpoint {columns}: redeploy")
            self.bundle, self.version = bundle, version  # one assignment each; requests read a consistent pair below

        @serve.batch(max_batch_size=cfg.max_batch_size, batch_wait_timeout_s=cfg.wait_ms / 1000.0)
        async def _predict_batch(self, requests: list[list[list[Any]]]) -> list[tuple]:
            bundle, version = self.bundle, self.version
            sizes = [len(r) for r in requests]
            frame = pd.DataFrame([row for rows in requests for row in rows], columns=columns)
            proba = bundle.predict_proba(frame)
            if proba is not None:
                labels = bundle.model.classes_[proba.argmax(axis=1)]
            else:
                labels = bundle.predict(frame)
            metrics().observe_batch(len(frame), version, labels if proba is not None else None)
            for observe in self.observers:
                observe(frame, labels, proba, version)
            out, start = [], 0
            for size in sizes:
                stop = start + size
                out.append((labels[start:stop], None if proba is None else proba[start:stop], version))
                start = stop
            return out

        @api.post("/predict", responses={200: {"model": PredictResponse}})  # documented, not re-validated
        async def predict(self, body: PredictRequest, _: None = Depends(require_token)) -> dict[str, Any]:
            started = time.perf_counter()
            metrics().request("predict")
            rows = [list(row.__dict__.values()) for row in body.rows]
            labels, proba, version = await self._predict_batch(rows)
            response = {"predictions": np.asarray(labels).tolist(), "model_version": version, "request_id": uuid.uuid4().hex}
            if proba is not None:
                response["classes"] = np.asarray(self.bundle.model.classes_).tolist()
                response["probabilities"] = proba.tolist()
            metrics().observe_latency((time.perf_counter() - started) * 1000)
            return response

        @api.get("/healthz")
        async def healthz(self) -> dict[str, str]:
            return {"status": "ok"}

        @api.get("/readyz")
        async def readyz(self):
            if self.bundle is None:
                return JSONResponse({"ready": False}, status_code=503)
            return {"ready": True, "model_version": self.version}

        @api.get("/metadata")
        async def metadata(self, _: None = Depends(require_token)) -> dict[str, Any]:
            meta = self.bundle.meta
            return {"name": cfg.name, "version": self.version, "task": meta.get("task"), "metric": meta.get("metric"),
                    "metrics": meta.get("metrics"), "classes": meta.get("classes"), "input_schema": meta.get("input_schema"),
                    "route": cfg.route}

    return Endpoint.bind()
