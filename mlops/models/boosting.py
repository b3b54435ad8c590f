"""Gradient-boosting libraries (LightGBM, XGBoost) as estimator families: their factories, the parameter names
a spec may give them (recorded here, so `mlops validate` imports neither library), and early stopping.

The libraries come with the `boosting` extra (`pip install 'mlops[boosting]'`); without it the families are
still registered (a spec naming one is refused with the install command) but never join `model.type: auto`.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

# The scikit-learn API's parameters of each library (get_params() of its classifier and regressor, the same
# names for both; tests/models/test_boosting.py compares them with the installed library), plus the native
# LightGBM parameters its estimators take as keyword arguments.
LIGHTGBM_KWARGS = ("verbose", "max_bin", "min_data_in_bin", "extra_trees", "path_smooth", "linear_tree",
                   "feature_fraction_bynode", "max_cat_to_onehot", "cat_smooth", "drop_rate", "skip_drop",
                   "max_drop", "top_rate", "other_rate")
PARAM_NAMES = {
    "lightgbm": ("boosting_type", "class_weight", "colsample_bytree", "importance_type", "learning_rate", "max_depth",
                 "min_child_samples", "min_child_weight", "min_split_gain", "n_estimators", "n_jobs", "num_leaves",
                 "objective", "random_state", "reg_alpha", "reg_lambda", "subsample", "subsample_for_bin",
                 "subsample_freq") + LIGHTGBM_KWARGS,
    "xgboost": ("base_score", "booster", "callbacks", "colsample_bylevel", "colsample_bynode", "colsample_bytree",
                "device", "early_stopping_rounds", "enable_categorical", "eval_metric", "feature_types",
                "feature_weights", "gamma", "grow_policy", "importance_type", "interaction_constraints",
                "learning_rate", "max_bin", "max_cat_threshold", "max_cat_to_onehot", "max_delta_step", "max_depth",
                "max_leaves", "min_child_weight", "missing", "monotone_constraints", "multi_strategy", "n_estimators",
                "n_jobs", "num_parallel_tree", "objective", "random_state", "reg_alpha", "reg_lambda",
                "sampling_method", "scale_pos_weight", "subsample", "tree_method", "validate_parameters", "verbosity"),
}


def patience(rounds: int) -> int:
    """Rounds without improvement on the validation part before a trial's boosting stops: 10% of its cap, 10-50."""
    return min(50, max(10, rounds // 10))


@dataclass(frozen=True)
class BoostingFactory:
    """Builds a LightGBM or XGBoost estimator per task from 'module:Class' references (imported only then)."""

    library: str  # the module the family needs: lightgbm | xgboost
    references: dict[str, str] = field(default_factory=dict)  # task -> 'module:Class'
    validates_at_fit = True  # the libraries declare no parameter constraints to check before a fit (class constant)

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this factory has a class for."""
        return tuple(self.references)

    @property
    def installed(self) -> bool:
        """The library can be imported here (found without importing it)."""
        return importlib.util.find_spec(self.library) is not None

    def estimator_class(self, task: str) -> type:
        """The estimator class for `task` (imports the library)."""
        module, _, name = self.references[task].partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, task: str, params: dict[str, Any]) -> Any:
        """A new, unfitted estimator for `task` with `params`."""
        return self.estimator_class(task)(**params)

    def param_names(self, task: str) -> list[str]:
        """The parameter names a spec may give (recorded: nothing is imported)."""
        return sorted(PARAM_NAMES[self.library])

    def fit_early_stopping(self, estimator: Any, X: Any, y: Any, X_val: Any, y_val: Any) -> dict[str, int]:
        """Fit `estimator` on (X, y), stopping when its loss on (X_val, y_val) stops improving; returns the
        parameters the fit settled (the boosting rounds it kept), which a refit on more rows reuses."""
        cap = int(estimator.get_params()["n_estimators"])
        if self.library == "lightgbm":
            import warnings

            import lightgbm

            # eval_set, deprecated for eval_X/eval_y: LightGBM 4.7's classifier encodes only eval_set's labels
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*'eval_set' is deprecated")
                estimator.fit(X, y, eval_set=[(X_val, y_val)],
                              callbacks=[lightgbm.early_stopping(patience(cap), first_metric_only=True, verbose=False)])
            return {"n_estimators": max(int(estimator.best_iteration_ or cap), 1)}
        estimator.set_params(early_stopping_rounds=patience(cap))
        estimator.fit(X, y, eval_set=[(X_val, y_val)], verbose=False)
        best = getattr(estimator, "best_iteration", None)
        return {"n_estimators": cap if best is None else int(best) + 1}


def boosting_estimator(library: str, **references: str) -> BoostingFactory:
    """`boosting_estimator("lightgbm", classification="lightgbm:LGBMClassifier", ...)`: a registry factory."""
    assert library in PARAM_NAMES, library
    return BoostingFactory(library, dict(references))
