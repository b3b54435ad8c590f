"""The Open Inference Protocol (KServe V2) over REST: model metadata, and `POST /v2/models/{name}/infer`
with either one named tensor per feature column (shape [n] or [n, 1]) or one 2-D tensor [n, features] in
the model's column order, as JSON data or in the binary tensor extension Triton's clients send by default.
Outputs: `predict` and, for classifiers, `proba` [n, classes]; the id column's tensor is echoed. Requests
become rows for the shared request model (mlops.serving.request_input). Pure Python (numpy for binary)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from mlops.models.input_contract import unexpected
from mlops.serving.request_input import Parsed, RequestError, loads, loads_standard, missing_as_null

DATATYPES = {"number": "FP64", "integer": "INT64", "boolean": "BOOL", "string": "BYTES"}
NUMPY_TYPES = {"BOOL": "?", "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8", "UINT8": "<u1",
               "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8"}
OUTPUTS = ("predict", "proba")
COLUMN_TYPES = frozenset(NUMPY_TYPES) | {"BYTES"}
UNKNOWN_NAMED = 8  # tensors of unknown names named one by one; a request with more is refused by its count
CONTAINERS = frozenset({list, dict})  # values a column's data may not hold (nested: not a column)


@dataclass
class InferRequest:
    """A parsed infer request: its rows, its id (echoed) and the outputs asked for (None: all)."""

    parsed: Parsed
    id: Optional[str]
    outputs: Optional[list[str]]


def tensor_metadata(name: str, datatype: str, shape: list[int]) -> dict[str, Any]:
    """One tensor's metadata."""
    return {"name": name, "datatype": datatype, "shape": shape}


def label_datatype(classes: Optional[list[Any]], task: str) -> str:
    """The datatype of the `predict` output: the classes' type, FP64 for regression."""
    if task != "classification" or not classes:
        return "FP64"
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if all(isinstance(c, int) for c in classes):
        return "INT64"
    return "FP64" if all(isinstance(c, (int, float)) for c in classes) else "BYTES"


def model_metadata(name: str, version: str, input_schema: list[dict[str, Any]], task: str,
                   classes: Optional[list[Any]], entity_keys: Sequence[str] = ()) -> dict[str, Any]:
    """GET /v2/models/{name}: one input tensor per feature column, with its datatype, then the entity keys
    an endpoint reading the online feature store takes (BYTES: keys may be numbers or text), and the outputs."""
    inputs = [tensor_metadata(c["name"], DATATYPES.get(c["type"], "BYTES"), [-1]) for c in input_schema]
    inputs += [tensor_metadata(key, "BYTES", [-1]) for key in entity_keys]
    outputs = [tensor_metadata("predict", label_datatype(classes, task), [-1])]
    if task == "classification" and classes:
        outputs.append(tensor_metadata("proba", "FP64", [-1, len(classes)]))
    return {"name": name, "versions": [version], "platform": "mlops", "inputs": inputs, "outputs": outputs}


def parse_infer(raw: bytes, header_length: Optional[bytes], columns: list[str], id_column: Optional[str],
                also: Sequence[str] = (), max_rows: Optional[int] = None) -> InferRequest:
    """An infer request's rows: named tensors (one per column, the id column's included) or one 2-D tensor;
    `also`: other tensors taken beside the columns (entity keys, the ignored target column). The common
    request, named columns of standard JSON, is read in one pass (column_rows); anything else, and every
    error, by the checks of checked_infer. (Each request's parsing delays the batch it joins: a replica
    that parses more slowly than requests arrive scores smaller batches.) `max_rows`: a tensor whose
    shape holds more rows is refused from its shape, before any of its values is read."""
    if header_length is None:
        body, standard = loads_standard(raw)
        parsed = column_rows(body, columns, id_column, also, max_rows) if standard else None
        if parsed is not None:
            return InferRequest(parsed, request_id(body), requested_outputs(body.get("outputs"), id_column))
    return checked_infer(raw, header_length, columns, id_column, also, max_rows)


def checked_infer(raw: bytes, header_length: Optional[bytes], columns: list[str], id_column: Optional[str],
                  also: Sequence[str] = (), max_rows: Optional[int] = None) -> InferRequest:
    """parse_infer with every field checked in turn, so that an error names what is wrong: JSON (NaN
    included, as pandas clients write it) or the binary tensor extension. Sizes are checked from the
    header (tensor count, shapes, binary_data_size) before values are decoded, so a body's cost is
    bounded by max_rows, not by its length."""
    binary = b""
    if header_length is not None:  # the binary tensor extension: JSON header, then the tensors' bytes
        if not header_length.isdigit() or len(header_length) > len(str(len(raw))) or int(header_length) > len(raw):
            raise RequestError("Inference-Header-Content-Length", "must be the length of the JSON header within the body")
        raw, binary = raw[: int(header_length)], raw[int(header_length):]
    body = loads(raw)
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise RequestError("inputs", "expected a non-empty list of input tensors")
    # One tensor per field, and a few more for the input contract to name as unknown (as every route does).
    most = len({*columns, *also, id_column} - {None}) + UNKNOWN_NAMED
    if len(body["inputs"]) > most:
        raise RequestError("inputs", f"{len(body['inputs'])} input tensors; this model takes at most {most}")
    tensors, offset = [], 0
    for k, tensor in enumerate(body["inputs"]):
        values, offset = tensor_values(tensor, k, binary, offset, len(columns), max_rows)
        tensors.append((tensor["name"], tensor["shape"], values))
    outputs = requested_outputs(body.get("outputs"), id_column)
    matrices = [t for t in tensors if len(t[1]) == 2 and t[1][1] != 1]
    if matrices:
        return InferRequest(matrix_rows(tensors, matrices[0], columns, id_column, also), request_id(body), outputs)
    return InferRequest(named_rows(tensors, columns, id_column, also), request_id(body), outputs)


def request_id(body: dict) -> Optional[str]:
    """The request's `id` (echoed in the answer)."""
    value = body.get("id")
    if value is not None and not isinstance(value, str):
        raise RequestError("id", "expected a string")
    return value


def column_rows(body: Any, columns: list[str], id_column: Optional[str], also: Sequence[str] = (),
                max_rows: Optional[int] = None) -> Optional[Parsed]:
    """The rows of the common request, checked in one pass: a body of standard JSON whose inputs are all
    well-formed named columns ([n] or [n, 1], int dimensions, a flat list of n values, a known datatype,
    no parameters) of the model's inputs, the same n for each, at most max_rows. None for anything else."""
    inputs = body.get("inputs") if type(body) is dict else None
    if type(inputs) is not list or not inputs:
        return None
    known = {*columns, *also, id_column} - {None}
    if len(inputs) > len(known):  # refused by checked_infer, naming the count
        return None
    names, columns_data, count = [], [], None
    for tensor in inputs:
        if type(tensor) is not dict or "parameters" in tensor:
            return None
        name, shape, data = tensor.get("name"), tensor.get("shape"), tensor.get("data")
        if type(data) is not list or type(shape) is not list or tensor.get("datatype") not in COLUMN_TYPES \
                or type(name) is not str or name not in known:
            return None
        n = len(data)
        if max_rows is not None and n > max_rows:  # refused, naming the limit, by checked_infer (from the shape)
            return None
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1 and type(shape[1]) is int)) \
                or type(shape[0]) is not int or shape[0] != n or (count is not None and n != count) \
                or not CONTAINERS.isdisjoint(map(type, data)):
            return None
        count = n
        names.append(name)
        columns_data.append(data)
    return Parsed([dict(zip(names, values)) for values in zip(*columns_data)], tensor_field)


def tensor_field(i: Optional[int], column: Optional[str]) -> str:
    """How a V2 request of named tensors names row i's column: inputs.<column>.data.<i>."""
    if column is not None and i is not None:
        return f"inputs.{column}.data.{i}"
    return ".".join(str(p) for p in ("inputs", column) if p is not None)


def tensor_values(tensor: Any, k: int, binary: bytes, offset: int, width: int = 0,
                  max_rows: Optional[int] = None) -> tuple[list[Any], int]:
    """A tensor's values, flattened (row-major), from its JSON data or its slice of the binary part. Its
    shape is checked first (at most max_rows rows; a second dimension of 1 or `width`, the model's column
    count), and the values' count against it before they are decoded."""
    if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
        raise RequestError(f"inputs.{k}", "expected a tensor {name, shape, datatype, data}")
    name, shape, datatype = tensor["name"], tensor.get("shape"), tensor.get("datatype")
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and d >= 0 for d in shape) or len(shape) > 2:
        raise RequestError(f"inputs.{name}.shape", f"expected [rows] or [rows, columns], got {shape!r}")
    if not isinstance(datatype, str) or (datatype not in NUMPY_TYPES and datatype != "BYTES"):
        raise RequestError(f"inputs.{name}.datatype", f"expected one of BOOL, INT*, UINT*, FP16/32/64, BYTES; got {datatype!r}")
    if max_rows is not None and shape[0] > max_rows:
        raise RequestError(f"inputs.{name}.shape", f"{shape[0]} rows: more than max_rows={max_rows}")
    if len(shape) == 2 and shape[1] not in (1, width):
        raise RequestError(f"inputs.{name}.shape", f"expected [rows], [rows, 1] or [rows, {width}]: one value per column")
    count = shape[0] * (shape[1] if len(shape) == 2 else 1)
    parameters = tensor.get("parameters")
    size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
    if size is not None:
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise RequestError(f"inputs.{name}.parameters.binary_data_size", "exceeds the binary part of the body")
        values, offset = decode_binary(binary[offset: offset + size], datatype, name, count), offset + size
    elif "data" in tensor:
        data = tensor["data"]
        if isinstance(data, list) and len(data) > count:  # flat or by row, never more items than values
            raise RequestError(f"inputs.{name}.data", f"shape {shape} holds {count} values, got more")
        try:
            values = flatten(data)
        except RequestError:
            raise RequestError(f"inputs.{name}.data", "expected at most 2 dimensions: [rows] or [rows, columns]") from None
    else:
        raise RequestError(f"inputs.{name}.data", "Field required")
    if len(values) != count:
        raise RequestError(f"inputs.{name}.data", f"shape {shape} holds {count} values, got {len(values)}")
    if datatype == "BYTES":
        values = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in values]
    return [missing_as_null(v) for v in values], offset


def decode_binary(blob: bytes, datatype: str, name: str, count: int) -> list[Any]:
    """Values of a tensor sent in binary: little-endian numbers, or BYTES as 4-byte length + bytes each.
    A blob that holds other than `count` values is refused before they are decoded (BYTES: after count+1)."""
    if datatype != "BYTES":
        import numpy as np

        width = np.dtype(NUMPY_TYPES[datatype]).itemsize
        if len(blob) % width:
            raise RequestError(f"inputs.{name}.parameters.binary_data_size", f"not a multiple of {datatype}'s {width} bytes")
        if len(blob) // width != count:
            raise RequestError(f"inputs.{name}.data", f"shape holds {count} values, got {len(blob) // width}")
        return np.frombuffer(blob, dtype=NUMPY_TYPES[datatype]).tolist()
    values, at = [], 0
    while at < len(blob) and len(values) <= count:
        length = int.from_bytes(blob[at: at + 4], "little")
        values.append(blob[at + 4: at + 4 + length])
        at += 4 + length
    return values


def flatten(data: Any) -> list[Any]:
    """JSON tensor data, flat or nested by row (at most 2-D, as the shapes taken), as a flat row-major list."""
    if not isinstance(data, list):
        return [data]
    if not any(isinstance(v, list) for v in data):
        return data
    flat = [x for v in data for x in (v if isinstance(v, list) else [v])]
    if any(isinstance(x, list) for x in flat):
        raise RequestError("inputs.data", "expected at most 2 dimensions: [rows] or [rows, columns]")
    return flat


def named_rows(tensors: list[tuple], columns: list[str], id_column: Optional[str], also: Sequence[str] = ()) -> Parsed:
    """Rows from one tensor per column (or per entity key): row i holds element i of each."""
    known = set(columns) | ({id_column} if id_column else set()) | set(also)
    for name, _, _ in tensors:
        if name not in known:  # in the input contract's words, as every route and batch scoring refuse it
            raise RequestError(f"inputs.{name}", unexpected(columns).message)
    lengths = {shape[0] for _, shape, _ in tensors}
    if len(lengths) != 1:
        raise RequestError("inputs", f"every input tensor must have the same number of rows, got {sorted(lengths)}")
    n = lengths.pop()
    rows = [{name: values[i] for name, _, values in tensors} for i in range(n)]
    return Parsed(rows, tensor_field)


def matrix_rows(tensors: list[tuple], matrix: tuple, columns: list[str], id_column: Optional[str],
                also: Sequence[str] = ()) -> Parsed:
    """Rows from one [rows, columns] tensor in the model's column order (plus, optionally, the id column's
    tensor and those of `also`)."""
    name, shape, values = matrix
    if shape[1] != len(columns):
        raise RequestError(f"inputs.{name}.shape", f"expected [rows, {len(columns)}]: one value per column, in the order {columns}")
    others = [t for t in tensors if t is not matrix]
    taken = [n for n in (id_column, *also) if n]
    for other, other_shape, _ in others:
        if other not in taken or other_shape[0] != shape[0]:
            raise RequestError(f"inputs.{other}", f"beside one [rows, columns] tensor, the only inputs taken are "
                                                  f"{', '.join(taken) or 'none here'}, with as many rows")
    width = len(columns)
    rows = [dict(zip(columns, values[i * width: (i + 1) * width])) for i in range(shape[0])]
    for tensor_name, _, ids in others:
        for row, value in zip(rows, ids):
            row[tensor_name] = value
    return Parsed(rows, lambda i, c: ".".join(str(p) for p in (f"inputs.{name}.data", i, c) if p is not None))


def requested_outputs(outputs: Any, id_column: Optional[str]) -> Optional[list[str]]:
    """The output names asked for (None: all of them)."""
    if outputs is None:
        return None
    allowed = [*OUTPUTS, *([id_column] if id_column else [])]
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and o.get("name") in allowed for o in outputs):
        raise RequestError("outputs", f"expected a list of {{name}} among {allowed}")
    return [o["name"] for o in outputs]


def infer_answer(answer: dict[str, Any], name: str, request: InferRequest, id_column: Optional[str]) -> dict[str, Any]:
    """The infer response: `predict`, `proba` (classifiers) and the echoed id column, as JSON tensors."""
    predictions = answer["predictions"]
    n = len(predictions)
    outputs = [{"name": "predict", "datatype": datatype_of(predictions), "shape": [n], "data": predictions}]
    if "probabilities" in answer:
        proba = answer["probabilities"]
        outputs.append({"name": "proba", "datatype": "FP64", "shape": [n, len(answer["classes"])],
                        "data": [p for row in proba for p in row]})
    if "ids" in answer and id_column:
        outputs.append({"name": id_column, "datatype": datatype_of(answer["ids"]), "shape": [n], "data": answer["ids"]})
    if request.outputs is not None:
        outputs = [o for o in outputs if o["name"] in request.outputs]
    return {"model_name": name, "model_version": answer["model_version"], "id": request.id or answer["request_id"],
            "outputs": outputs}


def datatype_of(values: list[Any]) -> str:
    """A JSON list's V2 datatype: BOOL, INT64, FP64, else BYTES."""
    if all(isinstance(v, bool) for v in values):
        return "BOOL"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INT64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "FP64"
    return "BYTES"


def error_body(details: list[dict[str, str]], status: int = 422) -> dict[str, str]:
    """The protocol's error object: one string, naming the fields (whatever the status)."""
    return {"error": "; ".join(f"{d['field']}: {d['message']}" for d in details)}
