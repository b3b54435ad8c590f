"""The train node of a `type: torch` model, as compiled: what Ray Train is asked for (workers, each one's CPUs
and GPUs, the totals the node reserves), where checkpoints go, and that the driver runs it. No Ray."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import EXAMPLES
from mlops import api
from mlops.plan.torch_node import accelerator

TORCH = EXAMPLES / "tabular-torch" / "spec.yaml"


def hardware(**fields):
    return SimpleNamespace(**{"accelerator": "cpu", "gpus_per_worker": 0, **fields})


@pytest.mark.parametrize("fields, expected", [
    ({}, (False, 0.0)),  # the CPU: no GPU asked for
    ({"accelerator": "gpu"}, (True, 1.0)),  # a GPU per worker unless the spec says how many
    ({"accelerator": "gpu", "gpus_per_worker": 0.5}, (True, 0.5)),
    ({"gpus_per_worker": 2}, (True, 2.0)),  # asking for GPUs is asking for the GPU
    ({"accelerator": "auto"}, ("auto", 1.0)),  # decided at apply time, by what the cluster has
    ({"accelerator": "auto", "gpus_per_worker": 0.25}, ("auto", 0.25)),
])
def test_the_accelerator_follows_the_hardware_section(fields, expected):
    assert accelerator(hardware(**fields)) == expected


def test_a_cpu_torch_node_reserves_every_workers_cpus_and_no_gpu():
    node = api.plan(TORCH, ["hardware.workers=3", "hardware.cpus_per_worker=2"]).node("train")
    assert (node.kind, node.placement, dict(node.inputs)) == ("train_torch", "driver",
                                                             {"features": "featurize", "split": "split"})
    assert node.resources == {"CPU": 6.0}
    params = node.params
    assert params["workers"] == 3 and params["resources_per_worker"] == {"CPU": 2.0}
    assert params["use_gpu"] is False and params["gpus_per_worker"] == 0.0
    assert params["max_failures"] == 2
    assert params["model"]["type"] == "torch" and params["model"]["training"]["epochs"] == 30
    assert params["features"]["scale"] == "standard"


def test_a_gpu_torch_node_asks_each_worker_for_its_gpus():
    node = api.plan(TORCH, ["hardware.accelerator=gpu", "hardware.workers=2", "hardware.gpus_per_worker=0.5"]).node("train")
    assert node.params["resources_per_worker"] == {"CPU": 1.0, "GPU": 0.5}
    assert node.resources == {"CPU": 2.0, "GPU": 1.0}
    assert node.params["use_gpu"] is True and node.params["gpus_per_worker"] == 0.5
    auto = api.plan(TORCH, ["hardware.accelerator=auto"]).node("train")
    assert auto.params["use_gpu"] == "auto" and auto.params["gpus_per_worker"] == 1.0
    assert auto.params["resources_per_worker"] == {"CPU": 1.0}  # no GPU reserved before apply decides


def test_checkpoints_go_to_the_models_folder_else_the_clusters_storage():
    base = Path(TORCH).parent.resolve()
    plain = api.plan(TORCH).node("train")
    assert plain.runtime == {"checkpoint_dir": str(base / ".mlops" / "ray_train")}
    shared = api.plan(TORCH, ["+hardware.storage=/mnt/shared"]).node("train")
    assert shared.runtime["checkpoint_dir"] == "/mnt/shared/ray_train"
    own = api.plan(TORCH, ["+hardware.storage=/mnt/shared", "+model.training.checkpoint_dir=ckpt"]).node("train")
    assert own.runtime["checkpoint_dir"] == str(base / "ckpt")  # the model's choice wins, taken from the spec's folder
    assert shared.hash == plain.hash  # where the cluster keeps files is not what the node computes
