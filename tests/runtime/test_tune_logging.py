"""A finished search is never lost to logging: the trials MLflow takes are logged, the rest are named."""
from __future__ import annotations

import pytest

from mlops import tracking_tags
from mlops.dotted import flatten
from mlops.registry import Registry
from mlops.runtime.tune_runs import log_trials
from mlops.stages.tune import TrialResult, TuneOutcome


def _trial(trial_id: str, params: dict, score: float, family: str = "random_forest") -> TrialResult:
    return TrialResult(trial_id, params, {"type": "sklearn", "estimator": family}, {"accuracy": score}, "ok", 1.0, 1)


def test_flatten_of_no_params_has_no_keys():
    assert flatten({}) == {}
    assert flatten({"a": {}}) == {"a": {}}  # a nested empty section stays whole, under its own name
    assert flatten({"a": {"b": 1}, "c": [1]}) == {"a.b": 1, "c": [1]}


def test_a_trial_without_params_is_logged_not_a_traceback(tracking_uri):
    """The reproduction: a family with no searched keys gave the trial empty params, flattened to the key ''."""
    registry = Registry(tracking_uri)
    run_id = registry.start_run("search")
    empty, tuned = _trial("t0", {}, 0.91, "logistic_regression"), _trial("t1", {"max_depth": 4}, 0.95)
    outcome = TuneOutcome("accuracy", "max", [empty, tuned], tuned, 3.0, "/tmp/tune")
    children = log_trials(registry, run_id, "search", outcome)
    assert all(children)
    logged = registry.client.get_run(children[0]).data
    assert logged.params == {"estimator": "logistic_regression"}
    assert registry.client.get_run(run_id).data.tags[tracking_tags.TUNE_BEST_CHILD_RUN] == children[1]


def test_a_trial_mlflow_refuses_is_named_and_the_rest_are_logged(tracking_uri):
    """MLflow refuses a parameter name with a character it does not allow: that trial is marked, the search stays."""
    registry = Registry(tracking_uri)
    run_id = registry.start_run("search")
    bad, good = _trial("t0", {"depth?": 3}, 0.90), _trial("t1", {"max_depth": 4}, 0.95)
    outcome = TuneOutcome("accuracy", "max", [bad, good], good, 3.0, "/tmp/tune")
    with pytest.warns(RuntimeWarning, match="trial t0 .* was not logged"):
        children = log_trials(registry, run_id, "search", outcome)
    assert children[0] is None and children[1] is not None
    tags = registry.client.get_run(run_id).data.tags
    assert tags[tracking_tags.TUNE_UNLOGGED] == "1"
    assert tags[tracking_tags.TUNE_BEST_CHILD_RUN] == children[1]
    failed = [r for r in registry.client.search_runs([registry.experiment_id("search")])
              if r.data.tags.get(tracking_tags.TRIAL_ID) == "t0"]
    assert failed and failed[0].info.status == "FAILED" and tracking_tags.TRIAL_LOG_ERROR in failed[0].data.tags
