"""`model`: the task, the model family and its parameters, and the metric that selects models."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from mlops.errors import UnknownName
from mlops.metrics import METRICS, metrics_for
from mlops.plugins import estimators
from mlops.spec.base import StrictModel

Task = Literal["classification", "regression"]
DEFAULT_METRIC = {"classification": "f1_macro", "regression": "rmse"}


class ModelBase(StrictModel):
    task: Task
    metric: Optional[str] = Field(None, description="metric that selects and promotes models (default: f1_macro / rmse)")

    @model_validator(mode="after")
    def _metric_fits_task(self):
        if self.metric is None:
            self.metric = DEFAULT_METRIC[self.task]
        elif self.metric not in METRICS or METRICS[self.metric].task != self.task:
            raise ValueError(f"metric '{self.metric}' is not a {self.task} metric; expected one of {metrics_for(self.task)}")
        return self


class SklearnModelSpec(ModelBase):
    type: Literal["sklearn"] = "sklearn"
    estimator: str = Field(description="a registered estimator name (see `mlops plugins`)")
    params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the estimator")

    @field_validator("estimator")
    @classmethod
    def _estimator_is_registered(cls, name: str) -> str:
        try:
            estimators.get(name)
        except UnknownName as exc:
            raise ValueError(str(exc)) from None
        return name

    @model_validator(mode="after")
    def _estimator_supports_task(self):
        factory = estimators.get(self.estimator).target
        tasks = getattr(factory, "tasks", None) or estimators.get(self.estimator).meta.get("tasks", ())
        if tasks and self.task not in tasks:
            raise ValueError(f"estimator '{self.estimator}' does not support task '{self.task}' (supports: {', '.join(tasks)})")
        return self


ModelSpec = Annotated[Union[SklearnModelSpec], Field(discriminator="type")]
