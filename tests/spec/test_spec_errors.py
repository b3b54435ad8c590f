"""Malformed specs: each one exits 2 with a message that names the field or file, never a traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import write_spec
from mlops.cli import app

GOOD = """
name: demo
data:
  source: {type: csv, path: data.csv}
  target: label
model:
  task: classification
  type: sklearn
  estimator: random_forest
"""

CSV = "a,b,color,label\n1,2,red,x\n2,3,blue,y\n3,4,red,x\n4,5,blue,y\n5,6,red,x\n6,7,blue,y\n"


def run_validate(tmp_path, spec_text: str, *overrides: str, csv: str | None = CSV):
    if csv is not None:
        (tmp_path / "data.csv").write_text(csv)
    spec = write_spec(tmp_path, spec_text)
    return CliRunner().invoke(app, ["validate", str(spec), *overrides])


def replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


CASES = [
    # (id, spec text, overrides, expected fragments in the message)
    ("bad-yaml", GOOD + "model:\n\t- broken: [\n", [], ["invalid YAML", "line"]),
    ("unknown-top-key", GOOD + "modle_extra: 1\n", [], ["modle_extra", "unknown key"]),
    ("misspelt-key-hint", replace("target: label", "targt: label"), [], ["data.targt", "did you mean 'target'"]),
    ("missing-required", replace("  target: label\n", ""), [], ["data.target", "required"]),
    ("wrong-type", GOOD + "  metric: f1_macro\n" + "hardware: {cpus_per_task: lots}\n", [], ["hardware.cpus_per_task", "'lots'"]),
    ("out-of-range", replace("target: label", "target: label\n  split: {test_size: 1.5}"), [], ["data.split.test_size", "1.5"]),
    ("unknown-estimator", replace("random_forest", "random_forrest"), [], ["model.estimator", "did you mean 'random_forest'"]),
    ("estimator-wrong-task", replace("random_forest", "linear_regression"), [], ["model", "does not support task"]),
    ("metric-wrong-task", GOOD + "  metric: rmse\n", [], ["model.metric", "rmse", "not a classification metric"]),
    ("param-misspelt", GOOD, ["+model.params.n_estimator=50"], ["model.params.n_estimator", "did you mean 'n_estimators'"]),
    ("param-wrong-type", GOOD + "  params: {n_estimators: many}\n", [], ["model.params.n_estimators", "must be an int", "many"]),
    ("param-out-of-range", GOOD + "  params: {n_estimators: -5}\n", [], ["model.params.n_estimators", "range [1, inf)"]),
    ("param-not-among", GOOD + "  params: {criterion: foo}\n", [], ["model.params.criterion", "gini"]),
    ("override-grammar-quoting", GOOD, ["features.derived.z=log(a) + b"],
     ["features.derived.z", "not valid override syntax", "features.derived.z='log(a) + b'"]),
    ("override-grammar-semicolon", GOOD, ["data.source.separator=;"], ["data.source.separator", "quote the value"]),
    ("unknown-source-type", replace("type: csv, path: data.csv", "type: excel, path: data.xlsx"), [], ["data.source.type", "excel"]),
    ("unknown-split-method", replace("target: label", "target: label\n  split: {method: shuffled}"), [], ["data.split.method", "shuffled"]),
    ("bad-scale", GOOD + "features: {scale: zscore}\n", [], ["features.scale", "zscore"]),
    ("time-split-no-timestamp", replace("target: label", "target: label\n  split: {method: time}"), [], ["data", "timestamp"]),
    ("unknown-sklearn-dataset", replace("type: csv, path: data.csv", "type: sklearn, name: mnist"), [], ["data.source.name", "mnist"]),
    ("bad-name", replace("name: demo", "name: 'my project'"), [], ["name", "my project"]),
    ("bad-output-format", GOOD + "serving: {mode: batch, batch: {input: data.csv, output: out/p.xlsx}}\n", [], ["serving.batch.output", ".parquet"]),
    ("batch-mode-without-batch", GOOD + "serving: {mode: batch}\n", [], ["serving", "serving.batch"]),
    ("missing-file", replace("path: data.csv", "path: nope.csv"), [], ["data.source.path", "no such file", "nope.csv"]),
    ("target-not-in-data", replace("target: label", "target: outcome"), [], ["data.target", "outcome", "not in the data"]),
    ("feature-not-in-data", GOOD + "features: {numeric: [a, bb]}\n", [], ["features.numeric", "bb", "did you mean 'b'"]),
    ("derived-unknown-column", GOOD + "features: {derived: {r: 'a / (zz + 1)'}}\n", [], ["features.derived.r", "zz"]),
    ("derived-python-code", GOOD + "features: {derived: {r: \"__import__('os').system('id')\"}}\n", [], ["features.derived", "not allowed"]),
    ("derived-attribute", GOOD + "features: {derived: {r: 'a.real + 1'}}\n", [], ["features.derived", "not allowed"]),
    ("derived-lambda", GOOD + "features: {derived: {r: '(lambda: 1)()'}}\n", [], ["features.derived", "not allowed"]),
    ("override-unknown-key", GOOD, ["model.nope=3"], ["model.nope", "unknown key"]),
    ("override-misspelt-key", GOOD, ["hardware.wokers=2"], ["hardware.wokers", "did you mean 'workers'"]),
    ("override-bad-grammar", GOOD, ["model.params.max_depth=="], ["override"]),
    ("override-unknown-group", "defaults: [{hardware: local_cpu}, _self_]\n" + GOOD, ["hardware=nope"], ["hardware", "nope"]),
    ("missing-env-var", replace("estimator: random_forest", "estimator: ${oc.env:MLOPS_TEST_SURELY_UNSET}"), [], ["MLOPS_TEST_SURELY_UNSET"]),
    ("stratified-regression", replace("task: classification", "task: regression").replace("random_forest", "ridge")
     .replace("target: label", "target: a\n  split: {method: stratified}"), [], ["data.split.method", "stratified"]),
]


@pytest.mark.parametrize("case_id,text,overrides,fragments", CASES, ids=[c[0] for c in CASES])
def test_malformed_spec_exits_2_naming_the_problem(tmp_path, case_id, text, overrides, fragments):
    result = run_validate(tmp_path, text, *overrides)
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} missing from:\n{result.output}"
    assert "Traceback" not in result.output


def test_a_long_path_keeps_its_file_name_in_the_error(tmp_path):
    """A value too long to quote whole loses its middle: the missing file's name is still there."""
    deep = tmp_path / ("a-project-folder-with-a-long-name-" * 3) / "data"
    deep.mkdir(parents=True)
    result = run_validate(deep, replace("path: data.csv", "path: no-such-export.csv"))
    assert result.exit_code == 2 and "no such file" in result.output
    assert "..." in result.output and "-long-name-/data/no-such-export.csv'" in result.output, result.output


def test_empty_csv_is_reported_by_file(tmp_path):
    result = run_validate(tmp_path, GOOD, csv="")
    assert result.exit_code == 2
    assert "data.source.path" in result.output and "empty" in result.output


def test_header_only_csv_is_reported(tmp_path):
    result = run_validate(tmp_path, GOOD, csv="a,b,color,label\n")
    assert result.exit_code == 2
    assert "no data rows" in result.output


def test_empty_spec_file(tmp_path):
    result = run_validate(tmp_path, "")
    assert result.exit_code == 2 and "empty" in result.output


def test_missing_spec_file(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "spec file not found" in result.output


def test_every_problem_is_reported_at_once(tmp_path):
    text = replace("random_forest", "random_forrest") + "features: {scale: zscore}\n"
    result = run_validate(tmp_path, text)
    assert "model.estimator" in result.output and "features.scale" in result.output


def test_unknown_estimator_param_is_a_spec_error_before_ray(tmp_path):
    from mlops import api
    from mlops.errors import SpecError

    (tmp_path / "data.csv").write_text(CSV)
    spec = write_spec(tmp_path, GOOD.replace("estimator: random_forest", "estimator: random_forest\n  params: {max_dept: 3}"))
    with pytest.raises(SpecError, match=r"model.params.max_dept.*did you mean 'max_depth'"):
        api.preflight(api.load(spec))


def test_cli_process_prints_no_traceback(tmp_path):
    (tmp_path / "data.csv").write_text(CSV)
    spec = write_spec(tmp_path, replace("random_forest", "random_forrest"))
    done = subprocess.run([sys.executable, "-m", "mlops.cli", "validate", str(spec)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "model.estimator" in done.stderr and "Traceback" not in done.stderr + done.stdout


def test_valid_spec_passes(tmp_path):
    result = run_validate(tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert "ok demo" in result.output


def test_batch_input_missing_a_feature_column(tmp_path):
    """A warning: the model's input contract decides when the batch is scored (a column that had missing
    values in training is imputed; docs/serving.md#the-input-contract)."""
    (tmp_path / "score.csv").write_text("a,color\n1,red\n")
    text = GOOD + "serving: {mode: batch, batch: {input: score.csv, output: out/p.parquet}}\n"
    from mlops.errors import SpecWarning

    with pytest.warns(SpecWarning, match=r"serving.batch.input lacks feature columns \['b'\]"):
        result = run_validate(tmp_path, text)
    assert result.exit_code == 0, result.output


def test_batch_input_file_missing(tmp_path):
    text = GOOD + "serving: {mode: batch, batch: {input: nope.parquet, output: out/p.parquet}}\n"
    result = run_validate(tmp_path, text)
    assert result.exit_code == 2 and "serving.batch.input.path" in result.output and "no such file" in result.output


def test_a_missing_optional_dependency_is_a_spec_error_naming_the_field(tmp_path, monkeypatch):
    """A spec asking for alibi-detect's outlier detector on an install without the monitoring extra: a message,
    not an ImportError. (The default one, iforest, is scikit-learn's and needs no extra.)"""
    import importlib.util

    from mlops import api
    from mlops.errors import SpecError

    (tmp_path / "data.csv").write_text(CSV)
    spec = write_spec(tmp_path, GOOD + "validation: {outliers: {detector: mahalanobis}}\n")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "alibi_detect" else real(name, *a))
    with pytest.raises(SpecError, match=r"validation.outliers.detector") as caught:
        api.load(spec)  # what `mlops validate` runs: refused there, before any work
    assert "[monitoring]" in caught.value.problems[0].render() and "alibi-detect" in caught.value.problems[0].render()
    write_spec(tmp_path, GOOD + "validation: {outliers: {detector: iforest}}\n")
    assert api.load(spec)  # the same install takes the default detector


def test_one_wrong_field_reports_only_itself(tmp_path):
    """A wrong derived column or target is not also reported as missing from the batch input."""
    (tmp_path / "batch.csv").write_text("a,b,color\n1,2,red\n")
    text = GOOD + "serving: {mode: batch, batch: {input: batch.csv, output: out/p.parquet}}\n"
    for bad, field in ((["+features.derived.r='a / (zz + 1)'"], "features.derived.r"), (["data.target=outcome"], "data.target")):
        result = run_validate(tmp_path, text, *bad)
        assert result.exit_code == 2 and field in result.output, result.output
        assert "serving.batch.input" not in result.output, result.output


def test_rollback_of_an_unknown_model_and_an_unreadable_csv_are_messages(tmp_path, tracking_uri):
    def mlops(*args):
        return subprocess.run([sys.executable, "-m", "mlops.cli", *args], capture_output=True, text=True, cwd=tmp_path,
                              timeout=120)

    missing = f"sqlite:///{tmp_path / 'typo' / 'x.db'}"  # commands that read never create a store
    done = mlops("models", "iris", "--tracking-uri", missing)
    assert done.returncode == 1 and "no tracking store at" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "typo").exists()
    from mlops.registry import Registry

    Registry(tracking_uri)  # an empty store
    done = mlops("rollback", "nope", "--tracking-uri", tracking_uri)
    assert done.returncode == 1 and "no registered model named 'nope'" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "data.csv").write_text(CSV)
    spec = write_spec(tmp_path, GOOD)
    (tmp_path / "rows.csv").write_text('a,b\n1,"2\n')
    done = mlops("predict", str(spec), "--local", "--input", str(tmp_path / "rows.csv"))
    assert done.returncode == 2 and "--input" in done.stderr and "cannot read" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_an_alias_bomb_is_refused_before_composing(tmp_path):
    """Nested YAML aliases ("billion laughs": 9^6 values from six lines) are refused at once, naming the file."""
    import time

    from mlops import api
    from mlops.errors import SpecError

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcde", "bcdef")) + "name: bomb\n"
    spec = tmp_path / "spec.yaml"
    spec.write_text(bomb)
    start = time.perf_counter()
    with pytest.raises(SpecError, match="alias bomb") as refused:
        api.validate(spec)
    assert refused.value.exit_code == 2 and str(spec) in str(refused.value)
    assert time.perf_counter() - start < 5  # composing it would take minutes


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    """`a: &a [1, *a]` is an infinite value: exit 2 naming the file, not a RecursionError."""
    from mlops import api
    from mlops.errors import SpecError

    spec = tmp_path / "spec.yaml"
    spec.write_text("a: &a [1, *a]\nname: x\n")
    with pytest.raises(SpecError, match="refers to the node that contains it"):
        api.validate(spec)


ONLINE = GOOD + "serving: {mode: online}\n"


@pytest.mark.parametrize("override,expected", [
    # A field of several shapes fails once per shape in pydantic; the user sees the shape the value has,
    # the one it came closest to, under the key they wrote (no `FixedReplicas.` or `literal['none']` segment).
    ("+serving.online.replicas.foo=1",
     ["  serving.online.replicas.foo: unknown key (got 1; expected one of ['max', 'min', 'target_ongoing_requests'])"]),
    ("serving.online.replicas={fixed: 0}", ["  serving.online.replicas.fixed: Input should be greater than or equal to 1 (got 0)"]),
    ("serving.online.replicas={fixed: 2, min: 1}", ["  serving.online.replicas.min: unknown key (got 1; expected one of ['fixed'])"]),
    ("serving.online.replicas=3", ["  serving.online.replicas: must be a mapping (got 3; expected keys ['fixed'] or keys "
                                   "['max', 'min', 'target_ongoing_requests'])"]),
    ("+serving.online.auth.token=abc", ["  serving.online.auth.token: unknown key (got 'abc'; expected one of "
                                        "['token_env']) — did you mean 'token_env'?"]),
    ("serving.online.auth=3", ["  serving.online.auth: auth must be a mapping like {token_env: NAME}, {} (a generated "
                               "token) or none, not 3 (got 3)"]),
])
def test_a_field_of_several_shapes_is_reported_once_in_the_shape_written(tmp_path, override, expected):
    result = run_validate(tmp_path, ONLINE, override)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("  serving.")]
    assert lines == expected, result.output
