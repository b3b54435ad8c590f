"""`validation`: the data contract inferred at train time, what to do on each kind of violation, and
the drift and outlier detectors fitted on the training data."""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, field_validator

from mlops.errors import UnknownName
from mlops.plugins import detectors
from mlops.spec.base import StrictModel

Severity = Literal["error", "warn", "ignore"]


class OnViolation(StrictModel):
    """Severity per anomaly kind: any 'error' makes `mlops check` exit 1; 'warn' is reported only."""

    missing_column: Severity = Field("error", description="severity of a batch lacking a column of the training data")
    unexpected_column: Severity = Field("warn", description="severity of a batch column the training data did not have")
    type_mismatch: Severity = Field("error", description="severity of values of the wrong type")
    out_of_range: Severity = Field("warn", description="severity of numbers outside the training range")
    unseen_category: Severity = Field("warn", description="severity of categories not seen in training")
    null_fraction: Severity = Field("warn", description="severity of more missing values than the column allows")
    empty_batch: Severity = Field("error", description="severity of a batch with no rows")
    drift: Severity = Field("warn", description="the drift detector's verdict on the batch")


class ColumnRule(StrictModel):
    """An explicit contract for one column; fields left out are inferred from the training data."""

    type: Optional[Literal["number", "integer", "string", "boolean"]] = Field(None, description="the column's kind (omitted: inferred from the training data)")
    nullable: Optional[bool] = Field(None, description="whether missing values are allowed (omitted: as in the training data)")
    max_null_fraction: Optional[float] = Field(None, ge=0, le=1, description="largest share of missing values a batch may have in this column")
    min: Optional[float] = Field(None, description="smallest value expected (omitted: the training minimum)")
    max: Optional[float] = Field(None, description="largest value expected (omitted: the training maximum)")
    categories: Optional[list[Union[str, int, float, bool]]] = Field(None, description="the values expected in a categorical column (omitted: those seen in training)")


def _check_detector(name: str, kind: str) -> str:
    try:
        entry = detectors.get(name)
    except UnknownName as exc:
        raise ValueError(str(exc)) from None
    if entry.meta.get("kind") != kind:
        known = sorted(e.name for e in detectors if e.meta.get("kind") == kind)
        raise ValueError(f"'{name}' detects {entry.meta.get('kind')}s, not {kind}; expected one of {known}")
    return name


class DriftSpec(StrictModel):
    detector: str = Field("tabular", description="ks | chi2 | tabular (mixed types) | mmd, or a plugin's")
    p_val: float = Field(0.05, gt=0, lt=1, description="significance level of the drift tests")
    correction: Literal["bonferroni", "fdr"] = Field("bonferroni", description="multiple-testing correction over the per-column tests: bonferroni or fdr")
    reference_rows: int = Field(5000, ge=50, description="rows of training data kept as the drift reference")

    @field_validator("detector")
    @classmethod
    def _registered(cls, name: str) -> str:
        return _check_detector(name, "drift")


class OutlierSpec(StrictModel):
    detector: str = Field("iforest", description="iforest | mahalanobis, or a plugin's")
    threshold_percentile: float = Field(99, gt=50, lt=100, description="training rows above this score percentile are outliers")

    @field_validator("detector")
    @classmethod
    def _registered(cls, name: str) -> str:
        return _check_detector(name, "outlier")


class ValidationSpec(StrictModel):
    schema_: Union[Literal["infer"], dict[str, ColumnRule]] = Field(
        "infer", alias="schema", description="'infer' from the training data, or {column: rule} to pin parts of it")
    null_fraction_tolerance: float = Field(0.05, ge=0, le=1, description="allowed rise of a column's null fraction over training")
    on_violation: OnViolation = Field(OnViolation(), description="the severity of each kind of finding (error fails the check)")
    drift: Optional[DriftSpec] = Field(DriftSpec(), description="the drift test of new data against the training data (null: off)")
    outliers: Optional[OutlierSpec] = Field(OutlierSpec(), description="the outlier detector fitted on the training data (null: off)")

    model_config = {**StrictModel.model_config, "populate_by_name": True}


def effective_validation(spec: object) -> ValidationSpec:
    """The validation settings in force, the one answer every command uses: the spec's section as written
    (`drift: null` means no drift check anywhere), or, without a section, the defaults with the outlier
    detector off (profile and drift reference are cheap; outliers are opt-in)."""
    section = getattr(spec, "validation", None)
    return section if section is not None else ValidationSpec(outliers=None)
