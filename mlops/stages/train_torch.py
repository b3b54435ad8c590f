"""train_torch: fit the preprocessing here, train the MLP with Ray Train's TorchTrainer, return the pipeline.

Runs in the driver (TorchTrainer.fit() starts its own worker group). Each of `hardware.workers`
workers trains on its rank's shard of the rows (DDP averages the gradients), reports metrics every
epoch and rank 0 saves a checkpoint; after a failure Ray Train restarts the group (up to
`hardware.max_failures` times) and the loop continues from `ray.train.get_checkpoint()`.

Test hook: MLOPS_TEST_FAIL_AT_EPOCH=N makes rank 0 raise once in epoch N, before that epoch's
checkpoint (as a killed worker would); a marker file in the run's checkpoint directory keeps the
retry from failing again.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError
from mlops.sources.urls import is_remote
from mlops.stages.train import Trained, model_meta

FAIL_AT_EPOCH_ENV = "MLOPS_TEST_FAIL_AT_EPOCH"
CHECKPOINT_FILE = "state.pt"
FAIL_MARKER = "test_hook_failed_once"


@dataclass
class TorchTraining:
    """The trained pipeline plus what the driver logs: per-epoch metrics and where checkpoints are."""

    trained: Trained
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from_epoch: int | None = None  # set when a failure restarted the workers from a checkpoint
    best_epoch: int = 0
    stopped_early: bool = False
    path: str = ""


def run(features: Any, split: Any, params: dict[str, Any], *, use_gpu: bool, run_name: str) -> TorchTraining:
    """Preprocess the train split, train on Ray Train workers, and assemble the fitted pipeline."""
    import numpy as np
    import ray
    import torch
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig, ScalingConfig, TrainingFailedError
    from ray.train.torch import TorchTrainer

    from mlops.models.preprocessing import build_pipeline
    from mlops.models.torch_loop import Targets, build_net
    from mlops.models.torch_mlp import TorchMLP, holdout

    model = params["model"]
    pipeline = build_pipeline(params["features"], features.numeric, features.categorical, TorchMLP(model))
    X = np.asarray(pipeline[:-1].fit_transform(split.X_train, split.y_train), dtype=np.float32)  # fits the preprocessing steps
    X_tr, X_val, y_tr, y_val = holdout(model, X, split.y_train)
    targets = Targets.fit(model["task"], y_tr)
    if targets.task == "classification":
        keep = np.isin(y_val, np.asarray(targets.classes))
        X_val, y_val = X_val[keep], y_val[keep]
    arrays = {"X_train": X_tr, "y_train": targets.encode(y_tr), "X_val": X_val, "y_val": targets.encode(y_val)}
    storage = params["checkpoint_dir"]  # absolute (Ray Train v2 wants one) or a URL: see mlops.plan.storage
    if is_remote(storage):  # the fault-injection hook's marker is a local file (tests only)
        marker_dir = Path(tempfile.gettempdir()) / "mlops-train-markers"
    else:
        Path(storage).mkdir(parents=True, exist_ok=True)
        marker_dir = Path(storage)
    per_worker = {"CPU": params["resources_per_worker"]["CPU"], **({"GPU": params["gpus_per_worker"]} if use_gpu else {})}
    fail_at = os.environ.get(FAIL_AT_EPOCH_ENV)
    # Each report waits for the controller's poll of the workers (every 2 s by default, propagated to the
    # controller from this process); tabular epochs take milliseconds, so poll faster.
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
    config = {"model": model, "targets": asdict(targets), "data": {k: ray.put(v) for k, v in arrays.items()},
              "threads": max(1, int(per_worker["CPU"])),
              "fail_at_epoch": int(fail_at) if fail_at else 0, "fail_marker": str(marker_dir / run_name / FAIL_MARKER)}
    trainer = TorchTrainer(
        _worker_loop, train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=params["workers"], use_gpu=use_gpu, resources_per_worker=per_worker),
        run_config=RunConfig(name=run_name, storage_path=storage,
                             failure_config=FailureConfig(max_failures=params["max_failures"]),
                             checkpoint_config=CheckpointConfig(num_to_keep=2),
                             logging_config=LoggingConfig(log_level="WARNING")))  # no per-report INFO lines
    try:
        result = trainer.fit()
    except TrainingFailedError as exc:  # wraps the workers' tracebacks: name the root cause only
        raise MlopsError(f"torch training failed after hardware.max_failures={params['max_failures']} retries: "
                         f"{_root_cause(str(exc))}") from None
    out = result.return_value
    assert out is not None, "rank 0 returned no weights"
    net = build_net(X.shape[1], targets.n_outputs, model["architecture"])
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in out["state_dict"].items()})
    loop = out["loop"]
    estimator = TorchMLP(model).set_fitted(net, targets, loop["history"], loop["best_epoch"])
    pipeline.steps[-1] = ("model", estimator)
    trained = Trained(pipeline, {**model_meta(features, model, "torch", pipeline), "architecture": model["architecture"],
                                 "best_epoch": loop["best_epoch"]})
    return TorchTraining(trained, loop["history"], out["resumed_from_epoch"], loop["best_epoch"], loop["stopped_early"],
                         f"{storage.rstrip('/')}/{run_name}")


def _worker_loop(config: dict[str, Any]) -> dict[str, Any] | None:
    """Ray Train worker: shard the rows by rank, train with DDP, checkpoint + report every epoch."""
    import logging
    import tempfile

    import ray
    import ray.train
    import torch
    from ray.train.torch import get_device, prepare_model

    from mlops.models import torch_loop as loop

    # RunConfig's LoggingConfig reaches the controller only: quiet the workers' per-report INFO lines here.
    for name in ["ray.train", *[n for n in logging.root.manager.loggerDict if n.startswith("ray.train.") or "/ray/train/" in n]]:
        logging.getLogger(name).setLevel(logging.WARNING)
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(config["threads"])
    model, targets, device = config["model"], loop.Targets(**config["targets"]), get_device()
    X, y = ray.get(config["data"]["X_train"]), ray.get(config["data"]["y_train"])
    per_rank = len(X) // world  # equal shards: DDP needs the same number of steps on every rank
    shard = tuple(torch.as_tensor(a[rank::world][:per_rank].copy(), device=device) for a in (X, y))  # copy: refs are read-only
    val = (ray.get(config["data"]["X_val"]), ray.get(config["data"]["y_val"]))
    torch.manual_seed(model["training"]["seed"])
    net = loop.build_net(X.shape[1], targets.n_outputs, model["architecture"])
    state, best, resumed_from, saved = loop.LoopState(), None, None, None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory:
            saved = torch.load(Path(directory) / CHECKPOINT_FILE, weights_only=True, map_location="cpu")
        net.load_state_dict(saved["model"])
        state, best = loop.LoopState.from_dict(saved["loop"]), saved["best"]
        resumed_from = state.epoch + 1
    ddp = prepare_model(net)  # DDP over gloo (CPU) or NCCL (GPU); moves the weights to the device
    optimizer = loop.make_optimizer(ddp, model["training"])
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
    local = dict(model, training={**model["training"], "batch_size": max(1, model["training"]["batch_size"] // world)})

    def agree(stop: bool) -> bool:
        """Every rank follows rank 0's early-stopping decision, so all call report() equally often."""
        if world == 1:
            return stop
        flag = torch.tensor([int(stop)], device=device)
        torch.distributed.broadcast(flag, src=0)
        return bool(flag.item())

    def on_epoch(state: loop.LoopState, metrics: dict[str, float], best_weights: dict) -> None:
        _test_hook(config, rank, state.epoch)
        with tempfile.TemporaryDirectory() as tmp:
            saved_checkpoint = None
            if rank == 0:
                torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "loop": state.to_dict(),
                            "best": best_weights}, Path(tmp) / CHECKPOINT_FILE)
                saved_checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report({**metrics, "resumed_from_epoch": resumed_from or 0}, checkpoint=saved_checkpoint)

    state, best = loop.run_loop(ddp, optimizer, shard, val, local, targets, state, seed_offset=rank,
                                on_epoch=on_epoch, agree=agree, best_weights=best)
    if rank != 0:
        return None
    # Ray Train refuses tensors in return values: hand the weights back as numpy arrays.
    return {"state_dict": {k: v.numpy() for k, v in best.items()}, "loop": state.to_dict(), "resumed_from_epoch": resumed_from}


def _test_hook(config: dict[str, Any], rank: int, epoch: int) -> None:
    """MLOPS_TEST_FAIL_AT_EPOCH: fail once in that epoch, before its checkpoint, as a killed worker would."""
    if rank != 0 or epoch != config["fail_at_epoch"]:
        return
    marker = Path(config["fail_marker"])
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"failed once in epoch {epoch}\n")
    raise RuntimeError(f"{FAIL_AT_EPOCH_ENV}={epoch}: simulated worker failure (test hook)")


def _root_cause(message: str) -> str:
    """The last 'SomeError: text' line of a worker traceback."""
    import re

    causes = [line.strip() for line in message.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception): ", line)]
    return causes[-1] if causes else message.strip().splitlines()[-1] if message.strip() else "unknown error"
