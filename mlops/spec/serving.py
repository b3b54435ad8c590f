"""`serving`: how predictions are delivered (batch files now; online endpoints build on this)."""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from mlops.spec.base import StrictModel
from mlops.spec.data import SourceSpec


class BatchServing(StrictModel):
    input: Union[str, SourceSpec] = Field(
        description="a csv/parquet path (relative to the spec), 'sklearn:NAME', or a source like data.source"
    )
    output: str = Field("out/predictions.parquet", description="a .parquet or .csv file to write")
    executor: Literal["auto", "local", "ray_data"] = Field(
        "auto", description="auto: Ray Data on a remote cluster or for large inputs, else threads in one process"
    )
    batch_size: int = Field(65536, ge=1)
    include_proba: bool = True

    @field_validator("output")
    @classmethod
    def _known_output_format(cls, path: str) -> str:
        if not path.endswith((".parquet", ".csv")):
            raise ValueError("output must end in .parquet or .csv")
        return path


class ServingSpec(StrictModel):
    mode: Literal["batch"] = "batch"
    batch: Optional[BatchServing] = None

    @model_validator(mode="after")
    def _batch_needs_batch_section(self):
        if self.mode == "batch" and self.batch is None:
            raise ValueError("serving.mode=batch needs serving.batch: {input: ..., output: ...}")
        return self
