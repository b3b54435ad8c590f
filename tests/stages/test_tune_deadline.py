"""When a search ends: its own budget, or the apply's less what follows the search (the refit estimated from
the trials' reported results)."""
from __future__ import annotations

import pytest

from mlops.stages.tune import AFTER_SEARCH_S, REFIT_MARGIN, _RefitEstimate, search_deadline


def test_a_search_budget_counts_from_the_search_and_an_apply_budget_from_the_apply():
    assert search_deadline({"time_budget_s": None}, 100.0, 150.0) is None
    assert search_deadline({"time_budget_s": 60, "time_budget_covers": "search"}, 100.0, 150.0) == 210.0
    assert search_deadline({"time_budget_s": 60}, None, 150.0) == 210.0  # a budget of the search by default
    covers = {"time_budget_s": 60, "time_budget_covers": "apply"}
    assert search_deadline(covers, 100.0, 110.0) == 160.0 - AFTER_SEARCH_S
    assert search_deadline(covers, None, 110.0) == 170.0  # no apply start known (a direct call): the search's
    # Start-up took the whole budget: the search still gets a tenth of it, at least a second
    assert search_deadline(covers, 100.0, 200.0) == pytest.approx(206.0)
    assert search_deadline({"time_budget_s": 5, "time_budget_covers": "apply"}, 100.0, 200.0) == 201.0


def test_the_refit_estimate_is_one_fit_of_the_best_trial_so_far():
    estimate = _RefitEstimate("rmse", "min", per_fold=True, torch_model=False)
    assert estimate.seconds() == 0.0  # nothing reported yet
    estimate.add("a", {"rmse": 2.0, "time_total_s": 30.0, "training_iteration": 3, "config": {"estimator": "knn"}})
    estimate.add("b", {"rmse": 1.0, "time_total_s": 10.0, "training_iteration": 5, "config": {"estimator": "lightgbm"}})
    assert estimate.seconds() == pytest.approx(2.0 * REFIT_MARGIN)  # b's five folds took 10 s: one fit 2 s
    # A torch trial reports epochs of one fit: its whole time is the fit's
    estimate.add("c", {"rmse": 0.5, "time_total_s": 12.0, "training_iteration": 40, "config": {"estimator": "torch"}})
    assert estimate.seconds() == pytest.approx(12.0 * REFIT_MARGIN)
    estimate.add("c", {"rmse": 0.5, "time_total_s": float("nan")})  # a result without a time changes nothing
    assert estimate.seconds() == pytest.approx(12.0 * REFIT_MARGIN)
    higher = _RefitEstimate("roc_auc", "max", per_fold=False, torch_model=False)
    higher.add("a", {"roc_auc": 0.9, "time_total_s": 4.0, "training_iteration": 3})
    higher.add("b", {"roc_auc": 0.8, "time_total_s": 1.0, "training_iteration": 1})
    assert higher.seconds() == pytest.approx(4.0 * REFIT_MARGIN)  # hold-out rungs: the trial's whole time
    # A trial that reports its fits' seconds is taken at its word (its own time holds its worker's imports)
    higher.add("c", {"roc_auc": 0.95, "time_total_s": 6.0, "training_iteration": 3, "fit_seconds": 0.5,
                     "config": {"estimator": "ridge"}})
    assert higher.seconds() == pytest.approx(0.5 * REFIT_MARGIN)


def test_a_search_the_apply_left_no_time_says_which_budget_to_raise():
    from mlops.errors import MlopsError
    from mlops.stages.tune import _left_for_the_search, best_trial

    assert _left_for_the_search({"time_budget_s": 20, "time_budget_covers": "search"}, 100.0, 120.0) is None
    why = _left_for_the_search({"time_budget_s": 20, "time_budget_covers": "apply"}, 100.0, 102.0)
    with pytest.raises(MlopsError) as caught:
        best_trial([], "f1_macro", "max", why)
    said = str(caught.value)
    assert "tuning.time_budget_s: the apply's 20 s left the search 2.0 s after start-up" in said
    assert f"the {AFTER_SEARCH_S:g} s kept for what follows it" in said and "time_budget_covers: search" in said


def test_an_ensembles_refit_estimate_is_its_members_fits_as_often_as_the_method_fits_them():
    from mlops.models.ensembles import STACKING_FOLDS

    def estimate(method: str, top_k: int = 2, given: bool = False) -> _RefitEstimate:
        found = _RefitEstimate("rmse", "min", per_fold=False, torch_model=False,
                               ensemble={"top_k": top_k, "method": method}, out_of_fold_given=given)
        found.add("a", {"rmse": 1.0, "time_total_s": 3.0, "config": {"estimator": "lightgbm"}})
        found.add("t", {"rmse": 1.2, "time_total_s": 20.0, "config": {"estimator": "torch"}})  # never a member
        found.add("b", {"rmse": 1.5, "time_total_s": 2.0, "config": {"estimator": "xgboost"}})
        found.add("c", {"rmse": 3.0, "time_total_s": 50.0, "config": {"estimator": "random_forest"}})  # not in the top 2
        return found

    assert estimate("voting").seconds() == pytest.approx(5.0)
    assert estimate("stacking").seconds() == pytest.approx(5.0 * STACKING_FOLDS)
    # given the search's out-of-fold predictions, a stacking fits each member once, on every row
    assert estimate("stacking", given=True).seconds() == pytest.approx(5.0)
    assert estimate("voting", top_k=3).seconds() == pytest.approx(55.0)
    torch_best = estimate("stacking")
    torch_best.add("t", {"rmse": 0.5, "time_total_s": 20.0, "config": {"estimator": "torch"}})
    assert torch_best.seconds() == pytest.approx(20.0 * REFIT_MARGIN)  # the best is a network: refitted alone
    alone = _RefitEstimate("rmse", "min", per_fold=False, torch_model=False, ensemble={"top_k": 5, "method": "voting"})
    alone.add("a", {"rmse": 1.0, "time_total_s": 3.0, "config": {"estimator": "lightgbm"}})
    assert alone.seconds() == pytest.approx(3.0 * REFIT_MARGIN)  # one member: the best trial is refitted alone


def test_a_model_slow_to_predict_adds_the_evaluation_past_its_share():
    """Permutation importance predicts at least MIN_ROWS x MIN_REPEATS rows per column; past PREDICT_BUDGET_S
    (inside AFTER_SEARCH_S) that is time the search must leave, from the trials' seconds per predicted row."""
    from mlops.explain.importance import MIN_REPEATS, MIN_ROWS, PREDICT_BUDGET_S
    from mlops.stages.trial import PREDICT_SECONDS

    def estimate(ensemble=None, evaluated=(450, 64)) -> _RefitEstimate:
        found = _RefitEstimate("accuracy", "max", per_fold=True, torch_model=False, ensemble=ensemble,
                               out_of_fold_given=True, evaluated=evaluated)
        found.add("svm", {"accuracy": 0.98, "time_total_s": 5.0, "fit_seconds": 0.2, PREDICT_SECONDS: 2e-5,
                          "config": {"estimator": "svm"}})
        found.add("gbm", {"accuracy": 0.96, "time_total_s": 9.0, "fit_seconds": 1.0, PREDICT_SECONDS: 1.6e-4,
                          "config": {"estimator": "lightgbm"}})
        return found

    floor = MIN_ROWS * MIN_REPEATS * 64
    assert floor * 2e-5 < PREDICT_BUDGET_S  # the svm alone keeps to the importance's budget: nothing added
    assert estimate().seconds() == pytest.approx(0.2 * REFIT_MARGIN)
    stacked = estimate({"top_k": 5, "method": "stacking"})  # predicts through both members: past its budget
    assert stacked.seconds() == pytest.approx(1.2 + floor * 1.8e-4 - PREDICT_BUDGET_S)
    small = estimate({"top_k": 5, "method": "stacking"}, evaluated=(100, 64))  # fewer test rows than the floor
    assert small.seconds() == pytest.approx(1.2 + max(100 * MIN_REPEATS * 64 * 1.8e-4 - PREDICT_BUDGET_S, 0.0))
    assert estimate({"top_k": 5, "method": "stacking"}, evaluated=None).seconds() == pytest.approx(1.2)


def test_the_stopper_publishes_its_stop_time_for_the_trials(ray_local):
    """The stop time the stopper decides (the deadline less the refit's estimate) is what the trials read:
    they leave their fits at it instead of fitting on to the deadline they were given."""
    import time

    from mlops.stages.search_clock import SearchClock
    from mlops.stages.tune import _deadline_stopper

    clock, deadline = SearchClock(), time.time() + 100
    refit = _RefitEstimate("rmse", "min", per_fold=False, torch_model=False)
    stopper = _deadline_stopper(deadline, refit, 0.0, clock)
    try:
        assert stopper.stop_all() is False
        assert clock.stop_at() == pytest.approx(deadline)  # nothing reported yet: the deadline itself
        stopper("a", {"rmse": 1.0, "time_total_s": 10.0, "training_iteration": 1, "fit_seconds": 40.0})
        assert stopper.stop_all() is False
        assert SearchClock(clock.key).stop_at() == pytest.approx(deadline - 40.0 * REFIT_MARGIN)  # as a trial reads it
        stopper("b", {"rmse": 0.5, "time_total_s": 200.0, "training_iteration": 1, "fit_seconds": 200.0})
        assert stopper.stop_all() is True  # the refit of b would not fit before the deadline: stop now
        assert clock.stop_at() <= time.time()
    finally:
        clock.close()
