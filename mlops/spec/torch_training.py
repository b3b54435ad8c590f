"""`model.architecture` and `model.training` of `type: torch` models (a tabular MLP on Ray Train)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field

from mlops.spec.base import StrictModel

# Names the spec accepts; mlops.models.torch_loop maps them to torch classes.
Activation = Literal["relu", "leaky_relu", "gelu", "silu", "elu", "tanh", "sigmoid"]
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
Precision = Literal["fp32", "bf16", "fp16"]


# A search shapes the network with three numbers instead of a list (a searched list's length cannot vary):
# `depth` hidden layers, the first `width` units wide, each next one `shrink` times the one before (1: all
# equally wide; 0.5: a funnel). A trial's model section gets the `hidden` list they describe.
SHAPE_KEYS = ("depth", "width", "shrink")
MIN_UNITS = 4  # a shrinking layer never gets narrower than this


def shaped_hidden(depth: int, width: int, shrink: float = 1.0) -> list[int]:
    """The hidden layers' widths: `depth` layers, the first `width` units, each next `shrink` times the last."""
    widths, units = [], float(width)
    for _ in range(int(depth)):
        widths.append(max(int(round(units)), min(MIN_UNITS, int(width))))
        units *= shrink
    return widths


def shape_architecture(section: dict) -> dict:
    """A torch model section whose architecture has depth/width/shrink (from a search) with `hidden` built
    from them instead; a section without them is returned as it is."""
    architecture = dict(section.get("architecture") or {})
    if not set(SHAPE_KEYS) & set(architecture):
        return section
    depth = architecture.pop("depth", None) or len(architecture.get("hidden") or [64, 32])
    width = architecture.pop("width", None) or (architecture.get("hidden") or [64])[0]
    architecture["hidden"] = shaped_hidden(depth, width, architecture.pop("shrink", 1.0))
    return {**section, "architecture": architecture}


class ArchitectureSpec(StrictModel):
    hidden: list[Annotated[int, Field(ge=1)]] = Field([64, 32], description="units of each hidden layer, input side first")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each hidden layer")
    activation: Activation = Field("relu", description="activation function between the hidden layers")


class EarlyStoppingSpec(StrictModel):
    patience: int = Field(5, ge=1, description="epochs without improvement of the validation metric before stopping")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")


class TrainingSpec(StrictModel):
    epochs: int = Field(30, ge=1, description="passes over the training rows (early stopping may end sooner)")
    batch_size: int = Field(256, ge=1, description="global batch size, split evenly across Ray Train workers")
    lr: float = Field(1e-3, gt=0, description="learning rate")
    optimizer: Optimizer = Field("adam", description="the optimizer")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty on the weights")
    early_stopping: Optional[EarlyStoppingSpec] = Field(None, description="stop when the validation metric stalls")
    validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="share of the train split held out to pick the best epoch")
    seed: int = Field(0, description="seed of the weights' initialisation and the batches' order")
    precision: Precision = Field("fp32", description="fp32; bf16 (mixed precision, on a CPU or a GPU that has it) or "
                                 "fp16 (mixed precision with a gradient scaler, GPUs only): refused before the first "
                                 "epoch where the device cannot run it")
    checkpoint_dir: Optional[str] = Field(None, description="where Ray Train keeps a checkpoint per epoch; relative to the "
                                                            "spec's directory (default .mlops/ray_train beside the spec)")
