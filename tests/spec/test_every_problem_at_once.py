"""`mlops validate` reports every problem of every section in one run: the schema's, the data's and the
model parameters', each once, at its field."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops import api
from mlops.errors import DataError, SpecError

IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris" / "spec.yaml"


def paths(overrides: list[str]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        api.validate(IRIS, overrides)
    return [p.path for p in caught.value.problems]


def test_schema_data_and_model_problems_are_reported_together():
    found = paths(["model.params.n_estimators=many", "data.target=prise", "features.scale=zscore"])
    assert found == ["features.scale", "data.target", "model.params.n_estimators"]


def test_several_schema_problems_and_a_data_problem():
    found = paths(["features.scale=zscore", "data.split.test_size=1.5", "features.numeric=[nope]"])
    assert set(found) == {"features.scale", "data.split.test_size", "features.numeric"}


def test_a_field_is_reported_once_even_when_a_later_check_would_trip_on_it():
    """An unknown estimator is refused by the schema; the parameter check does not add its own error for it."""
    found = paths(["model.estimator=random_forrest", "model.params.max_depth=-3"])
    assert found.count("model.estimator") == 1 and not any(p.startswith("model.estimator.") for p in found)


def test_data_problems_alone_are_a_data_error():
    with pytest.raises(DataError):
        api.validate(IRIS, ["data.target=prise"])
    with pytest.raises(SpecError) as mixed:
        api.validate(IRIS, ["data.target=prise", "features.scale=zscore"])
    assert type(mixed.value) is SpecError


def test_the_cli_prints_them_all_with_exit_2():
    done = subprocess.run([sys.executable, "-m", "mlops.cli", "validate", str(IRIS), "model.params.n_estimators=many",
                           "data.target=prise", "features.scale=zscore"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for field in ("features.scale", "data.target", "model.params.n_estimators"):
        assert field in done.stderr + done.stdout


def test_a_misspelt_datetime_column_is_named_at_validate():
    found = paths(["features.datetime=[sepal_lenght_cm]"])
    assert found == ["features.datetime"]
