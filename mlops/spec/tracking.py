"""`tracking`: where runs, metrics and model versions go (MLflow)."""
from __future__ import annotations

from typing import Optional

from pydantic import Field

from mlops.spec.base import StrictModel
from mlops.stores import DEFAULT_TRACKING_URI


class TrackingSpec(StrictModel):
    uri: str = Field(DEFAULT_TRACKING_URI, description="any MLflow tracking URI; a relative sqlite path is relative to the spec's directory")
    experiment: Optional[str] = Field(None, description="MLflow experiment (default: the spec's name)")
