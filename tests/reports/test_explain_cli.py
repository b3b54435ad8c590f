"""`mlops explain SPEC --input rows`: each row's top contributions with signs and the base value, from the
registered model; rows read by the model's input contract, so a bad cell is refused (exit 2) as predict does."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mlops.cli import app


def test_explain_prints_each_rows_top_contributions_and_refuses_bad_cells(two_versions, tmp_path):
    uri, first, _ = two_versions
    spec = Path(uri.removeprefix("sqlite:///")).parent / "random_forest.yaml"
    rows = tmp_path / "rows.csv"
    rows.write_text("sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    out = tmp_path / "explained.json"
    result = CliRunner().invoke(app, ["explain", str(spec), "--input", str(rows), "--top", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "tree explainer" in result.output and "base value" in result.output
    explained = json.loads(out.read_text())
    assert explained["version"] == first and len(explained["rows"]) == 2
    for row in explained["rows"]:
        assert len(row["contributions"]) == 2 and row["explained"].startswith("P(class=")
        assert {c["feature"] for c in row["contributions"]} <= {"sepal_length_cm", "sepal_width_cm", "petal_length_cm",
                                                              "petal_width_cm", "petal_ratio"}
    rows.write_text("sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm\n5.1,big,1.4,0.2\n")
    refused = CliRunner().invoke(app, ["explain", str(spec), "--input", str(rows)])
    assert refused.exit_code == 2 and "row 0, column sepal_width_cm" in refused.output
    assert "nothing was explained" in refused.output
