"""Spec -> Plan. Pure: reads the spec (and the cheap data probe), never data itself, never Ray."""
from __future__ import annotations

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
    return res


def _validation_params(spec) -> dict[str, Any]:
    from mlops.spec.validation import ValidationSpec

    # Without a validation section the profile and drift reference are still kept (they are cheap);
    # only the outlier detector is opt-in.
    validation = spec.validation or ValidationSpec(outliers=None)
    return validation.model_dump(mode="json", by_alias=True)


def compile_plan(project: Project, auto_promote: bool = True) -> Plan:
    """The graph `mlops apply` will run for this project (auto_promote=False: retraining decides)."""
    spec = project.spec
    dump = lambda model: model.model_dump(mode="json")  # noqa: E731
    fingerprint = project.data_probe.fingerprint if project.data_probe else None
    light = {"CPU": 1.0}
    nodes: list[Node] = [
        Node("load", "load", [], {"source": dump(spec.data.source), "fingerprint": fingerprint,
                                  "base_dir": str(project.base_dir)}, light),
        Node("featurize", "featurize", ["load"], {"data": _data_params(spec), "features": dump(spec.features),
                                                  "task": spec.model.task}, light),
        Node("split", "split", ["featurize"], {"split": dump(spec.data.split), "target": spec.data.target,
                                               "timestamp": spec.data.timestamp, "task": spec.model.task}, light),
        Node("train", "train", ["featurize", "split"], {"model": dump(spec.model), "features": dump(spec.features)},
             task_resources(spec)),
        Node("evaluate", "evaluate", ["train", "split"], {"task": spec.model.task, "metric": spec.model.metric}, light),
        Node("profile", "profile", ["featurize", "split"], {"validation": _validation_params(spec),
                                                             "seed": spec.data.split.seed}, light),
        Node("register", "register", ["train", "evaluate", "profile"], {
            "name": spec.name, "tracking": dump(spec.tracking), "metric": spec.model.metric,
            "auto_promote": auto_promote}, {}, placement="driver"),
    ]
    if spec.model.type == "torch":  # Ray Train: the driver calls TorchTrainer.fit(), which starts the workers
        from mlops.plan.torch_node import torch_train_node

        nodes = [torch_train_node(spec, project.base_dir) if n.id == "train" else n for n in nodes]
    if spec.tuning is not None or spec.model.type == "auto":  # Ray Tune picks the configuration `train` fits
        from mlops.plan.tuning import tune_nodes

        at = next(i for i, n in enumerate(nodes) if n.id == "train")
        nodes[at:at + 1] = tune_nodes(spec, project.base_dir, nodes[at])
    if spec.serving is not None and spec.serving.batch is not None:
        nodes.append(Node("batch_predict", "batch_predict", ["register"], _batch_params(project), {"CPU": 1.0},
                          placement="driver"))
    if spec.serving is not None and spec.serving.online is not None:
        online = spec.serving.online
        replicas = online.replicas.model_dump()
        nodes.append(Node("deploy", "deploy", ["register"], {
            "name": spec.name, "route": online.route or f"/{spec.name}", "alias": online.model_alias,
            "bind": f"{online.host}:{online.port}", "replicas": replicas, "batching": online.batching.model_dump(),
            "throughput_mode": online.throughput_mode}, {"CPU": spec.hardware.cpus_per_replica,
                                                          **({"GPU": spec.hardware.gpus_per_replica} if spec.hardware.gpus_per_replica else {})},
            placement="driver"))
    return Plan(spec.name, nodes)


def _data_params(spec) -> dict[str, Any]:
    return {"target": spec.data.target, "id_column": spec.data.id_column, "timestamp": spec.data.timestamp}


def _batch_params(project: Project) -> dict[str, Any]:
    from mlops.project import batch_input_source, probe_source

    spec = project.spec
    source = batch_input_source(spec)
    probe = probe_source(source, project.base_dir, "serving.batch.input")
    return {"input": source.model_dump(mode="json"), "input_fingerprint": probe.fingerprint if probe else None,
            "output": spec.serving.batch.output, "executor": spec.serving.batch.executor,
            "batch_size": spec.serving.batch.batch_size, "include_proba": spec.serving.batch.include_proba,
            "id_column": spec.data.id_column, "base_dir": str(project.base_dir), "cluster": spec.hardware.cluster}
