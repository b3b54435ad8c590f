"""Spec models of the built-in retraining triggers. Plugins subclass TriggerConfig the same way and
register an evaluator with `triggers.add(name, evaluator, config=TheirConfig)`."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mlops.spec.base import StrictModel

from mlops.durations import Duration


class TriggerConfig(StrictModel):
    """Base of every trigger config: `on` names the registered trigger."""

    on: str


class DriftTrigger(TriggerConfig):
    """Fires when at least this share of features drifted in the new data (validation.drift's detector)."""

    on: Literal["drift"] = Field("drift", description="drift: retrain when served or new data drifts from the training data")
    min_drifted_features: float = Field(0.25, gt=0, le=1, description="share of features flagged as drifted")


class MetricDropTrigger(TriggerConfig):
    """Fires when the champion's metric on labelled new data (or feedback) falls below a floor."""

    on: Literal["metric_drop"] = Field("metric_drop", description="metric_drop: retrain when the live metric, from feedback labels, drops")
    below: float | None = Field(None, description="fires when the metric on recent labelled rows is below this")
    above: float | None = Field(None, description="for error metrics (rmse, log_loss...): fires above this")
    metric: str | None = Field(None, description="default: model.metric")
    min_labels: int = Field(50, ge=1, description="fewer labelled rows than this: not enough evidence, no fire")
    last_n_rows: int = Field(5000, ge=1, description="the rolling window of most recent labelled rows")

    @model_validator(mode="after")
    def _one_bound(self):
        if (self.below is None) == (self.above is None):
            raise ValueError("metric_drop needs exactly one of 'below' (for scores) or 'above' (for errors)")
        return self


class NewDataTrigger(TriggerConfig):
    """Fires when at least this many rows arrived since the champion was trained."""

    on: Literal["new_data"] = Field("new_data", description="new_data: retrain when enough new rows have arrived")
    min_rows: int = Field(ge=1, description="new rows needed before retraining")


class ScheduleTrigger(TriggerConfig):
    """Fires when the champion is older than `every` (e.g. 7d)."""

    on: Literal["schedule"] = Field("schedule", description="schedule: retrain on a fixed schedule")
    every: Duration
