"""Spec models of the built-in data sources. Plugins subclass SourceConfig the same way."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from mlops.spec.base import StrictModel

class SourceConfig(StrictModel):
    """Base of every data source config: `type` names the registered source."""

    type: str


class CsvSource(SourceConfig):
    """One CSV file, or a glob of them read in sorted order."""

    type: Literal["csv"] = Field("csv", description="csv: CSV files")
    path: str = Field(description="file path or glob, relative to the spec's directory")
    separator: str = Field(",", description="the field separator")


class ParquetSource(SourceConfig):
    """A parquet file, a glob of files, or a directory of them."""

    type: Literal["parquet"] = Field("parquet", description="parquet: parquet files")
    path: str = Field(description="file, glob or directory, relative to the spec's directory")


class SklearnSource(SourceConfig):
    """A dataset bundled with scikit-learn (no download)."""

    type: Literal["sklearn"] = Field("sklearn", description="sklearn: a dataset bundled with scikit-learn")
    name: Literal["iris", "wine", "breast_cancer", "diabetes", "digits"] = Field(description="which bundled dataset")
