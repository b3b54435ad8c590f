"""Request and response models generated from the input schema recorded with the model at training time.
What a row's input columns take is the input contract's (mlops.models.input_contract): the row model asks
it for every value, and words every refusal (a missing column, a bad value, an unknown column) as it does."""
from __future__ import annotations

from typing import Annotated, Any, Optional, Sequence, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, WithJsonSchema,
                      create_model, model_validator)
from pydantic_core import PydanticCustomError

from mlops.models.input_contract import ColumnRule, InputContract

ID_FIELD = "id_"  # the request row's field for the id column (aliased to the column's name)
TARGET_FIELD = "target_"  # the request row's field for the target column: accepted, ignored
IGNORED_FIELD = "x"  # x<j>_: the request row's fields for columns the model does not read: accepted, ignored


def int64_id(value: Union[int, str]) -> Union[int, str]:
    """An id or entity key that is a number must be an int64: what JSON answers echo (orjson writes no
    larger integer) and the online store looks up (SQLite's integers). Refused, naming the field, else."""
    if type(value) is int and not -2**63 <= value < 2**63:
        raise ValueError("an integer id must fit in 64 bits; send a larger one as a string")
    return value


IdValue = Annotated[Union[StrictInt, StrictStr], AfterValidator(int64_id)]


def refusal(kind: str, message: str) -> PydanticCustomError:
    """A contract refusal as a pydantic error whose message is exactly the contract's."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def documented(rule: ColumnRule) -> Any:
    """An input column's field: any value (the contract reads it), documented as what the contract takes."""
    kinds = {"number": ["number"], "integer": ["number"], "boolean": ["boolean"], "string": ["string"],
             "datetime": ["number", "string"]}.get(rule.kind, ["string"]) + (["null"] if rule.may_be_null else [])
    return Annotated[Any, WithJsonSchema({"anyOf": [{"type": k} for k in kinds]} if len(kinds) > 1 else {"type": kinds[0]})]


def read_by(contract: InputContract) -> Any:
    """The row model's validator: the input contract reads the row's input columns and refuses, in its
    words, a missing column, a bad value and an unknown column; pydantic then checks the other fields (the
    id, entity keys). Every problem of the row is reported at once."""

    def check(data: Any, handler: Any) -> Any:
        if type(data) is not dict:
            return handler(data)  # pydantic's own refusal of a row that is no object
        row, problems = contract.read_row(data)
        if not problems:
            return handler(row)
        errors: list[Any] = [{"type": refusal(exc.kind, exc.message), "loc": (name,), "input": data.get(name)}
                             for name, exc in problems]
        refused = {name for name, _ in problems}
        try:
            handler({k: v for k, v in row.items() if k not in refused})
        except ValidationError as exc:
            errors += [{"type": refusal(e["type"], e["msg"]), "loc": e["loc"], "input": e.get("input")}
                       for e in exc.errors() if not e["loc"] or e["loc"][0] not in refused]
        raise ValidationError.from_exception_data("Row", errors)

    return model_validator(mode="wrap")(check)


def row_model(input_schema: list[dict[str, Any]], id_column: Optional[str] = None,
              takes_null: Sequence[str] = (), feature_views: Sequence[dict[str, Any]] = (),
              target_column: Optional[str] = None, ignored_columns: Sequence[str] = ()) -> type[BaseModel]:
    """One row, as the input contract takes it: every input column (null, or left out, where the contract
    imputes it; `takes_null`: the columns the model imputes). The id column, when the model has one, is
    accepted (any string or number, never a feature) and echoed in the answer. With feature views (features
    from the online store) their features are optional and their entity keys accepted; the target column
    is accepted and ignored, and so are `ignored_columns` (the model meta's: columns of the training data
    that are no input). Field order: inputs, id column, entity keys, target (EndpointConfig.row_fields),
    ignored columns."""
    from mlops.feature_store.lookup import store_supplied_fields

    supplied = set(store_supplied_fields(list(feature_views)))
    keys: dict[str, list[str]] = {}
    taken = {c["name"] for c in input_schema} | {id_column}
    for view in feature_views:
        if view["key"] not in taken:
            keys.setdefault(view["key"], []).append(view["name"])
    contract = InputContract.of(input_schema, takes_null, [id_column, *keys, target_column, *ignored_columns], supplied)
    fields: dict[str, Any] = {}
    for i, (column, rule) in enumerate(zip(input_schema, contract.rules)):
        notes = [rule.describe()]
        if rule.supplied:
            notes.insert(0, "optional: the online store supplies it by entity key (a value sent here wins)")
        if column.get("categories"):
            # Documented, not enforced: the fitted encoder handles unseen categories, and monitoring counts them.
            notes.append("seen in training: " + ", ".join(map(str, column["categories"][:50])))
        # Column names need not be identifiers: each field is named f<i>_ and aliased to the column.
        fields[f"f{i}_"] = (documented(rule), Field(None if rule.may_be_missing else ..., alias=rule.name,
                                                    description="; ".join(notes)))
    # After the inputs, so a row's first len(input_schema) values are the model's inputs (mlops.serving.replica).
    if id_column:
        fields[ID_FIELD] = (Optional[IdValue], Field(None, alias=id_column, description=(
            "the row's id (data.id_column): never a feature, echoed in the answer as in batch scoring")))
    for j, (key, views) in enumerate(keys.items()):
        fields[f"k{j}_"] = (Optional[IdValue], Field(None, alias=key, description=(
            f"entity key: the online store fills the features this row leaves out from feature view(s) "
            f"{', '.join(views)}; never a feature")))
    if target_column:
        fields[TARGET_FIELD] = (Any, Field(None, alias=target_column, description=(
            "ignored (the label, data.target): accepted so that rows of a batch file score as they are")))
    taken |= set(keys) | {target_column}
    for j, name in enumerate(c for c in ignored_columns if c not in taken):
        fields[f"{IGNORED_FIELD}{j}_"] = (Any, Field(None, alias=name, description=(
            "ignored: a column of the training data the model does not read (features.drop, an id, free text, "
            "a constant); accepted so that rows of the training or a batch file score as they are")))
    return create_model("Row", __config__=ConfigDict(extra="forbid"), __validators__={"contract": read_by(contract)},
                        **fields)


def request_model(input_schema: list[dict[str, Any]], max_rows: int, id_column: Optional[str] = None,
                  takes_null: Sequence[str] = (), feature_views: Sequence[dict[str, Any]] = (),
                  target_column: Optional[str] = None, ignored_columns: Sequence[str] = ()) -> type[BaseModel]:
    """{"rows": [row, ...]} with 1..max_rows rows."""
    row = row_model(input_schema, id_column, takes_null, feature_views, target_column, ignored_columns)
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
    ids: Optional[list[Any]] = Field(None, description="the rows' id column, echoed (when the request carried it)")
    outlier_scores: Optional[list[float]] = None
    outliers: Optional[list[bool]] = None


class Contribution(BaseModel):
    """One input column's share of a row's explained output (signed)."""

    feature: str
    contribution: float


class RowExplanationBody(BaseModel):
    """One row's explanation: base_value + the sum of every contribution == output."""

    row: int
    prediction: Any
    explained: str = Field(description='what `output` is: "value", "P(class=...)" or "log-odds(class=...)"')
    output: float
    base_value: float
    contributions: list[Contribution] = Field(description="the top contributions by size, most important first")


class ExplainResponse(BaseModel):
    """The answer of POST {route}/explain."""

    explanations: list[RowExplanationBody]
    method: str = Field(description='"tree" (exact SHAP for tree ensembles) or "permutation"')
    model_version: str
    request_id: str
    ids: Optional[list[Any]] = Field(None, description="the rows' id column, echoed (when the request carried it)")


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


class InvocationError(BaseModel):
    """An /invocations error in MLflow's format (error_code, message), with the fields named as /predict's."""

    error_code: str
    message: str
    detail: list[ErrorItem]


class ProtocolError(BaseModel):
    """An Open Inference Protocol error: one string, naming the field at fault."""

    error: str


UNKNOWN_ENTITY = ("features from the online store: an entity key with no usable row (none, or older than the "
                  "view's TTL) in a feature view without defaults; the error names the key")


def documented_errors(*statuses: int, body: Optional[type[BaseModel]] = None,
                      descriptions: Optional[dict[int, str]] = None) -> dict[int, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, with the bodies the endpoint really sends (`body`: a
    protocol's own error body for all of them; `descriptions`: this route's own words for some)."""
    described = {401: ("missing or invalid bearer token (auth on)", MessageBody),
                 404: ("this endpoint does not keep what was asked for", ErrorBody),
                 411: ("Content-Length is required on a POST", ErrorBody),
                 413: ("the body is larger than max_request_bytes", ErrorBody),
                 415: ("a Content-Type other than application/json or text/csv", ErrorBody),
                 422: ("the request names the field at fault", ErrorBody),
                 500: ("the model failed on input it should take", MessageBody),
                 501: ("this model cannot be explained here (SHAP missing, or no preprocessing pipeline)", ErrorBody)}
    out: dict[int, dict[str, Any]] = {}
    for status in statuses:
        if status == 503:
            out[503] = {"description": "overloaded: more than max_queued_requests wait; retry after Retry-After seconds"}
        else:
            description, model = described[status]
            description = (descriptions or {}).get(status, description)
            out[status] = {"description": description, "model": body or model}
    return out


class DataframeSplit(BaseModel):
    """pandas' orient="split": column names, rows of values (and an index, ignored)."""

    columns: Optional[list[str]] = Field(None, description="default: the model's input columns, in order")
    data: list[list[Any]]
    index: Optional[list[Any]] = None


def invocation_model(row: type[BaseModel]) -> type[BaseModel]:
    """POST {route}/invocations as documented (MLflow's scoring protocol; exactly one format per request; a
    CSV body with `Content-Type: text/csv` is accepted too). Rows take what /predict's rows take."""
    listed = Optional[list[Union[row, list[Any]]]]
    return create_model(
        "InvocationRequest", __config__=ConfigDict(extra="forbid"),
        dataframe_split=(Optional[DataframeSplit], None), dataframe_records=(Optional[list[row]], None),
        instances=(listed, Field(None, description="rows as objects, or as lists in the model's column order")),
        inputs=(Optional[Union[list[Union[row, list[Any]]], dict[str, Any]]],
                Field(None, description="rows, or columns {column: [values]}")),
        params=(Optional[dict[str, Any]], Field(None, description="accepted and unused: the model takes no parameters")))


class InvocationResponse(BaseModel):
    """The answer of POST {route}/invocations (MLflow's scoring protocol)."""

    predictions: list[Any]
    ids: Optional[list[Any]] = Field(None, description="the rows' id column, echoed (when the request carried it)")


class InferTensor(BaseModel):
    """One input tensor of the Open Inference Protocol."""

    name: str = Field(description="a feature column (or the id column); or any name for one [rows, features] tensor")
    shape: list[int] = Field(description="[rows] or [rows, 1] per column; [rows, features] for one 2-D tensor")
    datatype: str = Field(description="FP64, FP32, INT64, INT32, BOOL or BYTES")
    data: Optional[list[Any]] = Field(None, description="row-major values (absent with the binary tensor extension)")
    parameters: Optional[dict[str, Any]] = None


class InferRequestBody(BaseModel):
    """POST /v2/models/{name}/infer (Open Inference Protocol, KServe V2)."""

    id: Optional[str] = None
    inputs: list[InferTensor]
    outputs: Optional[list[dict[str, Any]]] = Field(None, description="predict, proba (classifiers), the id column")
    parameters: Optional[dict[str, Any]] = None


class InferOutput(BaseModel):
    """One output tensor: `predict`, `proba` [rows, classes] or the echoed id column."""

    name: str
    datatype: str
    shape: list[int]
    data: list[Any]


class InferResponse(BaseModel):
    """The answer of POST /v2/models/{name}/infer."""

    model_name: str
    model_version: str
    id: str
    outputs: list[InferOutput]
