"""The validated spec: one pydantic model per section (a module each), composed into `Spec` (mlops.spec.root).

`Spec` is imported on first use: a Ray worker reads a few sections' helpers (mlops.spec.sources, .expressions)
and should not build every section's model to do it."""
from typing import Any

__all__ = ["Spec"]


def __getattr__(name: str) -> Any:
    if name == "Spec":
        from mlops.spec.root import Spec

        return Spec
    raise AttributeError(f"module 'mlops.spec' has no attribute {name!r}")
