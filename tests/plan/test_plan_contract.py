"""The plan carries everything: change any leaf field of an example spec and some node's hash changes,
unless the field is one of the few that, by design, change no node's result (mlops.plan.compile.
FIELDS_OUTSIDE_THE_PLAN); and those really change none. Pure: no Ray, no MLflow."""
from __future__ import annotations

import copy
import fnmatch
from pathlib import Path
from typing import Any, Iterator

import pytest

from mlops import api
from mlops.errors import MlopsError
from mlops.plan import compile_plan
from mlops.plan.compile import FIELDS_OF_KINDS, FIELDS_OUTSIDE_THE_PLAN, plan_kinds
from mlops.project import Project

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPECS = ["iris/spec.yaml", "iris/online.yaml", "diabetes/spec.yaml", "automl/spec.yaml", "drift/spec.yaml",
         "tabular-torch/spec.yaml", "churn-features/spec.yaml"]
# Values tried for a string field, after `value + "x"`: the spec's common enum words.
WORDS = ["random", "stratified", "median", "mean", "most_frequent", "minmax", "robust", "ordinal", "local", "ray_data",
         "fdr", "ks", "chi2", "mahalanobis", "warn", "error", "ignore", "accuracy", "f1_weighted", "r2", "mae", "grid",
         "asha", "fifo", "gpu", "cpu", "extra_trees", "ridge", "/other", "10.0.0.1", "challenger", "sgd", "adam"]


MUTATIONS_PER_FIELD = 3  # valid changes tried per field; each must change a node (or none, if exempt)


def leaves(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, node


def mutations(value: Any) -> Iterator[Any]:
    if isinstance(value, bool):
        yield not value
    elif isinstance(value, int):
        yield from (value + 1, value * 2, max(value - 1, 0))
    elif isinstance(value, float):
        yield from (value * 0.5, value + 1, min(value * 1.5, 0.99))
    elif isinstance(value, str):
        yield value + "x"
        yield from (w for w in WORDS if w != value)
    elif isinstance(value, list) and value:
        yield value[:-1]
        yield [*value, value[0]]
    elif value is None or value == [] or value == {}:  # a field left to its default: set it to something
        yield from (1, 2, 0.5, True, "x", *WORDS, [1], ["x"], {"x": 1})


def with_value(data: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def plan_hashes(project: Project, data: dict) -> dict[str, str] | None:
    """Node hashes of the plan for `data`, or None when `data` is no valid spec. A valid spec the compiler
    refuses with a user error is None too; any other error in the compiler fails the test."""
    from pydantic import ValidationError

    from mlops.spec import Spec

    try:
        spec = Spec.model_validate(data)
    except (ValidationError, MlopsError):
        return None
    changed = Project(spec, project.config, project.data_probe)
    try:
        return {n.id: n.hash for n in compile_plan(changed).nodes}
    except MlopsError:
        return None


def exempt(path: str, kinds: set[str]) -> bool:
    """Outside the plan by design, or read only by kinds of node this plan does not have."""
    if path in FIELDS_OF_KINDS and not kinds & set(FIELDS_OF_KINDS[path]):
        return True
    return any(fnmatch.fnmatch(path, pattern) for pattern, _why in FIELDS_OUTSIDE_THE_PLAN)


@pytest.mark.parametrize("spec_file", SPECS)
def test_every_field_of_an_example_reaches_the_plan(spec_file, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    if spec_file.startswith("drift/"):
        pytest.importorskip("alibi_detect")
        import subprocess
        import sys

        subprocess.run([sys.executable, str(EXAMPLES / "drift" / "generate.py")], check=True, cwd=EXAMPLES / "drift",
                       capture_output=True)
    project = api.load(EXAMPLES / spec_file)
    data = project.spec.model_dump(mode="json", by_alias=True)
    baseline = plan_hashes(project, data)
    assert baseline is not None
    kinds = plan_kinds(compile_plan(project))
    silent, tried = [], 0
    for path, value in leaves(data):
        dotted = ".".join(map(str, path))
        changes = 0
        for candidate in mutations(value):
            if candidate == value:
                continue
            hashes = plan_hashes(project, with_value(data, path, candidate))
            if hashes is None:
                continue
            tried += 1
            changed = hashes != baseline
            if exempt(dotted, kinds):
                assert not changed, f"{dotted} is listed as outside the plan but changes {set(hashes.items()) ^ set(baseline.items())}"
            elif not changed:
                silent.append(f"{dotted}: {value!r} -> {candidate!r}")
            changes += 1
            if changes == MUTATIONS_PER_FIELD:
                break
    assert tried > 20, f"only {tried} fields could be changed validly"
    assert silent == [], "fields that change no node (add to the plan, or to FIELDS_OUTSIDE_THE_PLAN with why):\n" + "\n".join(silent)
