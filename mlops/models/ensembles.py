"""Ensembles of a search's best trials: scikit-learn's stacking and soft voting over the members' estimators.

A member is a model section like any trial's ({estimator, params}); the ensemble is one estimator of the
registry (`stacking`, `voting`), so it is fitted, saved, registered, served and explained like any model:
the pipeline's preprocessing runs once, then the members.
"""
from __future__ import annotations

from typing import Any

from mlops.errors import Problem, SpecError

METHODS = ("stacking", "voting")
STACKING_FOLDS = 5  # the out-of-fold predictions the stacking's final model learns from


def fits_per_member(method: str) -> float:
    """Full fits of one member an ensemble's fit costs: voting fits each once; stacking once on every row plus
    once per fold on (k-1)/k of them (k = STACKING_FOLDS)."""
    return 1.0 if method == "voting" else 1.0 + (STACKING_FOLDS - 1)


class EnsembleFactory:
    """Builds a stacking or voting estimator from `params["members"]` (model sections of registered estimators)."""

    def __init__(self, method: str) -> None:
        assert method in METHODS, method
        self.method = method
        self.tasks = ("classification", "regression")

    def __call__(self, task: str, params: dict[str, Any]) -> Any:
        """A new, unfitted ensemble for `task` over `params["members"]`."""
        from mlops.models.estimators import build_estimator

        members = params.get("members") or []
        if len(members) < 2:
            raise SpecError(Problem("model.params.members", f"an ensemble needs at least 2 members, got {len(members)}",
                                    hint="model.ensemble on a `type: auto` model picks them from the search"))
        named = [(f"m{i}_{m['estimator']}", build_estimator({**m, "type": "sklearn", "task": task}))
                 for i, m in enumerate(members)]
        if self.method == "voting":
            from sklearn.ensemble import VotingClassifier, VotingRegressor

            # Soft voting averages probabilities: every built-in classifier family gives them.
            return VotingClassifier(named, voting="soft") if task == "classification" else VotingRegressor(named)
        from sklearn.ensemble import StackingClassifier, StackingRegressor
        from sklearn.linear_model import LogisticRegression, RidgeCV

        if task == "classification":  # the final model learns from the members' out-of-fold probabilities
            return StackingClassifier(named, final_estimator=LogisticRegression(max_iter=1000), cv=STACKING_FOLDS,
                                      stack_method="predict_proba")
        return StackingRegressor(named, final_estimator=RidgeCV(), cv=STACKING_FOLDS)


def can_be_member(model: dict[str, Any]) -> bool:
    """Whether a trial's model section can be an ensemble member: an estimator with params (a torch trial is a
    model type of its own, not one)."""
    return "estimator" in model


def members_of(trials: list[Any], metric: str, mode: str, top_k: int) -> list[Any]:
    """The `top_k` best finished trials, best first, one per distinct configuration."""
    import json

    finished = [t for t in trials if t.status == "ok" and metric in t.metrics and can_be_member(t.model)]
    finished.sort(key=lambda t: t.metrics[metric], reverse=mode == "max")
    chosen, seen = [], set()
    for trial in finished:
        key = json.dumps(trial.model, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
        if len(chosen) == top_k:
            break
    return chosen


def ensemble_section(trials: list[Any], metric: str, mode: str, task: str, ensemble: dict[str, Any]) -> dict[str, Any] | None:
    """The model section of the ensemble of the best trials; None when fewer than two finished."""
    members = members_of(trials, metric, mode, ensemble["top_k"])
    if len(members) < 2:
        return None
    sections = [{"estimator": t.model["estimator"], "params": t.model.get("params", {})} for t in members]
    return {"type": "sklearn", "task": task, "metric": metric, "estimator": ensemble["method"],
            "params": {"members": sections}, "members_from_trials": [t.trial_id for t in members]}
