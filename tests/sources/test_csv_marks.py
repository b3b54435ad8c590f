"""CSV exports with other number marks (`1.234,56`, separator `;`): the source's `decimal` and `thousands` are
how every reader reads it, the no-pandas sample of `mlops validate`, training's loader, batch scoring in
threads and on Ray Data, so a price is a number everywhere and never one category per row."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlops.sources.loaders import load_csv
from mlops.sources.samples import sample_csv
from mlops.spec.sources import CsvSource, csv_options

EUROPEAN = "id;price;rooms;city\nh1;1.234,50;3;Lyon\nh2;987,25;2;Paris\nh3;12.000,00;5;Nice\nh4;;4;Lyon\n"


def written(tmp_path) -> CsvSource:
    (tmp_path / "houses.csv").write_text(EUROPEAN)
    return CsvSource(path="houses.csv", separator=";", decimal=",", thousands=".")


def test_the_sample_and_the_loader_read_the_marks_as_numbers(tmp_path):
    source = written(tmp_path)
    sampled = {c.name: c for c in sample_csv(tmp_path / "houses.csv", ";", 100, decimal=",", thousands=".")}
    assert sampled["price"].kind == "float" and (sampled["price"].low, sampled["price"].high) == (987.25, 12000.0)
    assert sampled["rooms"].kind == "int" and sampled["city"].kind == "text"
    frame = load_csv(source, tmp_path)
    assert frame["price"].tolist()[:3] == [1234.5, 987.25, 12000.0] and np.isnan(frame["price"].iloc[3])
    plain = {c.name: c for c in sample_csv(tmp_path / "houses.csv", ";", 100)}
    assert plain["price"].kind == "text"  # without the marks: text, as pandas would read it
    assert pd.read_csv(tmp_path / "houses.csv", **csv_options(source.model_dump()))["price"].dtype == float


def test_marks_that_cannot_be_told_apart_are_refused_naming_the_field():
    with pytest.raises(ValidationError, match="decimal"):
        CsvSource(path="x.csv", decimal=",")  # the separator is ',' too
    with pytest.raises(ValidationError, match="thousands"):
        CsvSource(path="x.csv", separator=";", decimal=",", thousands=",")
    with pytest.raises(ValidationError, match="decimal"):
        CsvSource(path="x.csv", decimal=";")


@pytest.mark.slow
def test_ray_data_batch_input_reads_the_same_marks(tmp_path, ray_local):
    """Ray Data's reader gets the separator and the decimal mark (it has no thousands separator: such files
    are read by pandas and handed over), so both executors see the same numbers."""
    from mlops.stages.batch_ray_data import _dataset

    (tmp_path / "plain.csv").write_text("id;price\nh1;1234,5\nh2;987,25\n")
    for name, options, expected in (("plain.csv", {}, [1234.5, 987.25]),
                                    ("houses.csv", {"thousands": "."}, [1234.5, 987.25, 12000.0])):
        written(tmp_path)
        source = {"type": "csv", "path": name, "separator": ";", "decimal": ",", **options}
        frame = _dataset(source, tmp_path).to_pandas()
        assert frame["price"].tolist()[:len(expected)] == expected
