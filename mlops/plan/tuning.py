"""The tune node: Ray Tune over the spec's search space (or auto's families), feeding `train`. Pure."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from mlops.errors import Problem, SpecError
from mlops.metrics import METRICS
from mlops.plan.graph import Node
from mlops.plan.storage import storage_location
from mlops.spec.tuning import AUTO_DEFAULTS, Domain, TuningSpec, domain_contains
from mlops.searched_scaling import SCALE_KEY


def effective_tuning(spec) -> TuningSpec:
    """The tuning section, or auto's defaults (a sample count and a time budget) when it is omitted."""
    if spec.tuning is not None:
        return spec.tuning
    return TuningSpec(**AUTO_DEFAULTS)


def resolved_space(spec) -> dict[str, Any]:
    """Search space as plain data: {key: {kind: args}}, or for auto {family: {key: {kind: args}}}."""
    from mlops.plugins import estimators

    if spec.model.type == "torch" and not effective_tuning(spec).search_space:
        return dict(estimators.get("torch").meta["search_space"])  # the architecture search auto's torch family runs
    if spec.model.type != "auto":
        return {key: domain.model_dump(exclude_none=True) for key, domain in effective_tuning(spec).search_space.items()}

    spaces = {}
    for family in spec.model.candidates:
        if family in spec.model.search_space:
            space = {k: d.model_dump(exclude_none=True) for k, d in spec.model.search_space[family].items()}
        else:
            space = dict(estimators.get(family).meta.get("search_space") or {})
            if "scale" in spec.features.model_fields_set:  # the spec chose the scaling: it is not searched
                space.pop(SCALE_KEY, None)
            for key, raw in space.items():  # a plugin's space is checked like a spec's
                try:
                    Domain.model_validate(raw)
                except ValueError as exc:
                    raise SpecError(Problem("model.candidates", f"estimator '{family}' registers an invalid search space "
                                            f"at {key}: {exc}", value=family)) from None
        spaces[family] = space
    return spaces


def start_points(spec, space: dict[str, Any]) -> list[dict[str, Any]]:
    """auto: the first trials. Each family's low-cost configuration (few, small trees), cheapest family first,
    then those of the families whose scaling is searched under their other scalings, then the families'
    portfolio configurations in the same order; values outside the space (a spec's own
    model.search_space.FAMILY) are left to the search to sample."""
    if spec.model.type != "auto":
        return []
    from mlops.plugins import estimators

    cheap, rescaled, portfolio = [], [], []
    for order, family in enumerate(space):
        meta = estimators.get(family).meta
        rank = (meta.get("cost", 1), order)
        values = _inside(space[family], meta.get("low_cost") or {})
        cheap.append((rank, {"family": family, "values": values}))
        # the same cheap configuration under each other searched scaling: as cheap, and on data whose columns
        # share a unit (pixels, counts) worth more than any of its hyperparameters (docs/automl.md)
        rescaled += [(rank, {"family": family, "values": {**values, SCALE_KEY: scale}, "rescaled": True})
                     for scale in _other_scales(space[family], values)]
        portfolio += [(rank, {"family": family, "values": _inside(space[family], config), "portfolio": True})
                      for config in meta.get("portfolio") or ()]
    return [point for points in (cheap, rescaled, portfolio) for _, point in sorted(points, key=lambda p: p[0])]


def _other_scales(space: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """The scalings a family's space chooses among, but the one its cheap configuration has."""
    domain = space.get(SCALE_KEY) or {}
    return [scale for scale in domain.get("choice") or () if SCALE_KEY in values and scale != values[SCALE_KEY]]


def _inside(space: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The values of `config` that `space` (one family's) can produce."""
    return {key: value for key, value in config.items() if key in space and domain_contains(space[key], value)}


def row_limits(spec, space: dict[str, Any]) -> dict[str, int]:
    """auto with its default candidates: the families searched only up to a number of training rows (the
    registry's auto_max_rows; the tune stage leaves them out on more). Families a spec lists are always searched."""
    if spec.model.type != "auto":
        return {}
    from mlops.plugins import estimators
    from mlops.spec.model import auto_candidates

    if list(spec.model.candidates) != auto_candidates(spec.model.task):
        return {}
    limits = {family: estimators.get(family).meta.get("auto_max_rows") for family in space}
    return {family: int(limit) for family, limit in limits.items() if limit}


def trial_resources(spec) -> tuple[dict[str, float], dict[str, str]]:
    """What one trial asks for, and the spec field each amount comes from (for feasibility messages).
    tuning.cpus_per_trial: auto asks for hardware.cpus_per_task; the tune stage may widen it at run time."""
    hw = spec.hardware
    if spec.model.type == "torch":  # a trial trains in its own process, like one Ray Train worker
        res, fields = {"CPU": float(hw.cpus_per_worker)}, {"CPU": "hardware.cpus_per_worker", "GPU": "hardware.gpus_per_worker"}
        if hw.gpus_per_worker:
            res["GPU"] = float(hw.gpus_per_worker)
    else:
        cpus = effective_tuning(spec).cpus_per_trial
        chosen = cpus != "auto"
        res = {"CPU": float(cpus if chosen else hw.cpus_per_task)}
        fields = {"CPU": "tuning.cpus_per_trial" if chosen else "hardware.cpus_per_task", "GPU": "hardware.gpus_per_task"}
        if hw.gpus_per_task:
            res["GPU"] = float(hw.gpus_per_task)
    if hw.memory_per_task_gb:
        res["memory_gb"] = float(hw.memory_per_task_gb)
        fields["memory_gb"] = "hardware.memory_per_task_gb"
    res.update(hw.resources_per_task)
    fields.update({name: f"hardware.resources_per_task.{name}" for name in hw.resources_per_task})
    return res, fields


def tune_nodes(spec, base_dir: Path, train: Node) -> list[Node]:
    """The tune node (reading what `train` reads), and `train` refitting the best trial's configuration on the
    whole train split: the same inputs, plus the search's `outcome`."""
    tuning = effective_tuning(spec)
    metric = spec.model.metric
    resources, fields = trial_resources(spec)
    space = resolved_space(spec)
    trials = tuning.trials()
    tune = Node("tune", "tune", dict(train.inputs), {
        "model": spec.model.model_dump(mode="json"), "features": spec.features.as_params(),
        "tuning": tuning.model_dump(mode="json", exclude={"search_space"}), "space": space,
        "metric": metric, "mode": "max" if METRICS[metric].greater_is_better else "min", "trials": trials,
        "search": tuning.search, "scheduler": tuning.scheduler,
        "max_concurrent_trials": spec.hardware.max_concurrent_trials, "max_failures": spec.hardware.max_failures,
        "trial_resources": resources, "resource_fields": fields, "start": start_points(spec, space),
        "row_limits": row_limits(spec, space),
    }, resources, placement="driver",  # Tuner.fit() drives its trials from here; trials are Ray actors
        runtime={"storage": storage_location(spec.hardware.storage, base_dir, "tune")})
    # The retrain keeps the model type's own training (a Ray task, or Ray Train from the driver): train_best
    # applies the best configuration to the model section, then runs `base_kind` as usual.
    retrain = Node(train.id, "train_best", {**train.inputs, "outcome": "tune"}, {**train.params, "base_kind": train.kind},
                   train.resources, train.placement, runtime=train.runtime)
    return [tune, retrain]


def describe_trials(node: Node) -> str:
    """One line for `mlops plan`: trial count and size, search, scheduler, concurrency, budget."""
    p = node.params
    each = ", ".join(f"{k}={v:g}" for k, v in node.resources.items())
    parts = [f"{p['trials']} trials x ({each})", f"search={p['search']}", f"scheduler={p['scheduler']}"]
    if p["max_concurrent_trials"]:
        parts.append(f"<= {p['max_concurrent_trials']} at once")
    if p["tuning"]["time_budget_s"]:
        covers = " for the whole apply" if p["tuning"].get("time_budget_covers") == "apply" else ""
        parts.append(f"budget {p['tuning']['time_budget_s']:g}s{covers}")
    if p["model"]["type"] != "torch" and p["tuning"].get("cpus_per_trial", "auto") == "auto":
        parts.append("cpus per trial: auto")
    if p["model"]["type"] == "auto":
        parts.append(f"families: {', '.join(p['space'])}")
    if p.get("start"):
        first = [point for point in p["start"] if not point.get("portfolio") and not point.get("rescaled")]
        parts.append(f"cheap first: {', '.join(point['family'] for point in first)}")
        rescaled = [point for point in p["start"] if point.get("rescaled")]
        if rescaled:
            parts.append("then rescaled: " + ", ".join(f"{point['family']} ({point['values'][SCALE_KEY]})" for point in rescaled))
        portfolio = Counter(point["family"] for point in p["start"] if point.get("portfolio"))
        if portfolio:
            parts.append(f"then a portfolio: {', '.join(f'{family} x{n}' for family, n in portfolio.items())}")
    if p.get("row_limits"):
        parts.append("on small data only: " + ", ".join(f"{f} (<= {n:,} rows)" for f, n in p["row_limits"].items()))
    return ", ".join(parts)
