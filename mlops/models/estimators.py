"""Build an unfitted estimator from the spec's model section, checking its parameters first."""
from __future__ import annotations

from typing import Any

from mlops.errors import Problem, SpecError, did_you_mean
from mlops.plugins import estimators


def estimator_params(model: dict[str, Any]) -> dict[str, Any]:
    """Registry defaults for the task, overridden by the spec's params."""
    entry = estimators.get(model["estimator"])
    defaults = dict((entry.meta.get("default_params") or {}).get(model["task"], {}))
    return {**defaults, **model.get("params", {})}


def check_params(model: dict[str, Any]) -> None:
    """Unknown parameter names are spec errors (model.params.X), raised before any work starts."""
    factory = estimators.get(model["estimator"]).target
    names_of = getattr(factory, "param_names", None)
    if names_of is None:
        return
    known = names_of(model["task"])
    bad = [Problem(f"model.params.{k}", f"not a parameter of {model['estimator']}",
                   hint=did_you_mean(k, known) or f"known: {', '.join(known)}")
           for k in model.get("params", {}) if k not in known]
    if bad:
        raise SpecError(bad)


def build_estimator(model: dict[str, Any]) -> Any:
    """A new, unfitted estimator for the spec's model section."""
    entry = estimators.get(model["estimator"])
    try:
        return entry.load()(model["task"], estimator_params(model))
    except (TypeError, ValueError) as exc:
        raise SpecError(Problem("model.params", f"{model['estimator']} rejected its parameters: {exc}")) from None
