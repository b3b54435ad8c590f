"""Spec domains ({randint: [1, 10]}) -> Ray Tune domains or Optuna suggestions; trial config -> model section.

Trial configs are flat: {"params.max_depth": 8}; for `type: auto` each key is prefixed by its family
("random_forest:params.max_depth") and "estimator" names the family the trial fits.
"""
from __future__ import annotations

import copy
from typing import Any

from mlops.errors import Problem, SpecError, did_you_mean
from mlops.searched_scaling import SCALE_KEY

FAMILY_KEY = "estimator"


def _kind(domain: dict[str, Any]) -> tuple[str, list[Any]]:
    (kind, args), = domain.items()
    return kind, args


def ray_domain(domain: dict[str, Any], grid: bool = False) -> Any:
    """A Ray Tune domain; with grid=True, choice lists are enumerated like grid lists."""
    from ray import tune

    kind, args = _kind(domain)
    if kind == "grid" or (grid and kind == "choice"):
        return tune.grid_search(list(args))
    if kind == "choice":
        return tune.choice(list(args))
    if kind == "uniform":
        return tune.uniform(*args)
    if kind == "loguniform":
        return tune.loguniform(*args)
    if kind == "randint":
        return tune.randint(*args)
    if kind == "lograndint":
        return tune.lograndint(*args)
    assert kind == "qrandint", kind
    return tune.qrandint(*args)


def ray_param_space(space: dict[str, Any], auto: bool, grid: bool = False) -> dict[str, Any]:
    """The Tuner's param_space (random and grid search)."""
    from ray import tune

    if not auto:
        return {key: ray_domain(d, grid) for key, d in space.items()}
    # Every family's keys are sampled in every trial; a trial only reads its own family's.
    flat: dict[str, Any] = {FAMILY_KEY: tune.choice(list(space))}
    for family, family_space in space.items():
        flat.update({f"{family}:{key}": ray_domain(d) for key, d in family_space.items()})
    return flat


def suggest(trial: Any, name: str, domain: dict[str, Any]) -> Any:
    """Ask an Optuna trial for one value of `domain` (randint's high is exclusive, as in Ray Tune)."""
    kind, args = _kind(domain)
    if kind in ("choice", "grid"):
        return trial.suggest_categorical(name, list(args))
    if kind == "uniform":
        return trial.suggest_float(name, args[0], args[1])
    if kind == "loguniform":
        return trial.suggest_float(name, args[0], args[1], log=True)
    if kind == "randint":
        return trial.suggest_int(name, args[0], args[1] - 1)
    if kind == "lograndint":
        return trial.suggest_int(name, args[0], args[1] - 1, log=True)
    return trial.suggest_int(name, args[0], args[1], step=args[2])


class OptunaSpace:
    """Define-by-run space for OptunaSearch: for auto, a family first, then only that family's keys.

    A class, not a closure: Tune pickles the searcher (with its space) into the experiment state.
    """

    def __init__(self, space: dict[str, Any], auto: bool):
        self.space, self.auto = space, auto

    def __call__(self, trial: Any) -> None:
        if not self.auto:
            for key, d in self.space.items():
                suggest(trial, key, d)
            return
        family = trial.suggest_categorical(FAMILY_KEY, list(self.space))
        for key, d in self.space[family].items():
            suggest(trial, f"{family}:{key}", d)


def first_configs(start: list[dict[str, Any]], auto: bool) -> list[dict[str, Any]]:
    """The plan's start points (cheapest first) as trial configs: the search runs these before it samples."""
    if not auto:
        return [dict(point["values"]) for point in start]
    return [{FAMILY_KEY: point["family"], **{f"{point['family']}:{k}": v for k, v in point["values"].items()}}
            for point in start]


def model_section(base: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The model section a trial fits: the spec's, with the trial's values at their dotted paths. For auto, the
    family's: an estimator with params, or a section of the family's own model type (torch: the registry's
    `section` as its base); a torch section's searched depth/width/shrink become its `hidden` layers."""
    family = config.get(FAMILY_KEY) if base["type"] == "auto" else None
    if family is None:
        section, values = copy.deepcopy(base), config
    else:
        section = _family_base(family, base)
        values = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{family}:")}
    for key, value in values.items():
        set_dotted(section, key, value)
    if section["type"] == "torch":
        from mlops.spec.torch_training import shape_architecture

        section = shape_architecture(section)
    return section


def _family_base(family: str, base: dict[str, Any]) -> dict[str, Any]:
    from mlops.plugins import estimators

    meta = estimators.get(family).meta
    own = {"task": base["task"], "metric": base["metric"]}
    if meta.get("model_type", "sklearn") != "sklearn":
        return {**copy.deepcopy(meta.get("section") or {}), "type": meta["model_type"], **own}
    return {"type": "sklearn", **own, "estimator": family, "params": {}}


def set_dotted(section: dict[str, Any], key: str, value: Any) -> None:
    """section[a][b][c] = value for key 'a.b.c', creating the mappings on the way."""
    node = section
    *parents, leaf = key.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[leaf] = value


def trial_params(config: dict[str, Any]) -> dict[str, Any]:
    """The values a trial chose, without other families' keys (what the leaderboard and MLflow show)."""
    family = config.get(FAMILY_KEY)
    if family is None:
        return dict(config)
    return {FAMILY_KEY: family, **{k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{family}:")}}


def _preprocessing_problems(field: str, key: str, domain: Any) -> list[Problem]:
    """A searched preprocessing setting is SCALE_KEY, chosen among features.scale's values."""
    from typing import get_args

    from mlops.spec.features import FeaturesSpec

    if key != SCALE_KEY:
        return [Problem(field, "not a searchable preprocessing setting", hint=f"searchable: {SCALE_KEY}")]
    scales = get_args(FeaturesSpec.model_fields["scale"].annotation)
    raw = domain.model_dump(exclude_none=True) if hasattr(domain, "model_dump") else dict(domain)
    (kind, values), = raw.items()
    if kind not in ("choice", "grid"):
        return [Problem(field, f"a scaling is chosen, not drawn from a range: use {{choice: [...]}} of {', '.join(scales)}")]
    bad = [v for v in values if v not in scales]
    return [Problem(field, f"not a scaling: {', '.join(map(repr, bad))}", hint=f"one of {', '.join(scales)}")] if bad else []


def check_space(spec: Any) -> None:
    """Preflight: searched params.* names exist on their estimator (optuna's presence: mlops.extras)."""
    from mlops.plugins import estimators

    problems = []
    tuning = spec.tuning
    if spec.model.type == "sklearn" and tuning is not None:
        spaces = {("tuning.search_space", spec.model.estimator): tuning.search_space}
    elif spec.model.type == "auto":
        spaces = {(f"model.search_space.{f}", f): s for f, s in spec.model.search_space.items()}
    else:
        spaces = {}
    for (where, estimator), space in spaces.items():
        names_of = getattr(estimators.get(estimator).target, "param_names", None)
        known = names_of(spec.model.task) if names_of else None
        for key in space:
            name = key.split(".", 1)[1]
            if key.startswith("preprocessing."):
                problems += _preprocessing_problems(f"{where}.{key}", key, space[key])
            if known is not None and key.startswith("params.") and name not in known:
                problems.append(Problem(f"{where}.{key}", f"not a parameter of {estimator}",
                                        hint=did_you_mean(name, known) or f"known: {', '.join(known)}"))
    if problems:
        raise SpecError(problems)
