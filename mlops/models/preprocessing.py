"""The fitted preprocessing saved inside every model: derived columns, imputation, scaling, encoding."""
from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

from mlops.spec import expressions


class DerivedColumns(TransformerMixin, BaseEstimator):
    """Adds the spec's derived columns (safe expressions) to a DataFrame; stateless. With `nulls_as_nan`
    (every pipeline built since the input contract), a None in a column of text is NaN first, as read_csv
    writes a missing value, so the imputers fill it whichever way it arrived (a parquet file's None, a
    request's null) instead of encoding "None" as a category."""

    def __init__(self, derived: dict[str, str] | None = None, nulls_as_nan: bool = False):
        self.derived = derived
        self.nulls_as_nan = nulls_as_nan

    def fit(self, X: Any, y: Any = None) -> "DerivedColumns":
        """Nothing to learn (the column names are kept, for get_feature_names_out); returns self."""
        if hasattr(X, "columns"):  # a plain list: the safe model format (skops) stores it as it is
            self.columns_seen_ = [str(c) for c in X.columns]
        return self

    def transform(self, X: Any) -> Any:
        """A copy of `X` with each derived column added (`X` itself when there is nothing to do)."""
        if getattr(self, "nulls_as_nan", False):  # models saved before the setting read None as they did
            X = _nulls_as_nan(X)
        if not self.derived:
            return X
        X = X.copy()
        for name, expr in self.derived.items():
            X[name] = expressions.evaluate(expr, X)
        return X

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        """The input columns (those seen at fit, else `input_features`) followed by the derived ones, so a
        pipeline's names survive this step (`pipeline[:-1].get_feature_names_out()`)."""
        import numpy as np

        names = list(getattr(self, "columns_seen_", None) if input_features is None else input_features)
        return np.asarray([*names, *[n for n in (self.derived or {}) if n not in names]], dtype=object)


def _nulls_as_nan(X: Any) -> Any:
    """`X` with None (and pandas' NA) in its object columns as NaN, and pandas' extension columns (a parquet
    file's Int64, Float64, boolean, string and category) as the numpy columns read_csv would give (numbers,
    floats where a value is missing, text and true/false as objects): scikit-learn's imputers and encoders
    take those, and a category column would otherwise fail the fit. `X` itself when there is nothing to do."""
    import numpy as np
    import pandas as pd

    if not hasattr(X, "columns"):
        return X
    changed = {}
    for column in X.columns:
        series = X[column]
        dtype = series.dtype
        if dtype == object:
            missing = series.isna()
            if missing.any() and not series[missing].map(lambda v: isinstance(v, float)).all():
                changed[column] = series.where(~missing, np.nan)
        elif isinstance(dtype, pd.CategoricalDtype) or (pd.api.types.is_extension_array_dtype(dtype) and (
                pd.api.types.is_bool_dtype(dtype) or not (pd.api.types.is_numeric_dtype(dtype)
                                                           or pd.api.types.is_datetime64_any_dtype(dtype)))):
            values = series.astype(object)  # category, string, boolean: plain values, NaN where missing
            changed[column] = values.where(series.notna(), np.nan)
        elif pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
            missing = series.isna()
            whole = pd.api.types.is_integer_dtype(dtype) and not missing.any()
            changed[column] = series.to_numpy(dtype=np.int64 if whole else np.float64,
                                              **({} if whole else {"na_value": np.nan}))
    return X.assign(**changed) if changed else X


class DistinctValues:
    """Which of `columns` a ColumnTransformer branch takes: those with more distinct values than `threshold`
    in the data it is fitted on (`above`), or the others. Decided at fit, as the one-hot encoder's bound is,
    so training, tuning trials and every refit agree; the fitted transformer keeps the columns chosen."""

    def __init__(self, columns: list[str], threshold: int, above: bool):
        self.columns, self.threshold, self.above = list(columns), int(threshold), bool(above)

    def __call__(self, X: Any) -> list[str]:
        """The columns of `X` this branch encodes."""
        return [c for c in self.columns if (X[c].nunique() > self.threshold) == self.above]


class PresenceFlags:
    """Which of `columns` a categorical branch of the ColumnTransformer takes: the flags (one value where
    filled, empty elsewhere: 'yes' or blank) or the others, those with at most `threshold` distinct values when
    it is given. Decided at fit from the data, as DistinctValues is. A flag goes to its own branch because the
    default imputation (most_frequent) would fill its empty cells with its one value and erase it."""

    def __init__(self, columns: list[str], flags: bool, threshold: int | None = None):
        self.columns, self.flags, self.threshold = list(columns), bool(flags), threshold

    def __call__(self, X: Any) -> list[str]:
        """The columns of `X` this branch encodes."""
        return [c for c in self.columns if is_flag(X[c]) == self.flags
                and (self.flags or self.threshold is None or X[c].nunique() <= self.threshold)]


def is_flag(values: Any) -> bool:
    """One distinct value and at least one empty cell."""
    return bool(values.nunique() == 1 and values.isna().any())


class FilledOrEmpty(TransformerMixin, BaseEstimator):
    """Each cell as text, an empty one as 'missing' (what a flag's one-hot encoder reads: numbers and text
    alike, which SimpleImputer's constant fill refuses to mix); stateless."""

    def fit(self, X: Any, y: Any = None) -> "FilledOrEmpty":
        """Nothing to learn; returns self."""
        return self

    def transform(self, X: Any) -> Any:
        import numpy as np
        import pandas as pd

        frame = pd.DataFrame(X)
        return np.where(frame.isna().to_numpy(), "missing", frame.astype(str).to_numpy()).astype(object)

    def get_feature_names_out(self, input_features: Any = None) -> Any:
        import numpy as np

        return np.asarray([] if input_features is None else list(input_features), dtype=object)


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
    high = features.get("high_cardinality") or {}
    threshold = int(high.get("threshold", 50))
    if features["encode"] == "onehot":
        # Bounded: a column with more values than the threshold keeps its threshold - 1 most frequent ones
        # and one 'infrequent' column, which unseen values join too (columns under it encode as before).
        cat_steps.append(("encode", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=threshold,
                                                  sparse_output=False)))
    else:
        cat_steps.append(("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(num_steps), numeric))
    # With the default imputation a flag gets a branch of its own (PresenceFlags); 'constant' and 'none'
    # already keep an empty cell apart from the value.
    flags = features["impute"]["categorical"] == "most_frequent"
    if categorical and high.get("encoding") == "target":
        low = PresenceFlags(categorical, False, threshold) if flags else DistinctValues(categorical, threshold, above=False)
        transformers += [("categorical", Pipeline(cat_steps), low),
                         ("high_cardinality", Pipeline([*cat_steps[:-1], ("encode", target_encoder())]),
                          DistinctValues(categorical, threshold, above=True))]
    elif categorical:
        transformers.append(("categorical", Pipeline(cat_steps), PresenceFlags(categorical, False) if flags else categorical))
    if categorical and flags:
        transformers.append(("flags", Pipeline([("filled", FilledOrEmpty()),
                                                ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]),
                             PresenceFlags(categorical, True)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def target_encoder() -> Any:
    """scikit-learn's TargetEncoder: each category as the (smoothed) mean of the target over the training
    rows that have it, one column per class for a multiclass target; cross-fitted when the pipeline is
    fitted (fit_transform encodes each fold's rows from the other folds), so the estimator never learns
    from a row's own target. Folds shuffled with a fixed seed: the same data gives the same model. Unseen
    categories get the target's overall mean."""
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import TargetEncoder

    return TargetEncoder(cv=KFold(5, shuffle=True, random_state=0))


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
        ("derive", DerivedColumns(features.get("derived") or None, nulls_as_nan=True)),
        ("preprocess", build_preprocessor(features, numeric, categorical)),
        ("model", estimator),
    ])
