"""Checks that need the model's library, run before any work: the estimator's parameters (names, types,
ranges, by scikit-learn's own constraints) and, when the spec searches, the search space."""
from __future__ import annotations

from typing import Any


def check_model(spec: Any) -> None:
    """Raise a SpecError naming each bad `model.params.*` or search-space field."""
    from mlops.models.estimators import check_params

    if spec.model.type == "sklearn":
        check_params(spec.model.model_dump())
    if spec.tuning is not None or spec.model.type == "auto":
        from mlops.stages.search_space import check_space

        check_space(spec)
