"""Nested config dicts as dotted keys, the way users name spec fields (`model.params.n_estimators`)."""
from __future__ import annotations

from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'model': {'params': {'a': 1}}} -> {'model.params.a': 1}; lists and empty dicts stay whole."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}
