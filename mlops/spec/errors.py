"""Turn pydantic's validation errors into Problems: dotted path, bad value, what was expected, a hint."""
from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops.errors import FieldValueError, Problem, did_you_mean

_MISSING = object()
TAGS = ("type", "on")  # discriminator keys of the spec's unions (sources, sinks: type; triggers: on)


def problems_from(exc: ValidationError, raw: Any, root: type[BaseModel]) -> list[Problem]:
    """One Problem per pydantic error, located in the user's terms."""
    return [_problem(err, raw, root) for err in exc.errors(include_url=False)]


def _problem(err: dict, raw: Any, root: type[BaseModel]) -> Problem:
    path, parent_model = _user_path(err["loc"], raw, root)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "extra_forbidden":
        key = path.rsplit(".", 1)[-1]
        allowed = sorted(parent_model.model_fields) if parent_model else []
        return Problem(path, "unknown key", value=value if not isinstance(value, dict) else None,
                       expected=f"one of {allowed}" if allowed else None, hint=did_you_mean(key, allowed))
    if kind == "missing":
        return Problem(path, "required field is missing")
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "")
        return Problem(f"{path}.{ctx.get('discriminator', 'type').strip(chr(39))}", "unknown type",
                       value=ctx.get("tag"), expected=f"one of {tags}", hint=did_you_mean(str(ctx.get("tag")), _tags(tags)))
    if kind == "union_tag_not_found":
        tag = str(ctx.get("discriminator", "type")).strip("'")
        return Problem(f"{path}.{tag}", "required field is missing", expected=f"`{tag}` naming the kind")
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        return Problem(path, "not an allowed value", value=value, expected=expected, hint=did_you_mean(str(value), _tags(expected)))
    message = err["msg"]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        if isinstance(ctx.get("error"), FieldValueError):  # a model validator's verdict on one of its fields
            field = ctx["error"].field
            value = raw_value(raw, [*path.split("."), field]) if path else value
            return Problem(f"{path}.{field}" if path else field, message, value=None if isinstance(value, dict) else value)
        value = None if isinstance(value, dict) else value
    elif kind == "assertion_error":
        message = message.removeprefix("Assertion failed, ")
    return Problem(path, message, value=None if isinstance(value, (dict, list)) and len(str(value)) > 80 else value)


def _tags(expected: str) -> list[str]:
    return [t.strip(" '\"") for t in expected.replace(" or ", ",").split(",") if t.strip(" '\"")]


def _user_path(loc: tuple, raw: Any, root: type[BaseModel]) -> tuple[str, type[BaseModel] | None]:
    """Dotted path without pydantic's union-tag segments, and the model owning the last key."""
    parts: list[str] = []
    node, model, parent = raw, root, root
    for part in loc:
        if isinstance(node, dict) and part not in node and any(node.get(t) == part for t in TAGS):
            continue  # discriminated-union tag pydantic inserts into the location
        if isinstance(part, str) and part.startswith(("function-", "tagged-union[")):
            continue
        parts.append(str(part))
        parent = model
        node = node.get(part, _MISSING) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else _MISSING)
        model = _field_model(model, part, node) if model is not None else None
    return ".".join(parts), parent


def _field_model(model: type[BaseModel], key: Any, value: Any) -> type[BaseModel] | None:
    field = model.model_fields.get(key) if isinstance(key, str) else None
    if field is None:
        return None
    candidates = [c for c in _flatten(field.annotation) if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(candidates) > 1 and isinstance(value, dict):
        tagged = [c for c in candidates for t in TAGS if t in c.model_fields and c.model_fields[t].default == value.get(t)]
        candidates = tagged or candidates
    return candidates[0] if len(candidates) == 1 else None


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return [x for a in typing.get_args(annotation) for x in _flatten(a)]
    return [annotation]


def raw_value(raw: Any, parts: list[str]) -> Any:
    """The user's value at a dotted path of the raw config (None when absent)."""
    node = raw
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
