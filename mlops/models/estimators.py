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
    """Parameters are checked by name, then by type and range (the estimator's own constraints, as
    scikit-learn declares them), and reported at their field (model.params.X) before any work starts."""
    factory = estimators.get(model["estimator"]).target
    names_of = getattr(factory, "param_names", None)
    if names_of is None:
        return
    from mlops.spec.estimator_params import param_problems, recorded_params

    table = recorded_params(getattr(factory, "classes", {}).get(model["task"]))
    found = param_problems(model["estimator"], table, model.get("params", {}), estimator_params(model)) if table else None
    if found is not None:  # a built-in scikit-learn class: its committed table answers, nothing is imported
        if found:
            raise SpecError(found)
        return
    known = names_of(model["task"])
    bad = [Problem(f"model.params.{k}", f"not a parameter of {model['estimator']}",
                   hint=did_you_mean(k, known) or f"known: {', '.join(known)}")
           for k in model.get("params", {}) if k not in known]
    if bad:
        raise SpecError(bad)
    if not getattr(factory, "validates_at_fit", False):  # LightGBM and XGBoost: no constraints to ask beforehand
        _check_constraints(model)


def _check_constraints(model: dict[str, Any]) -> None:
    """scikit-learn validates parameters at fit time; ask it now, on an unfitted instance."""
    import re

    estimator = build_estimator(model)
    validate = getattr(estimator, "_validate_params", None)
    if validate is None or not hasattr(estimator, "_parameter_constraints"):
        return  # declares no constraints (a plugin's estimator, e.g. LightGBM's): it checks at fit time
    try:
        validate()
    except (TypeError, ValueError) as exc:
        named = re.search(r"The '(\w+)' parameter", str(exc))
        field = f"model.params.{named.group(1)}" if named else "model.params"
        value = model.get("params", {}).get(named.group(1)) if named else None
        message = str(exc).split(" Got ")[0].rstrip(".")
        message = re.sub(r"^The '\w+' parameter of \w+ ", "", message)
        raise SpecError(Problem(field, message, value=value)) from None


def build_estimator(model: dict[str, Any]) -> Any:
    """A new, unfitted estimator for the spec's model section."""
    entry = estimators.get(model["estimator"])
    try:
        return entry.load()(model["task"], estimator_params(model))
    except (TypeError, ValueError) as exc:
        raise SpecError(Problem("model.params", f"{model['estimator']} rejected its parameters: {exc}")) from None


# Parameters keyed by class label. A spec writes `class_weight: {0: 1, 1: 5}`, but the plan is JSON, whose
# keys are strings, so the estimator would get {'0': 1, '1': 5} and reject integer labels.
LABEL_KEYED_PARAMS = ("class_weight",)


def key_by_labels(pipeline: Any, y: Any) -> None:
    """Give every label-keyed parameter (at any depth of the pipeline) the training labels' own keys: a key
    that is the text of exactly one label becomes that label; any other key is left for the estimator to name."""
    import pandas as pd

    by_text: dict[str, Any] = {}
    for label in pd.unique(pd.Series(y).dropna()):
        by_text.setdefault(str(label), []).append(label.item() if hasattr(label, "item") else label)
    fixed = {}
    for name, value in pipeline.get_params(deep=True).items():
        if name.rsplit("__", 1)[-1] in LABEL_KEYED_PARAMS and isinstance(value, dict):
            rekeyed = {by_text[k][0] if isinstance(k, str) and len(by_text.get(k, ())) == 1 else k: v
                       for k, v in value.items()}
            if rekeyed != value:
                fixed[name] = rekeyed
    if fixed:
        pipeline.set_params(**fixed)
