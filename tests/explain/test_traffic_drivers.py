"""Explanations of served traffic: a sample of the prediction log explained by the version that served it,
each row logged with its request id, and the features that drive it compared with training's; the
controller's duty runs it when due and keeps the comparison for `mlops status --drivers`."""
from __future__ import annotations

import json
import time

import pytest
from sklearn.datasets import load_iris

pytest.importorskip("shap")

from mlops import api  # noqa: E402
from mlops.explain.drivers import compared, shares  # noqa: E402
from mlops.explain.explainer import Explanations, RowExplanation  # noqa: E402
from mlops.monitoring.controller_duties import traffic_explanations_duty  # noqa: E402
from mlops.monitoring.controller_state import ControllerState  # noqa: E402
from mlops.monitoring.traffic_explanations import explain_traffic, explanations_dir, latest_drivers  # noqa: E402
from mlops.serving.traffic_log import PredictionLog, monitoring_dir  # noqa: E402

COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


def test_shares_sum_to_one_and_compare_ranks():
    explained = Explanations("tree", [RowExplanation(0, "a", "value", 1.0, 0.0, {"x": 0.6, "y": -0.2, "z": 0.0}),
                                      RowExplanation(1, "a", "value", 1.0, 0.0, {"x": -0.2, "y": 0.2, "z": 0.0})])
    today = shares(explained)
    assert list(today) == ["x", "y", "z"] and today == pytest.approx({"x": 0.8 / 1.2, "y": 0.4 / 1.2, "z": 0.0})
    rows = compared(today, {"x": 0.2, "y": 0.7, "w": 0.1})
    assert [r["feature"] for r in rows] == ["x", "y", "z", "w"]
    assert rows[0]["change"] == pytest.approx(today["x"] - 0.2) and rows[0]["rank_today"] == 1
    assert rows[0]["rank_training"] == 2 and rows[3]["today"] is None and rows[3]["change"] is None


@pytest.fixture()
def served(two_versions, tmp_path):
    """A project whose endpoint served 120 iris rows with the first version (its prediction log)."""
    uri, first, _ = two_versions
    spec = tmp_path / "served.yaml"
    spec.write_text(f"""
name: iris_cards
data: {{source: {{type: sklearn, name: iris}}, target: target}}
model: {{task: classification, type: sklearn, estimator: random_forest}}
tracking: {{uri: "{uri}"}}
monitoring: {{explain: {{sample_rows: 40, every: 1h}}}}
""")
    project = api.load(spec, [], check_data=False)
    frame = load_iris(as_frame=True).frame
    frame.columns = COLUMNS + ["target"]
    log = PredictionLog(monitoring_dir(project.base_dir, "iris_cards"), project.spec.monitoring.logs)
    rows = frame[COLUMNS].sample(120, random_state=0).to_dict(orient="records")
    log.write([(f"req{i // 10}", i % 10) for i in range(len(rows))], rows, [0] * len(rows), first)
    return project, first


def test_served_rows_are_explained_logged_and_compared_with_training(served):
    project, version = served
    summary = explain_traffic(project, sample_rows=40)
    assert summary["version"] == version and summary["rows"] == 40 and summary["served_rows"] == 120
    assert {d["feature"] for d in summary["drivers"]} >= {"petal_length_cm", "petal_width_cm"}
    assert sum(summary["today"].values()) == pytest.approx(1.0)
    assert summary["training"] and sum(summary["training"].values()) == pytest.approx(1.0)
    # iris is decided by the petals, on traffic as in training
    assert summary["drivers"][0]["feature"].startswith("petal")
    logged = [json.loads(line) for f in explanations_dir(project).glob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(logged) == 40 and all(r["version"] == version and r["request_id"].startswith("req") for r in logged)
    for r in logged:
        assert r["base_value"] + sum(c["contribution"] for c in r["contributions"]) == pytest.approx(r["output"])
    assert latest_drivers(project)["at"] == summary["at"]
    assert explain_traffic(project, window_s=60, now=time.time() + 3600) is None  # nothing served in that window


def test_the_controller_duty_runs_when_due_and_keeps_the_comparison(served):
    project, version = served
    state = ControllerState("iris_cards", started=time.time() - 10)
    assert traffic_explanations_duty(project, state, time.time()) == [] and state.drivers is None  # 10 s < 1h
    state.started = time.time() - 7200
    events = traffic_explanations_duty(project, state, time.time())
    assert events and events[0]["version"] == version and "petal" in events[0]["top_drivers"]
    assert state.drivers["version"] == version and state.drivers["drivers"][0]["feature"].startswith("petal")
    assert traffic_explanations_duty(project, state, time.time() + 60) == []  # the next is an hour after this one


def test_the_cli_explains_traffic_now_and_status_shows_the_controllers_comparison(served, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mlops.cli import app
    from mlops.monitoring.controller_state import save_state

    project, version = served
    monkeypatch.setenv("COLUMNS", "300")
    spec = str(tmp_path / "served.yaml")  # the fixture's spec
    shown = CliRunner().invoke(app, ["explain", spec, "--traffic", "--window", "1h"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert f"v{version}: what drives today's predictions (40 served rows explained" in text and "petal" in text
    refused = CliRunner().invoke(app, ["explain", spec])  # neither --input nor --traffic
    assert refused.exit_code == 2 and "--input" in refused.output and "Traceback" not in refused.output
    bad = CliRunner().invoke(app, ["explain", spec, "--traffic", "--window", "soon"])
    assert bad.exit_code == 2 and "--window" in bad.output

    # `mlops status --drivers` with no endpoint running: the controller's last comparison, from its state
    monkeypatch.chdir(tmp_path)
    state = ControllerState("iris_cards", started=time.time() - 7200)
    traffic_explanations_duty(project, state, time.time())
    save_state(tmp_path / "ctl.json", state)
    from mlops.monitoring.state_files import write_state

    write_state(tmp_path / ".mlops" / "controllers.json", {"iris_cards": {"state_file": str(tmp_path / "ctl.json"),
                                                                         "address": "127.0.0.1:1"}})
    status = CliRunner().invoke(app, ["status", "iris_cards", "--drivers"])
    assert status.exit_code == 0, status.output
    text = " ".join(status.output.split())
    assert "what drives today's predictions" in text and "training" in text and "rank (today / training)" in text
