"""`features`: which columns are features and how they are preprocessed (fitted on the train split only)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from mlops.durations import Duration
from mlops.errors import FieldValueError
from mlops.spec import expressions
from mlops.spec.base import StrictModel
from mlops.spec.data import SourceSpec

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ImputeSpec(StrictModel):
    numeric: Literal["mean", "median", "most_frequent", "none"] = Field("median", description="how a missing number is filled (none: not filled; the estimator must take missing values)")
    categorical: Literal["most_frequent", "constant", "none"] = Field("most_frequent", description="how a missing category is filled (constant: the value 'missing')")


DATETIME_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour", "minute", "age_days",
                  "month_sin", "month_cos", "day_of_week_sin", "day_of_week_cos", "hour_sin", "hour_cos")
DatetimePart = Literal["year", "month", "day", "day_of_week", "day_of_year", "hour", "minute", "age_days",
                       "month_sin", "month_cos", "day_of_week_sin", "day_of_week_cos", "hour_sin", "hour_cos"]
DEFAULT_DATETIME_PARTS = ["year", "month", "day_of_week", "hour", "age_days", "month_sin", "month_cos"]


class HighCardinalitySpec(StrictModel):
    """Categorical columns with many distinct values: encoded into a bounded number of columns."""

    threshold: int = Field(50, ge=2, description="a categorical column with more distinct values than this in the "
                                                 "training data is high-cardinality")
    encoding: Literal["frequent", "target"] = Field(
        "frequent", description="frequent: one-hot of the threshold - 1 most frequent values plus one 'infrequent' "
                                "column, which also takes values never seen in training; target: scikit-learn's "
                                "TargetEncoder, one column (one per class for a multiclass target) of the target's "
                                "mean per value, cross-fitted on the training rows; unseen values get the overall mean")


class EntitySpec(StrictModel):
    """A thing features describe (a customer), identified by one key column (customer_id)."""

    name: str = Field(pattern=_NAME, description="the entity's name, referred to by views")
    key: str = Field(min_length=1, description="the join key column, in the labels and in each view's source")


class FeatureViewSpec(StrictModel):
    """Feature columns of one entity, read from a timestamped source (Feast's FeatureView)."""

    name: str = Field(pattern=_NAME, description="the view's name")
    entity: str = Field(description="the entity (features.entities[].name) the rows describe")
    source: SourceSpec = Field(description="the table the view's features are read from")
    timestamp: str = Field(min_length=1, description="the source's event-time column")
    ttl: Optional[Duration] = Field(None, description="how old a value may be and still count (omitted: any age)")
    features: list[str] = Field(min_length=1, description="the source's columns this view provides")
    defaults: dict[str, Union[bool, int, float, str]] = Field(
        default_factory=dict, description="value of a feature for an entity with no row within the TTL")

    @model_validator(mode="after")
    def _columns_are_consistent(self):
        duplicated = sorted({f for f in self.features if self.features.count(f) > 1})
        if duplicated:
            raise FieldValueError("features", f"listed more than once: {duplicated}")
        if self.timestamp in self.features:
            raise FieldValueError("features", f"'{self.timestamp}' is the view's timestamp, not a feature")
        unknown = sorted(set(self.defaults) - set(self.features))
        if unknown:
            raise FieldValueError("defaults", f"defaults for columns that are not features of the view: {unknown}")
        return self


class FeaturesSpec(StrictModel):
    numeric: Optional[list[str]] = Field(None, description="numeric feature columns; omitted = inferred from dtypes")
    categorical: Optional[list[str]] = Field(None, description="categorical columns; omitted = inferred")
    datetime: Optional[list[str]] = Field(
        None, description="date/time columns (ISO strings, epoch seconds or datetimes); omitted = inferred from "
                          "ISO-looking strings and datetime dtypes (epoch numbers must be listed)")
    datetime_parts: list[DatetimePart] = Field(
        default_factory=lambda: list(DEFAULT_DATETIME_PARTS), min_length=1,
        description="what each datetime column becomes, computed inside the saved model (UTC; age_days: days "
                    "before the newest training time; *_sin/*_cos: cyclic encodings)")
    drop: list[str] = Field(default_factory=list, description="columns never used as features (accepted and "
                                                              "ignored in requests and batch files)")
    high_cardinality: HighCardinalitySpec = Field(HighCardinalitySpec(), description="how categorical columns with many distinct values are encoded")
    impute: ImputeSpec = Field(ImputeSpec(), description="how missing values are filled, per column kind")
    scale: Literal["standard", "minmax", "robust", "none"] = Field("standard", description="how numeric columns are scaled (none: left as they are)")
    encode: Literal["onehot", "ordinal"] = Field("onehot", description="how categorical columns are encoded: one column per value, or one integer column")
    derived: dict[str, str] = Field(
        default_factory=dict,
        description="new numeric columns from arithmetic over columns, e.g. {ratio: 'a / (b + 1)'}",
    )
    entities: list[EntitySpec] = Field(default_factory=list, description="feature store entities")
    views: list[FeatureViewSpec] = Field(
        default_factory=list, description="feature views joined point-in-time onto the labels (data.timestamp, "
                                          "data.entity_keys) and materialized to the online store")
    online_store: Optional[str] = Field(
        None, description="the online store's SQLite file, relative to the spec (default .mlops/feature_store.db)")
    join_partitions: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = Field(
        "auto", description="the point-in-time join's matching split by entity into this many Ray tasks (auto: one "
                            "per CPU of the cluster once labels and view rows reach 2M, else one); the rows out are "
                            "the same either way")

    @model_validator(mode="after")
    def _roles_do_not_overlap(self):
        seen: dict[str, str] = {}
        for section in ("drop", "datetime", "numeric", "categorical"):
            for name in getattr(self, section) or []:
                if name in seen and seen[name] != section:
                    raise FieldValueError(section, f"'{name}' is also listed in features.{seen[name]}; a column has "
                                                   "one role")
                seen[name] = section
        parts = self.datetime_parts
        if len(set(parts)) < len(parts):
            raise FieldValueError("datetime_parts", f"listed more than once: {sorted({p for p in parts if parts.count(p) > 1})}")
        return self

    @model_validator(mode="after")
    def _views_name_known_entities(self):
        entities = [e.name for e in self.entities]
        if len(set(entities)) < len(entities):
            raise FieldValueError("entities", "entity names must be unique")
        names = [v.name for v in self.views]
        if len(set(names)) < len(names):
            raise FieldValueError("views", f"view names must be unique: {sorted({n for n in names if names.count(n) > 1})}")
        seen: dict[str, str] = {}
        for i, view in enumerate(self.views):
            if view.entity not in entities:
                from mlops.errors import did_you_mean

                hint = did_you_mean(view.entity, entities)
                raise FieldValueError(f"views.{i}.entity", f"unknown entity '{view.entity}'; expected one of "
                                                           f"{entities}" + (f" ({hint})" if hint else ""))
            for feature in view.features:
                if feature in seen:
                    raise FieldValueError(f"views.{i}.features", f"'{feature}' is also a feature of view "
                                                                 f"'{seen[feature]}' (joined columns must be unique)")
                seen[feature] = view.name
        return self

    def as_params(self) -> dict:
        """The section as node params (featurize, train, tune): everything but join_partitions, which
        changes how the join is spread, and online_store, where serving reads features: neither changes
        what any node computes (so neither reruns one)."""
        return self.model_dump(mode="json", exclude={"join_partitions", "online_store"})

    def entity_key(self, view: FeatureViewSpec) -> str:
        """The key column of a view's entity."""
        return next(e.key for e in self.entities if e.name == view.entity)

    @field_validator("join_partitions", mode="before")
    @classmethod
    def _partitions_are_auto_or_a_count(cls, value: object) -> object:
        if value == "auto" or (type(value) is int and value >= 1):
            return value
        raise ValueError("expected auto or a whole number >= 1")

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
