"""What the command line says, checked on real components (a real MLflow store, the real online store, the
real `mlops` process): option paths relative to the working directory, durations as a spec writes them,
unknown model names, what an apply says serves and found in its search, and `mlops plan` warning of a task too large for this machine."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES
from mlops.cli import app
from mlops.cli.training import apply_summary
from mlops.durations import format_duration, parse_duration

IRIS = EXAMPLES / "iris" / "spec.yaml"


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def mlops(*args, cwd=None, env=None):
    """The real `mlops` command in a subprocess (stdout and stderr apart)."""
    return subprocess.run([sys.executable, "-m", "mlops", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


# -- paths of command-line options are relative to the working directory ---------------------------------

def test_option_paths_are_relative_to_the_working_directory_and_a_missing_one_names_the_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not (IRIS.parent / "nosuch-rows.csv").exists()
    for args, option in ((("predict", IRIS, "--batch", "--input", "nosuch-rows.csv"), "--input"),
                         (("predict", IRIS, "--input", "nosuch-rows.csv"), "--input"),
                         (("check", IRIS, "--data", "nosuch-rows.csv"), "--data"),
                         (("feedback", IRIS, "--labels", "nosuch-rows.csv"), "--labels")):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert f"{option}: no such file" in result.output and "relative to the working directory" in result.output
        assert str(tmp_path) in result.output.replace("\n", ""), result.output
    helps = {cmd: invoke(cmd, "--help").output for cmd in ("predict", "check", "feedback")}
    assert all("relative to the working directory" in " ".join(text.replace("│", " ").split()) for text in helps.values()), helps


# -- durations print as written ---------------------------------------------------------------------------

@pytest.mark.parametrize("seconds, text", [(1814400, "21d"), (5400, "90m"), (3600, "1h"), (45, "45s"), (0.5, "0.5s"),
                                           (5430, "1h30m30s"), (93784, "1d2h3m4s"), (61.5, "1m1.5s"), (1209600, "14d")])
def test_durations_print_in_the_largest_exact_unit_and_parse_back(seconds, text):
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
    assert "e+" not in format_duration(seconds * 1000)


def test_a_ttl_prints_as_written_in_the_feature_list_and_in_a_stale_lookup(example, tmp_path, monkeypatch):
    from mlops.feature_store.lookup import UnknownEntity, fill_rows
    from mlops.feature_store.materialize import materialize
    from mlops.feature_store.online_store import OnlineStore

    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    spec = example("churn-features") / "spec.yaml"
    listed = invoke("features", "list", spec, "features.views.0.ttl=21d", "features.views.1.ttl=90m")
    assert listed.exit_code == 0, listed.output
    ttls = {line.split("│")[1].strip(): line.split("│")[4].strip() for line in listed.output.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()}
    assert ttls == {"customer_activity": "21d", "customer_profile": "90m"}, listed.output

    frame = pd.DataFrame({"customer_id": [1], "event_time": [pd.Timestamp("2026-01-01", tz="UTC")], "sessions": [3]})
    frame.to_parquet(tmp_path / "activity.parquet", index=False)
    view = {"name": "activity", "entity": "customer", "key": "customer_id", "field": "features.views.0",
            "source": {"type": "parquet", "path": "activity.parquet"}, "timestamp": "event_time",
            "ttl_s": parse_duration("21d"), "features": ["sessions"], "defaults": {}}
    store = OnlineStore(tmp_path / "store.db")
    try:
        materialize([view], tmp_path, store, end_ns=pd.Timestamp("2026-01-02", tz="UTC").value)
        with pytest.raises(UnknownEntity, match=r"older than the TTL \(21d\)"):
            fill_rows([{"customer_id": 1}], store, [view], pd.Timestamp("2026-03-01", tz="UTC").value)
    finally:
        store.close()


# -- unknown model names ----------------------------------------------------------------------------------

def test_an_unknown_model_name_is_exit_2_with_the_closest_registered_name(tmp_path):
    from mlops.registry import Registry

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    Registry(uri).client.create_registered_model("churn_model")
    unknown = invoke("models", "churn_modle", "--tracking-uri", uri)
    assert unknown.exit_code == 2, unknown.output
    text = " ".join(unknown.output.split())
    assert "invalid input" in text and "NAME: no registered model" in text and "did you mean 'churn_model'?" in text
    far = invoke("models", "zzz", "--tracking-uri", uri)
    assert far.exit_code == 2 and "did you mean" not in far.output and "churn_model" in far.output
    known = invoke("models", "churn_model", "--tracking-uri", uri)
    assert known.exit_code == 0 and "model churn_model" in known.output, known.output


# -- what an apply says serves ----------------------------------------------------------------------------

def _result(version, decision, endpoint_version=None, batch_version=None):
    from mlops.runtime.apply import ApplyResult
    from mlops.serving.deploy import Deployed
    from mlops.stages.batch_predict import BatchResult

    return ApplyResult("h", run_id="r1", version=version, decision=decision, metrics={"roc_auc": 0.8},
                       endpoint=Deployed("churn", "http://127.0.0.1:8000/churn", endpoint_version) if endpoint_version else None,
                       batch=BatchResult(10, "out.parquet", "local", 0.1, batch_version) if batch_version else None)


def plain(lines):
    from rich.text import Text

    return [Text.from_markup(line).plain for line in lines]


def test_an_apply_whose_version_was_not_promoted_says_the_endpoint_serves_the_champion():
    lost = "roc_auc 0.7000 vs champion v1 0.8000 on the same test rows: kept champion"
    lines = plain(apply_summary(_result("2", lost, endpoint_version="1", batch_version="1"), champion="1"))
    assert lines[0] == f"run r1  model version 2 registered, not promoted: kept champion v1 ({lost})"
    assert lines[2] == ("endpoint http://127.0.0.1:8000/churn/predict serves v1, the champion (v2 was not promoted) "
                        "(stop: mlops stop churn)")
    assert lines[3].startswith("predictions 10 rows with v1, the champion (v2 was not promoted) -> out.parquet")
    unchanged = plain(apply_summary(_result("2", "model unchanged: v2", endpoint_version="1"), champion="1"))
    assert unchanged[0] == "run r1  model version 2 (unchanged), not the champion: champion is v1"
    assert "serves v1, the champion (v2 was not promoted)" in unchanged[2]


def test_an_apply_whose_version_won_says_it_serves_that_version():
    won = "roc_auc 0.9000 vs champion v1 0.8000 on the same test rows: promoted"
    lines = plain(apply_summary(_result("2", won, endpoint_version="2"), champion="2"))
    assert lines[0] == f"run r1  model version 2 registered, now the champion ({won})"
    assert lines[2] == "endpoint http://127.0.0.1:8000/churn/predict serves v2 (stop: mlops stop churn)"
    same = plain(apply_summary(_result("2", "model unchanged: v2", endpoint_version="2"), champion="2"))
    assert same[0] == "run r1  model version 2 (unchanged), the champion" and "serves v2 (stop" in same[2]


# -- `mlops plan` runs the resource check it can run without Ray ------------------------------------------

def test_plan_warns_of_a_task_larger_than_this_machine_and_still_shows_the_plan():
    too_many = (os.cpu_count() or 1) + 1
    shown = mlops("plan", IRIS, f"hardware.cpus_per_task={too_many}")
    assert shown.returncode == 0, shown.stderr
    assert "Plan:" in shown.stdout and f"CPU={too_many}" in shown.stdout  # the plan is still shown
    stderr = " ".join(shown.stderr.split())
    assert "warning: apply will refuse this plan on this machine" in stderr
    assert f"hardware.cpus_per_task={too_many} but this machine has {os.cpu_count()} CPUs" in stderr
    as_json = mlops("plan", IRIS, "hardware.local_cpus=1", "hardware.cpus_per_task=2", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["name"] == "iris"  # stdout stays JSON
    assert "hardware.cpus_per_task=2 but this machine has 1 CPUs" in " ".join(as_json.stderr.split())


def test_plan_does_not_warn_when_the_plan_fits_or_a_cluster_runs_it():
    fits = mlops("plan", IRIS, "--json")
    assert fits.returncode == 0 and "warning" not in fits.stderr, fits.stderr
    # A cluster runs it (RAY_ADDRESS, as in a job): a spec naming one in hardware.cluster would also need a
    # tracking server, since a SQLite store is refused with a cluster (tests/sources/test_cluster_reach.py).
    elsewhere = mlops("plan", IRIS, "hardware.cpus_per_task=100000", "--json", env={"RAY_ADDRESS": "10.0.0.9:6379"})
    assert elsewhere.returncode == 0 and "warning" not in elsewhere.stderr, elsewhere.stderr


def test_the_local_node_is_this_machine_without_importing_ray_or_torch():
    from mlops.cluster.feasibility import local_node

    node = local_node()
    assert node["CPU"] == os.cpu_count() and local_node(1)["CPU"] == 1
    if os.path.isfile("/proc/meminfo"):
        available = next(int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemAvailable:"))
        assert 0.5 * available < node["memory"] < available
    probe = subprocess.run([sys.executable, "-c", "import sys; from mlops.cluster.feasibility import local_node; "
                            "local_node(); print(sorted(m for m in ('ray', 'torch') if m in sys.modules))"],
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "[]", probe.stderr


def test_a_memory_request_larger_than_this_machine_names_its_field():
    if not os.path.isfile("/proc/meminfo"):
        pytest.skip("memory is read from /proc/meminfo")
    shown = mlops("plan", IRIS, "hardware.memory_per_task_gb=100000", "--json")
    assert shown.returncode == 0
    assert "hardware.memory_per_task_gb=100000 GB but this machine has" in " ".join(shown.stderr.split()), shown.stderr


def test_the_tuning_line_names_the_best_parameters_or_says_nothing_was_searched():
    from mlops.cli.training import tuning_line
    from mlops.stages.tune import TrialResult, TuneOutcome

    def outcome(params: dict) -> TuneOutcome:
        best = TrialResult("t1", params, {"type": "sklearn"}, {"rmse": 1.25}, "ok")
        return TuneOutcome("rmse", "min", [best], best, 3.04, "/tmp/x", {"validation": "a 20% holdout"})

    searched = tuning_line(outcome({"max_depth": 8, "learning_rate": 0.05}))
    assert searched.endswith("best (rmse 1.2500 on validation): max_depth=8, learning_rate=0.05")
    assert "1 trials in 3.0s, scored by a 20% holdout" in searched
    assert tuning_line(outcome({})).endswith("on validation): the parameters the spec sets (nothing searched)")
