"""The train node of a `type: torch` model: the driver runs TorchTrainer.fit(), which starts the workers."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.plan.graph import Node
from mlops.plan.storage import storage_location



def accelerator(hardware: Any) -> tuple[bool | str, float]:
    """(use_gpu, GPUs per worker when on GPU). gpus_per_worker > 0 asks for GPUs; auto decides at apply time."""
    gpus = float(hardware.gpus_per_worker or 1)
    if hardware.accelerator == "auto":
        return "auto", gpus
    if hardware.accelerator == "gpu" or hardware.gpus_per_worker > 0:
        return True, gpus
    return False, 0.0


def torch_train_node(spec: Any, base_dir: Path, inputs: dict[str, str]) -> Node:
    """Node 'train' of kind train_torch, reading `inputs` ({"features": ..., "split": ...}); resources are the
    totals of all workers, per-worker ones in params."""
    hw = spec.hardware
    use_gpu, gpus = accelerator(hw)
    per_worker = {"CPU": float(hw.cpus_per_worker), **({"GPU": gpus} if use_gpu is True else {})}
    if spec.model.training.checkpoint_dir:  # the model's own choice wins over the cluster's storage
        checkpoint_dir = storage_location(spec.model.training.checkpoint_dir, base_dir)
    else:
        checkpoint_dir = storage_location(hw.storage, base_dir, "ray_train")
    params: dict[str, Any] = {
        "model": spec.model.model_dump(mode="json"),
        "features": spec.features.as_params(),
        "workers": hw.workers,
        "resources_per_worker": per_worker,
        "use_gpu": use_gpu,
        "gpus_per_worker": gpus if use_gpu else 0.0,
        "max_failures": hw.max_failures,
    }
    total = {name: amount * hw.workers for name, amount in per_worker.items()}
    return Node("train", "train_torch", dict(inputs), params, total, placement="driver",
                runtime={"checkpoint_dir": checkpoint_dir})
