"""`model.architecture` and `model.training` of `type: torch` models (a tabular MLP on Ray Train)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field

from mlops.spec.base import StrictModel

# Names the spec accepts; mlops.models.torch_loop maps them to torch classes.
Activation = Literal["relu", "leaky_relu", "gelu", "silu", "elu", "tanh", "sigmoid"]
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]


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
    checkpoint_dir: Optional[str] = Field(None, description="where Ray Train keeps a checkpoint per epoch; relative to the "
                                                            "spec's directory (default .mlops/ray_train beside the spec)")
