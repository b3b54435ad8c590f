"""MLflow's scoring protocol (`POST /invocations`, what `mlflow models serve` accepts): a JSON body with exactly
one of `dataframe_split`, `dataframe_records`, `instances`, `inputs` (and optionally `params`, which the
model takes none of), or a CSV body (`Content-Type: text/csv`) with a header row. The answer is
`{"predictions": [...]}`. Requests become rows for the shared request model (mlops.serving.request_input);
errors name the field in the format's terms (`dataframe_split.data.0.petal_width_cm`). Pure Python."""
from __future__ import annotations

import csv
import functools
import io
import re
from typing import Any, Optional, Sequence

from mlops.models.input_contract import read_text
from mlops.serving.request_input import Parsed, RequestError, loads_standard, missing_as_null

UNKNOWN_NAMED = 8  # unknown CSV columns named one by one; a header with more is refused as too wide
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CSV = "text/csv"


def parse_invocation(raw: bytes, content_type: str, input_schema: list[dict[str, Any]], id_column: Optional[str],
                     keys: Sequence[str] = (), max_rows: Optional[int] = None, ignored: Sequence[str] = ()) -> Parsed:
    """The rows of an /invocations body, JSON or CSV (by its content type, as MLflow's server decides);
    `keys`: entity keys a CSV's cells are read as ids for (features from the online store); a body of more
    than `max_rows` rows is refused before its rows are built."""
    mime, _, parameters = content_type.partition(";")
    mime = mime.strip().lower() or "application/json"
    charset = parameters.strip().lower().partition("charset=")[2] or "utf-8"
    if charset.strip('"') not in ("utf-8", "utf8"):
        raise RequestError("content-type", "only UTF-8 bodies are accepted", status=415)
    if mime == CSV:
        return parse_csv(raw, input_schema, id_column, keys, max_rows, ignored)
    if mime != "application/json":
        raise RequestError("content-type", f"expected application/json or {CSV}, got {mime!r}", status=415)
    body, standard = loads_standard(raw)
    return parse_json(body, [c["name"] for c in input_schema], standard, max_rows)


def parse_json(body: Any, columns: list[str], standard: bool = False, max_rows: Optional[int] = None) -> Parsed:
    """The rows of a JSON scoring request: records, split, column-wise or positional (schema order);
    `standard`: the body was standard JSON, so no value is NaN; more than `max_rows` rows are refused
    from the lists' lengths, before any row is built."""
    if not isinstance(body, dict):
        raise RequestError("body", f"expected a JSON object with one of {', '.join(FORMATS)}")
    unknown = [k for k in body if k not in FORMATS and k != "params"]
    if unknown:
        raise RequestError(unknown[0], f"not a field of MLflow's scoring protocol (expected one of {', '.join(FORMATS)})")
    given = [k for k in FORMATS if k in body]
    if len(given) != 1:
        raise RequestError("body", f"expected exactly one of {', '.join(FORMATS)}, got {given or 'none'}")
    key = given[0]
    data = body[key]
    check_rows(data, key, max_rows)
    if key == "dataframe_split":
        return split_rows(data, columns, standard)
    if isinstance(data, dict):  # `inputs` column-wise: {column: [values]} (or {column: value}, one row)
        return column_rows(data, key)
    if not isinstance(data, list):
        raise RequestError(key, "expected a list of rows or an object of columns")
    if data and all(isinstance(row, list) for row in data):  # positional rows, in the model's column order
        return positional_rows(data, columns, key)
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise RequestError(f"{key}.{i}", "expected an object {column: value} (or every row a list)")
    return Parsed([{k: missing_as_null(v) for k, v in row.items()} for row in data], lambda i, c: dotted(key, i, c))


def check_rows(data: Any, key: str, max_rows: Optional[int]) -> None:
    """Refuse a format's data of more than max_rows rows, naming the field and the limit (O(1))."""
    if max_rows is None:
        return
    field, count = key, 0
    if isinstance(data, list):
        count = len(data)
    elif key == "dataframe_split" and isinstance(data, dict) and isinstance(data.get("data"), list):
        field, count = f"{key}.data", len(data["data"])
    elif isinstance(data, dict):  # column-wise: {column: [values]}
        count = max((len(v) for v in data.values() if isinstance(v, list)), default=0)
    if count > max_rows:
        raise RequestError(field, f"{count} rows: more than max_rows={max_rows}")


def split_rows(data: Any, columns: list[str], standard: bool = False) -> Parsed:
    """`dataframe_split` (pandas' orient="split"): {"columns": [...], "data": [[...], ...], "index": ignored}.
    `standard`: no value is NaN, so the values are taken as they are (MLflow's client sends this format)."""
    key = "dataframe_split"
    if not isinstance(data, dict):
        raise RequestError(key, 'expected {"columns": [...], "data": [[...], ...]}')
    unknown = [k for k in data if k not in ("columns", "data", "index")]
    if unknown:
        raise RequestError(f"{key}.{unknown[0]}", "not a field of dataframe_split (columns, data, index)")
    names = data.get("columns", columns)
    rows = data.get("data")
    if not isinstance(names, list) or not isinstance(rows, list):
        raise RequestError(f"{key}.data", "expected lists: columns (names) and data (rows)")
    width = len(names)
    if standard and all(type(row) is list and len(row) == width for row in rows):
        if not all(type(n) is str for n in names):
            names = [str(n) for n in names]
        return Parsed([dict(zip(names, row)) for row in rows], lambda i, c: dotted(f"{key}.data", i, c))
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise RequestError(f"{key}.data.{i}", f"expected a list of {width} values, one per column")
        out.append({str(n): missing_as_null(v) for n, v in zip(names, row)})
    return Parsed(out, lambda i, c: dotted(f"{key}.data", i, c))


def column_rows(data: dict[str, Any], key: str) -> Parsed:
    """Column-wise input {column: [values]}; {column: value} is one row."""
    if all(not isinstance(v, list) for v in data.values()):
        data = {k: [v] for k, v in data.items()}
    lengths = {len(v) if isinstance(v, list) else -1 for v in data.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise RequestError(key, "expected every column a list of the same length")
    n = lengths.pop()
    rows = [{k: missing_as_null(v[i]) for k, v in data.items()} for i in range(n)]
    return Parsed(rows, lambda i, c: f"{key}.{c}.{i}" if c is not None and i is not None else dotted(key, i, c))


def positional_rows(data: list[list[Any]], columns: list[str], key: str) -> Parsed:
    """Rows as lists of values in the model's column order (a 2-D tensor)."""
    for i, row in enumerate(data):
        if len(row) != len(columns):
            raise RequestError(f"{key}.{i}", f"expected {len(columns)} values, in the order {columns}")
    return Parsed([{c: missing_as_null(v) for c, v in zip(columns, row)} for row in data], lambda i, c: dotted(key, i, c))


def parse_csv(raw: bytes, input_schema: list[dict[str, Any]], id_column: Optional[str], keys: Sequence[str] = (),
              max_rows: Optional[int] = None, ignored: Sequence[str] = ()) -> Parsed:
    """A CSV body with a header row, as pandas would read it: each input column's cells as the input
    contract reads a file's text (pandas' missing markers are null, numbers in numeric columns, true/false
    in boolean ones), ids and entity keys as ids, anything else text for the request model to judge (a
    column it ignores, as the target, stays text too). Reading stops at the first row
    past `max_rows` and at a header wider than any row can be, so a body costs at most max_rows rows."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError("body", f"the CSV body is not UTF-8 ({exc})") from None
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise RequestError("csv", f"not a CSV body ({exc})") from None
    if not header:
        raise RequestError("csv", "the CSV body has no header row")
    kinds = {c["name"]: c["type"] for c in input_schema}
    for key in (id_column, *keys):
        if key:
            kinds[key] = "id"
    # Every column the row model takes and those it ignores, and a few more, for the input contract to
    # name as unknown (as every route does); a header wider than that is refused whole.
    widest = len(kinds) + 1 + len(ignored) + UNKNOWN_NAMED
    if len(header) > widest:
        raise RequestError("csv", f"the header names {len(header)} columns; a row takes at most {widest}")
    converters = [id_cell if kinds.get(name) == "id" else functools.partial(read_text, kinds[name]) if name in kinds
                  else text_cell for name in header]
    rows = []
    try:
        for i, cells in enumerate(r for r in reader if r):
            if max_rows is not None and i >= max_rows:
                raise RequestError("csv", f"more than max_rows={max_rows} rows")
            if len(cells) != len(header):
                raise RequestError(f"csv.{i}", f"expected {len(header)} cells as in the header, got {len(cells)}")
            rows.append({name: convert(cell) for name, convert, cell in zip(header, converters, cells)})
    except csv.Error as exc:  # a NUL byte, an unterminated quote
        raise RequestError("csv", f"not a CSV body ({exc})") from None
    return Parsed(rows, lambda i, c: dotted("csv", i, c))


def text_cell(cell: str) -> Optional[str]:
    """A text cell; an empty one is missing."""
    return cell if cell != "" else None


INT64 = re.compile(r"-?[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses


def id_cell(cell: str) -> Any:
    """An id: an integer when it reads as one, optionally signed, in int64's range (as pandas would read
    it, and as JSON answers and the online store hold it), else the text (`--7`, `²`, 5,000 digits)."""
    if INT64.fullmatch(cell):
        number = int(cell)
        if -2**63 <= number < 2**63:
            return number
    return text_cell(cell)


def dotted(prefix: str, i: Optional[int], column: Optional[str]) -> str:
    """prefix, prefix.<i>, prefix.<i>.<column>."""
    return ".".join(str(p) for p in (prefix, i, column) if p is not None)


def invocation_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """MLflow's answer: the predictions (the labels, as a pyfunc model gives them), and the echoed ids."""
    out = {"predictions": answer["predictions"]}
    if "ids" in answer:
        out["ids"] = answer["ids"]
    return out


def invocation_error(details: list[dict[str, str]], status: int = 422) -> dict[str, Any]:
    """An error body MLflow's clients read (error_code, message) that names the fields as /predict's do."""
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    code = {404: "RESOURCE_DOES_NOT_EXIST"}.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
    return {"error_code": code, "message": message, "detail": details}
