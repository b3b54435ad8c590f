"""The compiler: Spec -> Plan, a graph of typed nodes that is plain data. Imports no Ray."""
from mlops.plan.graph import Node, Plan
from mlops.plan.compile import compile_plan

__all__ = ["Node", "Plan", "compile_plan"]
