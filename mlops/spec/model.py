"""`model`: the task, the model family and its parameters, and the metric that selects models."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from mlops.errors import FieldValueError, UnknownName
from mlops.metrics import METRICS, metrics_for
from mlops.plugins import estimators
from mlops.spec.base import StrictModel
from mlops.spec.card import CardSpec
from mlops.spec.tuning import SPACE_ROOTS, Domain
from mlops.spec.torch_training import ArchitectureSpec, TrainingSpec

Task = Literal["classification", "regression"]
DEFAULT_METRIC = {"classification": "f1_macro", "regression": "rmse"}


class ModelBase(StrictModel):
    task: Task = Field(description="what is predicted: a class (classification) or a number (regression)")
    metric: Optional[str] = Field(None, description="metric that selects and promotes models (default: f1_macro / rmse)")
    # exclude: free text for the model card (read from the recorded spec), never part of a node's params or hash
    card: Optional[CardSpec] = Field(None, exclude=True, description="intended use, limitations and owners, shown "
                                     "in every version's model card (`mlops report`); changes no training")

    @model_validator(mode="after")
    def _metric_fits_task(self):
        if self.metric is None:
            self.metric = DEFAULT_METRIC[self.task]
        elif self.metric not in METRICS or METRICS[self.metric].task != self.task:
            raise FieldValueError("metric", f"not a {self.task} metric; expected one of {metrics_for(self.task)}")
        return self


class SklearnModelSpec(ModelBase):
    type: Literal["sklearn"] = Field("sklearn", description="sklearn: one registered estimator (scikit-learn's or a plugin's) fitted after the preprocessing")
    estimator: str = Field(description="a registered estimator name (see `mlops plugins`)")
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the estimator")

    @field_validator("estimator")
    @classmethod
    def _estimator_is_registered(cls, name: str) -> str:
        registered_estimator(name)
        own_type = family_model_type(name)
        if own_type != "sklearn":
            raise ValueError(f"'{name}' is a model type of its own: write model.type: {own_type} (or list {name} "
                             f"in a `type: auto` model's candidates)")
        return name

    @model_validator(mode="after")
    def _estimator_supports_task(self):
        if not supports_task(self.estimator, self.task):
            raise ValueError(f"estimator '{self.estimator}' does not support task '{self.task}' (supports: {', '.join(estimator_tasks(self.estimator))})")
        return self


class TorchModelSpec(ModelBase):
    """A tabular MLP trained with Ray Train's TorchTrainer on `hardware.workers` workers."""

    type: Literal["torch"] = Field("torch", description="torch: a tabular MLP trained with Ray Train")
    architecture: ArchitectureSpec = Field(ArchitectureSpec(), description="the network's layers and activation")
    training: TrainingSpec = Field(TrainingSpec(), description="epochs, batch size, optimizer and early stopping")


class EnsembleSpec(StrictModel):
    """The best trials of the search combined into one model, registered and served like any other."""

    top_k: int = Field(5, ge=2, le=20, description="how many of the best finished trials (distinct configurations) to combine")
    method: Literal["stacking", "voting"] = Field("stacking", description="stacking: a linear model over the members' "
                                                  "out-of-fold predictions; voting: their average (soft voting)")


class AutoModelSpec(ModelBase):
    """Model selection: one Ray Tune run over several estimator families and their search spaces."""

    type: Literal["auto"] = Field("auto", description="auto: search several estimator families on Ray Tune and register the best")
    ensemble: Optional[EnsembleSpec] = Field(None, description="refit the best trials combined into one model, instead "
                                             "of the best trial alone (the champion gate then judges it like any model)")
    candidates: Optional[list[str]] = Field(None, min_length=1, description="estimator families to search (default: those registered with auto=True for the task)")
    search_space: dict[str, dict[str, Domain]] = Field(default_factory=dict, description="per family: dotted path -> domain, replacing that family's registered space")

    @field_validator("candidates")
    @classmethod
    def _candidates_are_registered(cls, names: Optional[list[str]]) -> Optional[list[str]]:
        return [registered_estimator(name) for name in names] if names is not None else None

    @model_validator(mode="after")
    def _candidates_fit_task(self):
        if self.candidates is None:
            self.candidates = auto_candidates(self.task)
        if not self.candidates:
            raise ValueError(f"no estimator is registered with auto=True for task '{self.task}'; list model.candidates")
        for name in self.candidates:
            if not supports_task(name, self.task):
                raise ValueError(f"candidates: estimator '{name}' does not support task '{self.task}' (supports: {', '.join(estimator_tasks(name))})")
        extra = [f for f in self.search_space if f not in self.candidates]
        if extra:
            raise ValueError(f"search_space names families that are not candidates: {', '.join(extra)} (candidates: {', '.join(self.candidates)})")
        for family, space in self.search_space.items():
            roots = SPACE_ROOTS[family_model_type(family)]
            bad = [k for k, d in space.items() if k.split(".")[0] not in roots or "." not in k or d.kind == "grid"]
            if bad:
                keys = " or ".join(f"{root}.NAME" for root in roots)
                raise ValueError(f"search_space.{family}: keys must be {keys} with sampled domains (no grid), got {', '.join(bad)}")
        return self


def registered_estimator(name: str) -> str:
    """`name` if the estimator registry has it; else a ValueError listing the known names and a close match."""
    try:
        estimators.get(name)
    except UnknownName as exc:
        raise ValueError(str(exc)) from None
    return name


def family_model_type(name: str) -> str:
    """The model section a registered family's trials fit: `sklearn` (an estimator with params), or the model
    type the family names (the torch MLP: `torch`)."""
    return estimators.get(name).meta.get("model_type") or "sklearn"


def estimator_tasks(name: str) -> tuple[str, ...]:
    """The tasks a registered estimator declares (empty: any)."""
    entry = estimators.get(name)
    return tuple(getattr(entry.target, "tasks", None) or entry.meta.get("tasks", ()))


def supports_task(name: str, task: str) -> bool:
    """Estimator `name` declares `task`, or declares no tasks at all."""
    tasks = estimator_tasks(name)
    return not tasks or task in tasks


def auto_candidates(task: str) -> list[str]:
    """The registry's default families for `type: auto`: estimators registered with auto=True whose library is
    installed (a family of an extra that is not installed, e.g. lightgbm without mlops[boosting], is left out)."""
    return [entry.name for entry in estimators if entry.meta.get("auto") and supports_task(entry.name, task)
            and getattr(entry.target, "installed", True)]


ModelSpec = Annotated[Union[SklearnModelSpec, TorchModelSpec, AutoModelSpec], Field(discriminator="type")]
