"""The rollout's metric guard from what the endpoint really writes: the prediction log (which version answered
each row) joined with feedback labels posted by request id gives each version's metric since the rollout
began; a challenger whose labelled answers are worse by more than metric_drop_above is rolled back, and one
with too few labels is not judged. No Ray: the logs are written by the replica's own writers."""
from __future__ import annotations

import time

import pytest

from mlops import api
from mlops.monitoring.rollout_guards import RolloutState, decide
from mlops.monitoring.served_metric import scores_by_version
from mlops.serving.traffic_log import FeedbackLog, PredictionLog, monitoring_dir
from mlops.spec.rollout import RolloutSpec

SPEC = """
name: labelled
data: {source: {type: sklearn, name: iris}, target: target}
model: {task: classification, type: sklearn, estimator: random_forest, metric: accuracy}
monitoring: {}
"""
ROLLOUT = RolloutSpec(strategy="canary", steps=[10, 50, 100], step_every="1s", min_requests=5,
                      guards={"metric_drop_above": 0.05, "min_labels": 30, "prediction_shift_above": None})


@pytest.fixture()
def project(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    return api.load(tmp_path / "spec.yaml", [], check_data=False)


def serve(project, version: str, requests: int, right: int, started: float) -> None:
    """`requests` one-row answers by `version`, labelled afterwards: the first `right` of them correctly."""
    directory = monitoring_dir(project.base_dir, project.spec.name)
    logs = project.spec.monitoring.logs
    ids = [f"{version}-{i}" for i in range(requests)]
    PredictionLog(directory, logs).write([(i, 0) for i in ids], [{"x": 1.0}] * requests, [1] * requests, version)
    FeedbackLog(directory, logs).write([{"request_id": i, "row": 0, "label": 1 if k < right else 2}
                                        for k, i in enumerate(ids)])


def test_each_version_is_scored_on_its_own_labelled_answers_and_a_worse_challenger_rolls_back(project):
    started = time.time() - 1
    serve(project, "1", 40, 38, started)  # champion: 0.95
    serve(project, "2", 40, 30, started)  # challenger: 0.75
    scores = scores_by_version(project, started, "accuracy")
    assert scores == {"1": (pytest.approx(0.95), 40), "2": (pytest.approx(0.75), 40)}
    state = RolloutState("labelled", "canary", champion="1", challenger="2", phase="canary", step=0, phase_started=0)
    by_version = {v: {"requests": 40, "errors": 0, "error_rate": 0.0, "latency_p99_ms": 5.0, "classes": None,
                      "values": None} for v in ("1", "2")}
    decision = decide(state, ROLLOUT, by_version, time.time(), scores, "accuracy", True)
    assert decision.action == "rollback" and "accuracy" in decision.reason, decision
    assert scores_by_version(project, time.time() + 60, "accuracy") is None  # nothing served since then


def test_too_few_labels_are_not_judged_and_an_equal_challenger_advances(project):
    started = time.time() - 1
    serve(project, "1", 40, 38, started)
    serve(project, "2", 10, 2, started)  # far worse, but 10 labels < min_labels 30
    scores = scores_by_version(project, started, "accuracy")
    state = RolloutState("labelled", "canary", champion="1", challenger="2", phase="canary", step=0, phase_started=0)
    by_version = {v: {"requests": 40, "errors": 0, "error_rate": 0.0, "latency_p99_ms": 5.0, "classes": None,
                      "values": None} for v in ("1", "2")}
    assert decide(state, ROLLOUT, by_version, time.time(), scores, "accuracy", True).action == "advance"
