"""The fitted preprocessing saved inside every model: derived columns, imputation, scaling, encoding."""
from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

from mlops.spec import expressions


class DerivedColumns(TransformerMixin, BaseEstimator):
    """Adds the spec's derived columns (safe expressions) to a DataFrame; stateless."""

    def __init__(self, derived: dict[str, str] | None = None):
        self.derived = derived

    def fit(self, X: Any, y: Any = None) -> "DerivedColumns":
        """Nothing to learn; returns self."""
        return self

    def transform(self, X: Any) -> Any:
        """A copy of `X` with each derived column added (`X` itself when there are none)."""
        if not self.derived:
            return X
        X = X.copy()
        for name, expr in self.derived.items():
            X[name] = expressions.evaluate(expr, X)
        return X


def build_preprocessor(features: dict[str, Any], numeric: list[str], categorical: list[str]):
    """A ColumnTransformer built from the `features` section and the resolved column lists. `numeric`
    holds the date/time columns too: the numeric branch's first step turns them into numeric parts."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

    from mlops.models.datetime_parts import DatetimeParts
    from mlops.spec.features import DEFAULT_DATETIME_PARTS

    scalers = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
    num_steps = [("dates", DatetimeParts(list(features.get("datetime_parts") or DEFAULT_DATETIME_PARTS),
                                         list(features.get("datetime") or [])))]
    if features["impute"]["numeric"] != "none":
        num_steps.append(("impute", SimpleImputer(strategy=features["impute"]["numeric"])))
    if features["scale"] != "none":
        num_steps.append(("scale", scalers[features["scale"]]()))
    cat_steps = []
    if features["impute"]["categorical"] != "none":
        cat_steps.append(("impute", SimpleImputer(strategy=features["impute"]["categorical"], fill_value="missing")))
    if features["encode"] == "onehot":
        # Bounded: a column with more values than the threshold keeps its threshold - 1 most frequent ones
        # and one 'infrequent' column, which unseen values join too (columns under it encode as before).
        threshold = int((features.get("high_cardinality") or {}).get("threshold", 50))
        cat_steps.append(("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=threshold,
                                                  sparse_output=False)))
    else:
        cat_steps.append(("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(num_steps), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(cat_steps), categorical))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def output_sources(preprocessor: Any) -> dict[str, str]:
    """Each encoded column's input column, for a fitted build_preprocessor (one-hot's `city_paris` and a
    date's `built_date_month` go back to `city` and `built_date`)."""
    sources: dict[str, str] = {}
    for _, transformer, columns in getattr(preprocessor, "transformers_", []):
        if transformer == "drop" or not len(columns):
            continue
        columns = [str(c) for c in columns]
        try:
            names = [str(n) for n in transformer.get_feature_names_out(columns)]
        except (AttributeError, ValueError, TypeError):
            continue
        dates = getattr(transformer, "named_steps", {}).get("dates")
        known = dates.source_columns() if dates is not None else {}
        by_length = sorted(columns, key=len, reverse=True)
        for name in names:
            sources[name] = known.get(name) or next(
                (c for c in by_length if name == c or name.startswith(c + "_")), name)
    return sources


def build_pipeline(features: dict[str, Any], numeric: list[str], categorical: list[str], estimator: Any):
    """derive -> preprocess -> estimator, as one sklearn Pipeline (what gets saved and served)."""
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("derive", DerivedColumns(features.get("derived") or None)),
        ("preprocess", build_preprocessor(features, numeric, categorical)),
        ("model", estimator),
    ])
