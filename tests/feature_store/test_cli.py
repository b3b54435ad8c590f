"""`mlops features materialize/get/list/export` on the churn-features example, and the plan's join node."""
from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from mlops import api
from mlops.cli import app


@pytest.fixture
def churn(example, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return example("churn-features") / "spec.yaml"


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_materialize_get_list_and_export(churn, tmp_path):
    first = invoke("features", "materialize", churn, "--end", "2026-04-01")
    assert first.exit_code == 0, first.output
    assert "customer_activity" in first.output
    again = api.materialize_features(churn, end="2026-04-01")
    assert [r.entities_written for r in again] == [0, 0]  # incremental: nothing newer than the last end
    got = invoke("features", "get", churn, "--entity", "customer_id=7", "--as-of", "2026-04-01")
    assert got.exit_code == 0, got.output
    assert "tenure_months" in got.output and "2025-" in got.output  # values with their event times
    listed = invoke("features", "list", churn)
    assert listed.exit_code == 0 and "30d" in listed.output and "400" in listed.output, listed.output
    exported = invoke("features", "export", churn, "--feast", tmp_path / "feast")
    assert exported.exit_code == 0, exported.output
    definitions = (tmp_path / "feast" / "features.py").read_text()
    compile(definitions, "features.py", "exec")  # valid Python, written against Feast's API
    assert "ttl=timedelta(seconds=2592000)" in definitions and "join_keys=['customer_id']" in definitions
    assert "FileSource(" in definitions and "Field(name='spend_30d', dtype=Float64)" in definitions
    assert "online_store:" in (tmp_path / "feast" / "feature_store.yaml").read_text()


def test_command_line_mistakes_are_named(churn):
    unknown = invoke("features", "get", churn, "--entity", "customer=7")
    assert unknown.exit_code == 2 and "--entity" in unknown.output and "customer_id" in unknown.output
    no_store = invoke("features", "get", churn, "--entity", "customer_id=7")
    assert no_store.exit_code == 1 and "mlops features materialize" in no_store.output
    bad_time = invoke("features", "materialize", churn, "--end", "someday")
    assert bad_time.exit_code == 2 and "--end" in bad_time.output


def test_the_join_node_sits_between_load_and_featurize_and_hashes_the_views_data(churn):
    plan = api.plan(churn)
    ids = [n.id for n in plan.nodes]
    assert ids[:3] == ["load", "join_features", "featurize"] and plan.node("featurize").inputs == {"loaded": "join_features"}
    join = plan.node("join_features")
    assert [v["name"] for v in join.params["views"]] == ["customer_activity", "customer_profile"]
    before = {n.id: n.hash for n in plan.nodes}
    activity = churn.parent / "data" / "activity.parquet"
    os.utime(activity, (activity.stat().st_atime, activity.stat().st_mtime + 10))  # the view's data changes
    after = {n.id: n.hash for n in api.plan(churn).nodes}
    assert after["load"] == before["load"]
    assert after["join_features"] != before["join_features"] and after["train"] != before["train"]
    spread = {n.id: n.hash for n in api.plan(churn, ["features.join_partitions=4"]).nodes}
    assert spread == after  # how the join is spread is not what it computes: nothing reruns
