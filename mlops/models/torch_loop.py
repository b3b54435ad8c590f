"""The torch MLP and its training loop, shared by Ray Train workers and in-process fits (Tune trials).

Only imported where torch is used: `mlops validate/plan` never load it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from mlops.metrics import METRICS
from mlops.models.device import Precision
from mlops.models.scores import compute_metrics, labels_from_proba

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU,
               "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
              "rmsprop": torch.optim.RMSprop}
PREDICT_CHUNK = 65536  # rows per forward pass at predict time, so memory stays flat on big inputs


def build_net(n_inputs: int, n_outputs: int, architecture: dict[str, Any]) -> nn.Sequential:
    """Linear -> activation -> dropout per hidden layer, then a linear head (logits or one value)."""
    layers: list[nn.Module] = []
    width = n_inputs
    for units in architecture["hidden"]:
        layers += [nn.Linear(width, units), ACTIVATIONS[architecture["activation"]]()]
        if architecture["dropout"]:
            layers.append(nn.Dropout(architecture["dropout"]))
        width = units
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def make_optimizer(net: nn.Module, training: dict[str, Any]) -> torch.optim.Optimizer:
    """The `training` section's optimizer over the net's parameters, with its lr and weight decay."""
    return OPTIMIZERS[training["optimizer"]](net.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])


@dataclass
class Targets:
    """How labels map to network outputs: class indices, or a standardized regression value."""

    task: str
    classes: list[Any] | None = None
    y_mean: float = 0.0
    y_std: float = 1.0

    @classmethod
    def fit(cls, task: str, y: Any) -> "Targets":
        """The mapping for labels `y`: their sorted classes, or their mean and std (1 when constant)."""
        y = np.asarray(y)
        if task == "classification":
            return cls(task, [c.item() if hasattr(c, "item") else c for c in np.unique(y)])
        std = float(np.std(y.astype(float)))
        return cls(task, None, float(np.mean(y.astype(float))), std if std > 0 else 1.0)

    @property
    def n_outputs(self) -> int:
        """Width of the net's last layer: one per class, or 1 for regression."""
        return len(self.classes) if self.task == "classification" else 1

    def known(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """The rows of (X, y) whose label the net can output: a class absent from training cannot be scored."""
        y = np.asarray(y)
        if self.task != "classification":
            return np.asarray(X), y
        keep = np.isin(y, np.asarray(self.classes))
        return np.asarray(X)[keep], y[keep]

    def encode(self, y: Any) -> np.ndarray:
        """Labels as training targets: int64 class indices, or standardized float32 values."""
        y = np.asarray(y)
        if self.task == "classification":
            return np.searchsorted(np.asarray(self.classes), y).astype(np.int64)
        return ((y.astype(float) - self.y_mean) / self.y_std).astype(np.float32)


def outputs(net: nn.Module, X: np.ndarray, device: Any = "cpu") -> np.ndarray:
    """Raw network outputs for a float matrix, in chunks, without gradients."""
    net.eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, len(X), PREDICT_CHUNK):
            batch = torch.tensor(np.asarray(X[start:start + PREDICT_CHUNK], dtype=np.float32), device=device)  # copies
            chunks.append(net(batch).cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 1), dtype=np.float32)


def proba_from(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of `logits`: class probabilities."""
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def validation_metrics(net: nn.Module, X: np.ndarray, y_encoded: np.ndarray, targets: Targets, device: Any) -> dict[str, float]:
    """val_loss plus every metric of the task on the held-out rows."""
    out = outputs(net, X, device)
    if targets.task == "classification":
        proba = proba_from(out)
        loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y_encoded)), y_encoded], 1e-12, None))))
        classes = np.arange(targets.n_outputs)  # the encoded labels: labels_from_proba is the one place labels are picked
        scores = compute_metrics("classification", y_encoded, labels_from_proba(classes, proba), proba, list(classes))
    else:
        loss = float(np.mean((out[:, 0] - y_encoded) ** 2))
        scale = lambda v: v * targets.y_std + targets.y_mean  # noqa: E731
        scores = compute_metrics("regression", scale(y_encoded), scale(out[:, 0]))
    return {"val_loss": loss, **{f"val_{k}": v for k, v in scores.items()}}


def train_epoch(net: nn.Module, optimizer: Any, X: torch.Tensor, y: torch.Tensor, batch_size: int, task: str,
                generator: torch.Generator, precision: Precision | None = None) -> float:
    """One pass over (X, y) in shuffled mini-batches (in `precision`, default fp32); returns the mean training loss."""
    net.train()
    precision = precision or Precision("fp32", X.device)
    loss_fn = nn.functional.cross_entropy if task == "classification" else nn.functional.mse_loss
    order = torch.randperm(len(X), generator=generator).to(X.device)
    total, seen = 0.0, 0
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        with precision.autocast():
            pred = net(X[idx]).float()  # the loss in fp32: autocast's half-precision outputs lose its small terms
        loss = loss_fn(pred, y[idx]) if task == "classification" else loss_fn(pred[:, 0], y[idx])
        optimizer.zero_grad(set_to_none=True)
        precision.backward_and_step(loss, optimizer)
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
    return total / max(seen, 1)


@dataclass
class LoopState:
    """Everything needed to continue a run after a restart (saved in every checkpoint)."""

    epoch: int = 0  # last finished epoch (1-based)
    best_score: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)

    def record(self, epoch: int, metrics: dict[str, float], metric: str, min_delta: float) -> bool:
        """Add an epoch's validation metrics; whether the watched one improved on the best so far."""
        name, higher = monitored(metric, metrics)
        score = metrics[name]
        improved = self.best_score is None or (score > self.best_score + min_delta if higher
                                               else score < self.best_score - min_delta)
        if improved:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
        else:
            self.bad_epochs += 1
        self.epoch = epoch
        self.history.append(metrics)
        return improved

    def to_dict(self) -> dict[str, Any]:
        """The state as a plain dict, for a checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LoopState":
        """The state a checkpoint saved with to_dict."""
        return cls(**data)


def monitored(metric: str, metrics: dict[str, float]) -> tuple[str, bool]:
    """The validation value early stopping watches, and whether higher is better (val_loss as fallback)."""
    if f"val_{metric}" in metrics:
        return f"val_{metric}", METRICS[metric].greater_is_better
    return "val_loss", False


def run_loop(net: nn.Module, optimizer: Any, train: tuple[torch.Tensor, torch.Tensor], val: tuple[np.ndarray, np.ndarray],
             model: dict[str, Any], targets: Targets, state: LoopState, *, seed_offset: int = 0,
             on_epoch: Callable[[LoopState, dict[str, float], dict], None] | None = None,
             agree: Callable[[bool], bool] = lambda stop: stop, best_weights: dict | None = None) -> tuple[LoopState, dict]:
    """Train from state.epoch+1 to the last epoch, keeping the best weights; early stopping by patience.

    `net` may be wrapped (DDP); validation and weights use its inner module. `agree` lets distributed
    workers take rank 0's stop decision; `on_epoch(state, metrics, best_weights)` checkpoints and reports.
    Returns the final state and the best weights (a CPU state_dict).
    """
    training = model["training"]
    inner = getattr(net, "module", net)
    device = train[0].device
    patience = (training.get("early_stopping") or {}).get("patience")
    min_delta = (training.get("early_stopping") or {}).get("min_delta", 0.0)
    precision = Precision(training.get("precision", "fp32"), device)
    best = best_weights or {k: v.detach().cpu().clone() for k, v in inner.state_dict().items()}
    for epoch in range(state.epoch + 1, training["epochs"] + 1):
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(training["seed"] * 100003 + epoch * 101 + seed_offset)
        train_loss = train_epoch(net, optimizer, *train, training["batch_size"], targets.task, generator, precision)
        seconds = time.perf_counter() - start
        metrics = {"epoch": epoch, "train_loss": train_loss, **validation_metrics(inner, *val, targets, device),
                   "epoch_seconds": seconds}
        if state.record(epoch, metrics, model["metric"], min_delta):
            best = {k: v.detach().cpu().clone() for k, v in inner.state_dict().items()}
        state.stopped_early = agree(bool(patience) and state.bad_epochs >= patience and epoch < training["epochs"])
        if on_epoch:
            on_epoch(state, metrics, best)
        if state.stopped_early:
            break
    return state, best


@dataclass
class Part:
    """One training/validation split of a search trial: a fold, or the hold-out (preprocessed matrices)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def train_parts(model: dict[str, Any], parts: list[Part], device: Any,
                report: Callable[[LoopState, dict[str, float]], None]) -> LoopState:
    """What a search trial runs: one net per part, trained epoch by epoch in lockstep; after each epoch
    report(state, every validation metric averaged over the parts). So a torch trial is scored on the same
    folds as every other family, and at every epoch, where ASHA may stop it. Early stopping (patience)
    watches the average. Returns the loop's state (best epoch and score, history of averaged metrics)."""
    training = model["training"]
    stopping = training.get("early_stopping") or {}
    precision = Precision(training.get("precision", "fp32"), device)
    torch.manual_seed(training["seed"])
    runs = []
    for part in parts:
        targets = Targets.fit(model["task"], part.y_train)
        X_val, y_val = targets.known(part.X_val, part.y_val)
        net = build_net(part.X_train.shape[1], targets.n_outputs, model["architecture"]).to(device)
        train = (torch.as_tensor(np.asarray(part.X_train, dtype=np.float32), device=device),
                 torch.as_tensor(targets.encode(part.y_train), device=device))
        runs.append((net, make_optimizer(net, training), train, (np.asarray(X_val, dtype=np.float32), targets.encode(y_val)),
                     targets))
    state = LoopState()
    for epoch in range(1, training["epochs"] + 1):
        scores = []
        for index, (net, optimizer, train, val, targets) in enumerate(runs):
            generator = torch.Generator().manual_seed(training["seed"] * 100003 + epoch * 101 + index)
            train_epoch(net, optimizer, *train, training["batch_size"], targets.task, generator, precision)
            scores.append(validation_metrics(net, *val, targets, device))
        common = set.intersection(*(set(s) for s in scores))
        metrics = {name: float(np.mean([s[name] for s in scores])) for name in sorted(common)}
        state.record(epoch, metrics, model["metric"], stopping.get("min_delta", 0.0))
        state.stopped_early = bool(stopping.get("patience")) and state.bad_epochs >= stopping["patience"] \
            and epoch < training["epochs"]
        report(state, metrics)
        if state.stopped_early:
            break
    return state
