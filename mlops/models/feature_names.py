"""Named features: the names of the columns a fitted pipeline's estimator sees, and the input column each
came from (one-hot's `city_paris` and a date's `built_date_month` go back to `city` and `built_date`), so
every plot, table and explanation reads in the spec's column names instead of f0..fN."""
from __future__ import annotations

from typing import Any, Iterable, Optional


def split_pipeline(pipeline: Any) -> tuple[Optional[Any], Any]:
    """(the steps before the estimator as one transformer, the estimator); (None, model) for a model
    that is not a Pipeline (its inputs are its features)."""
    steps = getattr(pipeline, "steps", None)
    if not steps:
        return None, pipeline
    return (pipeline[:-1] if len(steps) > 1 else None), steps[-1][1]


def encoded_names(pipeline: Any, width: Optional[int] = None) -> Optional[list[str]]:
    """The names of the columns the estimator sees (`petal_ratio`, `city_paris`, ...); None when the
    pipeline cannot say, or says a different number of columns than `width`."""
    transform, _ = split_pipeline(pipeline)
    if transform is None:
        names = getattr(pipeline, "feature_names_in_", None)
    else:
        try:
            names = transform.get_feature_names_out()
        except (AttributeError, ValueError, TypeError):
            names = None
    if names is None:
        return None
    names = [str(n) for n in names]
    return names if width is None or len(names) == width else None


def input_sources(pipeline: Any) -> dict[str, str]:
    """Each encoded column's input column (a derived column is its own source)."""
    from mlops.models.preprocessing import output_sources

    preprocess = dict(getattr(pipeline, "steps", [])).get("preprocess")
    return output_sources(preprocess) if preprocess is not None else {}


def grouped(values: Iterable[float], names: list[str], sources: dict[str, str]) -> dict[str, float]:
    """`values` (one per encoded column) summed per input column, in first-seen order: a one-hot
    encoding's columns add up to their input column's share (SHAP values stay additive)."""
    totals: dict[str, float] = {}
    for name, value in zip(names, values):
        column = sources.get(name, name)
        totals[column] = totals.get(column, 0.0) + float(value)
    return totals


def own_importance(pipeline: Any) -> Optional[dict[str, float]]:
    """The estimator's own importance (feature_importances_, else |coef_| averaged over classes) per
    input column; None when it has none or its columns cannot be named."""
    import numpy as np

    _, estimator = split_pipeline(pipeline)
    values = getattr(estimator, "feature_importances_", None)
    if values is None and getattr(estimator, "coef_", None) is not None:
        values = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
    if values is None:
        return None
    names = encoded_names(pipeline, len(values))
    if names is None:
        return None
    return grouped(np.abs(np.asarray(values, dtype=float)), names, input_sources(pipeline))
