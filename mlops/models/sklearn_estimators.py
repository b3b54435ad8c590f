"""Factories for scikit-learn-API estimators; the class is imported only when a model is built."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SklearnFactory:
    """Builds an estimator for a task from 'module:Class' references, one per supported task."""

    classes: dict[str, str]

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this factory has a class for."""
        return tuple(self.classes)

    def estimator_class(self, task: str) -> type:
        """The estimator class for `task`, imported from its 'module:Class' reference."""
        module, _, name = self.classes[task].partition(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, task: str, params: dict[str, Any]) -> Any:
        """A new, unfitted estimator for `task` with `params`."""
        if params.get("probability"):
            import warnings

            # scikit-learn 1.9 deprecates SVC(probability=True) (svm's classification default, what gives it
            # predict_proba) for removal in 1.11; constraints.txt pins 1.9. Said on every fit of every trial.
            warnings.filterwarnings("ignore", message="The `probability` parameter was deprecated", category=FutureWarning)
        return self.estimator_class(task)(**params)

    def param_names(self, task: str) -> list[str]:
        """The parameter names of `task`'s estimator class, sorted."""
        return sorted(self.estimator_class(task)().get_params())


def sklearn_estimator(**classes: str) -> SklearnFactory:
    """`sklearn_estimator(classification="sklearn.svm:SVC")`: a factory the estimator registry holds."""
    return SklearnFactory(classes)
