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
    """A ColumnTransformer built from the `features` section and the resolved column lists."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

    scalers = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
    num_steps = []
    if features["impute"]["numeric"] != "none":
        num_steps.append(("impute", SimpleImputer(strategy=features["impute"]["numeric"])))
    if features["scale"] != "none":
        num_steps.append(("scale", scalers[features["scale"]]()))
    cat_steps = []
    if features["impute"]["categorical"] != "none":
        cat_steps.append(("impute", SimpleImputer(strategy=features["impute"]["categorical"], fill_value="missing")))
    if features["encode"] == "onehot":
        cat_steps.append(("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)))
    else:
        cat_steps.append(("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(num_steps) if num_steps else "passthrough", numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(cat_steps), categorical))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def build_pipeline(features: dict[str, Any], numeric: list[str], categorical: list[str], estimator: Any):
    """derive -> preprocess -> estimator, as one sklearn Pipeline (what gets saved and served)."""
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("derive", DerivedColumns(features.get("derived") or None)),
        ("preprocess", build_preprocessor(features, numeric, categorical)),
        ("model", estimator),
    ])
