"""A registered model's input contract (mlops.models.input_contract): its recorded input schema, the
columns it ignores, and the columns it imputes, found by scoring a row with each one missing (so it holds
for any flavor and whatever preprocessing the model carries). Every path builds its contract here: the
endpoint at deploy time, batch scoring and `mlops check` when they load the model."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from mlops.models.input_contract import InputContract


def sample_row(bundle: Any) -> list[Any]:
    """One row the model scores: the first row of its drift reference, else built from the input schema."""
    monitoring = getattr(bundle, "monitoring", None)
    reference = getattr(monitoring, "reference", None)
    columns = bundle.input_columns
    if reference is not None and set(columns) <= set(reference.frame.columns) and len(reference.frame):
        return reference.frame[columns].head(1).astype(object).to_numpy().tolist()[0]
    values = []
    for column in bundle.meta["input_schema"]:
        kind, categories = column.get("type"), column.get("categories") or []
        values.append(categories[0] if categories else True if kind == "boolean" else "v0" if kind == "string"
                      else "2020-01-01" if kind == "datetime" else -1.85)
    return values


IMPUTED_KEY = "imputed_columns"  # the bundle metadata's record of find_imputed_columns, made at registration


def imputed_columns(bundle: Any) -> list[str]:
    """The input columns the model scores with their value missing: as recorded in its metadata at
    registration (IMPUTED_KEY), else found by scoring (versions registered before mlops recorded it)."""
    recorded = bundle.meta.get(IMPUTED_KEY)
    return list(recorded) if isinstance(recorded, list) else find_imputed_columns(bundle)


def find_imputed_columns(bundle: Any, errors: tuple[type[BaseException], ...] = (ValueError, TypeError, ArithmeticError)) -> list[str]:
    """The input columns the model scores with their value missing (its pipeline imputes them, or the
    estimator takes missing values). Found by scoring a sample row with each column missing, so it holds
    for any flavor and whatever preprocessing the model carries. `errors`: what a refusal raises."""
    import numpy as np
    import pandas as pd

    columns = bundle.input_columns
    sample = sample_row(bundle)
    # Built as requests are (a DataFrame of Python values), so the frame's dtypes are those served.
    probe = pd.DataFrame([[None if j == i else value for j, value in enumerate(sample)] for i in range(len(columns))],
                         columns=columns)

    def scores(frame: Any) -> bool:
        try:
            out = np.asarray(bundle.predict(frame))
        except errors:
            return False
        return out.dtype.kind not in "fc" or bool(np.isfinite(out).all())

    if scores(probe):  # the common case, one call: every column is imputed
        return list(columns)
    return [column for i, column in enumerate(columns) if scores(probe.iloc[[i]])]


def contract_for(bundle: Any, imputed: Optional[Sequence[str]] = None, also: Sequence[Optional[str]] = (),
                 supplied: Sequence[str] = ()) -> InputContract:
    """A registered model's contract: its input schema; `imputed` (found by scoring when not given); the id
    column, the target and the columns it does not read, accepted and ignored, and `also` (entity keys)."""
    meta = bundle.meta
    ignored = [meta.get("id_column"), meta.get("target"), *(meta.get("ignored_columns") or []), *also]
    return InputContract.of(meta["input_schema"], imputed_columns(bundle) if imputed is None else imputed, ignored,
                            supplied)
