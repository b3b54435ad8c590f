"""Where torch work runs: the device a task, trial, scorer or replica holds, and the precision it trains in.

One rule everywhere (Ray Train workers ask Ray Train, which follows it too): CUDA when Ray assigned this
process a GPU, else the CPU. A process outside Ray (a driver, a user's own `mlflow.pyfunc.load_model`) holds
no GPU, so its models stay on the CPU unless it moves them (`TorchMLP.to_device`). Models always travel
between processes on the CPU: a pickled CUDA tensor would need a GPU wherever it is unpickled.

torch itself is imported only by the functions that move or train a network: a replica of any model imports
this module for its batch cap and /metadata.
"""
from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Any

from mlops.errors import MlopsError

PRECISIONS = ("fp32", "bf16", "fp16")


def held_gpus() -> list[Any]:
    """The GPU ids Ray assigned to this worker process ([] in a driver, outside Ray, or without a GPU)."""
    ray = sys.modules.get("ray")  # a process Ray did not start has not imported it: it holds no GPU
    if ray is None or not ray.is_initialized():
        return []
    try:
        if ray.get_runtime_context().worker.mode != ray.WORKER_MODE:
            return []  # the driver: Ray reserves nothing for it
        return list(ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - a runtime without GPU bookkeeping: nothing held
        return []


# A replica that holds a GPU batches at least this many requests per model call: a GPU's forward pass costs
# about the same for 1 or 256 rows, so the cap that suits a CPU replica (32) would leave it idle under load.
# Batches still close after serving.online.batching.wait_ms, so a quiet endpoint's latency is unchanged.
GPU_MIN_BATCH = 256


def batch_size_for_device(max_batch_size: int) -> int:
    """The batch cap of this replica: the spec's, raised to GPU_MIN_BATCH when the replica holds a GPU."""
    return max(int(max_batch_size), GPU_MIN_BATCH) if held_gpus() else int(max_batch_size)


def held_device() -> str:
    """'cuda' when Ray gave this process a GPU that torch can use, else 'cpu'."""
    if not held_gpus():
        return "cpu"
    import torch

    if not torch.cuda.is_available():  # Ray's bookkeeping says GPU, the driver or the wheel says no
        raise MlopsError("this Ray worker was assigned a GPU but torch cannot use CUDA here "
                         f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); install a "
                         "CUDA build of torch on the GPU nodes, or set the spec's gpus_per_* to 0")
    return "cuda"


class Precision:
    """training.precision on one device: fp32 as is, bf16 or fp16 under autocast (fp16 with a gradient
    scaler). A device that cannot run the precision is refused by name, before the first epoch."""

    def __init__(self, precision: str, device: Any) -> None:
        import torch

        assert precision in PRECISIONS, precision
        self.kind = torch.device(device).type
        if precision == "fp16" and self.kind != "cuda":
            raise MlopsError(f"training.precision=fp16 needs a CUDA device; this training runs on {self.kind} "
                             "(use bf16, which the CPU runs, or fp32; or give the training a GPU: hardware.gpus_per_*)")
        if precision == "bf16" and self.kind == "cuda" and not torch.cuda.is_bf16_supported():
            raise MlopsError(f"training.precision=bf16: this GPU ({torch.cuda.get_device_name()}) has no bfloat16 "
                             "support; use fp16 or fp32")
        self.precision = precision
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def autocast(self) -> Any:
        """The forward pass's context: autocast to the precision's dtype, or nothing for fp32."""
        if self.dtype is None:
            return nullcontext()
        import torch

        return torch.autocast(device_type=self.kind, dtype=self.dtype)

    def backward_and_step(self, loss: Any, optimizer: Any) -> None:
        """loss.backward() and optimizer.step(), through the gradient scaler under fp16 (small gradients
        would underflow to zero in half precision)."""
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()


def _final_estimator(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def place(model: Any, device: str | None = None) -> Any:
    """Move the torch network at the end of a fitted pipeline (if any) to `device` (default: the held one);
    other models are returned as they are. Used where a model is loaded to predict: replicas and scorers."""
    last = _final_estimator(model)
    if not hasattr(last, "to_device"):
        return model
    last.to_device(device or held_device())
    return model


def device_of(model: Any) -> str:
    """Where a fitted pipeline predicts: its torch network's device, 'cpu' for every other model."""
    return str(getattr(_final_estimator(model), "device_", "cpu"))
