"""Column roles on the messy housing table: every column gets the role the table shows, the spec's lists
override inference, and featurize acts on exactly that table (nothing dropped without being listed)."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from messy_data import EXPECTED_ROLES, messy_frame
from mlops.spec.features import FeaturesSpec
from mlops.stages import featurize
from mlops.stages.column_roles import infer_roles
from mlops.stages.load import Loaded, frame_fingerprint

DATA = {"target": "price", "id_column": None, "timestamp": None}


def roles_of(frame, **features):
    section = FeaturesSpec(**features).model_dump(mode="json")
    return {r.name: r for r in infer_roles(frame, DATA, section)}


def featurized(frame, **features):
    section = FeaturesSpec(**features).model_dump(mode="json")
    return featurize.run(Loaded(frame, frame_fingerprint(frame)), {"data": DATA, "features": section})


def test_every_column_gets_its_role_and_a_reason():
    roles = roles_of(messy_frame())
    assert {name: r.role for name, r in roles.items()} == EXPECTED_ROLES
    assert all(r.why for r in roles.values())
    assert "features.datetime" in roles["sold_at"].why  # epoch numbers are named, with how to make them dates


def test_the_spec_overrides_inference():
    roles = roles_of(messy_frame(), datetime=["sold_at"], drop=["city"], categorical=["rooms", "garage", "zip_code"])
    assert roles["sold_at"].role == "datetime" and roles["sold_at"].why == "features.datetime"
    assert roles["city"].role == "dropped" and roles["city"].why == "features.drop"
    assert roles["rooms"].role == "categorical"
    assert roles["built_date"].role == "dropped" and "features.datetime" in roles["built_date"].why  # listed: exhaustive
    assert roles["sqft"].role == "numeric"  # numeric omitted: still inferred


def test_featurize_acts_on_the_table_and_lists_every_column_it_does_not_use():
    frame = messy_frame()
    fs = featurized(frame)
    assert fs.datetime == ["built_date"] and "built_date" in fs.numeric
    assert fs.categorical == ["city", "zip_code", "garage"] and fs.high_cardinality == ["zip_code"]
    assert sorted(fs.ignored) == ["country", "description", "house_id"]
    assert set(fs.raw_inputs) | set(fs.ignored) | {"price"} == set(frame.columns)  # none silently lost
    schema = {c["name"]: c for c in fs.input_schema}
    assert schema["built_date"]["type"] == "datetime"


def test_overlapping_lists_are_refused_naming_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="features.drop|datetime"):
        FeaturesSpec(drop=["a"], datetime=["a"])
    with pytest.raises(ValidationError, match="datetime_parts"):
        FeaturesSpec(datetime_parts=["year", "fortnight"])


def test_validate_and_plan_print_the_roles_table(tmp_path):
    from mlops.cli import app

    messy_frame(400).to_csv(tmp_path / "houses.csv", index=False)
    (tmp_path / "spec.yaml").write_text(
        "name: houses\ndata:\n  source: {type: csv, path: houses.csv}\n  target: price\n"
        "model: {type: sklearn, task: regression, estimator: random_forest, params: {n_estimators: 5}}\n")
    for command in ("validate", "plan"):
        result = CliRunner().invoke(app, [command, str(tmp_path / "spec.yaml")], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        for column in ("built_date", "description", "house_id", "zip_code", "country"):
            assert column in result.output
        assert "text-like" in result.output and "id-like" in result.output and "datetime" in result.output
