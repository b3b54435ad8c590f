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


def fits_per_member(method: str, out_of_fold_given: bool = False) -> float:
    """Full fits of one member an ensemble's fit costs: voting fits each once; stacking once on every row plus,
    unless the search gave its out-of-fold predictions (mlops.stages.out_of_fold), once per fold on (k-1)/k
    of them (k = STACKING_FOLDS)."""
    return 1.0 if method == "voting" or out_of_fold_given else 1.0 + (STACKING_FOLDS - 1)


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
        from mlops.models.stacking import CheckedStackingClassifier, CheckedStackingRegressor

        # the final model learns from the members' out-of-fold predictions, and the stack is kept only when it
        # beats its best member out of fold (params.metric decides; the search's metric for an auto model)
        stacking = CheckedStackingClassifier if task == "classification" else CheckedStackingRegressor
        return stacking(named, metric=params.get("metric"), cv=STACKING_FOLDS)


def can_be_member(model: dict[str, Any]) -> bool:
    """Whether a trial's model section can be an ensemble member: an estimator with params (a torch trial is a
    model type of its own, not one)."""
    return "estimator" in model


def members_of(trials: list[Any], metric: str, mode: str, top_k: int, scale: str = "standard") -> list[Any]:
    """The `top_k` best finished trials, best first, one per distinct configuration. The members share one
    preprocessing, so a scale-sensitive family's trial (scale_sensitive) is one
    only when it scaled the columns as the best such trial did (`scale`: the features section's, for a
    trial that chose none); the others' results do not depend on the scaling."""
    import json

    finished = [t for t in trials if t.status == "ok" and metric in t.metrics and can_be_member(t.model)]
    finished.sort(key=lambda t: t.metrics[metric], reverse=mode == "max")
    chosen, seen, shared = [], set(), None
    for trial in finished:
        key = json.dumps(trial.model, sort_keys=True, default=str)
        if key in seen:
            continue
        if scale_sensitive(trial.model["estimator"]):
            own = scale_of(trial.model, scale)
            if shared is not None and own != shared:
                continue  # under the ensemble's scaling it would be another model than the one scored
            shared = own
        seen.add(key)
        chosen.append(trial)
        if len(chosen) == top_k:
            break
    return chosen


def scale_sensitive(family: str) -> bool:
    """Whether the registry searches the family's scaling (it declares SCALE_KEY in its search space)."""
    from mlops.plugins import estimators
    from mlops.searched_scaling import SCALE_KEY

    return SCALE_KEY in (estimators.get(family).meta.get("search_space") or {})


def scale_of(model: dict[str, Any], default: str) -> str:
    """How a model section's pipeline scales numeric columns: its searched choice, else `default`."""
    return (model.get("preprocessing") or {}).get("scale") or default


def ensemble_section(trials: list[Any], metric: str, mode: str, task: str, ensemble: dict[str, Any],
                     scale: str = "standard") -> dict[str, Any] | None:
    """The model section of the ensemble of the best trials; None when fewer than two finished. `scale`: the
    features section's; the ensemble's pipeline scales as its scale-sensitive members did."""
    members = members_of(trials, metric, mode, ensemble["top_k"], scale)
    if len(members) < 2:
        return None
    sections = [{"estimator": t.model["estimator"], "params": t.model.get("params", {})} for t in members]
    scaled = [scale_of(t.model, scale) for t in members if scale_sensitive(t.model["estimator"])]
    return {"type": "sklearn", "task": task, "metric": metric, "estimator": ensemble["method"],
            "params": {"members": sections, "metric": metric}, "members_from_trials": [t.trial_id for t in members],
            **({"preprocessing": {"scale": scaled[0]}} if scaled else {})}


def combination_of(pipeline: Any, member_ids: list[str]) -> dict[str, Any]:
    """How a fitted stacking pipeline combines its members (mlops.models.stacking): the combination its
    out-of-fold scores chose, the members it uses (`member_ids[i]` names member i) with their weights (None:
    the stack's learnt ones), and each combination's out-of-fold score. Empty for any other model."""
    final = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    if not hasattr(final, "combination_"):
        return {}
    weights = [None] * len(final.used_) if final.weights_ is None else [round(float(w), 4) for w in final.weights_]
    return {"combination": final.combination_, "used": dict(zip([member_ids[i] for i in final.used_], weights)),
            "out_of_fold": {"metric": final.metric_, **{k: float(v) for k, v in final.scores_.items()},
                            "from_search": int(getattr(final, "given_", 0)), "rows": int(getattr(final, "rows_", 0))}}
