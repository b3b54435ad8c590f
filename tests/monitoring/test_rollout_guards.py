"""The rollout's decisions as pure functions: guards judged on a step's per-version numbers, steps that
advance only after step_every and min_requests, a breach that rolls back, a bake that finishes or restores."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlops.monitoring.rollout_guards import RolloutState, breaches, decide, ks_distance, prediction_shift
from mlops.spec.rollout import RolloutSpec

SPEC = RolloutSpec(strategy="canary", steps=[10, 50, 100], step_every="10s", min_requests=20, bake="30s")


def numbers(requests=50, errors=0, p99=5.0, classes=None, values=None):
    answered = requests + errors
    return {"requests": answered, "errors": errors, "error_rate": errors / answered if answered else 0.0,
            "latency_p99_ms": p99, "classes": classes, "values": values}


def canary(step=0, phase="canary", started=100.0):
    return RolloutState("iris", "canary", champion="1", challenger="2", phase=phase, step=step, phase_started=started)


SAME = {"setosa": 40, "versicolor": 30, "virginica": 30}


def test_a_step_waits_for_step_every_and_min_requests_then_advances():
    good = {"1": numbers(classes=SAME), "2": numbers(classes=SAME)}
    assert decide(canary(), SPEC, good, now=105).action == "wait"  # 5 s of 10
    few = {"1": numbers(classes=SAME), "2": numbers(requests=5)}
    assert decide(canary(), SPEC, few, now=120).action == "wait"  # 5 requests of 20
    assert decide(canary(), SPEC, good, now=111).action == "advance"
    assert decide(canary(step=1), SPEC, good, now=111).action == "promote"  # the next step is 100%: promote


def test_each_guard_breaches_with_its_reason():
    shifted = {"setosa": 90, "versicolor": 10}
    cases = {
        "error_rate": numbers(errors=3, classes=SAME),
        "prediction_shift": numbers(classes=shifted),
    }
    for guard, challenger in cases.items():
        decision = decide(canary(), SPEC, {"1": numbers(classes=SAME), "2": challenger}, now=101)
        assert decision.action == "rollback" and guard in decision.reason, decision
    slow = RolloutSpec(strategy="canary", guards={"latency_p99_ms_above": 50, "latency_p99_ratio_above": 3})
    found = breaches(slow.guards, numbers(p99=200), numbers(p99=10))
    assert len(found) == 2 and "latency_p99_ms 200.0 above 50" in found[0] and "20.00x" in found[1]


def test_the_metric_guard_waits_for_enough_labels_on_both_versions():
    guards = SPEC.guards  # metric_drop_above 0.05, min_labels 30
    worse = {"2": (0.70, 40), "1": (0.90, 40)}
    assert breaches(guards, numbers(), numbers(), worse, "f1_macro", True, ("2", "1"))
    assert not breaches(guards, numbers(), numbers(), {"2": (0.70, 10), "1": (0.90, 40)}, "f1_macro", True, ("2", "1"))
    lower_is_better = {"2": (3.0, 40), "1": (2.0, 40)}  # rmse: higher is worse
    assert breaches(guards, numbers(), numbers(), lower_is_better, "rmse", False, ("2", "1"))


def test_prediction_shift_needs_enough_predictions_and_measures_distance():
    assert prediction_shift({"classes": {"a": 5}}, {"classes": {"a": 5}}) is None  # too few to say
    assert prediction_shift({"classes": {"a": 50}}, {"classes": {"b": 50}}) == 1.0
    assert prediction_shift({"classes": SAME}, {"classes": SAME}) == 0.0
    assert ks_distance([1, 2, 3, 4], [1, 2, 3, 4]) == 0.0 and ks_distance([1, 2], [3, 4]) == 1.0
    numeric = prediction_shift({"values": [float(i) for i in range(100)]}, {"values": [i + 50.0 for i in range(100)]})
    assert numeric == pytest.approx(0.5)


def test_a_breach_during_bake_restores_and_a_quiet_bake_finishes():
    bake = canary(phase="bake")
    quiet = {"2": numbers(classes=SAME), "1": numbers(classes=SAME)}
    assert decide(bake, SPEC, quiet, now=120).action == "wait"
    assert decide(bake, SPEC, quiet, now=131).action == "finish"
    failing = {"2": numbers(errors=10, classes=SAME), "1": numbers(classes=SAME)}
    assert decide(bake, SPEC, failing, now=120).action == "restore"


def test_shadow_counts_the_champions_requests_and_promotes():
    shadow = canary(phase="shadow")
    numbers_now = {"1": numbers(requests=30, classes=SAME), "2": numbers(requests=0, classes=SAME)}
    assert decide(shadow, SPEC, numbers_now, now=111).action == "promote"


def test_finished_rollouts_and_ab_splits_wait():
    for phase in ("done", "rolled_back", "restored", "ab"):
        assert decide(canary(phase=phase), SPEC, {}, now=1e9).action == "wait"


def test_the_spec_refuses_steps_that_do_not_climb_to_100_and_splits_that_do_not_sum():
    for steps in ([5, 25], [50, 25, 100], [0, 100], []):
        with pytest.raises(ValidationError, match="steps"):
            RolloutSpec(strategy="canary", steps=steps)
    with pytest.raises(ValidationError, match="sum to 100"):
        RolloutSpec(strategy="ab", split={"champion": 50, "challenger": 60})
    with pytest.raises(ValidationError, match="exactly one"):
        RolloutSpec(strategy="ab", sticky={"key": "user", "header": "x-user"})
    assert RolloutSpec().strategy == "direct"  # today's behaviour stays the default


def test_the_state_round_trips_and_knows_when_it_is_finished():
    state = canary()
    assert RolloutState.from_dict(state.to_dict()) == state and state.active
    assert not canary(phase="rolled_back").active


def test_the_prediction_shift_waits_for_min_requests_and_errors_do_not():
    shifted = {"setosa": 90, "versicolor": 10}
    early = {"1": numbers(classes=SAME), "2": numbers(requests=5, classes=shifted)}
    assert decide(canary(), SPEC, early, now=101).action == "wait"  # 5 requests of 20: chance, not a shift yet
    failing = {"1": numbers(classes=SAME), "2": numbers(requests=3, errors=2)}
    assert decide(canary(), SPEC, failing, now=101).action == "rollback"
