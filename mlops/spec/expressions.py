"""Derived-feature expressions: arithmetic over columns and a few functions, parsed with `ast`, never eval'd."""
from __future__ import annotations

import ast
from typing import Any

FUNCTIONS = {
    "abs": "abs", "log": "log", "log1p": "log1p", "exp": "exp", "sqrt": "sqrt", "square": "square",
    "sin": "sin", "cos": "cos", "tanh": "tanh", "floor": "floor", "ceil": "ceil",
    "clip": "clip", "minimum": "minimum", "maximum": "maximum",
}
_BINOPS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide",
           ast.FloorDiv: "floor_divide", ast.Mod: "mod", ast.Pow: "power"}
_UNARY = {ast.USub: "negative", ast.UAdd: "positive"}


class ExpressionError(ValueError):
    """The expression uses something outside the allowed arithmetic."""


def parse(expr: str) -> ast.Expression:
    """Parse and check an expression; ExpressionError names the first disallowed construct."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a valid expression: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, ast.Name, *_BINOPS, *_UNARY)):
            continue
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            if type(node.op) not in _BINOPS and type(node.op) not in _UNARY:
                raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            continue
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(f"function '{name}' is not allowed; allowed: {', '.join(sorted(FUNCTIONS))}")
            continue
        raise ExpressionError(f"'{ast.unparse(node) if hasattr(node, 'lineno') else type(node).__name__}' is not allowed "
                              "(only numbers, column names, + - * / // % ** and the listed functions)")
    return tree


def column_names(expr: str) -> set[str]:
    """Columns an expression reads (function names excluded)."""
    tree = parse(expr)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in funcs}


def evaluate(expr: str, columns: Any) -> Any:
    """Evaluate over a mapping of column name -> numpy array (vectorized, float)."""
    import numpy as np

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return np.asarray(columns[node.id], dtype=float)
        if isinstance(node, ast.BinOp):
            return getattr(np, _BINOPS[type(node.op)])(walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp):
            return getattr(np, _UNARY[type(node.op)])(walk(node.operand))
        if isinstance(node, ast.Call):
            return getattr(np, FUNCTIONS[node.func.id])(*[walk(a) for a in node.args])
        raise AssertionError(f"unchecked node {node!r}")  # parse() rejects everything else

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        values = np.asarray(walk(parse(expr)), dtype=float)
    # inf (a division by zero, an overflow) is no value a model can take; NaN is, once imputation fills it.
    return np.where(np.isinf(values), np.nan, values)
