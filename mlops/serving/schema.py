"""Request and response models generated from the input schema recorded with the model at training time."""
from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

# Integers are accepted as any JSON number (models see floats anyway); strict: "1.5" is not a number.
_TYPES = {"number": float, "integer": float, "boolean": bool, "string": str}
# Tree models compute in float32: a larger magnitude is no value they can take, so it is refused with the
# field's name instead of failing the model call.
FLOAT32_MAX = 3.4028234663852886e38


def row_model(input_schema: list[dict[str, Any]]) -> type[BaseModel]:
    """One row: every input column, typed; nullable columns accept null; NaN/inf never pass."""
    fields: dict[str, Any] = {}
    for i, column in enumerate(input_schema):
        py_type = _TYPES.get(column["type"], str)
        extra = ({"allow_inf_nan": False, "strict": True, "ge": -FLOAT32_MAX, "le": FLOAT32_MAX} if py_type is float
                 else {"strict": True})
        nullable = bool(column.get("nullable"))
        if column.get("categories"):
            # Documented, not enforced: the fitted encoder handles unseen categories, and monitoring counts them.
            extra["description"] = "seen in training: " + ", ".join(map(str, column["categories"][:50]))
        # Column names need not be identifiers: each field is named f<i>_ and aliased to the column.
        fields[f"f{i}_"] = (Optional[py_type] if nullable else py_type,
                            Field(None if nullable else ..., alias=column["name"], **extra))
    return create_model("Row", __config__=ConfigDict(extra="forbid"), **fields)


def request_model(input_schema: list[dict[str, Any]], max_rows: int) -> type[BaseModel]:
    """{"rows": [row, ...]} with 1..max_rows rows."""
    row = row_model(input_schema)
    return create_model("PredictRequest", __config__=ConfigDict(extra="forbid"),
                        rows=(list[row], Field(..., min_length=1, max_length=max_rows)))


class FeedbackItem(BaseModel):
    """One ground-truth label, for a served row."""

    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1)
    row: int = Field(0, ge=0, description="row index within the request")
    label: Union[bool, int, float, str] = Field(description="the true target value")


class FeedbackRequest(BaseModel):
    """POST {route}/feedback: labels for served rows."""

    model_config = ConfigDict(extra="forbid")
    labels: list[FeedbackItem] = Field(min_length=1, max_length=10000)


class PredictResponse(BaseModel):
    """The answer of POST {route}/predict."""

    predictions: list[Any]
    classes: Optional[list[Any]] = None
    probabilities: Optional[list[list[float]]] = None
    model_version: str
    request_id: str
    outlier_scores: Optional[list[float]] = None
    outliers: Optional[list[bool]] = None


class ErrorItem(BaseModel):
    """One problem of a refused request: the dotted field (or "body") and what is wrong with it."""

    field: str
    message: str


class ErrorBody(BaseModel):
    """The body of every 4xx about the request itself (404, 411, 413, 422)."""

    detail: list[ErrorItem]


class MessageBody(BaseModel):
    """The body of a 401 (no or a wrong token) and of a 500 (the model failed): one sentence."""

    detail: str


def documented_errors(*statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, with the bodies the endpoint really sends."""
    described = {401: ("missing or invalid bearer token (auth on)", MessageBody),
                 404: ("this endpoint does not keep what was asked for", ErrorBody),
                 411: ("Content-Length is required on a POST", ErrorBody),
                 413: ("the body is larger than max_request_bytes", ErrorBody),
                 422: ("the request names the field at fault", ErrorBody),
                 500: ("the model failed on input it should take", MessageBody)}
    out: dict[int, dict[str, Any]] = {}
    for status in statuses:
        if status == 503:
            out[503] = {"description": "overloaded: more than max_queued_requests wait; retry after Retry-After seconds"}
        else:
            description, model = described[status]
            out[status] = {"description": description, "model": model}
    return out
