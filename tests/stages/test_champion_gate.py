"""The champion gate, pinned: a challenger takes the champion alias only when it scores at least as well
on the same test rows. The stages run in-process (Ray adds nothing to the decision); the store is real."""
from __future__ import annotations

import math

import pytest

from mlops import api
from mlops.metrics import METRICS, better, promotes
from mlops.registry import CHAMPION, Registry
from mlops.runtime.node_calls import inputs_of, run_here


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


def _register(spec_file, uri: str, params: str, promote: bool = True):
    """Run load..evaluate of the spec's plan in this process, then the register stage against `uri`; with
    `promote`, move the alias as apply does when every node has succeeded."""
    from mlops.stages import register as stage

    plan = api.plan(spec_file, [f"model.params={params}", f"tracking.uri={uri}"])
    values = run_here(plan, "evaluate", "profile")
    registry = Registry(uri)
    run_id = registry.start_run(plan.name)
    register = plan.node("register")
    registration = stage.run(**inputs_of(register, values), params=register.params, registry=registry, run_id=run_id)
    if promote and registration.promoted:  # what apply does once every node has succeeded
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


def test_a_champion_promoted_meanwhile_is_compared_again_under_the_store_lock(example, tmp_path):
    """Two applies decide concurrently: the one that finishes second compares with the champion the first
    promoted (its recorded score), and moves the alias only if it still wins."""
    from mlops.runtime.apply import _promote_if_still_better

    spec = example("iris") / "spec.yaml"
    uri = f"sqlite:///{tmp_path / 'race.db'}"
    _register(spec, uri, WEAK)                                         # v1 champion
    late, _ = _register(spec, uri, WEAK, promote=False)                # v2 decided "promote" against v1 (a tie)
    assert late.promoted
    strong, champion = _register(spec, uri, STRONG)                    # v3 promoted meanwhile
    assert champion == strong.version
    registry = Registry(uri)
    assert not _promote_if_still_better(registry, "iris", late, "f1_macro")
    assert registry.by_alias("iris", CHAMPION).version == strong.version
    assert f"v{strong.version} was promoted meanwhile" in late.decision
    better_late, _ = _register(spec, uri, STRONG, promote=False)      # v4 decided "promote" against v3 (a tie)
    weak_meanwhile, _ = _register(spec, uri, WEAK, promote=False)     # a worse v5, then promoted by hand
    registry.promote("iris", weak_meanwhile.version)
    assert _promote_if_still_better(registry, "iris", better_late, "f1_macro")
    assert registry.by_alias("iris", CHAMPION).version == better_late.version


def test_promotion_waits_for_the_store_lock(example, tmp_path):
    """While another process holds the store's promote lock, a promotion does not move the alias."""
    import threading

    from mlops.registry import store_lock
    from mlops.runtime.apply import _promote_if_still_better

    spec = example("iris") / "spec.yaml"
    uri = f"sqlite:///{tmp_path / 'lock.db'}"
    first, _ = _register(spec, uri, WEAK)
    second, _ = _register(spec, uri, STRONG, promote=False)
    holding, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold():
        with store_lock(uri):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    promoter = threading.Thread(target=lambda: (_promote_if_still_better(Registry(uri), "iris", second, "f1_macro"), done.set()))
    promoter.start()
    try:
        assert not done.wait(2.0), "the promotion did not wait for the lock"
        assert Registry(uri).by_alias("iris", CHAMPION).version == first.version
    finally:
        release.set()
        holder.join()
        promoter.join(60)
    assert done.is_set() and Registry(uri).by_alias("iris", CHAMPION).version == second.version
