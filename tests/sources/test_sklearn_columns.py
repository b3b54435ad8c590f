"""The bundled-dataset table `mlops validate` uses without importing scikit-learn matches what the loader returns."""
from __future__ import annotations

import pytest

from mlops.sources.loaders import load_sklearn
from mlops.sources.sklearn_columns import SKLEARN_COLUMNS
from mlops.spec.sources import SklearnSource


@pytest.mark.parametrize("name", sorted(SKLEARN_COLUMNS))
def test_recorded_columns_and_rows_match_the_loader(name, tmp_path):
    frame = load_sklearn(SklearnSource(name=name), tmp_path)
    columns, rows = SKLEARN_COLUMNS[name]
    assert list(frame.columns) == columns and len(frame) == rows
