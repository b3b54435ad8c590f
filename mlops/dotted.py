"""Nested config dicts as dotted keys, the way users name spec fields (`model.params.n_estimators`)."""
from __future__ import annotations

from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'model': {'params': {'a': 1}}} -> {'model.params.a': 1}; lists and nested empty dicts stay whole,
    and an empty dict at the top has no keys (MLflow refuses an empty parameter name)."""
    if isinstance(value, dict) and not value and not prefix:
        return {}
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}
