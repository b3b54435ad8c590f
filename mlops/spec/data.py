"""`data`: where the training data comes from, the target, and how it is split."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator

from mlops.plugins import data_sources
from mlops.spec.base import StrictModel


def _source_union():
    # Built from the registry so plugin sources validate (and appear in the JSON Schema) like built-ins.
    configs = tuple(entry.resolve("config") for entry in data_sources)
    return Annotated[Union[configs], Field(discriminator="type")] if len(configs) > 1 else configs[0]


SourceSpec = _source_union()


class SplitSpec(StrictModel):
    method: Literal["random", "stratified", "time"] = Field("random", description="random, stratified by the target's classes, or time (the newest rows by data.timestamp are the test rows)")
    test_size: float = Field(0.2, gt=0, lt=1, description="fraction of rows held out for evaluation")
    seed: int = Field(42, description="seed of the random split (the same seed gives the same split)")


class DataSpec(StrictModel):
    source: SourceSpec = Field(description="where the training data comes from: csv, parquet, sklearn (a bundled dataset) or a plugin's type")
    target: str = Field(description="column to predict")
    id_column: Optional[str] = Field(None, description="kept as-is next to predictions, never used as a feature")
    timestamp: Optional[str] = Field(None, description="column that orders rows; needed by split.method=time, and "
                                                       "the label time of the point-in-time feature join")
    entity_keys: list[str] = Field(default_factory=list, description="key columns the feature views join on "
                                                                     "(features.entities[].key)")
    split: SplitSpec = Field(SplitSpec(), description="how the rows are split into train and test")

    @model_validator(mode="after")
    def _time_split_needs_timestamp(self):
        if self.split.method == "time" and not self.timestamp:
            raise ValueError("split.method=time needs data.timestamp (the column that orders rows)")
        return self
