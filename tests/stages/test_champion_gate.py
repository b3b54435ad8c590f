"""The champion gate, pinned: a challenger takes the champion alias only when it scores at least as well
on the same test rows. The stages run in-process (Ray adds nothing to the decision); the store is real."""
from __future__ import annotations

import importlib
import math

import pytest

from mlops import api
from mlops.metrics import METRICS, better, promotes
from mlops.plan.kinds import kind_of
from mlops.registry import CHAMPION, Registry


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_better_follows_each_metrics_direction(metric):
    up = METRICS[metric].greater_is_better
    high, low = 0.8, 0.6
    assert better(metric, high, low) is up and better(metric, low, high) is (not up)
    assert not better(metric, 0.7, 0.7)  # a tie is not better
    assert not better(metric, math.nan, 0.7) and not better(metric, 0.7, math.nan)


@pytest.mark.parametrize("metric, a, b, margin, expected", [
    ("accuracy", 0.80, 0.75, 0.05, True),    # exactly the margin counts
    ("accuracy", 0.79, 0.75, 0.05, False),   # short of it does not
    ("rmse", 1.0, 1.5, 0.5, True),
    ("rmse", 1.1, 1.5, 0.5, False),
    ("rmse", 1.5, 1.0, 0.0, False),          # lower is better: a higher rmse never wins
])
def test_better_by_a_minimum_improvement(metric, a, b, margin, expected):
    assert better(metric, a, b, margin) is expected


@pytest.mark.parametrize("metric, challenger, champion, expected", [
    ("f1_macro", 0.91, 0.90, True), ("f1_macro", 0.90, 0.90, True), ("f1_macro", 0.89, 0.90, False),
    ("log_loss", 0.20, 0.30, True), ("log_loss", 0.30, 0.30, True), ("log_loss", 0.31, 0.30, False),
    ("r2", math.nan, 0.5, False),
])
def test_at_apply_a_challenger_promotes_when_at_least_as_good(metric, challenger, champion, expected):
    assert promotes(metric, challenger, champion) is expected


def _register(spec_file, uri: str, params: str):
    """Run load..evaluate of the spec's plan in this process, then the register stage against `uri`."""
    from mlops.stages import register as stage

    plan = api.plan(spec_file, [f"model.params={params}", f"tracking.uri={uri}"])
    values: dict[str, object] = {}
    for node in plan.nodes:
        task = kind_of(node.kind).task
        if node.kind in ("register", "batch_predict", "deploy") or task is None:
            continue
        module, _, attr = task.partition(":")
        values[node.id] = getattr(importlib.import_module(module), attr)(*(values[i] for i in node.inputs), node.call_params())
    registry = Registry(uri)
    run_id = registry.start_run(plan.name)
    register = plan.node("register")
    trained, evaluation, monitoring, split = (values[i] for i in register.inputs)
    registration = stage.run(registry, run_id, register.params["name"], trained, evaluation, {}, monitoring, split=split)
    if registration.promoted:  # what apply does once every node has succeeded
        registry.promote(register.params["name"], registration.version)
    return registration, registry.by_alias(register.params["name"], CHAMPION).version


STRONG = "{n_estimators: 50, max_depth: 6, random_state: 0}"
WEAK = "{n_estimators: 1, max_depth: 1, random_state: 0}"  # one stump: cannot tell three iris classes apart


def test_a_challenger_built_to_lose_keeps_the_champion_and_one_built_to_win_takes_it(example, tmp_path):
    spec = example("iris") / "spec.yaml"
    uri = f"sqlite:///{tmp_path / 'gate.db'}"
    first, champion = _register(spec, uri, WEAK)
    assert first.promoted and champion == first.version and "first version" in first.decision
    tie, champion = _register(spec, uri, WEAK)  # the same model again: a tie on the same rows promotes
    assert tie.promoted and champion == tie.version, tie.decision
    winner, champion = _register(spec, uri, STRONG)
    assert winner.promoted and champion == winner.version, winner.decision
    assert winner.metrics["f1_macro"] > first.metrics["f1_macro"] + 0.2
    loser, champion = _register(spec, uri, WEAK)
    assert not loser.promoted and champion == winner.version, loser.decision
    assert loser.decision.endswith("kept champion") and f"vs champion v{winner.version}" in loser.decision
