"""The torch MLP as a family of `model.type: auto` (named `torch`): neural architecture search in the same
Ray Tune run as the scikit-learn and boosting families.

A torch trial fits a `type: torch` model section, not an estimator's params: the registry row's `section`
is its base (epochs, early stopping, optimizer), the searched values land at their dotted paths
(`architecture.depth`, `training.lr`, ...), and `mlops.spec.torch_training.shape_architecture` turns
depth/width/shrink into the `hidden` list. So `model.type: torch` with `tuning` searches the same space
with the same keys, and the winner refits and is saved like any torch model (the torch flavor).

Nothing here imports torch: `installed` only looks for it.
"""
from __future__ import annotations

import importlib.util
from typing import Any

from mlops.errors import Problem, SpecError


class TorchFamily:
    """The estimator registry's entry for the torch family: says whether torch is installed, never builds
    an estimator from params (a torch model is a model section of its own type)."""

    tasks = ("classification", "regression")

    @property
    def installed(self) -> bool:
        """torch can be imported here (found without importing it)."""
        return importlib.util.find_spec("torch") is not None

    def __call__(self, task: str, params: dict[str, Any]) -> Any:
        raise SpecError(Problem("model.estimator", "torch is a model type of its own, not an estimator",
                                hint="write model.type: torch (with architecture and training), or list torch "
                                     "in a `type: auto` model's candidates"))
