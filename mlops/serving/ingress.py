"""The endpoint's HTTP face: the FastAPI app of one replica, its routes, request limits, the token check and
the error bodies (422 naming the field, 413/411 for bodies, 401, 404, 503 while no model is loaded). The
scoring POSTs of every protocol (/predict; /invocations and /v2/models/{name}/infer, whose handlers are
mlops.serving.protocol_routes) and /explain (mlops.serving.served_explanations) are answered in front of
FastAPI's middleware.

The app is built on the replica, after its constructor (`Endpoint.__serve_build_asgi_app__`), from the
endpoint config and the replica it answers through; the replica does the model work and counts.
"""
import asyncio
import hashlib
import hmac
import inspect
import re
from typing import Any, Callable, Optional, Protocol

import orjson
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from mlops.serving.endpoint_config import EndpointConfig
from mlops.serving.protocol_routes import OFFLOAD_BYTES, ProtocolRoutes
from mlops.serving.schema import (ExplainResponse, FeedbackRequest, InferResponse, InvocationError, InvocationResponse, PredictResponse,
                                  ProtocolError, UNKNOWN_ENTITY, documented_errors, invocation_model, request_model)
from mlops.serving.scoring import RowRefused

# With auth on, every path but these needs the token before anything is answered (a 404 or a 405
# included), so a caller without it learns no more than a 401 says. These stay open for probes: liveness,
# and readiness with the version served (docs/security.md, "Endpoint tokens").
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"})
UNAUTHORIZED = ("missing or invalid bearer token: send 'Authorization: Bearer <token>' (a token mlops generated "
                "when deploying is in .mlops/tokens/ beside the spec)")
V2_MODEL = re.compile(r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<action>/infer|/ready)?$")


class Replica(Protocol):
    """What the ingress asks of the replica it answers through (mlops.serving.replica.Endpoint)."""

    async def answer(self, body: Any, route: str = "predict", headers: Optional[dict] = None) -> dict[str, Any]:
        """The answer of a validated request, naming the version that produced it (raises RowRefused for
        input the model cannot take); `headers` may carry a rollout's sticky key."""

    def count_error(self, kind: str) -> None:
        """Count a failed request of `kind` (validation, auth, payload)."""

    async def explain(self, body: Any, top: Optional[int] = None, headers: Optional[dict] = None) -> dict[str, Any]:
        """Each row's top SHAP contributions, by the version the router picks (RowRefused: 4xx or 501)."""

    def store_feedback(self, items: list[Any]) -> list[dict[str, str]]:
        """Store labels; the 422 details of unusable ones instead."""

    async def traffic_stats(self, window_s: float) -> Optional[dict[str, Any]]:
        """The /stats answer over `window_s`; None when the endpoint has no monitor."""

    def readiness(self) -> dict[str, Any]:
        """The /readyz answer; "ready" is False until a model is loaded."""

    def metadata(self) -> dict[str, Any]:
        """The /metadata answer."""


def field_path(loc: tuple) -> str:
    """A pydantic error location as the dotted field a 422 names ("body" for the body itself)."""
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def error_details(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """pydantic errors as the 422 body's items: the dotted field and the message."""
    return [{"field": field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")} for e in errors]


def body_error(message: str) -> dict[str, Any]:
    """An error body about the request as a whole."""
    return {"detail": [{"field": "body", "message": message}]}


def token_ok(header: str, token_sha256: Optional[str]) -> bool:
    """The Authorization header carries the bearer token of this SHA-256 (always true with auth: none)."""
    if token_sha256 is None:
        return True
    presented = header[7:] if header.lower().startswith("bearer ") else ""
    digest = hashlib.sha256(presented.encode()).hexdigest()
    return bool(presented) and hmac.compare_digest(digest, token_sha256)


def route_path(scope: dict, path: str) -> str:
    """The request's path within the endpoint's route (Serve may or may not include the prefix in `path`)."""
    root = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


MAX_TOP = 10_000


def query_top(query: bytes) -> Optional[int] | tuple[str, str]:
    """/explain's `?top=N` (contributions per row): the number, or None when absent; else (field, why) for a
    value that is not the documented integer (ASCII digits only: no sign, no blank, no other script's digits)
    or a parameter the route does not take."""
    from urllib.parse import parse_qs

    params = parse_qs(query.decode("latin-1"), keep_blank_values=True)
    unknown = [name for name in params if name != "top"]
    if unknown:
        return f"query.{unknown[0]}", "not a parameter of this route (it takes: top)"
    if "top" not in params:
        return None
    text = params["top"][-1]
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_TOP):
        return "query.top", f"top must be a whole number from 1 to {MAX_TOP} (got {text!r})"
    return int(text)


def body_refusal(headers: dict, max_request_bytes: int) -> Optional[tuple[int, str]]:
    """(status, why) when a POST body may not be read, or None: the size limit applies before a byte
    is read, so a client must say how many bytes it sends."""
    length = headers.get(b"content-length")
    if length is None:
        return 411, "Content-Length header is required"
    if not length.isdigit() or len(length) > len(str(max_request_bytes)) or int(length) > max_request_bytes:
        return 413, f"payload of {length.decode(errors='replace')} bytes exceeds max_request_bytes={max_request_bytes}"
    return None


async def read_body(receive: Any) -> bytes:
    """A request's whole body, from the ASGI channel."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def version_header(answer: Any) -> tuple:
    """The X-Model-Version header of an answer that names the version that produced it (none otherwise)."""
    version = answer.get("model_version") if isinstance(answer, dict) else None
    return ((b"x-model-version", str(version).encode()),) if version is not None else ()


async def send_json(send: Any, status: int, payload: Any, headers: tuple = ()) -> None:
    """A JSON answer straight onto the ASGI channel (no Response object on the hot path)."""
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def with_body(handler: Callable, model: type) -> Callable:
    """`handler(body, **query)` as a route whose JSON body FastAPI validates and documents as `model` (a
    model built at deploy time, from the input schema, so no annotation can name it); the handler's other
    parameters (query parameters, the Request) keep their declarations."""

    async def route(body: Any, **others: Any) -> dict[str, Any]:
        """The handler's answer for the validated body."""
        return await handler(body, **others)

    body = inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=model)
    others = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in list(inspect.signature(handler).parameters.values())[1:]]
    route.__signature__ = inspect.signature(route).replace(parameters=[body, *others])
    route.__name__, route.__doc__ = handler.__name__, handler.__doc__  # the operation's name and description
    return route


class EndpointAPI(ProtocolRoutes, FastAPI):
    """FastAPI for routing, validation and /docs, with checks in front of its middleware stack: the
    token before anything is read or answered on every path but the probes' (OPEN_PATHS), the request-size limit on
    every POST, and the scoring POSTs (/predict, /explain, /invocations, /v2/models/{name}/infer) answered directly
    (the hot path; each Starlette layer costs per request, and these routes are all the traffic)."""

    def __init__(self, config: EndpointConfig, replica: Replica) -> None:
        super().__init__(title=f"mlops endpoint: {config.name}",
                         description="Predictions from the registered model; the request schema is the training input "
                                     "schema. The same rows are taken by /predict, MLflow's /invocations and the Open "
                                     "Inference Protocol's /v2/models/{name}/infer.")
        self.endpoint_config, self.replica = config, replica
        self.input_columns, self.entity_keys = config.columns, config.entity_keys
        self.other_fields = config.row_fields[len(self.input_columns):]
        self.request_model = request_model(config.input_schema, config.settings.max_rows, config.id_column, config.takes_null,
                                           config.settings.feature_views, config.target_column, config.ignored_columns)
        self.add_exception_handler(RequestValidationError, self.invalid_request)
        self.add_exception_handler(StarletteHTTPException, self.http_error)  # FastAPI raises Starlette's for bodies
        guarded = [Depends(self.require_token)]
        # Every status a route can answer is documented with the body it really sends, so a client generated
        # from /openapi.json (or schemathesis: tests/reliability/test_endpoint_fuzz.py) finds each answer there.
        # With features from the online store, a key without a usable row is a 404 naming it.
        store = (404,) if config.settings.feature_views else ()
        unknown = {404: UNKNOWN_ENTITY}
        self.add_api_route("/predict", with_body(self.predict, self.request_model), methods=["POST"], dependencies=guarded,
                           responses={200: {"model": PredictResponse}, **documented_errors(
                               401, *store, 411, 413, 422, 500, 503, descriptions=unknown)})
        row = self.request_model.model_fields["rows"].annotation.__args__[0]
        self.add_api_route("/invocations", with_body(self.invocations, invocation_model(row)), methods=["POST"],
                           dependencies=guarded, responses={200: {"model": InvocationResponse}, **documented_errors(401, 411, 413, 503),
                                                            **documented_errors(*store, 415, 422, 500, body=InvocationError,
                                                                                descriptions=unknown)})
        v2_errors = documented_errors(401, 404, body=ProtocolError)
        infer_404 = {404: "a model (or version) this endpoint does not serve" + (f"; or, {UNKNOWN_ENTITY}" if store else "")}
        self.add_api_route("/v2/models/{model_name}/infer", self.infer, methods=["POST"], dependencies=guarded,
                           responses={200: {"model": InferResponse}, **documented_errors(503),
                                      **documented_errors(401, 404, 411, 413, 422, 500, body=ProtocolError,
                                                          descriptions=infer_404)})
        self.add_api_route("/explain", with_body(self.explain, self.request_model), methods=["POST"], dependencies=guarded,
                           responses={200: {"model": ExplainResponse}, **documented_errors(
                               401, *store, 411, 413, 422, 500, 501, 503, descriptions=unknown)})
        self.add_api_route("/feedback", self.feedback, methods=["POST"], dependencies=guarded,
                           responses=documented_errors(401, 404, 411, 413, 422, 503))
        self.add_api_route("/stats", self.stats, methods=["GET"], dependencies=guarded,
                           responses=documented_errors(401, 404, 422))
        self.add_api_route("/healthz", self.healthz, methods=["GET"])
        self.add_api_route("/readyz", self.readyz, methods=["GET"], responses={503: {"description": "no model loaded yet"}})
        self.add_api_route("/metadata", self.metadata, methods=["GET"], dependencies=guarded,
                           responses=documented_errors(401))
        self.add_api_route("/v2", self.v2_server, methods=["GET"], dependencies=guarded,
                           responses=documented_errors(401, body=ProtocolError))
        self.add_api_route("/v2/health/live", self.healthz, methods=["GET"])
        self.add_api_route("/v2/health/ready", self.readyz, methods=["GET"], responses={503: {"description": "no model loaded yet"}})
        for path in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}"):
            self.add_api_route(path, self.v2_model, methods=["GET"], dependencies=guarded, responses=v2_errors)
            self.add_api_route(f"{path}/ready", self.v2_model_ready, methods=["GET"], dependencies=guarded,
                               responses={**documented_errors(401, 404, body=ProtocolError),
                                          503: {"description": "no model loaded yet"}})

    def openapi(self) -> dict[str, Any]:
        """FastAPI's description, with the V2 routes' `model_name` documented as the one model served, so
        clients and generators (schemathesis) reach the model instead of its 404. (Not the version: a hot
        swap changes it while this description stays.)"""
        if self.openapi_schema is None:
            schema = super().openapi()
            served = {"model_name": [self.endpoint_config.name]}
            for item in schema.get("paths", {}).values():
                for operation in item.values():
                    for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                        if parameter.get("in") == "path" and parameter.get("name") in served:
                            parameter["schema"] = {**parameter.get("schema", {}), "enum": served[parameter["name"]]}
        return self.openapi_schema

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """The checks above, then the scoring POSTs here and everything else through FastAPI."""
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            path = scope["path"].rstrip("/")
            v2 = V2_MODEL.search(path)
            if not token_ok(headers.get(b"authorization", b"").decode("latin-1"), self.endpoint_config.token_sha256):
                within = route_path(scope, path)
                if within not in OPEN_PATHS:
                    self.replica.count_error("auth")
                    await send_json(send, 401, {"error": UNAUTHORIZED} if within.startswith("/v2") else {"detail": UNAUTHORIZED},
                                    ((b"www-authenticate", b"Bearer"),))
                    return
            if scope["method"] == "POST":
                refused = body_refusal(headers, self.endpoint_config.settings.max_request_bytes)
                if refused:
                    self.replica.count_error("payload")
                    await send_json(send, refused[0], {"error": refused[1]} if "/v2/" in path else body_error(refused[1]))
                    return
                if path.endswith("/predict"):
                    await self.predict_fast(receive, send, headers)
                    return
                if path.endswith("/explain"):
                    await self.explain_fast(receive, send, headers, scope.get("query_string", b""))
                    return
                if path.endswith("/invocations"):
                    status, answer = await self.invocations_answer(await read_body(receive), headers.get(b"content-type", b""),
                                                                   headers)
                    await send_json(send, status, answer, version_header(answer))
                    return
                if v2 is not None and v2["action"] == "/infer":
                    status, answer = await self.infer_answer(await read_body(receive), headers, v2["name"], v2["version"])
                    await send_json(send, status, answer, version_header(answer))
                    return
        await super().__call__(scope, receive, send)

    async def validated_body(self, receive: Any, send: Any) -> Any:
        """The request model read from the raw bytes by pydantic-core (a large body in a thread, so the loop
        serves the others), or None once the 422 naming the fields is sent."""
        raw = await read_body(receive)
        try:
            if len(raw) > OFFLOAD_BYTES:
                return await asyncio.to_thread(self.request_model.model_validate_json, raw)
            return self.request_model.model_validate_json(raw)
        except ValidationError as exc:
            self.replica.count_error("validation")
            await send_json(send, 422, {"detail": error_details(exc.errors())})
            return None

    async def predict_fast(self, receive: Any, send: Any, headers: Optional[dict] = None) -> None:
        """POST /predict: the same request model as the documented route, the same checks, answers and
        error bodies. The token was checked before this."""
        body = await self.validated_body(receive, send)
        if body is not None:
            await self.send_answer(send, self.replica.answer(body, "predict", headers), "prediction")

    async def explain_fast(self, receive: Any, send: Any, headers: dict, query: bytes) -> None:
        """POST /explain: /predict's request model, checks and error bodies (read the same way, so every
        refusal is /predict's), `?top=N`, and the explanation (501 when the model cannot be explained here)."""
        top = query_top(query)
        if isinstance(top, tuple):
            self.replica.count_error("validation")
            await send_json(send, 422, {"detail": [{"field": top[0], "message": top[1]}]})
            return
        body = await self.validated_body(receive, send)
        if body is not None:
            await self.send_answer(send, self.replica.explain(body, top, headers), "explanation")

    @staticmethod
    async def send_answer(send: Any, answering: Any, what: str) -> None:
        """The replica's answer (awaited here) as 200 with its version header; its refusal (422 from the
        model, 404/422 from the online store, 501) with the field; anything else a 500 (the replica counted
        it and keeps serving)."""
        try:
            answer = await answering
        except RowRefused as exc:
            await send_json(send, exc.status, exc.detail())
            return
        except Exception as exc:  # noqa: BLE001 - counted by the replica
            await send_json(send, 500, {"detail": f"{what} failed: {type(exc).__name__}"})
            return
        await send_json(send, 200, answer, version_header(answer))

    async def http_error(self, request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """FastAPI's own refusals: a body that does not parse is a 422 like every invalid body (FastAPI says
        400), the rest (401 from the token check) as FastAPI answers them."""
        if exc.status_code == 400:
            self.replica.count_error("validation")
            return JSONResponse(body_error(f"the body is not valid JSON ({exc.detail})"), status_code=422)
        return await http_exception_handler(request, exc)

    async def invalid_request(self, request: Request, exc: RequestValidationError) -> JSONResponse:
        """A request FastAPI's validation refused: 422 naming the fields."""
        details = error_details(exc.errors())
        self.replica.count_error("validation")
        return JSONResponse({"detail": details}, status_code=422)

    async def require_token(self, request: Request) -> None:
        """The token check of the routes the middleware does not guard (GET /stats, /metadata)."""
        if not token_ok(request.headers.get("authorization", ""), self.endpoint_config.token_sha256):
            self.replica.count_error("auth")
            raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})

    async def predict(self, body: Any) -> Any:
        """Answered by predict_fast; this route documents it (and serves if that is bypassed)."""
        try:
            answer = await self.replica.answer(body)
        except RowRefused as exc:
            return JSONResponse(exc.detail(), status_code=exc.status)
        return JSONResponse(answer, headers={"x-model-version": str(answer["model_version"])})

    async def explain(self, body: Any, top: Optional[int] = Query(None, ge=1, le=MAX_TOP, description="contributions per "
                                                                  "row, largest first (default: every input column)")) -> Any:
        """Each row's SHAP explanation by the version that would answer it: the top contributions (signed), the
        base value and the output they add up to. The same rows, token, limits and errors as /predict; 501 when
        the model cannot be explained here; a request holds at most the explainer's row limit (its cost bound).
        Answered by explain_fast; this route documents it (and serves if that is bypassed)."""
        try:
            answer = await self.replica.explain(body, top)
        except RowRefused as exc:
            return JSONResponse(exc.detail(), status_code=exc.status)
        return Response(orjson.dumps(answer), media_type="application/json",
                        headers={"x-model-version": str(answer["model_version"])})

    async def feedback(self, body: FeedbackRequest) -> dict[str, Any]:
        """Ground-truth labels for served rows, by request id (and row index within the request)."""
        if not self.endpoint_config.monitoring_dir:
            return JSONResponse(body_error("this endpoint keeps no feedback: add a retraining or monitoring section "
                                           "to the spec"), status_code=404)
        refused = self.replica.store_feedback(body.labels)
        if refused:
            self.replica.count_error("validation")
            return JSONResponse({"detail": refused}, status_code=422)
        return {"stored": len(body.labels)}

    async def stats(self, window_s: float = 300) -> dict[str, Any]:
        """Traffic, errors, latency percentiles, outlier rate and the last drift check over `window_s`."""
        stats = await self.replica.traffic_stats(window_s)
        if stats is None:
            return JSONResponse(body_error("this endpoint has no monitor"), status_code=404)
        return stats

    async def healthz(self) -> dict[str, str]:
        """Liveness: the replica answers (open, without auth)."""
        return {"status": "ok"}

    async def readyz(self):
        """Readiness: 503 until a model is loaded; the version served (open, without auth)."""
        answer = self.replica.readiness()
        return answer if answer["ready"] else JSONResponse(answer, status_code=503)

    async def metadata(self) -> dict[str, Any]:
        """The served model's name, version, task, metrics and input schema, and the last refused swap."""
        return self.replica.metadata()
