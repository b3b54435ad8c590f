"""The tune node: Ray Tune over the spec's search space (or auto's families), feeding `train`. Pure."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import Problem, SpecError
from mlops.metrics import METRICS
from mlops.plan.graph import Node
from mlops.spec.tuning import AUTO_DEFAULTS, Domain, TuningSpec


def effective_tuning(spec) -> TuningSpec:
    """The tuning section, or auto's defaults (a sample count and a time budget) when it is omitted."""
    if spec.tuning is not None:
        return spec.tuning
    return TuningSpec(**AUTO_DEFAULTS)


def resolved_space(spec) -> dict[str, Any]:
    """Search space as plain data: {key: {kind: args}}, or for auto {family: {key: {kind: args}}}."""
    if spec.model.type != "auto":
        return {key: domain.model_dump(exclude_none=True) for key, domain in effective_tuning(spec).search_space.items()}
    from mlops.plugins import estimators

    spaces = {}
    for family in spec.model.candidates:
        if family in spec.model.search_space:
            space = {k: d.model_dump(exclude_none=True) for k, d in spec.model.search_space[family].items()}
        else:
            space = dict(estimators.get(family).meta.get("search_space") or {})
            for key, raw in space.items():  # a plugin's space is checked like a spec's
                try:
                    Domain.model_validate(raw)
                except ValueError as exc:
                    raise SpecError(Problem("model.candidates", f"estimator '{family}' registers an invalid search space "
                                            f"at {key}: {exc}", value=family)) from None
        spaces[family] = space
    return spaces


def trial_resources(spec) -> tuple[dict[str, float], dict[str, str]]:
    """What one trial asks for, and the spec field each amount comes from (for feasibility messages)."""
    hw = spec.hardware
    if spec.model.type == "torch":  # a trial trains in its own process, like one Ray Train worker
        res, fields = {"CPU": float(hw.cpus_per_worker)}, {"CPU": "hardware.cpus_per_worker", "GPU": "hardware.gpus_per_worker"}
        if hw.gpus_per_worker:
            res["GPU"] = float(hw.gpus_per_worker)
    else:
        res, fields = {"CPU": float(hw.cpus_per_task)}, {"CPU": "hardware.cpus_per_task", "GPU": "hardware.gpus_per_task"}
        if hw.gpus_per_task:
            res["GPU"] = float(hw.gpus_per_task)
    if hw.memory_per_task_gb:
        res["memory_gb"] = float(hw.memory_per_task_gb)
        fields["memory_gb"] = "hardware.memory_per_task_gb"
    return res, fields


def tune_nodes(spec, base_dir: Path, train: Node) -> list[Node]:
    """The tune node, and `train` rewired to retrain the best trial's configuration on the whole train split."""
    tuning = effective_tuning(spec)
    metric = spec.model.metric
    resources, fields = trial_resources(spec)
    space = resolved_space(spec)
    trials = tuning.trials()
    tune = Node("tune", "tune", ["featurize", "split"], {
        "model": spec.model.model_dump(mode="json"), "features": spec.features.as_params(),
        "tuning": tuning.model_dump(mode="json", exclude={"search_space"}), "space": space,
        "metric": metric, "mode": "max" if METRICS[metric].greater_is_better else "min", "trials": trials,
        "search": tuning.search, "scheduler": tuning.scheduler,
        "max_concurrent_trials": spec.hardware.max_concurrent_trials, "max_failures": spec.hardware.max_failures,
        "trial_resources": resources, "resource_fields": fields,
    }, resources, placement="driver",  # Tuner.fit() drives its trials from here; trials are Ray actors
        runtime={"storage": str((Path(base_dir) / ".mlops" / "tune").resolve())})
    # The retrain keeps the model type's own training (a Ray task, or Ray Train from the driver): train_best
    # applies the best configuration to the model section, then runs `base_kind` as usual.
    retrain = Node(train.id, "train_best", [*train.inputs, "tune"], {**train.params, "base_kind": train.kind},
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
        parts.append(f"budget {p['tuning']['time_budget_s']:g}s")
    if p["model"]["type"] == "auto":
        parts.append(f"families: {', '.join(p['space'])}")
    return ", ".join(parts)
