"""The spec reference page (docs/reference/spec.md), generated from the committed JSON Schema
(schema/spec.schema.json) so it never drifts from the models: one section per spec model, each field with
its type, default, allowed values and description, and the dotted paths where the model is used.

Regenerate with `python -m mlops.spec.reference > docs/reference/spec.md` after regenerating the schema;
tests/docs/test_site.py fails when the committed page differs."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "spec.schema.json"
HEADER = """# Spec reference

Every field of the spec, generated from the committed JSON Schema (`schema/spec.schema.json`, itself generated
from the pydantic models in `mlops/spec/`): do not edit this page by hand; run
`python -m mlops.spec.reference > docs/reference/spec.md`. Editors that read JSON Schema complete and check
the same fields (see [Getting started](../getting-started.md#editor-support)).

Types link to the section of the model they name. "required" means the field has no default.
"""


def _ref(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.split("/")[-1] if ref else None


def type_text(node: dict[str, Any]) -> str:
    """A field's type in words, models as links to their section."""
    if _ref(node):
        return f"[{_ref(node)}](#{_ref(node).lower()})"
    for key in ("oneOf", "anyOf"):
        if key in node:
            options = [type_text(o) for o in node[key]]
            return " or ".join(dict.fromkeys(o for o in options if o))
    if "enum" in node:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    kind = node.get("type")
    if kind == "array":
        return f"list of {type_text(node.get('items') or {}) or 'any'}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of string to {type_text(node['additionalProperties']) or 'any'}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _bounds(node: dict[str, Any]) -> str:
    signs = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<",
             "minLength": "length >=", "maxLength": "length <=", "minItems": "items >=", "maxItems": "items <="}
    found = [f"{sign} {node[key]}" for key, sign in signs.items() if key in node]
    for option in node.get("anyOf", []):
        found += [f"{sign} {option[key]}" for key, sign in signs.items() if key in option]
    return ", ".join(found)


def _default(node: dict[str, Any]) -> str:
    """The default as JSON; a section's defaults (an object) point to the fields below instead."""
    if "default" not in node:
        return ""
    value = node["default"]
    if isinstance(value, dict) and value:
        return "each field's default"
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def used_at(schema: dict[str, Any]) -> dict[str, list[str]]:
    """Each model's dotted paths in the spec (a model inside a list or a map gets `[]` or `.<name>`)."""
    paths: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        name = _ref(node)
        if name:
            if path in paths.setdefault(name, []):
                return
            paths[name].append(path)
            walk(schema["$defs"][name], path)
            return
        for key in ("oneOf", "anyOf", "allOf"):
            for option in node.get(key, []):
                walk(option, path)
        for field, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{field}" if path else field)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.<name>")

    walk(schema, "")
    return paths


def render(schema: dict[str, Any]) -> str:
    """The reference page for `schema`, as Markdown."""
    paths = used_at(schema)
    lines = [HEADER, "## Spec", "", schema.get("description", ""), "", *_fields(schema)]
    for name in sorted(paths, key=lambda n: (min(len(p.split(".")) for p in paths[n]), min(paths[n]), n)):
        model = schema["$defs"][name]
        where = ", ".join(f"`{p}`" for p in paths[name][:6]) + (" ..." if len(paths[name]) > 6 else "")
        lines += [f"## {name}", "", f"Used at: {where}", ""]
        if model.get("description"):
            lines += [model["description"], ""]
        lines += _fields(model)
    return "\n".join(lines).rstrip() + "\n"


def _fields(model: dict[str, Any]) -> list[str]:
    properties = model.get("properties") or {}
    if not properties:
        return ["(no fields)", ""]
    required = set(model.get("required") or [])
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for field, node in properties.items():
        default = "required" if field in required else _default(node)
        bounds = _bounds(node)
        kind = type_text(node) + (f" ({bounds})" if bounds else "")
        rows.append(f"| `{field}` | {_cell(kind)} | {_cell(default)} | {_cell(node.get('description', ''))} |")
    return [*rows, ""]


def main() -> None:
    """Print the reference page of the committed schema."""
    sys.stdout.write(render(json.loads(SCHEMA_FILE.read_text())))


if __name__ == "__main__":
    main()
