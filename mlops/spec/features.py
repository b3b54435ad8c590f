"""`features`: which columns are features and how they are preprocessed (fitted on the train split only)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from mlops.spec import expressions
from mlops.spec.base import StrictModel


class ImputeSpec(StrictModel):
    numeric: Literal["mean", "median", "most_frequent", "none"] = "median"
    categorical: Literal["most_frequent", "constant", "none"] = "most_frequent"


class FeaturesSpec(StrictModel):
    numeric: Optional[list[str]] = Field(None, description="numeric feature columns; omitted = inferred from dtypes")
    categorical: Optional[list[str]] = Field(None, description="categorical columns; omitted = inferred")
    drop: list[str] = Field(default_factory=list, description="columns never used as features")
    impute: ImputeSpec = ImputeSpec()
    scale: Literal["standard", "minmax", "robust", "none"] = "standard"
    encode: Literal["onehot", "ordinal"] = "onehot"
    derived: dict[str, str] = Field(
        default_factory=dict,
        description="new numeric columns from arithmetic over columns, e.g. {ratio: 'a / (b + 1)'}",
    )

    @field_validator("derived")
    @classmethod
    def _expressions_are_safe(cls, derived: dict[str, str]) -> dict[str, str]:
        for name, expr in derived.items():
            if not name.isidentifier():
                raise ValueError(f"derived column name '{name}' must be an identifier")
            try:
                expressions.parse(expr)
            except expressions.ExpressionError as exc:
                raise ValueError(f"derived.{name} = {expr!r}: {exc}") from None
        return derived
