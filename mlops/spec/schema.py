"""The spec's JSON Schema, for editors and checks: the pydantic models' schema with every registered
name (estimators, drift and outlier detectors) as an enum, so an editor completes them.

`schema/spec.schema.json` in the repository is this with the built-in types only (no plugin's);
tests/spec/test_schema.py fails when it drifts from the models. Regenerate it with
`python -m mlops.spec.schema > schema/spec.schema.json`.
"""
from __future__ import annotations

import json
import sys
from typing import Any

from mlops.plugins import Registry, data_sources, detectors, estimators, triggers


def _names(registry: Registry, builtin_only: bool, **meta: Any) -> list[str]:
    return sorted(e.name for e in registry if (not builtin_only or e.origin == "builtin")
                  and all(e.meta.get(k) == v for k, v in meta.items()))


def _drop_plugin_configs(doc: dict[str, Any], registry: Registry) -> None:
    """Remove the config models plugins added to a union (data sources, triggers) from the schema."""
    foreign = {e.resolve("config").__name__ for e in registry if e.origin != "builtin" and e.meta.get("config")}
    refs = {f"#/$defs/{name}" for name in foreign}

    def prune(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("oneOf", "anyOf"):
                if isinstance(node.get(key), list):
                    node[key] = [item for item in node[key] if not (isinstance(item, dict) and item.get("$ref") in refs)]
            mapping = node.get("discriminator", {}).get("mapping") if isinstance(node.get("discriminator"), dict) else None
            if isinstance(mapping, dict):
                for tag in [t for t, ref in mapping.items() if ref in refs]:
                    del mapping[tag]
            for value in node.values():
                prune(value)
        elif isinstance(node, list):
            for value in node:
                prune(value)

    for name in foreign:
        doc.get("$defs", {}).pop(name, None)
    prune(doc)


def spec_schema(builtin_only: bool = False) -> dict[str, Any]:
    """JSON Schema of the whole spec; `builtin_only`: as if no plugin were installed."""
    from mlops.spec import Spec

    doc = Spec.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "mlops spec"
    defs = doc["$defs"]
    names = _names(estimators, builtin_only)
    defs["SklearnModelSpec"]["properties"]["estimator"]["enum"] = names
    candidates = defs["AutoModelSpec"]["properties"]["candidates"]
    for option in candidates.get("anyOf", [candidates]):
        if option.get("type") == "array":
            option["items"] = {"type": "string", "enum": names}
    defs["DriftSpec"]["properties"]["detector"]["enum"] = _names(detectors, builtin_only, kind="drift")
    defs["OutlierSpec"]["properties"]["detector"]["enum"] = _names(detectors, builtin_only, kind="outlier")
    if builtin_only:
        _drop_plugin_configs(doc, data_sources)
        _drop_plugin_configs(doc, triggers)
    return doc


if __name__ == "__main__":
    sys.stdout.write(json.dumps(spec_schema(builtin_only=True), indent=2, sort_keys=True) + "\n")
