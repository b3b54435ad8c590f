"""Which optional extras a spec needs, checked when the spec is loaded (so by `mlops validate` too).

The core install (`pip install mlops`) trains, tracks, registers, batch-scores and serves scikit-learn
models. Everything else comes as an extra; a spec that needs one that is missing is refused before any
work, naming the field that needs it and the command that installs it, instead of failing mid-run (or
in a Serve replica's log). Finding a module is cheap: nothing is imported here.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from mlops.errors import Problem


@dataclass(frozen=True)
class Extra:
    name: str  # the pip extra: mlops[name]
    modules: tuple[str, ...]  # what must be importable


TORCH = Extra("torch", ("torch",))
MONITORING = Extra("monitoring", ("alibi_detect", "pandera"))
TUNE = Extra("tune", ("optuna",))
BOOSTING = Extra("boosting", ("lightgbm", "xgboost"))
EXPLAIN = Extra("explain", ("shap",))
BY_NAME = {extra.name: extra for extra in (TORCH, MONITORING, TUNE, BOOSTING, EXPLAIN)}


def installed(extra: Extra) -> bool:
    """True when every module of the extra can be imported (without importing it)."""
    return all(importlib.util.find_spec(module) is not None for module in extra.modules)


def install_hint(extra: Extra) -> str:
    """The pip command that installs `extra`, from PyPI and from a checkout."""
    return f"pip install 'mlops[{extra.name}]' -c constraints.txt (from a checkout: pip install -e '.[{extra.name}]' -c constraints.txt)"


def missing(extra: Extra, field: str, why: str) -> Problem | None:
    """A problem naming `field` when `extra` is not installed, else None."""
    if installed(extra):
        return None
    return Problem(field, f"{why}, which is not installed", hint=install_hint(extra))


def spec_problems(spec: Any) -> list[Problem]:
    """Every extra the spec needs and this environment lacks, each as a problem at the field that needs it."""
    found = (missing(extra, field, why) for extra, field, why in _needs(spec))
    return [problem for problem in found if problem is not None] + _family_problems(spec.model)


def spec_needs(spec: Any) -> list[Extra]:
    """Every extra the spec uses, installed here or not (what a submitted job must install)."""
    from mlops.plugins import estimators

    needed = [extra for extra, _, _ in _needs(spec)]
    for _, name in _named_families(spec.model):
        needed += [BY_NAME[extra] for extra in estimators.get(name).meta.get("needs", ()) if extra in BY_NAME]
    return list(dict.fromkeys(needed))


def _needs(spec: Any) -> list[tuple[Extra, str, str]]:
    """(extra, field, why) for each part of the spec that needs an extra, estimator families aside."""
    needs: list[tuple[Extra, str, str]] = []
    if spec.model.type == "torch":
        needs.append((TORCH, "model.type", "torch models need PyTorch"))
    if spec.tuning is not None and spec.tuning.search == "optuna":
        needs.append((TUNE, "tuning.search", "search: optuna needs Optuna"))
    validation = spec.validation
    if validation is not None and validation.outliers is not None:  # iforest is scikit-learn's: core
        needs += _detector_needs(validation.outliers.detector, "validation.outliers.detector")
    online = spec.serving.online if spec.serving is not None else None
    if validation is not None and validation.drift is not None and online is not None:
        needs.append((MONITORING, "validation.drift",
                      "the endpoint's drift monitor needs alibi-detect (or set validation.drift: null)"))
        needs += _detector_needs(validation.drift.detector, "validation.drift.detector")
    return needs


def _named_families(model: Any) -> list[tuple[str, str]]:
    """(field, estimator name) of every estimator family the model section names."""
    if model.type == "sklearn":
        return [("model.estimator", model.estimator)]
    return [(f"model.candidates.{i}", name) for i, name in enumerate(getattr(model, "candidates", None) or [])]


def _family_problems(model: Any) -> list[Problem]:
    """Estimator families the spec names whose library an extra brings and is not installed (lightgbm, xgboost)."""
    from mlops.plugins import estimators

    problems = []
    for field, name in _named_families(model):
        entry = estimators.get(name)
        extras = [BY_NAME[extra] for extra in entry.meta.get("needs", ()) if extra in BY_NAME]
        if extras and not getattr(entry.target, "installed", True):
            library = getattr(entry.target, "library", name)
            problems.append(Problem(field, f"estimator {name} needs {library}, which is not installed",
                                    value=name, hint=install_hint(extras[0])))
    return problems


def _detector_needs(name: str, field: str) -> list[tuple[Extra, str, str]]:
    """Extras a registered detector declares (`needs=("monitoring", "torch")`: alibi-detect's on PyTorch)."""
    from mlops.plugins import detectors

    why = {"torch": f"the {name} detector runs on PyTorch", "monitoring": f"the {name} detector is alibi-detect's"}
    return [(BY_NAME[extra], field, why.get(extra, f"the {name} detector needs mlops[{extra}]"))
            for extra in detectors.get(name).meta.get("needs", ()) if extra in BY_NAME]
