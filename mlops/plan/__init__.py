"""The compiler: Spec -> Plan, a graph of typed nodes that is plain data. Imports no Ray.

`compile_plan` is imported on first use: a Ray worker unpickles Nodes (mlops.plan.graph) and never compiles,
so it need not import the spec's pydantic models (a third of a second of every worker's start)."""
from typing import Any

from mlops.plan.graph import Node, Plan

__all__ = ["Node", "Plan", "compile_plan"]


def __getattr__(name: str) -> Any:
    if name == "compile_plan":
        from mlops.plan.compile import compile_plan

        return compile_plan
    raise AttributeError(f"module 'mlops.plan' has no attribute {name!r}")
