"""The bundled-dataset table `mlops validate` and `mlops plan` use without importing scikit-learn or pandas
(columns, rows, and each column's sample for the roles table) matches what the loader returns."""
from __future__ import annotations

from pathlib import Path

from mlops.sources import sklearn_table
from mlops.sources.sklearn_columns import SKLEARN_DATASETS

COMMITTED = Path(sklearn_table.__file__).with_name("sklearn_columns.py")


def test_the_committed_table_is_current():
    assert SKLEARN_DATASETS == sklearn_table.generate(), (
        "mlops/sources/sklearn_columns.py is stale: regenerate it with "
        "`python -m mlops.sources.sklearn_table > mlops/sources/sklearn_columns.py`")


def test_the_committed_file_is_what_the_generator_writes():
    assert COMMITTED.read_text() == sklearn_table.render(sklearn_table.generate())
