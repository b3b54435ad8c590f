"""The input contract every route shares: a protocol's parser turns its request into rows ({column: value},
the id column included), and the one request model validates them, so `/predict`, `/invocations` and
`/v2/.../infer` accept and refuse the same values. Errors name the field in the protocol's own terms.
Pure Python: no Ray, no HTTP."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

from pydantic import BaseModel, ValidationError


class RequestError(Exception):
    """A request refused before the model sees it: the status and, per problem, the field and the message."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.status, self.details = status, [{"field": field, "message": message}]

    @classmethod
    def of(cls, details: list[dict[str, str]], status: int = 422) -> "RequestError":
        """One error for several problems."""
        error = cls(details[0]["field"], details[0]["message"], status)
        error.details = details
        return error


def rows_field(i: Optional[int], column: Optional[str]) -> str:
    """/predict's own naming: rows, rows.<i>, rows.<i>.<column>."""
    return ".".join(str(p) for p in ("rows", i, column) if p is not None)


@dataclass
class Parsed:
    """A request's rows, and how its protocol names row i's column (`field(i, column)`; None: the whole)."""

    rows: list[dict[str, Any]]
    field: Callable[[Optional[int], Optional[str]], str] = rows_field


def validate(model: type[BaseModel], parsed: Parsed) -> BaseModel:
    """The request model's instance for the parsed rows; a RequestError naming each bad field otherwise."""
    try:
        return model.model_validate({"rows": parsed.rows})
    except ValidationError as exc:
        raise RequestError.of([{"field": named(parsed, e.get("loc", ())), "message": e.get("msg", "invalid")}
                               for e in exc.errors()]) from None


def named(parsed: Parsed, loc: tuple) -> str:
    """A request-model error location ("rows", i, column) as the protocol's field name."""
    parts = [p for p in loc if p != "body"]
    if not parts or parts[0] != "rows":
        return ".".join(map(str, parts)) or "body"
    i = parts[1] if len(parts) > 1 and isinstance(parts[1], int) else None
    column = str(parts[2]) if len(parts) > 2 else None
    return parsed.field(i, column)


def refused_row(field: str) -> Optional[int]:
    """The row index a model refusal names ("rows.3" and "rows.3.<column>" -> 3; "rows" -> None)."""
    parts = field.split(".", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def missing_as_null(value: Any) -> Any:
    """NaN is how pandas and numpy clients write a missing value: null to the request model (which accepts
    it where the model imputes, and refuses it, naming the field, elsewhere)."""
    return None if isinstance(value, float) and math.isnan(value) else value


def loads(raw: bytes) -> Any:
    """JSON from a protocol client: orjson, and Python's json for the NaN/Infinity that pandas clients send."""
    return loads_standard(raw)[0]


def loads_standard(raw: bytes) -> tuple[Any, bool]:
    """The JSON body (as `loads`), and whether it is standard JSON: then no value is NaN, since only
    Python's parser, the fallback for pandas clients, reads NaN, and parsers may skip missing_as_null."""
    import orjson

    try:
        return orjson.loads(raw), True
    except orjson.JSONDecodeError as exc:
        import json

        try:
            return json.loads(raw), False
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise RequestError("body", f"the body is not valid JSON ({exc})") from None
