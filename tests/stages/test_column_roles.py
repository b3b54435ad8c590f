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


def test_a_column_of_one_value_or_empty_is_a_flag_and_the_model_learns_from_it(tmp_path):
    """'yes' or blank (and 1 or blank): whether a cell is filled is the information, so the column is a
    categorical flag, not a constant; the default imputation (most frequent) would fill the blanks with the
    one value, so flags are encoded filled / empty. A column of one value and no blank stays constant. The
    no-pandas sample `mlops validate` reads decides the same."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlops.models.preprocessing import build_pipeline
    from mlops.models.safe_format import load, save
    from mlops.sources.samples import sample_csv

    rng = np.random.default_rng(0)
    filled = rng.random(400) < 0.5
    frame = pd.DataFrame({"garage": np.where(filled, "yes", None), "pool": np.where(filled, 1.0, np.nan),
                          "noise": rng.normal(size=400), "country": "us", "price": filled.astype(int)})
    roles = roles_of(frame)
    assert roles["garage"].role == roles["pool"].role == "categorical" and "flag" in roles["garage"].why
    assert roles["country"].role == "constant"
    frame.to_csv(tmp_path / "flags.csv", index=False)
    sampled = {c.name: c for c in sample_csv(tmp_path / "flags.csv", ",", 5000)}
    assert {r.name: r.role for r in infer_roles(list(sampled.values()), DATA, FeaturesSpec().model_dump(mode="json"))} \
        == {name: r.role for name, r in roles.items()}
    for flag in ("garage", "pool"):  # each alone carries the label
        data = featurized(frame.drop(columns=[c for c in ("garage", "pool") if c != flag]))
        assert flag in data.categorical
        section = FeaturesSpec().model_dump(mode="json")
        model = build_pipeline(section, data.numeric, data.categorical, LogisticRegression())
        model.fit(data.frame[data.raw_inputs], data.frame["price"])
        save(model, tmp_path / f"{flag}.skops")  # the flag's branch is on the trust list
        loaded = load(tmp_path / f"{flag}.skops")
        assert (loaded.predict(data.frame[data.raw_inputs]) == data.frame["price"]).mean() == 1.0
        one = {"noise": [0.1], flag: [None]}  # a request's null, and a value never seen (encoded as neither)
        assert list(loaded.predict(pd.DataFrame(one))) == [0]
        assert len(loaded.predict(pd.DataFrame({**one, flag: ["no" if flag == "garage" else 7.0]}))) == 1


def test_numbers_and_dates_written_as_text_get_their_roles_and_a_listed_column_that_is_neither_is_refused(tmp_path):
    """A CSV export's '$25,835.17', '5.5%' and '31/01/2024 18:30' are numbers and dates, in `mlops validate`'s
    sample and in featurize; plain digit strings stay codes. A column the spec lists as numeric (or as dates)
    whose text is neither is refused by featurize, naming the field, the column and its values, instead of
    training on empty cells; validate's table says so first."""
    import numpy as np
    import pandas as pd

    from mlops.errors import DataError
    from mlops.sources.samples import sample_csv

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"amount": [f"${a:,.2f}" for a in rng.uniform(500, 50_000, n)],
                          "rate": [f"{r:.1f}%" for r in rng.uniform(3, 25, n)],
                          "applied": [f"{d:02d}/{m:02d}/2024 10:00" for d, m in zip(rng.integers(1, 29, n), rng.integers(1, 13, n))],
                          "code": [f"0{c}" for c in rng.integers(1000, 9999, n)],
                          "term": rng.choice(["36 months", "60 months"], n), "price": rng.normal(size=n)})
    roles = roles_of(frame)
    assert roles["amount"].role == roles["rate"].role == "numeric" and "written as text" in roles["amount"].why
    assert roles["applied"].role == "datetime" and "day/month/year" in roles["applied"].why and "day first" in roles["applied"].why
    assert roles["code"].role != "numeric"
    frame.drop(columns="code").to_csv(tmp_path / "export.csv", index=False)  # (a CSV reads '01234' as a number)
    sampled = infer_roles(sample_csv(tmp_path / "export.csv", ",", 5000), DATA, FeaturesSpec().model_dump(mode="json"))
    assert {r.name: r.role for r in sampled} == {name: r.role for name, r in roles.items() if name != "code"}
    fs = featurized(frame)
    assert {"amount", "rate", "applied"} <= set(fs.numeric) and fs.datetime == ["applied"]
    with pytest.raises(DataError, match=r"features\.numeric.*not numbers.*'(36|60) months'.*term"):
        featurized(frame, numeric=["amount", "term"])
    with pytest.raises(DataError, match=r"features\.datetime.*not dates.*(36|60) months.*term"):
        featurized(frame, datetime=["applied", "term"])
    listed = roles_of(frame, numeric=["amount", "term"])
    assert "not numbers" in listed["term"].why and listed["amount"].why == "features.numeric"
