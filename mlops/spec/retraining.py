"""`retraining`: where new data arrives, what fires a retrain, and when a challenger replaces the champion."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, field_validator

from mlops.plugins import triggers
from mlops.spec.base import StrictModel
from mlops.spec.data import SourceSpec


def _trigger_union():
    # Built from the registry so plugin triggers validate like built-ins (as data sources do).
    configs = tuple(entry.resolve("config") for entry in triggers)
    return Annotated[Union[configs], Field(discriminator="on")] if len(configs) > 1 else configs[0]


TriggerSpec = _trigger_union()


class LastRows(StrictModel):
    last_n_rows: int = Field(ge=1, description="train on the newest this many rows")


class RetrainingData(StrictModel):
    source: SourceSpec = Field(description="the new data (with the target column when labelled), e.g. a csv glob")
    window: Union[Literal["all"], LastRows] = Field(
        "all", description="'all': training data + every new row; {last_n_rows: N}: the newest N rows of both")
    holdout_rows: Optional[int] = Field(
        None, ge=1, description="newest labelled rows kept out of retraining to compare models (default: 20% of new data)")


class PromotePolicy(StrictModel):
    metric: Optional[str] = Field(None, description="default: model.metric")
    min_improvement: float = Field(0.0, ge=0, description="the challenger must beat the champion by at least this")
    holdout: Literal["latest", "test_split"] = Field(
        "latest", description="latest: the newest labelled rows of retraining.data; test_split: the plan's test split")


class RetrainingSpec(StrictModel):
    data: RetrainingData = Field(description="the data a retrain trains on")
    triggers: list[TriggerSpec] = Field(default_factory=list, min_length=1, description="what starts a retrain (any one firing is enough)")
    promote: PromotePolicy = Field(PromotePolicy(), description="when the retrained challenger replaces the champion")

    @field_validator("triggers")
    @classmethod
    def _one_of_each(cls, items: list) -> list:
        seen = [t.on for t in items]
        repeated = sorted({o for o in seen if seen.count(o) > 1})
        if repeated:
            raise ValueError(f"trigger 'on: {repeated[0]}' is listed twice; keep one")
        return items
