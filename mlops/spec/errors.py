"""Turn pydantic's validation errors into Problems: dotted path, bad value, what was expected, a hint."""
from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from mlops.errors import FieldValueError, Problem, did_you_mean

_MISSING = object()
TAGS = ("type", "on")  # discriminator keys of the spec's unions (sources, sinks: type; triggers: on)


def problems_from(exc: ValidationError, raw: Any, root: type[BaseModel]) -> list[Problem]:
    """One Problem per pydantic error, located in the user's terms. A field that takes one of several shapes
    (`replicas: {fixed: 2}` or `{min, max}`; `auth: {token_env}` or `none`) fails once per shape: only the
    shape the value has (a mapping, or not) is reported, and of those the one it came closest to."""
    located = [(_problem(err, raw, root), _branch(err["loc"], raw, root)) for err in exc.errors(include_url=False)]
    kept = [problem for problem, branch in located if branch is None]
    groups: dict[str, list[tuple[Problem, str, bool]]] = {}
    for problem, branch in located:
        if branch is not None:
            groups.setdefault(branch[0], []).append((problem, branch[1], branch[2]))
    for union_path, items in groups.items():
        mapping = isinstance(raw_value(raw, union_path.split(".")) if union_path else raw, dict)
        pool = [i for i in items if i[2] == mapping] or items
        shapes = [problem for problem, _, is_model in items if is_model and problem.message == "must be a mapping"]
        if not mapping and shapes and len(shapes) == sum(1 for i in items if i[2]):  # a scalar where shapes go
            first = shapes[0]
            kept.append(Problem(first.path, first.message, value=first.value,
                                expected=" or ".join(str(p.expected) for p in shapes if p.expected) or None))
            continue
        counts: dict[str, int] = {}
        for _, label, _ in pool:
            counts[label] = counts.get(label, 0) + 1
        closest = min(counts, key=counts.get)
        kept += [problem for problem, label, _ in pool if label == closest]
    unique: list[Problem] = []
    for problem in kept:  # one line per problem, however many branches said it
        if problem not in unique:
            unique.append(problem)
    return unique


def _branch(loc: tuple, raw: Any, root: type[BaseModel]) -> tuple[str, str, bool] | None:
    """(the union field's user path, the branch's label, whether the branch is a model) when pydantic put
    a union member's label into `loc` (a non-discriminated union: `FixedReplicas`, `literal['none']`)."""
    return _walk(loc, raw, root)[2]


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
    if kind == "model_type":  # "Input should be a valid dictionary or instance of X"
        fields = _model_fields(str(ctx.get("class_name", "")), parent_model, path)
        return Problem(path, "must be a mapping", value=value, expected=f"keys {fields}" if fields else None)
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
    """Dotted path without pydantic's union-tag and union-member segments, and the model owning the last key."""
    path, parent, _ = _walk(loc, raw, root)
    return path, parent


UNION_LABELS = ("literal[", "str", "int", "float", "bool", "list[", "dict[", "none")


def _walk(loc: tuple, raw: Any, root: type[BaseModel]) -> tuple[str, type[BaseModel] | None, tuple[str, str, bool] | None]:
    parts: list[str] = []
    node, model, parent = raw, root, root
    branch = None
    for part in loc:
        if isinstance(node, dict) and part not in node and any(node.get(t) == part for t in TAGS):
            continue  # discriminated-union tag pydantic inserts into the location
        field = parent.model_fields.get(parts[-1]) if parent is not None and parts else None
        members = _flatten(field.annotation) if field is not None else []
        if len(members) > 1 and isinstance(part, str) and not (isinstance(node, dict) and part in node):
            names = {m.__name__: m for m in members if isinstance(m, type) and issubclass(m, BaseModel)}
            # A member with a validator is labelled 'function-after[_check(), Member]'.
            label = part.rsplit(", ", 1)[-1].rstrip("]") if part.startswith("function-") else part
            if label in names or label.startswith(UNION_LABELS):
                branch = branch or (".".join(parts), label, label in names)
                model = names.get(label)
                continue  # a non-discriminated union's member: the user wrote no such key
        if isinstance(part, str) and part.startswith(("function-", "tagged-union[")):
            continue
        parts.append(str(part))
        parent = model
        node = node.get(part, _MISSING) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else _MISSING)
        model = _field_model(model, part, node) if model is not None else None
    return ".".join(parts), parent, branch


def _model_fields(class_name: str, owner: type[BaseModel] | None, path: str) -> list[str]:
    """The keys of the model named `class_name` that the field at `path` (owned by `owner`) takes."""
    field = owner.model_fields.get(path.rsplit(".", 1)[-1]) if owner is not None else None
    for member in _flatten(field.annotation) if field is not None else []:
        if isinstance(member, type) and issubclass(member, BaseModel) and member.__name__ == class_name:
            return sorted(member.model_fields)
    return []


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
