"""The endpoint's other protocols: MLflow's scoring protocol (`/invocations`) and the Open Inference Protocol
(`/v2/...`). Their handlers, mixed into the endpoint's app (mlops.serving.ingress.EndpointAPI, which lists
every route and answers the scoring POSTs in front of FastAPI). Each protocol's parser turns its request
into rows for the one request model; the replica answers them as it answers /predict."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

import orjson
from fastapi.responses import JSONResponse

from mlops.serving import mlflow_scoring, open_inference
from mlops.serving.endpoint_config import EndpointConfig
from mlops.serving.request_input import Parsed, RequestError, refused_row, validate
from mlops.serving.schema import InferRequestBody
from mlops.serving.scoring import RowRefused

# A body larger than this is parsed in a thread, so the event loop goes on answering other requests
# meanwhile; smaller ones (nearly all traffic) are parsed in place, where a thread hop would cost more
# than the parse. Parsing is bounded by max_rows either way (each parser checks counts before rows).
OFFLOAD_BYTES = 64 * 1024


def version_headers(answer: Any) -> dict[str, str]:
    """The X-Model-Version header of an answer naming the version that produced it (none otherwise)."""
    version = answer.get("model_version") if isinstance(answer, dict) else None
    return {"x-model-version": str(version)} if version is not None else {}


class ProtocolRoutes:
    """The /invocations and /v2 handlers of EndpointAPI (its config, request model and replica)."""

    endpoint_config: EndpointConfig
    request_model: type
    replica: Any
    input_columns: list[str]  # the config's derived lists, computed once (they are read on every request)
    entity_keys: list[str]
    other_fields: list[str]  # the row's fields beside the input columns: id column, entity keys, target

    async def score(self, parse: Callable[[], Parsed], route: str, render: Callable[[dict, Parsed], Any],
                    refuse: Callable[..., Any], size: int = 0, headers: Optional[dict] = None) -> tuple[int, Any]:
        """(status, body) of a protocol's scoring request: its parser's rows, validated by the one request
        model, answered by the replica (batching, metrics, monitoring) and rendered in the protocol's terms.
        `size`: the body's length; past OFFLOAD_BYTES it is parsed off the event loop. `headers` (raw ASGI):
        where a rollout's sticky header is read. Every answer names the version that produced it
        (`model_version`; the ingress repeats it in the X-Model-Version header)."""

        def rows() -> tuple[Parsed, Any]:
            parsed = parse()
            return parsed, validate(self.request_model, parsed)

        try:
            parsed, body = await asyncio.to_thread(rows) if size > OFFLOAD_BYTES else rows()
        except RequestError as exc:
            self.replica.count_error("validation")
            return exc.status, refuse(exc.details)
        try:
            answer = await self.replica.answer(body, route, headers)
        except RowRefused as exc:  # the model's refusal (422), or the online store's (404/422, naming the key)
            return exc.status, refuse([{"field": parsed.field(refused_row(exc.field), exc.column), "message": exc.message}],
                                      exc.status)
        except Exception as exc:  # noqa: BLE001 - counted in answer(); the replica keeps serving
            return 500, refuse([{"field": "model", "message": f"prediction failed: {type(exc).__name__}"}], 500)
        return 200, render(answer, parsed)

    async def invocations_answer(self, raw: bytes, content_type: bytes, headers: Optional[dict] = None) -> tuple[int, Any]:
        """POST /invocations (MLflow's scoring protocol): JSON in any of its four formats, or CSV."""
        config = self.endpoint_config
        return await self.score(
            lambda: mlflow_scoring.parse_invocation(raw, content_type.decode("latin-1"), config.input_schema, config.id_column,
                                                    self.entity_keys, config.settings.max_rows, config.ignored_columns),
            "invocations", lambda answer, _: {**mlflow_scoring.invocation_answer(answer), "model_version": answer["model_version"]},
            mlflow_scoring.invocation_error, len(raw), headers)

    async def infer_answer(self, raw: bytes, headers: dict, model: str, version: Optional[str]) -> tuple[int, Any]:
        """POST /v2/models/{model}/infer (Open Inference Protocol): named tensors or one 2-D tensor."""
        config = self.endpoint_config
        unknown = self.unknown_model(model, version)
        if unknown:
            return 404, unknown
        request: list[open_inference.InferRequest] = []

        def parse() -> Parsed:
            request.append(open_inference.parse_infer(raw, headers.get(b"inference-header-content-length"), self.input_columns,
                                                      config.id_column, self.other_fields, config.settings.max_rows))
            return request[0].parsed

        return await self.score(parse, "infer", lambda answer, _: open_inference.infer_answer(
            answer, config.name, request[0], config.id_column), open_inference.error_body, len(raw), headers)

    def unknown_model(self, model: str, version: Optional[str]) -> Optional[dict[str, str]]:
        """The V2 error for a model name (or version) this endpoint does not serve; None for its own. It
        names the model and version served: with auth on, only a caller with the token gets this far."""
        served = self.replica.readiness().get("model_version")
        if model != self.endpoint_config.name:
            return {"error": f"model {model!r} is not served here (this endpoint serves {self.endpoint_config.name!r})"}
        if version is not None and version != served:
            return {"error": f"version {version!r} of {model!r} is not served here (it serves version {served})"}
        return None

    async def invocations(self, body: Any) -> Any:
        """MLflow's scoring protocol, as `mlflow models serve` takes it: `dataframe_split`, `dataframe_records`,
        `instances` or `inputs`, or a CSV body (`Content-Type: text/csv`); answers {"predictions": [...]}.
        Answered in front of FastAPI; this route documents it (and serves JSON if that is bypassed)."""
        raw = orjson.dumps(body.model_dump(by_alias=True, exclude_none=True))
        status, answer = await self.invocations_answer(raw, b"application/json")
        return JSONResponse(answer, status_code=status, headers=version_headers(answer))

    async def infer(self, model_name: str, body: InferRequestBody) -> Any:
        """Open Inference Protocol (KServe V2): one input tensor per feature column (FP64/INT64/BOOL/BYTES) or one
        [rows, features] tensor in the model's column order; outputs `predict` and, for classifiers, `proba`.
        Answered in front of FastAPI; this route documents it (and serves if that is bypassed)."""
        raw = orjson.dumps(body.model_dump(exclude_none=True))
        status, answer = await self.infer_answer(raw, {}, model_name, None)
        return JSONResponse(answer, status_code=status, headers=version_headers(answer))

    async def v2_server(self) -> dict[str, Any]:
        """Open Inference Protocol server metadata (with auth on, behind the token: it names mlops' version)."""
        from importlib.metadata import version

        return {"name": "mlops", "version": version("mlops"), "extensions": ["binary_tensor_data"]}

    async def v2_model(self, model_name: str, model_version: Optional[str] = None):
        """Open Inference Protocol model metadata: one input tensor per feature column (and entity key), with its datatype."""
        unknown = self.unknown_model(model_name, model_version)
        if unknown:
            return JSONResponse(unknown, status_code=404)
        meta, config = self.replica.metadata(), self.endpoint_config
        return open_inference.model_metadata(config.name, meta["version"], config.input_schema, meta["task"], meta["classes"],
                                             self.entity_keys)

    async def v2_model_ready(self, model_name: str, model_version: Optional[str] = None):
        """Open Inference Protocol model readiness (with auth on, behind the token: it names the model)."""
        unknown = self.unknown_model(model_name, model_version)
        if unknown:
            return JSONResponse(unknown, status_code=404)
        ready = self.replica.readiness()["ready"]
        return JSONResponse({"name": model_name, "ready": ready}, status_code=200 if ready else 503)
