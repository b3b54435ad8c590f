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

    missing_column: Severity = "error"
    unexpected_column: Severity = "warn"
    type_mismatch: Severity = "error"
    out_of_range: Severity = "warn"
    unseen_category: Severity = "warn"
    null_fraction: Severity = "warn"
    empty_batch: Severity = "error"
    drift: Severity = Field("warn", description="the drift detector's verdict on the batch")


class ColumnRule(StrictModel):
    """An explicit contract for one column; fields left out are inferred from the training data."""

    type: Optional[Literal["number", "integer", "string", "boolean"]] = None
    nullable: Optional[bool] = None
    max_null_fraction: Optional[float] = Field(None, ge=0, le=1)
    min: Optional[float] = None
    max: Optional[float] = None
    categories: Optional[list[Union[str, int, float, bool]]] = None


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
    p_val: float = Field(0.05, gt=0, lt=1)
    correction: Literal["bonferroni", "fdr"] = "bonferroni"
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
    on_violation: OnViolation = OnViolation()
    drift: Optional[DriftSpec] = DriftSpec()
    outliers: Optional[OutlierSpec] = OutlierSpec()

    model_config = {**StrictModel.model_config, "populate_by_name": True}


def effective_validation(spec: object) -> ValidationSpec:
    """The validation settings in force, the one answer every command uses: the spec's section as written
    (`drift: null` means no drift check anywhere), or, without a section, the defaults with the outlier
    detector off (profile and drift reference are cheap; outliers are opt-in)."""
    section = getattr(spec, "validation", None)
    return section if section is not None else ValidationSpec(outliers=None)
