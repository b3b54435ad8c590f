"""The validated spec: one pydantic model per section, composed into `Spec`."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, model_validator

from mlops.spec.base import StrictModel
from mlops.spec.data import DataSpec
from mlops.spec.features import FeaturesSpec
from mlops.spec.hardware import HardwareSpec
from mlops.spec.model import ModelSpec
from mlops.spec.serving import ServingSpec
from mlops.spec.tracking import TrackingSpec

# Sections of the product that this build does not implement yet: named, so the error says so.
UNSUPPORTED_SECTIONS = {"tuning": "issue 3", "validation": "issue 5", "retraining": "issue 5", "monitoring": "issue 5"}


class Spec(StrictModel):
    """A whole project spec, as `mlops apply` runs it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="MLflow experiment and registered-model name")
    data: DataSpec
    features: FeaturesSpec = FeaturesSpec()
    model: ModelSpec
    serving: Optional[ServingSpec] = None
    hardware: HardwareSpec = HardwareSpec()
    tracking: TrackingSpec = TrackingSpec()

    @model_validator(mode="before")
    @classmethod
    def _reject_unsupported_sections(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            for section in UNSUPPORTED_SECTIONS:
                if section in raw:
                    raise ValueError(f"section '{section}' is not supported by this build of mlops yet")
        return raw

    @model_validator(mode="after")
    def _target_is_not_a_feature(self):
        listed = (self.features.numeric or []) + (self.features.categorical or [])
        if self.data.target in listed:
            raise ValueError(f"data.target '{self.data.target}' is also listed as a feature")
        return self


__all__ = ["Spec"]
