"""Mutation testing of the core modules against the fast tests: the killed share per module.

    python benchmarks/mutation.py                          # every module below (long: run per module)
    python benchmarks/mutation.py --modules metrics,plan.compile --timeout 60
    python benchmarks/mutation.py --modules plan.graph --max-mutants 50 --list   # the mutants, not run
    python benchmarks/mutation.py --write-doc              # the "## Mutation score" section of docs/reliability.md

Each mutant is one small change to a copy of the code (the working tree is never touched): a comparison
flipped (== !=, < <=, > >=, in / not in, is / is not), `and`/`or` swapped, arithmetic swapped (+ -, * /),
a constant changed (True/False, a number +1, a string), a `not` removed, a return value replaced by None,
a `raise` or an `if` removed (an `if` with an `else` has its condition negated). It is applied in a temporary
copy of the repository and the fast tests that run the mutated line (found once, with coverage, per test)
run with `pytest -x -q -p no:cacheprovider`, fastest first, under a per-mutant timeout. A mutant is
killed when a test fails, survives when they all pass, and times out when they run past the limit (a
timeout counts as detected, as with mutmut). A mutated line no fast test runs survives as "not covered".

The tests are the fast ones: no Ray, no Serve (tests marked `slow` are deselected). Each child process is
forked from a parent that has already imported the heavy libraries, so a mutant costs its tests, not the
imports. Figures and every survivor (file:line, the mutation) go to benchmarks/mutation_figures.json; the
section of docs/reliability.md is rendered from that file (--write-doc), with the survivors judged
equivalent listed in EQUIVALENT below with the reason.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

REPO = Path(__file__).resolve().parents[1]
# Kept in the repository: a run measures some modules (a full run takes hours), and the doc is written from
# every module's latest figures, so they must outlive the checkout that measured them.
OUT = REPO / "benchmarks" / "mutation_figures.json"
DOC = REPO / "docs" / "reliability.md"

# Fast test files: none starts Ray or Serve (their `slow` tests, if any, are deselected with -m "not slow").
FAST_TESTS = [
    "tests/plan", "tests/spec", "tests/stages", "tests/serving", "tests/detectors", "tests/models",
    "tests/feature_store/test_offline_join.py", "tests/runtime/test_tune_logging.py",
]
SPEC_TESTS = ["tests/spec", "tests/plan"]


@dataclass
class Target:
    """A module to mutate, the fast tests that exercise it (the pool coverage picks from), and which code:
    everything, only function bodies, or only the named functions."""

    path: str
    tests: list[str]
    functions: Optional[list[str]] = None  # only these functions (and what they contain)
    functions_only: bool = False  # only code inside a def (not class fields, not module constants)
    unit: list[str] = field(default_factory=list)  # its own unit-test files: run first for each mutant


PLAN_TESTS = ["tests/plan", "tests/spec", "tests/stages"]
# secrets_to_runtime on a node whose source URL holds a password (no database needed)
SECRET_NODE_TEST = "tests/sources/test_sql_source.py::test_a_node_keeps_a_secret_in_its_runtime_not_in_its_params_or_hash"
TARGETS: dict[str, Target] = {
    "plan.compile": Target("mlops/plan/compile.py", PLAN_TESTS + [SECRET_NODE_TEST], unit=["tests/plan/"]),
    "plan.graph": Target("mlops/plan/graph.py", PLAN_TESTS, unit=["tests/plan/"]),
    "plan.endpoint": Target("mlops/plan/endpoint.py", PLAN_TESTS + ["tests/serving"], unit=["tests/plan/"]),
    "plan.features": Target("mlops/plan/features.py", PLAN_TESTS, unit=["tests/plan/"]),
    "plan.tuning": Target("mlops/plan/tuning.py", PLAN_TESTS + ["tests/runtime/test_tune_logging.py"],
                          unit=["tests/plan/"]),
    "plan.kinds": Target("mlops/plan/kinds.py", PLAN_TESTS + ["tests/runtime/test_cached_outputs.py"],
                         unit=["tests/plan/test_named_inputs.py", "tests/runtime/test_cached_outputs.py"]),
    "plan.storage": Target("mlops/plan/storage.py", PLAN_TESTS + ["tests/sources/test_cluster_reach.py"],
                           unit=["tests/sources/test_cluster_reach.py"]),
    "plan.torch_node": Target("mlops/plan/torch_node.py", PLAN_TESTS, unit=["tests/plan/"]),
    "stages.register": Target("mlops/stages/register.py", ["tests/stages", "tests/models"],
                              unit=["tests/stages/test_champion_gate.py"]),
    "metrics": Target("mlops/metrics.py", ["tests/stages", "tests/spec", "tests/plan", "tests/models"],
                      unit=["tests/stages/test_metrics_mutants.py", "tests/stages/test_champion_gate.py"]),
    "models.scores": Target("mlops/models/scores.py", ["tests/models", "tests/stages"],
                            unit=["tests/models/test_scores_mutants.py", "tests/stages/test_champion_gate.py"]),
    "models.stacking": Target("mlops/models/stacking.py", ["tests/models"], unit=["tests/models/test_stacking.py"]),
    "feature_store.offline_join": Target("mlops/feature_store/offline_join.py",
                                         ["tests/feature_store/test_offline_join.py",
                                          "tests/feature_store/test_offline_join_mutants.py", "tests/stages"],
                                         unit=["tests/feature_store/test_offline_join.py",
                                               "tests/feature_store/test_offline_join_mutants.py"]),
    "detectors.drift": Target("mlops/detectors/drift.py", ["tests/detectors"],
                              unit=["tests/detectors/test_drift.py", "tests/detectors/test_drift_mutants.py"]),
    "spec.validators": None,  # expanded below: one entry per file, reported together
    "serving.ingress": Target("mlops/serving/ingress.py", ["tests/serving"],
                              functions=["token_ok", "route_path", "body_refusal", "read_body", "__call__",
                                         "require_token"],
                              unit=["tests/serving/test_ingress_mutants.py", "tests/serving/test_endpoint_security.py",
                                    "tests/serving/test_body_limits.py",
                                    "tests/serving/test_request_limits.py"]),
}
SPEC_FILES = ["__init__.py", "data.py", "features.py", "model.py", "monitoring.py", "retraining.py",
              "serving.py", "triggers.py", "tuning.py", "validation.py", "expressions.py"]
SPEC_TARGETS = {f"spec.{name[:-3] if name != '__init__.py' else 'root'}":
                Target(f"mlops/spec/{name}", SPEC_TESTS, functions_only=True, unit=["tests/spec/"]) for name in SPEC_FILES}
DEFAULT_ORDER = [m for m in TARGETS if m not in ("spec.validators", "serving.ingress")] + ["spec.validators",
                                                                                         "serving.ingress"]

# Survivors judged equivalent (no test can tell them from the original): (path, line, a part of the
# mutation's text, why). Each was read; --write-doc lists them with the reason.
EQUIVALENT: list[tuple[str, int, str, str]] = [
    *[("mlops/plan/compile.py", line, "-> `'XX", "the reason text beside a FIELDS_OUTSIDE_THE_PLAN pattern is "
       "documentation for the reader; no code reads it (the test matches the patterns only)")
      for line in range(33, 43)],
    ("mlops/plan/compile.py", 43, "`'model.card*'`", "model.card is excluded from the dumped spec "
     "(Field(exclude=True)): no node can read it and the contract test never meets it; the entry says why"),
    ("mlops/plan/compile.py", 26, "`'json'` -> `'XXjson", "the validation section holds only str, int, float, bool, "
     "None and lists and dicts of them, which both dump modes give alike"),
    ("mlops/models/stacking.py", 37, "`0` -> `1`", "random_state seeds the folds' shuffle: another seed is another "
     "equally valid split, and no test pins which rows fall in which fold"),
    ("mlops/models/stacking.py", 44, "`True` -> `False`", "get_params' default: every caller passes deep (clone "
     "deep=False, key_by_labels deep=True)"),
    *[("mlops/models/stacking.py", line, "`0` -> `1`", "only the shape of a member's out-of-fold predictions is read "
       "here (the rows to split, the array to fill), and every member's has the same shape") for line in (78, 126, 134, 146)],
    *[("mlops/models/stacking.py", line, "removed `raise NotImplementedError`", "an abstract hook of the shared "
       "base: the classifier and the regressor each override it, so it never runs") for line in (164, 167, 170, 173, 176)],
    ("mlops/models/stacking.py", 217, "`1000` -> `1001`", "an iteration cap the final logistic regression never "
     "reaches: on a few columns of probabilities it converges in far fewer"),
    ("mlops/models/stacking.py", 150, "`+` -> `-`", "the weights are the counts over their sum: counting down gives "
     "the same shares"),
    ("mlops/models/stacking.py", 150, "`1` -> `2`", "as above: counting in twos gives the same shares"),
    ("mlops/models/stacking.py", 68, "`1` -> `2`", "reshape's -1 becomes -2: numpy reads any negative size as "
     "'the rest', so the rows keep their columns either way"),
    ("mlops/models/scores.py", 66, "`0` -> `1`", "f1's zero_division applies only to a label with no true and no "
     "predicted row; the labels are those of y_true and y_pred, so every label has one"),
    ("mlops/models/scores.py", 67, "`0` -> `1`", "as above, for f1_weighted"),
    ("mlops/plan/graph.py", 9, "-> `'XX", "`Placement` is a type alias (Literal); nothing checks it at run time"),
    ("mlops/plan/kinds.py", 26, "-> `'XX", "`Cache` is a type alias (Literal); nothing checks it at run time (the "
     "kinds' own cache names are pinned against the runtime's by tests/runtime/test_cached_outputs.py)"),
    ("mlops/plan/endpoint.py", 62, "`'json'` -> `'XXjson", "pydantic dumps any mode but 'json' as 'python'; "
     "DeploymentOptions holds only str, int, float, bool and dicts of them, which both modes dump alike"),
    ("mlops/plan/features.py", 21, "`'json'` -> `'XXjson", "as above: the view spec dumps alike in both modes"),
    ("mlops/plan/torch_node.py", 33, "`'json'` -> `'XXjson", "as above: the model section of a torch spec holds "
     "only str, int, float, bool, None and lists and dicts of them, which both modes dump alike"),
    ("mlops/feature_store/offline_join.py", 69, "`1` -> `2`", "the fallback step applies only when every valid view "
     "time is equal; any step then gives view times 0 and labels -1 or 0, the same output"),
    *[("mlops/feature_store/offline_join.py", 106, part, "`codes` only sizes the packing check, which keeps at least "
       "a 2x margin below int64 overflow, and both packings (offsets and ranks) find the same row for every label")
      for part in ("`+` -> `-`", "`0` -> `1`", "`1` -> `2`")],
    ("mlops/feature_store/offline_join.py", 108, "`1` -> `2`", "a view row without a time is never matched and all "
     "such rows still share one key below every entity's; only the row reported for labels not found changes, "
     "which no caller reads"),
    ("mlops/feature_store/offline_join.py", 135, "`1` -> `2`", "the extra searchsorted bound is never read: "
     "partitions use bounds[0..partitions]"),
    ("mlops/feature_store/offline_join.py", 169, "`True` -> `False`", "factorize reads only the values; the "
     "concatenated index (ignore_index) is thrown away"),
    ("mlops/detectors/drift.py", 70, "`1` -> `2`", "the line runs only for a column with more than 20 distinct "
     "values, so at least 21 rows, and max(1, n) == max(2, n)"),
    ("mlops/detectors/drift.py", 279, "removed `if not columns:` block", "with no columns the rest of the function "
     "returns the same empty (n, 0) float64 array as the early return"),
    *[("mlops/serving/ingress.py", line, part, "the door (__call__) refuses every path outside OPEN_PATHS "
       "without the token before FastAPI routes it, so this second guard of GET /stats and /metadata never sees "
       "such a request (tests/serving/test_ingress_mutants.py pins the 401s)")
      for line, part in ((340, "removed `if not token_ok"), (341, "`'auth'` -> `'XXauthXX'`"), (342, "`401` -> `402`"))],
    ("mlops/stages/register.py", 42, "`'mlops-bundle-'` -> `'XXmlops-bundle-XX'`", "the prefix of a temporary "
     "folder deleted when the bundle is logged; nothing reads its name"),
    ("mlops/plan/tuning.py", 132, "`'json'` -> `'XXjson", "the tuning section (its search space excluded) holds only "
     "str, int, float, bool and None, which both modes dump alike"),
    ("mlops/plan/tuning.py", 157, "`'auto'` -> `'XXautoXX'`", "only the first 'auto' (get's default) is "
     "equivalent: a tune node's tuning always carries cpus_per_trial, so the default is never read"),
]


def equivalent(path: str, line: int, mutation: str) -> Optional[str]:
    for where, at, part, why in EQUIVALENT:
        if where == path and at == line and part in mutation:
            return why
    return None

HEAVY = ["numpy", "pandas", "pyarrow", "scipy", "sklearn", "pydantic", "hydra", "omegaconf", "yaml", "orjson",
         "hypothesis", "mlflow", "fastapi", "starlette", "httpx", "jsonschema", "skops", "matplotlib", "joblib",
         "_pytest", "pytest", "pytest_timeout"]


# ------------------------------------------------------------------------------------------------ mutants

@dataclass
class Mutant:
    id: str
    path: str
    line: int
    function: str
    mutation: str
    source: str = field(repr=False, default="")


_CMP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
        ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
        ast.Mod: ast.Mult, ast.Pow: ast.Mult}
_SYM = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
        ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
        ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**", ast.And: "and", ast.Or: "or"}
_LOGGERS = {"logger", "log", "_log", "_logger", "LOG", "LOGGER"}


def _short(node: ast.AST, limit: int = 60) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Walker:
    """Finds every mutation point of a module and yields (line, function, description, apply, undo)."""

    def __init__(self, tree: ast.Module, target: Target) -> None:
        self.tree, self.target = tree, target

    def points(self) -> Iterator[tuple]:
        yield from self._body(self.tree.body, [], in_scope=self.target.functions is None
                              and not self.target.functions_only)

    # statements -----------------------------------------------------------------------------------
    def _body(self, body: list, stack: list[str], in_scope: bool) -> Iterator[tuple]:
        for index, stmt in enumerate(list(body)):
            if index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                continue  # a docstring
            yield from self._stmt(body, index, stmt, stack, in_scope)

    def _stmt(self, body: list, index: int, stmt: ast.stmt, stack: list[str], in_scope: bool) -> Iterator[tuple]:
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Pass)):
            return
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = stack + [stmt.name]
            scope = in_scope or (self.target.functions is None and self.target.functions_only) or \
                (self.target.functions is not None and stmt.name in self.target.functions)
            if scope:  # default values are behaviour; annotations and decorators are not mutated
                for default in [*stmt.args.defaults, *[d for d in stmt.args.kw_defaults if d is not None]]:
                    yield from self._expr(default, inner)
            yield from self._body(stmt.body, inner, scope)
            return
        if isinstance(stmt, ast.ClassDef):
            yield from self._body(stmt.body, stack + [stmt.name], in_scope)
            return
        if isinstance(stmt, ast.If) and _is_guard(stmt.test):
            return  # `if TYPE_CHECKING:` / `if __name__ == "__main__":`
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
            return
        where = ".".join(stack) or "<module>"
        if in_scope:
            if isinstance(stmt, ast.Raise):
                yield from self._replace_stmt(body, index, stmt, where, f"removed `{_short(stmt)}`")
            elif isinstance(stmt, ast.If) and not stmt.orelse:
                yield from self._replace_stmt(body, index, stmt, where, f"removed `if {_short(stmt.test)}:` block")
            elif isinstance(stmt, ast.If):
                yield from self._negate_if(stmt, where)
            elif isinstance(stmt, ast.Return) and stmt.value is not None and not isinstance(stmt.value, ast.Constant):
                yield from self._return_none(stmt, where)
            elif isinstance(stmt, ast.AugAssign) and type(stmt.op) in _BIN:
                yield from self._swap_op(stmt, where, "augmented")
        # expressions of this statement (not the nested statement lists, walked as statements)
        if in_scope:  # annotations are types, not behaviour
            yield from self._children(stmt, stack, skip=("body", "orelse", "finalbody", "handlers", "cases",
                                                          "annotation"))
        for name in ("body", "orelse", "finalbody"):
            nested = getattr(stmt, name, None)
            if isinstance(nested, list) and nested and isinstance(nested[0], ast.stmt):
                yield from self._body_no_doc(nested, stack, in_scope)
        for handler in getattr(stmt, "handlers", []) or []:
            if in_scope and handler.type is not None:
                yield from self._expr(handler.type, stack)
            yield from self._body_no_doc(handler.body, stack, in_scope)
        for case in getattr(stmt, "cases", []) or []:
            yield from self._body_no_doc(case.body, stack, in_scope)

    def _body_no_doc(self, body: list, stack: list[str], in_scope: bool) -> Iterator[tuple]:
        for index, stmt in enumerate(list(body)):
            yield from self._stmt(body, index, stmt, stack, in_scope)

    def _replace_stmt(self, body: list, index: int, stmt: ast.stmt, where: str, what: str) -> Iterator[tuple]:
        replacement = ast.Pass()
        ast.copy_location(replacement, stmt)

        def apply() -> None:
            body[index] = replacement

        def undo() -> None:
            body[index] = stmt

        yield stmt.lineno, where, what, apply, undo

    def _negate_if(self, stmt: ast.If, where: str) -> Iterator[tuple]:
        original = stmt.test
        negated = ast.UnaryOp(op=ast.Not(), operand=original)

        def apply() -> None:
            stmt.test = negated

        def undo() -> None:
            stmt.test = original

        yield stmt.lineno, where, f"`if {_short(original)}` -> `if not (...)`", apply, undo

    def _return_none(self, stmt: ast.Return, where: str) -> Iterator[tuple]:
        original = stmt.value
        none = ast.Constant(value=None)

        def apply() -> None:
            stmt.value = none

        def undo() -> None:
            stmt.value = original

        yield stmt.lineno, where, f"`return {_short(original)}` -> `return None`", apply, undo

    def _swap_op(self, node: ast.AST, where: str, kind: str = "") -> Iterator[tuple]:
        original = node.op
        new = _BIN[type(original)]()

        def apply() -> None:
            node.op = new

        def undo() -> None:
            node.op = original

        prefix = "augmented " if kind else ""
        yield node.lineno, where, f"{prefix}`{_SYM[type(original)]}` -> `{_SYM[type(new)]}` in `{_short(node)}`", \
            apply, undo

    # expressions ----------------------------------------------------------------------------------
    def _expr(self, node: ast.expr, stack: list[str]) -> Iterator[tuple]:
        where = ".".join(stack) or "<module>"
        if isinstance(node, (ast.Lambda,)):
            yield from self._expr(node.body, stack)
            return
        if isinstance(node, ast.JoinedStr):
            for value in node.values:  # the literal parts are messages; the formatted expressions are code
                if isinstance(value, ast.FormattedValue):
                    yield from self._expr(value.value, stack)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in _LOGGERS:
            return  # log lines
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMP:
                    yield from self._cmp(node, i, where)
        elif isinstance(node, ast.BoolOp):
            yield from self._boolop(node, where)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            yield from self._swap_op(node, where)
        elif isinstance(node, ast.Constant):
            yield from self._constant(node, where)
            return
        yield from self._children(node, stack)

    def _children(self, parent: ast.AST, stack: list[str], skip: tuple = ()) -> Iterator[tuple]:
        """The expressions under `parent` (a statement's or an expression's fields), each a place a
        unary operator can be dropped from, then walked."""
        where = ".".join(stack) or "<module>"
        for name, value in ast.iter_fields(parent):
            if name in skip:
                continue
            items = [(None, value)] if not isinstance(value, list) else list(enumerate(value))
            for index, item in items:
                if isinstance(item, ast.UnaryOp) and isinstance(item.op, (ast.Not, ast.USub)) \
                        and not (isinstance(item.op, ast.USub) and isinstance(item.operand, ast.Constant)):
                    yield from self._drop_unary(parent, name, index, item, where)
                if isinstance(item, ast.expr):
                    yield from self._expr(item, stack)
                elif isinstance(item, ast.comprehension):
                    yield from self._children(item, stack, skip=("target",))
                elif isinstance(item, ast.keyword):
                    yield from self._children(item, stack)
                elif isinstance(item, ast.withitem):
                    yield from self._children(item, stack, skip=("optional_vars",))

    def _cmp(self, node: ast.Compare, i: int, where: str) -> Iterator[tuple]:
        original = node.ops[i]
        new = _CMP[type(original)]()

        def apply() -> None:
            node.ops[i] = new

        def undo() -> None:
            node.ops[i] = original

        yield node.lineno, where, f"`{_SYM[type(original)]}` -> `{_SYM[type(new)]}` in `{_short(node)}`", apply, undo

    def _boolop(self, node: ast.BoolOp, where: str) -> Iterator[tuple]:
        original = node.op
        new = ast.Or() if isinstance(original, ast.And) else ast.And()

        def apply() -> None:
            node.op = new

        def undo() -> None:
            node.op = original

        yield node.lineno, where, f"`{_SYM[type(original)]}` -> `{_SYM[type(new)]}` in `{_short(node)}`", apply, undo

    def _drop_unary(self, parent: ast.AST, name: str, index: Optional[int], node: ast.UnaryOp,
                    where: str) -> Iterator[tuple]:
        """`not x` -> `x`, `-x` -> `x`: the operand takes the UnaryOp's place in its parent."""
        operand = node.operand

        def put(value: ast.expr) -> None:
            if index is None:
                setattr(parent, name, value)
            else:
                getattr(parent, name)[index] = value

        symbol = "not" if isinstance(node.op, ast.Not) else "-"
        yield node.lineno, where, f"removed `{symbol}` in `{_short(node)}`", lambda: put(operand), lambda: put(node)

    def _constant(self, node: ast.Constant, where: str) -> Iterator[tuple]:
        value = node.value
        if isinstance(value, bool):
            new = not value
        elif isinstance(value, int):
            new = value + 1
        elif isinstance(value, float):
            new = value + 1.0
        elif isinstance(value, str):
            new = f"XX{value}XX"
        else:
            return

        def apply() -> None:
            node.value = new

        def undo() -> None:
            node.value = value

        yield node.lineno, where, f"`{value!r}` -> `{new!r}`", apply, undo


def _is_guard(test: ast.expr) -> bool:
    text = ast.unparse(test)
    return text in ("TYPE_CHECKING", "typing.TYPE_CHECKING") or text.startswith("__name__ ==")


def generate(target: Target, root: Path) -> list[Mutant]:
    """Every mutant of one module, each with the module's whole mutated source."""
    source = (root / target.path).read_text()
    tree = ast.parse(source)
    mutants, seen = [], set()
    for line, where, what, apply, undo in list(_Walker(tree, target).points()):
        apply()
        try:
            mutated = ast.unparse(tree)
        finally:
            undo()
        if mutated in seen:
            continue
        seen.add(mutated)
        try:
            compile(mutated, target.path, "exec")
        except SyntaxError:
            continue
        mutants.append(Mutant(f"{target.path}:{line}:{len(mutants)}", target.path, line, where, what, mutated))
    return mutants


def unmutated(target: Target, root: Path) -> str:
    """The module as the mutants are written (ast.unparse), to check it passes before any mutant runs."""
    return ast.unparse(ast.parse((root / target.path).read_text()))


# ------------------------------------------------------------------------------------------- the copy

IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".venv*", "mutants", "out", ".mlops", "mlruns", "mlartifacts",
                                ".reliability", "*.egg-info", ".pytest_cache", ".hypothesis", "build", "dist",
                                ".whl", ".gl", "*.pyc")


def make_copy() -> Path:
    base = Path(tempfile.mkdtemp(prefix="mlops-mutation-"))
    root = base / "repo"
    shutil.copytree(REPO, root, ignore=IGNORE, symlinks=True)
    return root


COVERAGE_PLUGIN = '''
import json, os, time
import coverage

_cov = coverage.Coverage(data_file=os.environ["MUTATION_COV_FILE"], source=[os.path.join(os.getcwd(), "mlops")],
                         branch=False)
_durations = {}
_outcomes = {}

def pytest_configure(config):
    _cov.start()

import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _cov.switch_context(item.nodeid)
    start = time.monotonic()
    yield
    _durations[item.nodeid] = time.monotonic() - start
    _cov.switch_context("")

def pytest_runtest_logreport(report):
    if report.failed or (report.when == "call" and not report.passed and not report.skipped):
        _outcomes[report.nodeid] = "failed"
    elif report.when == "call" and report.passed:
        _outcomes.setdefault(report.nodeid, "passed")

def pytest_unconfigure(config):
    _cov.stop()
    _cov.save()
    with open(os.environ["MUTATION_COV_FILE"] + ".tests.json", "w") as f:
        json.dump({"durations": _durations, "outcomes": _outcomes}, f)
'''


def child_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + str(root / "tests") + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    return env


CACHE = REPO / ".reliability" / "mutation-coverage.json"


def coverage_map(root: Path, tests: list[str], paths: list[str]) -> tuple[dict, dict[str, float]]:
    """Per-test coverage of `paths` by the test files under `tests`, cached in .reliability/ per test file
    and module: a run measures again only the test files that changed, or that ran a module that changed
    (all of them when tests/conftest.py changed)."""
    import hashlib

    def digest(*names: str) -> str:
        h = hashlib.sha256()
        for name in names:
            h.update(name.encode() + (root / name).read_bytes())
        return h.hexdigest()

    files = sorted({str(f.relative_to(root)) for t in (t.split("::")[0] for t in tests)  # a node id: its file
                    for f in ([root / t] if t.endswith(".py") else (root / t).rglob("test_*.py"))})
    now = {p: digest(p) for p in paths}
    cached = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    per_file = cached.get("files", {}) if cached.get("conftest") == digest("tests/conftest.py") else {}

    def fresh(f: str) -> bool:
        entry = per_file.get(f)
        return bool(entry) and entry["digest"] == digest(f) and all(
            entry["paths"].get(p, {}).get("digest") == now[p] for p in paths)

    stale = [f for f in files if not fresh(f)]
    if stale:
        every = sorted({*paths, *(p for e in per_file.values() for p in e["paths"])} & {
            str(f.relative_to(root)) for f in (root / "mlops").rglob("*.py")})
        lines, durations = _coverage_run(root, stale, every)
        for f in stale:
            prefix = f + "::"
            per_file[f] = {"digest": digest(f),
                           "paths": {p: {"digest": digest(p),
                                         "lines": {str(k): [n for n in v if n.startswith(prefix)] for k, v in by.items()}}
                                     for p, by in lines.items()},
                           "durations": {n: d for n, d in durations.items() if n.startswith(prefix)}}
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        CACHE.write_text(json.dumps({"conftest": digest("tests/conftest.py"), "files": per_file}))
    else:
        print("coverage: cached", flush=True)
    out: dict[str, dict[int, list[str]]] = {p: {} for p in paths}
    durations: dict[str, float] = {}
    for f in files:
        entry = per_file[f]
        durations.update(entry["durations"])
        for p in paths:
            for k, v in entry["paths"].get(p, {}).get("lines", {}).items():
                if v:
                    out[p].setdefault(int(k), []).extend(v)
    return out, durations


def _coverage_run(root: Path, tests: list[str], paths: list[str]) -> tuple[dict, dict[str, float]]:
    """Run the test pool once with per-test coverage: {path: {line: [nodeid, ...]}} and each passing test's
    seconds. A test that fails unmutated is left out of every mutant's run."""
    data_file = root.parent / "coverage.db"
    (root / "_mutation_cov.py").write_text(COVERAGE_PLUGIN)
    env = child_env(root)
    env["MUTATION_COV_FILE"] = str(data_file)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_mutation_cov", "-m", "not slow",
               "-o", "addopts=-p mlops.testing", *tests]
    print(f"coverage run: {' '.join(tests)}", flush=True)
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    _CHILDREN.add(process.pid)
    try:
        output, _ = process.communicate()
    finally:
        _CHILDREN.discard(process.pid)
    tail = output.strip().splitlines()[-1:] if output.strip() else []
    print(f"  {tail[0] if tail else ''}", flush=True)
    info = json.loads(Path(str(data_file) + ".tests.json").read_text())
    passed = {n for n, o in info["outcomes"].items() if o == "passed"}
    if failed := sorted(n for n, o in info["outcomes"].items() if o == "failed"):
        print(f"  left out (fail unmutated): {', '.join(failed)}", flush=True)
    import coverage

    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    lines: dict[str, dict[int, list[str]]] = {}
    for path in paths:
        measured = str(root / path)
        by_line: dict[int, list[str]] = {}
        contexts = data.contexts_by_lineno(measured) if measured in data.measured_files() else {}
        for line, names in contexts.items():
            wanted = sorted({n for n in names if n in passed})
            if wanted:
                by_line[line] = wanted
        lines[path] = by_line
    (root / "_mutation_cov.py").unlink()
    return lines, {n: info["durations"].get(n, 1.0) for n in passed}


def _enclosing_lines(tree: ast.Module) -> dict[int, tuple[int, int]]:
    """For each line inside a function, that function's (first, last) line."""
    spans: dict[int, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0].lineno
            for line in range(first, node.end_lineno + 1):
                old = spans.get(line)
                if old is None or (old[1] - old[0]) > (node.end_lineno - first):
                    spans[line] = (first, node.end_lineno)
    return spans


def tests_for(mutant: Mutant, target: Target, cover: dict[int, list[str]], spans: dict, pool: list[str],
              durations: dict[str, float], max_tests: int) -> list[str]:
    """The tests that run the mutated line (inside a function: that line, else the nearest covered line
    above it in the function; at module or class level: every test that runs code of the module), the
    module's own unit-test files (all), then at most `max_tests` others, the fastest first."""
    if mutant.line in spans:
        chosen = set(cover.get(mutant.line, []))
        if not chosen:
            first, last = spans[mutant.line]
            # the statement may start on an earlier line than the node: take the nearest covered line above
            for line in range(mutant.line, first - 1, -1):
                if cover.get(line):
                    chosen = set(cover[line])
                    break
    else:  # a module constant or class field: every test that runs code of this module, and every test of
        # its own unit-test files (reading a constant or a dataclass runs no line of the module)
        chosen = {n for ids in cover.values() for n in ids} | {n for n in pool if n.startswith(tuple(target.unit))}
        chosen = chosen or set(pool)
    unit = tuple(target.unit)
    own = sorted((n for n in chosen if n.startswith(unit)), key=lambda n: (durations.get(n, 1.0), n))
    others = sorted((n for n in chosen if not n.startswith(unit)), key=lambda n: (durations.get(n, 1.0), n))
    return own + others[:max_tests]


# ---------------------------------------------------------------------------------------------- running

def preload() -> None:
    """Import the heavy libraries once, in the parent: every forked child starts with them loaded."""
    import importlib

    for name in HEAVY:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - optional: a missing one is imported by the child if needed
            pass
    assert not any(m == "mlops" or m.startswith("mlops.") for m in sys.modules), "mlops imported in the parent"


def selectable(node_ids: list[str]) -> list[str]:
    """Node ids pytest's command line can select: a parameter id with '/', '::' or a space (`[/predict]`) is
    not found there, so such a test is named by its function (all its parameters run)."""
    out: list[str] = []
    for node_id in node_ids:
        base, bracket, params = node_id.partition("[")
        if bracket and any(bad in params for bad in ("/", "::", " ")):
            node_id = base
        if node_id not in out:
            out.append(node_id)
    return out


def run_tests(root: Path, node_ids: list[str], timeout: float, log: Path) -> str:
    """Fork a child that runs these tests in the copy; 'killed', 'survived' or 'timeout'."""
    node_ids = selectable(node_ids)
    pid = os.fork()
    if pid == 0:  # the child
        code = 3
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.setsid()
            fd = os.open(str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(root)
            # without this script's folder: its serving.py would shadow tests/serving (a namespace package)
            here = Path(__file__).resolve().parent
            sys.path[:] = [str(root), str(root / "tests"),
                           *(p for p in sys.path if not p or Path(p).resolve() != here)]
            os.environ.update(child_env(root))
            sys.dont_write_bytecode = True
            import pytest

            code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
                                    "-o", "addopts=-p mlops.testing", "--timeout", str(int(timeout) + 5), *node_ids]))
            import mlops  # noqa: F401 - check the copy was tested, not the working tree

            if not Path(mlops.__file__).resolve().is_relative_to(root.resolve()):
                code = 99
        except BaseException as exc:  # noqa: BLE001
            try:
                print(f"child error: {exc!r}", flush=True)
            except Exception:  # noqa: BLE001
                pass
            code = 98
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _CHILDREN.add(pid)
    try:
        return _wait(pid, timeout, log)
    finally:
        _CHILDREN.discard(pid)


_CHILDREN: set[int] = set()


def _end_children(signum, frame) -> None:
    for pid in list(_CHILDREN):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    raise SystemExit(128 + signum)


def _wait(pid: int, timeout: float, log: Path) -> str:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.05)
    if code == 0:
        return "survived"
    if code == 4:  # the unmutated run took these node ids: now a test module or conftest fails to import
        return "killed"
    if code in (5, 98, 99):  # an error of this harness (usage, nothing collected), not of the mutant
        return f"error:{code}"
    return "killed"


def run_module(name: str, targets: list[Target], root: Path, args, results: dict, cover: dict,
               durations: dict[str, float]) -> None:
    paths = [t.path for t in targets]
    log = root.parent / "child.log"
    entry = {"module": name, "paths": paths, "total": 0, "killed": 0, "survived": 0, "timeout": 0, "errors": 0,
             "not_covered": 0, "survivors": [], "seconds": 0.0}
    start = time.monotonic()
    generated = {target.path: generate(target, root) for target in targets}
    everything = [m for ms in generated.values() for m in ms]
    entry["sampled_from"] = len(everything)
    if args.max_mutants is not None and len(everything) > args.max_mutants:
        # an even, fixed sample over the whole module (all its files), not just its first lines
        keep = {id(everything[i * len(everything) // args.max_mutants]) for i in range(args.max_mutants)}
        generated = {path: [m for m in ms if id(m) in keep] for path, ms in generated.items()}
    for target in targets:
        original = (root / target.path).read_text()
        tree = ast.parse(original)
        spans = _enclosing_lines(tree)
        mutants = generated[target.path]
        if not mutants:
            continue
        # the unmutated module as written by ast.unparse must pass its tests
        (root / target.path).write_text(unmutated(target, root))
        pool = [n for n in durations if any(n == p or n.startswith(p.rstrip("/") + ("/" if not p.endswith(".py")
                                                                                    else "::")) for p in target.tests)]
        in_pool = set(pool)
        mine = {line: [n for n in ids if n in in_pool] for line, ids in cover[target.path].items()}
        mine = {line: ids for line, ids in mine.items() if ids}
        # every test some mutant will run
        all_tests = sorted({n for m in mutants for n in tests_for(m, target, mine, spans, pool, durations,
                                                                   args.max_tests)},
                           key=lambda n: (durations.get(n, 1.0), n))
        base = run_tests(root, all_tests, max(args.timeout * 4, 900), log) if all_tests else "survived"
        if base != "survived":
            (root / target.path).write_text(original)
            tail = "\n    ".join(log.read_text(errors="replace").splitlines()[:25]) if log.is_file() else ""
            print(f"  {target.path}: the unparsed module fails its tests ({base}):\n    {tail}", flush=True)
            entry["errors"] += len(mutants)
            continue
        try:
            for i, mutant in enumerate(mutants, 1):
                tests = tests_for(mutant, target, mine, spans, pool, durations, args.max_tests)
                entry["total"] += 1
                if not tests:
                    outcome = "not covered"
                else:
                    (root / target.path).write_text(mutant.source)
                    limit = args.timeout or max(30.0, 3 * sum(durations.get(n, 1.0) for n in tests) + 20)
                    outcome = run_tests(root, tests, limit, log)
                    if outcome.startswith("error"):
                        outcome = run_tests(root, tests, limit, log)  # once more: the machine is shared
                if outcome == "killed":
                    entry["killed"] += 1
                elif outcome == "timeout":
                    entry["timeout"] += 1
                elif outcome.startswith("error"):
                    entry["errors"] += 1
                    entry.setdefault("error_mutants", []).append(
                        {"at": f"{mutant.path}:{mutant.line}", "mutation": mutant.mutation, "outcome": outcome})
                else:
                    entry["survived"] += 1
                    entry["not_covered"] += outcome == "not covered"
                    entry["survivors"].append({"at": f"{mutant.path}:{mutant.line}", "function": mutant.function,
                                               "mutation": mutant.mutation, "not_covered": outcome == "not covered",
                                               "tests_run": len(tests),
                                               "equivalent": equivalent(mutant.path, mutant.line, mutant.mutation)})
                if args.verbose or outcome != "killed":
                    print(f"  [{i}/{len(mutants)}] {outcome:>11}  {mutant.path}:{mutant.line} {mutant.mutation}",
                          flush=True)
        finally:
            (root / target.path).write_text(original)
    entry["seconds"] = round(time.monotonic() - start, 1)
    detected = entry["killed"] + entry["timeout"]
    counted = entry["total"] - entry["errors"]
    entry["killed_share"] = round(detected / counted, 4) if counted else None
    entry["equivalent"] = sum(1 for s in entry["survivors"] if s["equivalent"])
    entry["share_without_equivalent"] = round(detected / (counted - entry["equivalent"]), 4) \
        if counted - entry["equivalent"] else None
    entry["at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    results[name] = entry
    share = f"{entry['killed_share']:.1%}" if entry["killed_share"] is not None else "-"
    print(f"{name}: {entry['total']} mutants, {entry['killed']} killed, {entry['survived']} survived, "
          f"{entry['timeout']} timeout, {entry['errors']} errors: {share} killed ({entry['seconds']} s)", flush=True)


def expand(names: list[str]) -> dict[str, list[Target]]:
    out: dict[str, list[Target]] = {}
    for name in names:
        if name == "spec.validators":
            out[name] = list(SPEC_TARGETS.values())
        elif name in SPEC_TARGETS:
            out[name] = [SPEC_TARGETS[name]]
        elif name in TARGETS and TARGETS[name] is not None:
            out[name] = [TARGETS[name]]
        else:
            raise SystemExit(f"unknown module {name!r}; known: {', '.join([*TARGETS, *SPEC_TARGETS])}")
    return out


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()).get("modules", {}) if path.is_file() else {}


def save_results(path: Path, modules: dict) -> None:
    """Merge into the JSON: each module keeps its latest run (modules run separately fit the budget)."""
    merged = {**load_results(path), **modules}
    for entry in merged.values():  # the equivalence verdicts are the current ones
        for survivor in entry["survivors"]:
            where, line = survivor["at"].rsplit(":", 1)
            survivor["equivalent"] = equivalent(where, int(line), survivor["mutation"])
        counted = entry["total"] - entry["errors"]
        entry["equivalent"] = sum(1 for s in entry["survivors"] if s["equivalent"])
        detected = entry["killed"] + entry["timeout"]
        entry["share_without_equivalent"] = round(detected / (counted - entry["equivalent"]), 4) \
            if counted - entry["equivalent"] else None
    order = {name: i for i, name in enumerate([*DEFAULT_ORDER, *SPEC_TARGETS])}
    merged = dict(sorted(merged.items(), key=lambda kv: order.get(kv[0], 999)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tool": "benchmarks/mutation.py", "modules": merged}, indent=2) + "\n")


# ------------------------------------------------------------------------------------------- the doc

ADDED_TESTS: list[tuple[str, str]] = [  # (test file, what it pins), listed in the doc
    ("tests/plan/test_torch_node.py", "the accelerator for each hardware setting, a torch node's per-worker and "
     "total CPUs and GPUs, use_gpu and `auto`, max_failures, and where checkpoints go (the model's folder, else "
     "the cluster's storage, which stays outside the node's hash)"),
    ("tests/stages/test_metrics_mutants.py", "the metric table: each metric's task, direction and whether it needs "
     "probabilities; the gate's answers in both directions (killed every module-level mutant of metrics.py)"),
    ("tests/models/test_scores_mutants.py", "compute_metrics against scikit-learn called directly: regression, "
     "binary and one-vs-rest roc_auc, log_loss, no probability metrics for one class, zero_division=0 for a class "
     "never predicted or never true, predict_with_proba with and without probabilities"),
    ("tests/plan/test_endpoint_mutants.py", "every parameter of the iris endpoint's deploy node, `drift: null` and a "
     "validation section's drift, overrides reaching the node, the online store in the runtime of a deploy "
     "filled from it, frozen settings and their hash, settings_changes' exact lines, and no drift check on the "
     "core install without a validation section"),
    ("tests/feature_store/test_offline_join_mutants.py", "time parsing (fast path, resolutions, zones, each "
     "DataError's field and text), packing on both sides of the 2**62 limit, ties by source order, TTL ends to the "
     "nanosecond, partitions against the brute-force join, entity codes, the output's columns and index, and "
     "views 292 years apart (an int64 overflow this found and fixed)"),
    ("tests/detectors/test_drift_mutants.py", "column kinds, sampling defaults, category selection at exactly 20 "
     "categories and a 1% share, the reference files byte for byte, encodings, every refusal's message, which test "
     "runs on each feature, the threshold's boundary, to_dict, and what MMD hands alibi-detect"),
    ("tests/serving/test_ingress_mutants.py", "the path within the route with and without Serve's root_path, and "
     "the exact 411/413 texts, a length that is not text included"),
    ("tests/plan/test_tuning_mutants.py", "the tune node's parameters, a trial's GPU and memory (and a torch "
     "trial's, from hardware.*_per_worker), the exact search space of a spec and of a family's registration, a "
     "plugin's invalid space refused at model.candidates, families without a cost kept in order, `min` for "
     "lower-is-better metrics, where Tune writes, every node JSON as compiled, `mlops plan`'s exact trial line"),
    ("tests/plan/test_graph_mutants.py", "content_hash's exact value, node hashes chaining and the plan hash "
     "covering every node, Node defaults, the plan as data (format, keys, edges, the JSON text itself, 'unknown' "
     "for an uninstalled mlops), refusal of unknown inputs and wrong order"),
    ("tests/plan/test_compile_mutants.py", "a GPU and memory per task reach the train task; light nodes ask for one "
     "CPU; the profile node's validation parameters use the spec's names (`schema`); register, profile and "
     "batch_predict carry every parameter their stages read; an `auto` model is tuned without a tuning "
     "section; a plugin estimator's package version is in the train node's code (so in its hash); load, "
     "featurize, split and evaluate carry exactly their stages' parameters; runtime holds the store and "
     "experiment, and no param is copied there unless it holds a secret"),
    ("tests/sources/test_cluster_reach.py", "storage_location strips only slashes from a URL's end"),
    ("tests/plan/test_features_mutants.py", "the join node's params, each view as the join and the endpoint read "
     "it, where the online store lives, a view's data fingerprint in the join node's hash, and partitions only "
     "in how it runs"),
]


def render_section(modules: dict) -> str:
    lines = ["## Mutation score", "",
             "Written by `python benchmarks/mutation.py --write-doc` from `benchmarks/mutation_figures.json`. Each mutant is",
             "one small change to a copy of a core module (comparison and boolean operators flipped, arithmetic",
             "swapped, constants changed, a `not` removed, a return value replaced by None, a `raise` or an `if`",
             "removed); the fast tests that run the mutated line (no Ray, no Serve; chosen per line by coverage)",
             "run against it. Killed share = (killed + timed out) / mutants. Regenerate with:", "",
             "    pip install coverage",
             "    python benchmarks/mutation.py --modules plan.compile,metrics   # or no --modules: all, long",
             "    python benchmarks/mutation.py --write-doc", "",
             "`--max-mutants N` and `--timeout S` bound a run; each module's latest figures are kept in the JSON.",
             "", "| module | mutants | killed | timed out | survived | of which equivalent | killed share | "
             "share of non-equivalent | run at |", "|---|---|---|---|---|---|---|---|---|"]
    for name, e in modules.items():
        share = f"{e['killed_share']:.1%}" if e.get("killed_share") is not None else "-"
        share2 = f"{e['share_without_equivalent']:.1%}" if e.get("share_without_equivalent") is not None else "-"
        paths = ", ".join(f"`{p.removeprefix('mlops/')}`" for p in e["paths"]) if len(e["paths"]) < 3 else \
            f"`spec/` ({len(e['paths'])} files, validator functions)"
        # the target (>= 90%) is for what a test can kill: equivalent mutants cannot be, and are listed with why
        flag = "" if (e.get("share_without_equivalent") or 0) >= 0.9 else " (below 90%)"
        total = f"{e['total']} of {e['sampled_from']} (sample)" if e.get("sampled_from", e["total"]) > e["total"] \
            else str(e["total"])
        lines.append(f"| {name}: {paths} | {total} | {e['killed']} | {e['timeout']} | {e['survived']} | "
                     f"{e.get('equivalent', 0)} | {share} | {share2}{flag} | {e.get('at', '')} |")
    lines.append("")
    equivalent = [(s, name) for name, e in modules.items() for s in e["survivors"] if s.get("equivalent")]
    if equivalent:
        lines += ["Survivors judged equivalent (no test can tell them from the original):", ""]
        for s, name in equivalent:
            lines.append(f"- `{s['at']}` {s['mutation']}: {s['equivalent']}")
        lines.append("")
    others = [(s, name) for name, e in modules.items() for s in e["survivors"] if not s.get("equivalent")]
    if others:
        lines += ["Survivors not yet killed nor judged equivalent (open gaps):", ""]
        for s, name in others:
            note = " (no fast test runs this line)" if s.get("not_covered") else ""
            lines.append(f"- `{s['at']}` ({s['function']}) {s['mutation']}{note}")
        lines.append("")
    measured = set(modules)
    missing = [name for name in DEFAULT_ORDER if name not in measured]
    if missing:
        lines += [f"Not measured in the last runs: {', '.join(missing)} (run `python benchmarks/mutation.py --modules "
                  f"{','.join(missing)}`).", ""]
    lines += ["Modules marked \"(sample)\" ran an even, fixed sample of their mutants (`--max-mutants`): a full run of",
              "every module takes hours on two shared cores. The target is 90% of the non-equivalent mutants of each module;",
              "a module below it has real gaps, listed above as open.", ""]
    if ADDED_TESTS:
        lines += ["Tests added to kill survivors:", ""]
        lines += [f"- `{path}`: {what}" for path, what in ADDED_TESTS]
        lines.append("")
    return "\n".join(lines)


def write_doc(modules: dict) -> None:
    text = DOC.read_text() if DOC.is_file() else "# Reliability\n"
    marker = "\n## Mutation score\n"
    if marker in text:
        text = text[: text.index(marker)]
    DOC.write_text(text.rstrip("\n") + "\n\n" + render_section(modules))
    print(f"wrote the mutation section of {DOC}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modules", help=f"comma-separated, of: {', '.join([*TARGETS, *SPEC_TARGETS])} "
                        "(default: all, serving.ingress last)")
    parser.add_argument("--max-mutants", type=int,
                        help="at most this many mutants per module: an even, fixed sample of them")
    parser.add_argument("--timeout", type=float, default=0,
                        help="seconds per mutant (default: 3x its tests' unmutated time + 20 s, at least 30 s)")
    parser.add_argument("--max-tests", type=int, default=40,
                        help="per mutant: the module's own unit tests that run the line, then at most this many others, fastest first")
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON of figures (merged per module)")
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument("--write-doc", action="store_true", help="render docs/reliability.md's section from --out")
    parser.add_argument("--verbose", action="store_true", help="print killed mutants too")
    args = parser.parse_args(argv)
    if args.write_doc:
        save_results(args.out, {})
        write_doc(load_results(args.out))
        return 0
    names = args.modules.split(",") if args.modules else DEFAULT_ORDER
    chosen = expand(names)
    if args.list:
        for name, targets in chosen.items():
            for target in targets:
                mutants = generate(target, REPO)
                print(f"{name} {target.path}: {len(mutants)} mutants")
                for m in mutants[: args.max_mutants]:
                    print(f"  {m.path}:{m.line} ({m.function}) {m.mutation}")
        return 0
    sys.dont_write_bytecode = True
    signal.signal(signal.SIGTERM, _end_children)
    signal.signal(signal.SIGINT, _end_children)
    root = make_copy()
    print(f"working copy: {root}", flush=True)
    preload()
    results: dict = {}
    try:
        # one coverage run of the chosen modules' test pools, cached per test file and module
        every = [t for targets in chosen.values() for t in targets]
        cover, durations = coverage_map(root, sorted({t for target in every for t in target.tests}),
                                        sorted({t.path for t in every}))
        for name, targets in chosen.items():
            run_module(name, targets, root, args, results, cover, durations)
            save_results(args.out, {name: results[name]})
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    print(f"\n{'module':<28} {'total':>6} {'killed':>7} {'survived':>9} {'timeout':>8} {'share':>7}")
    for name, e in results.items():
        share = f"{e['killed_share']:.1%}" if e["killed_share"] is not None else "-"
        print(f"{name:<28} {e['total']:>6} {e['killed']:>7} {e['survived']:>9} {e['timeout']:>8} {share:>7}")
    print(f"figures and survivors: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
