"""Spec -> Plan. Pure: reads the spec (and the cheap data probe), never data itself, never Ray."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.plan.graph import Node, Plan
from mlops.project import Project


def task_resources(spec) -> dict[str, float]:
    """Resources one Ray task of this spec asks for, from `hardware`."""
    hw = spec.hardware
    res = {"CPU": float(hw.cpus_per_task)}
    if hw.gpus_per_task:
        res["GPU"] = float(hw.gpus_per_task)
    if hw.memory_per_task_gb:
        res["memory_gb"] = float(hw.memory_per_task_gb)
    res.update(hw.resources_per_task)
    return res


def _validation_params(spec) -> dict[str, Any]:
    from mlops.spec.validation import effective_validation

    return effective_validation(spec).model_dump(mode="json", by_alias=True)


# Spec fields that, by design, change no node's result, so no node's hash: where things run and where
# results go, and what other commands read. tests/plan/test_plan_contract.py checks both ways: every other
# field of every example changes some node's hash, and these change none.
FIELDS_OUTSIDE_THE_PLAN: list[tuple[str, str]] = [
    ("tracking.*", "where runs and versions are recorded, not what they are (the node cache sits beside the store)"),
    ("hardware.cluster", "which Ray runs the plan"),
    ("hardware.local_cpus", "how many CPUs the embedded Ray may use"),
    ("hardware.storage", "where Ray keeps Tune results and Train checkpoints, not what they are"),
    ("monitoring.alerts*", "read by `mlops monitor`, not by apply"),
    ("monitoring.sink*", "read by `mlops monitor`, not by apply"),
    ("monitoring.repeat_every", "read by `mlops monitor` and the controller (alert reminders), not by apply"),
    ("monitoring.controller*", "read by the controller (`mlops monitor --detach`), not by apply"),
    ("retraining.*", "read by `mlops monitor`, which applies the retrain plan (compile_retrain_plan)"),
    ("features.online_store", "where `mlops features materialize` writes and the endpoint reads, not what is trained"),
    ("model.card*", "free text for the model card, read by `mlops report` from the recorded spec"),
]


# Fields that only some kinds of node read: in a plan without those kinds they change nothing (a tuned
# model's refit counts as its base kind: see plan_kinds).
FIELDS_OF_KINDS: dict[str, tuple[str, ...]] = {
    # A plain task's size is not its result; a search's trial size is (it sets how many trials run at once).
    "hardware.cpus_per_task": ("tune",),
    "hardware.gpus_per_task": ("tune", "batch_predict"),  # and each Ray Data scorer's GPUs
    "hardware.memory_per_task_gb": ("tune",),
    "hardware.resources_per_task": ("tune",),
    "hardware.workers": ("train_torch",),
    "hardware.cpus_per_worker": ("train_torch",),  # a torch model's workers, and its trials when it is tuned
    "hardware.gpus_per_worker": ("train_torch",),
    "hardware.accelerator": ("train_torch",),
    "hardware.max_failures": ("train_torch", "tune"),
    "hardware.max_concurrent_trials": ("tune",),
    "hardware.cpus_per_replica": ("deploy",),
    "hardware.gpus_per_replica": ("deploy",),
}


RETRAIN_SUFFIX = ".retrain"  # the retrain plan's name: its applied state is kept apart from the apply's


def compile_plan(project: Project) -> Plan:
    """The graph `mlops apply` will run for this project: training, then what the spec serves."""
    from mlops.plan.endpoint import deploy_node

    spec = project.spec
    fingerprint = project.data_probe.fingerprint if project.data_probe else None
    nodes = training_nodes(project, spec.data.source, fingerprint, auto_promote=True)
    # A scheduled batch is scored by the controller on its schedule (monitoring/scheduled_scoring.py), not by apply.
    if spec.serving is not None and spec.serving.batch is not None and spec.serving.batch.schedule is None:
        nodes.append(batch_node(project))
    if spec.serving is not None and spec.serving.online is not None:
        nodes.append(deploy_node(project))
    return Plan(spec.name, nodes)


def compile_retrain_plan(project: Project, data: Any) -> Plan:
    """What `mlops monitor` retrains with: the apply plan up to `register`, fed `data` (a data source, as in
    data.source) instead of the spec's, and registering a challenger that the champion gate judges
    (auto_promote=False). Serving stays with the applied plan: the champion alias is what moves."""
    from mlops.project import probe_source

    probe = probe_source(data, project.base_dir, "data.source")
    nodes = training_nodes(project, data, probe.fingerprint if probe else None, auto_promote=False)
    return Plan(project.spec.name + RETRAIN_SUFFIX, nodes)


def training_nodes(project: Project, source: Any, fingerprint: Any, auto_promote: bool) -> list[Node]:
    """load -> [join_features] -> featurize -> split -> train (or tune -> train) -> evaluate, profile -> register,
    reading `source` (with its data fingerprint)."""
    from mlops import stores

    spec = project.spec
    dump = lambda model: model.model_dump(mode="json")  # noqa: E731
    light = {"CPU": 1.0, **spec.hardware.resources_per_task}  # one CPU (cpus_per_task is the model's), on the chosen nodes
    code = code_versions(spec, source.type)
    rows = "load"
    nodes = [Node("load", "load", {}, {"source": dump(source), "fingerprint": fingerprint, "code": code["source"]},
                  light, runtime=_here(project))]
    if spec.features.views:  # the feature store's point-in-time join sits between the labels and featurize
        from mlops.plan.features import join_node

        nodes.append(join_node(project, code["mlops"]))
        rows = "join_features"
    together = {"features": "featurize", "split": "split"}
    nodes += [
        Node("featurize", "featurize", {"loaded": rows}, {"data": _data_params(spec), "features": spec.features.as_params(),
                                                          "task": spec.model.task, "code": code["mlops"]}, light),
        Node("split", "split", {"features": "featurize"}, {
            "split": dump(spec.data.split), "target": spec.data.target, "timestamp": spec.data.timestamp,
            "task": spec.model.task, "code": code["mlops"]}, light),
        *_model_nodes(project, code, together),
        Node("evaluate", "evaluate", {"trained": "train", "split": "split"},
             {"task": spec.model.task, "metric": spec.model.metric, "code": code["mlops"]}, light),
        Node("profile", "profile", together, {"validation": _validation_params(spec), "seed": spec.data.split.seed,
                                              "code": code["detectors"]}, light),
        Node("register", "register", {"trained": "train", "evaluation": "evaluate", "monitoring": "profile",
                                      "split": "split"},
             {"name": spec.name, "metric": spec.model.metric, "auto_promote": auto_promote, "code": code["mlops"]}, {},
             placement="driver", runtime={"tracking_uri": stores.absolute(spec.tracking.uri),
                                          "experiment": spec.tracking.experiment or spec.name}),
    ]
    return [secrets_to_runtime(node) for node in nodes]


def secrets_to_runtime(node: Node) -> Node:
    """The node with every param that holds a secret (a database URL's password, a plugin source's `password`)
    kept in params with the secret hidden, and whole in `runtime`, which the node's code reads over params:
    the node still connects, while its hash, its recorded params and `mlops plan` never hold the secret
    (and a new password reruns nothing: the data's fingerprint says whether the rows changed)."""
    from mlops.redact import redact

    for key, value in list(node.params.items()):
        hidden = redact(value, key)
        if hidden != value:
            node.params[key] = hidden
            node.runtime.setdefault(key, value)
    return node


def _model_nodes(project: Project, code: dict[str, dict[str, str]], inputs: dict[str, str]) -> list[Node]:
    """Node `train` (a Ray task, or Ray Train from the driver for torch), after a `tune` node when searching."""
    spec = project.spec
    if spec.model.type == "torch":  # Ray Train: the driver calls TorchTrainer.fit(), which starts the workers
        from mlops.plan.torch_node import torch_train_node

        train = torch_train_node(spec, project.base_dir, inputs)
    else:
        train = Node("train", "train", dict(inputs), {"model": spec.model.model_dump(mode="json"),
                                                      "features": spec.features.as_params(), "code": code["estimator"]},
                     task_resources(spec))
    if spec.tuning is not None or spec.model.type == "auto":  # Ray Tune picks the configuration `train` fits
        from mlops.plan.tuning import tune_nodes

        return tune_nodes(spec, project.base_dir, train)
    return [train]


def _here(project: Project) -> dict[str, str]:
    return {"base_dir": str(Path(project.base_dir).resolve())}


def code_versions(spec, source_type: str) -> dict[str, dict[str, str]]:
    """The versions of the code behind each node: mlops itself, and the plugin package that registered the
    data source of type `source_type`, the estimator or the detectors. Part of the nodes' hashes: an
    upgrade reruns what it touches."""
    from mlops.plugins import data_sources, detectors, estimators, package_version

    mlops = {"mlops": package_version("mlops")}

    def with_entry(registry, name: str | None) -> dict[str, str]:
        if name is None or name not in registry:
            return mlops
        entry = registry.get(name)
        return mlops if entry.package is None else {**mlops, entry.package: package_version(entry.package)}

    validation = spec.validation
    detector_names = [d.detector for d in (validation.drift, validation.outliers) if d is not None] if validation else []
    used = {}
    for name in detector_names:
        used.update(with_entry(detectors, name))
    estimator = getattr(spec.model, "estimator", None)
    return {"mlops": mlops, "source": with_entry(data_sources, source_type),
            "estimator": with_entry(estimators, estimator), "detectors": {**mlops, **used}}


def _data_params(spec) -> dict[str, Any]:
    params = {"target": spec.data.target, "id_column": spec.data.id_column, "timestamp": spec.data.timestamp}
    if spec.data.entity_keys:  # join keys are never features (only present when set: other plans' hashes unchanged)
        params["entity_keys"] = list(spec.data.entity_keys)
    return params


def batch_node(project: Project) -> Node:
    """The batch_predict node: what apply, `mlops predict --batch` and scheduled scoring run."""
    from mlops import stores

    node = Node("batch_predict", "batch_predict", {"registration": "register"}, _batch_params(project),
                {"CPU": 1.0}, placement="driver",
                runtime={**_here(project), "tracking_uri": stores.absolute(project.spec.tracking.uri)})
    return secrets_to_runtime(node)


def _batch_params(project: Project) -> dict[str, Any]:
    from mlops.project import batch_input_source, probe_source

    spec = project.spec
    source = batch_input_source(spec)
    # A scheduled input's files arrive later (a glob may match nothing yet); each run names its own files.
    scheduled = spec.serving.batch.schedule is not None
    probe = None if scheduled else probe_source(source, project.base_dir, "serving.batch.input")
    return {"name": spec.name, "input": source.model_dump(mode="json"),
            "input_fingerprint": probe.fingerprint if probe else None,
            "output": spec.serving.batch.output, "executor": spec.serving.batch.executor,
            "batch_size": spec.serving.batch.batch_size, "include_proba": spec.serving.batch.include_proba,
            "model_alias": spec.serving.batch.model_alias, "id_column": spec.data.id_column,
            # Only when not the default, so plans (and their hashes) from before the setting stay as they were.
            **({"on_error": spec.serving.batch.on_error} if spec.serving.batch.on_error != "fail" else {}),
            # Each Ray Data scorer's GPUs (a torch model predicts on them); only when asked for, as above.
            **({"scorer_gpus": spec.hardware.gpus_per_task} if spec.hardware.gpus_per_task else {}),
            **_batch_feature_params(project)}


def _batch_feature_params(project: Project) -> dict[str, Any]:
    """Rows to score get the feature views joined as of their time, as the training rows did; the views'
    data fingerprints make a changed view re-score."""
    if not project.spec.features.views:
        return {}
    from mlops.plan.features import view_params

    return {"feature_views": view_params(project), "timestamp": project.spec.data.timestamp}


def plan_kinds(plan: Plan) -> set[str]:
    """The node kinds of a plan, a refit's base kind included."""
    return {n.kind for n in plan.nodes} | {n.params["base_kind"] for n in plan.nodes if "base_kind" in n.params}
