"""The validated spec: one pydantic model per section, composed into `Spec`."""
from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from mlops.spec.base import StrictModel
from mlops.spec.data import DataSpec
from mlops.spec.features import FeaturesSpec
from mlops.spec.hardware import HardwareSpec
from mlops.spec.model import ModelSpec
from mlops.spec.monitoring import MonitoringSpec
from mlops.spec.retraining import RetrainingSpec
from mlops.spec.serving import ServingSpec
from mlops.spec.tracking import TrackingSpec
from mlops.spec.tuning import TuningSpec
from mlops.spec.validation import ValidationSpec



class Spec(StrictModel):
    """A whole project spec, as `mlops apply` runs it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="MLflow experiment and registered-model name")
    data: DataSpec
    features: FeaturesSpec = FeaturesSpec()
    model: ModelSpec
    tuning: Optional[TuningSpec] = None
    validation: Optional[ValidationSpec] = None
    retraining: Optional[RetrainingSpec] = None
    serving: Optional[ServingSpec] = None
    monitoring: Optional[MonitoringSpec] = None
    hardware: HardwareSpec = HardwareSpec()
    tracking: TrackingSpec = TrackingSpec()

    @model_validator(mode="after")
    def _target_is_not_a_feature(self):
        listed = (self.features.numeric or []) + (self.features.categorical or [])
        if self.data.target in listed:
            raise ValueError(f"data.target '{self.data.target}' is also listed as a feature")
        return self


__all__ = ["Spec"]
