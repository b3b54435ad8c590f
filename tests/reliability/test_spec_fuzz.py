"""Spec fuzzing: mutated specs and override lists either validate or are refused with exit 2 and the
field (or override) at fault, never a traceback; and a spec can never import or run code.

Two kinds of cases: mutations of the composed spec of every example (dropped keys, wrong types, misspelt
and unknown keys, wrong nesting, huge numbers, unicode, empty strings, YAML 1.1 words), validated as
`mlops validate` does after composing; and whole files and override lists through Hydra (duplicate keys,
alias bombs, Python tags, broken YAML, bad override syntax), exactly as the CLI runs them.
"""
from __future__ import annotations

import collections
import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from figures import record
from mlops import api
from mlops.config import LoadedConfig, load_config
from mlops.errors import MlopsError, SpecError
from mlops.project import Project, probe_data, validate_config

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = [REPO / "examples" / name / "spec.yaml" for name in ("iris", "diabetes", "drift", "tabular-torch", "automl")]
DICT_CASES = int(os.environ.get("MLOPS_FUZZ_SPECS", 960))
FILE_CASES = int(os.environ.get("MLOPS_FUZZ_FILES", 40))  # through Hydra: ~0.5 s each
OUTCOMES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
ELSEWHERE: list[str] = []  # mutations refused at another field than the mutated one: "mutated -> named"

WEIRD_VALUES = [123, -1, 0, 1e308, 10**40, -(10**40), "1e400", "text", "", " ", "ünïcødé ✓", "\u202e", "\x00",
                "no", "on", "off", "yes", "~", "null", True, False, None, [], {}, [1, "a"], {"a": 1}, float("nan"),
                "${oc.env:HOME}", "../../etc/passwd", "__import__('os')", "a" * 5000]


@pytest.fixture(scope="module")
def composed(tmp_path_factory) -> list[LoadedConfig]:
    """The examples' composed specs, from copies whose generated data exists (the drift example's data is
    written by its generate.py): a mutation is then refused for itself, never for a missing file."""
    import shutil

    os.environ.pop("MLOPS_TRACKING_URI", None)
    copies = tmp_path_factory.mktemp("examples")
    specs = []
    for path in EXAMPLES:
        folder = copies / path.parent.name
        shutil.copytree(path.parent, folder, ignore=shutil.ignore_patterns("out", ".mlops", "data"))
        if (folder / "generate.py").is_file():
            subprocess.run([sys.executable, str(folder / "generate.py"), "--out", str(folder / "data")], check=True,
                           capture_output=True, timeout=120)
        specs.append(load_config(folder / "spec.yaml"))
    return specs


def paths_of(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += paths_of(value, (*prefix, i))
    return out


def _parent(data: Any, path: tuple) -> tuple[Any, Any]:
    for key in path[:-1]:
        data = data[key]
    return data, path[-1]


def mutate(data: dict, path: tuple, how: str, value: Any, rng: Any) -> dict:
    data = copy.deepcopy(data)
    parent, key = _parent(data, path)
    if how == "drop" and isinstance(parent, dict):
        del parent[key]
    elif how == "retype":
        parent[key] = value
    elif how == "misspell" and isinstance(parent, dict) and isinstance(key, str) and key:
        i = rng.randrange(len(key))
        parent[key[:i] + key[i + 1:] + key[i]] = parent.pop(key)  # a letter moved to the end
    elif how == "nest":
        parent[key] = rng.choice([{"value": parent[key]}, [parent[key]], {key: parent[key]}])
    elif how == "unknown" and isinstance(parent, dict):
        parent[f"{key}_extra"] = value
    else:
        parent[key] = value
    return data


def judge(kind: str, run, at: tuple | None = None) -> None:
    """Run one case: it validates, or fails with exit 2 and every problem located (a field, an override or
    the file). `at`: the mutated field's path; the figures count whether a problem names it (or, for a
    misspelt or unknown key, its parent section) or only another field. Anything else is a traceback,
    counted before it fails the test."""
    try:
        run()
    except SpecError as exc:
        assert exc.exit_code == 2 and exc.problems, exc
        located = [p.path for p in exc.problems]
        assert all(isinstance(p, str) and p.strip() for p in located), [p.render() for p in exc.problems]
        if at is None:
            OUTCOMES[kind]["refused (exit 2, override or file named)"] += 1
        elif any(names_mutation(p, at) for p in located):
            OUTCOMES[kind]["refused (exit 2, mutated field named)"] += 1
        else:  # e.g. a dropped model.task makes model.metric the one that no longer fits
            OUTCOMES[kind]["refused (exit 2, another field named)"] += 1
            ELSEWHERE.append(f"{'.'.join(map(str, at))} -> {', '.join(located)}")
        return
    except MlopsError as exc:  # e.g. a resource the machine lacks: a message, but say which
        assert exc.exit_code == 2, f"{type(exc).__name__} with exit {exc.exit_code}: {exc}"
        OUTCOMES[kind]["refused (exit 2, other)"] += 1
        return
    except BaseException:
        OUTCOMES[kind]["traceback"] += 1
        raise
    OUTCOMES[kind]["valid"] += 1


def names_mutation(located: str, at: tuple) -> bool:
    """The problem's dotted path is the mutated field, inside it, or (the key itself changed) in its section."""
    field, section = ".".join(map(str, at)), ".".join(map(str, at[:-1]))
    return located == field or located.startswith(field + ".") or field.startswith(located + ".") \
        or (bool(section) and located.startswith(section + ".")) or (not section and "." not in located)


@settings(max_examples=DICT_CASES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_mutated_specs_validate_or_name_the_field(composed, data):
    """Every example's composed spec, mutated (drop, retype, misspell, nest, unknown key): valid, or exit 2 naming the field."""
    config = data.draw(st.sampled_from(composed))
    rng = data.draw(st.randoms(use_true_random=False))
    path = data.draw(st.sampled_from(paths_of(config.data)))
    how = data.draw(st.sampled_from(["drop", "retype", "misspell", "nest", "unknown"]))
    value = data.draw(st.sampled_from(WEIRD_VALUES))
    mutated = mutate(config.data, path, how, value, rng)

    def run() -> None:
        spec = validate_config(LoadedConfig(mutated, config.spec_file, []))
        project = Project(spec, config)
        from mlops.extras import spec_problems

        missing = spec_problems(spec)
        if missing:
            raise SpecError(missing)
        probe_data(project)
        api.preflight(project)

    judge(f"spec mutation: {how}", run, at=path)


BAD_OVERRIDES = ["model.params.n_estimators=", "=5", "model..params=1", "model.params.n_estimators==5", "'unclosed",
                 "data.source.separator=;", "features.derived.z=log(x) + y", "a=[1,", "a={b:", "+model=1", "~nothing",
                 "model.params.n_estimators=${oc.env:NOPE_NOT_SET}", "model.params.n_estimators=${python:1}",
                 "hydra.run.dir=/tmp/x", "model.metric=rmse", "model.task=clustering", "serving.mode=sometimes",
                 "model.params.n_estimators=-5", "model.params.n_estimators=many", "model.params.n_estimator=50",
                 "data.split.test_size=1.5", "hardware.cpus_per_task=64", "tracking.uri=", "name=",
                 "name=" + "x" * 300, "data.target=nope", "features.numeric=[nope]", "spec_version=99"]

YAML_FILES = {
    "duplicate keys": "name: a\nname: b\ndata: {source: {type: sklearn, name: iris}, target: target}\nmodel: {task: classification}\n",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                  "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\nname: bomb\n",
    "self-referencing alias": "a: &a [1, *a]\nname: x\n",
    "python tag": "name: !!python/object/apply:os.system ['touch {marker}']\n",
    "python name tag": "name: x\nmodel: !!python/name:os.system\n",
    "tab indentation": "name: x\ndata:\n\tsource: {type: sklearn}\n",
    "not a mapping": "- just\n- a list\n",
    "scalar": "42\n",
    "empty": "",
    "unclosed bracket": "name: [x\n",
    "yaml 1.1 booleans as keys": "name: x\non: 1\nno: 2\n",
    "binary": "name: \udcff\n",
}


@settings(max_examples=FILE_CASES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_files_and_override_lists_through_hydra(tmp_path_factory, data):
    """Hostile spec files and override lists through Hydra, as the CLI runs them: exit 2 naming the file or override; no code runs."""
    folder = tmp_path_factory.mktemp("fuzz")
    marker = folder / "code-ran"
    kind = data.draw(st.sampled_from(["overrides", "overrides", "file"]))
    if kind == "file":
        name = data.draw(st.sampled_from(sorted(YAML_FILES)))
        spec = folder / "spec.yaml"
        spec.write_text(YAML_FILES[name].replace("{marker}", str(marker)), errors="surrogateescape")
        judge(f"file: {name}", lambda: api.validate(spec))
        assert not marker.exists(), "a spec ran code"
        return
    base = data.draw(st.sampled_from(EXAMPLES[:3]))
    flat = [".".join(map(str, p)) for p in paths_of(yaml.safe_load(base.read_text())) if all(isinstance(k, str) for k in p)]
    overrides = data.draw(st.lists(st.one_of(
        st.sampled_from(BAD_OVERRIDES),
        st.builds(lambda k, v: f"{k}={v}", st.sampled_from(flat),
                  st.sampled_from(["1", "-1", "1e400", "x", "''", "null", "[]", "{}", "no", "on", "ü", "[1,2]"]))),
        min_size=1, max_size=3))
    judge("override list", lambda: api.validate(base, overrides))


def test_the_cli_turns_a_refusal_into_exit_2_without_a_traceback(tmp_path):
    """The command line prints refusals as messages with exit 2, never a traceback."""
    for override, field in (("model.params.n_estimators=-5", "model.params.n_estimators"),
                            ("data.split.test_size=1.5", "data.split.test_size"), ("=5", "=5")):
        done = subprocess.run([sys.executable, "-m", "mlops.cli", "validate", str(EXAMPLES[0]), override],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr and field in done.stderr, done.stderr


def test_zz_record_figures():
    """Runs last in this module (pytest keeps file order): the counts of the cases above."""
    if not OUTCOMES:
        pytest.skip("the fuzzing tests did not run")
    total = sum(sum(c.values()) for c in OUTCOMES.values())
    tracebacks = sum(counts["traceback"] for counts in OUTCOMES.values())
    record("spec_fuzz", {"cases": total, "tracebacks": tracebacks,
                         "by_kind": {kind: dict(counts) for kind, counts in sorted(OUTCOMES.items())},
                         "named_elsewhere": sorted(set(ELSEWHERE))[:20]})
