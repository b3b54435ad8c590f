"""Registered versions for the report tests, made without Ray: each node of a real plan (iris, compiled from a
spec) runs in this process, in plan order, and the register stage records it in a real MLflow store."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest


SPEC = """
name: iris_cards
data:
  source: {type: sklearn, name: iris}
  target: target
  split: {method: stratified, test_size: 0.3, seed: 1}
features:
  scale: standard
  derived: {petal_ratio: petal_length_cm / (petal_width_cm + 1)}
model:
  task: classification
  type: sklearn
  estimator: %s
  params: %s
  card:
    description: Iris species from four flower measurements.
    intended_use: Teaching and tests; not for botanical decisions.
    owners: [ml-platform@example.com]
tracking: {uri: "%s"}
"""


def register_version(directory: Path, uri: str, estimator: str, params: str) -> str:
    """Apply the spec's training nodes in this process and register the version; promote it when the gate says so."""
    from mlops import api, tracking_tags
    from mlops.plan.kinds import kind_of
    from mlops.registry import Registry
    from mlops.stages import register

    spec = directory / f"{estimator}.yaml"
    spec.write_text(SPEC % (estimator, params, uri))
    plan = api.plan(spec)
    registry = Registry(uri)
    run_id = registry.start_run("iris_cards", tags={tracking_tags.SPEC_FILE: str(spec), tracking_tags.PLAN_HASH: "test"})
    registry.log_text(run_id, spec.read_text(), "spec/resolved_spec.yaml")
    results = {}
    for node in plan.nodes:
        inputs = {name: results[source] for name, source in node.inputs.items()}
        if node.kind == "register":
            done = register.run(**inputs, params=node.params, registry=registry, run_id=run_id)
            if done.promoted:
                registry.promote("iris_cards", done.version)
            registry.end_run(run_id)
            return done.version
        module, function = kind_of(node.kind).task.split(":")
        results[node.id] = getattr(importlib.import_module(module), function)(**inputs, params={**node.params, **node.runtime})
    raise AssertionError("the plan has no register node")


@pytest.fixture(scope="session")  # both test modules read the same two versions
def two_versions(tmp_path_factory):
    """(tracking URI, champion version, challenger version): a random forest, then a logistic regression."""
    directory = tmp_path_factory.mktemp("cards")
    uri = f"sqlite:///{directory}/mlflow.db"
    first = register_version(directory, uri, "random_forest", "{n_estimators: 30, random_state: 0}")
    second = register_version(directory, uri, "logistic_regression", "{C: 0.05}")
    return uri, first, second
