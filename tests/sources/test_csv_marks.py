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


def test_a_byte_order_mark_is_skipped_and_another_encoding_is_named_or_refused_with_the_setting(tmp_path):
    """Excel writes UTF-8 with a byte-order mark: the first column is 'id', not '\\ufeffid', in the probe, the
    sample and the loader. A latin-1 export reads with `encoding: latin-1`; without it, validate and apply
    say the file is not UTF-8 and which setting to change, instead of a codec traceback."""
    from mlops.errors import DataError
    from mlops.sources.loaders import probe_csv

    text = "id,ville,x\n1,Orléans,0.5\n2,Besançon,1.5\n"
    (tmp_path / "bom.csv").write_text(text, encoding="utf-8-sig")
    (tmp_path / "latin.csv").write_text(text, encoding="latin-1")
    bom = CsvSource(path="bom.csv")
    assert probe_csv(bom, tmp_path, "data.source").columns[0] == "id"
    assert [c.name for c in sample_csv(tmp_path / "bom.csv", ",", 10)][0] == "id"
    assert list(load_csv(bom, tmp_path).columns) == ["id", "ville", "x"]
    latin = CsvSource(path="latin.csv", encoding="latin-1")
    assert load_csv(latin, tmp_path)["ville"].tolist() == ["Orléans", "Besançon"]
    assert [c.texts for c in sample_csv(tmp_path / "latin.csv", ",", 10, encoding="latin-1") if c.name == "ville"] == [
        ("Orléans", "Besançon")]
    for read in (lambda: probe_csv(CsvSource(path="latin.csv"), tmp_path, "data.source"),
                 lambda: load_csv(CsvSource(path="latin.csv"), tmp_path),
                 lambda: sample_csv(tmp_path / "latin.csv", ",", 10)):
        with pytest.raises(DataError, match=r"not utf-8 text .*set data\.source\.encoding"):
            read()
    with pytest.raises(ValidationError, match="unknown text encoding"):
        CsvSource(path="x.csv", encoding="latin-9x")


def test_a_file_separated_otherwise_is_named_with_the_setting_to_change(tmp_path):
    """A ';' export read with the default ',' is one column named 'id;price;rooms;city': said at the
    separator, with the value to set, instead of 'data.target: column not in the data'."""
    from mlops.errors import DataError
    from mlops.sources.loaders import probe_csv

    (tmp_path / "houses.csv").write_text(EUROPEAN)
    with pytest.raises(DataError, match=r"data\.source\.separator: the header reads as one column .* set "
                                        r"data\.source\.separator: ';'"):
        probe_csv(CsvSource(path="houses.csv"), tmp_path, "data.source")
    (tmp_path / "tabs.tsv.csv").write_text("a\tb\n1\t2\n")
    with pytest.raises(DataError, match=r"separated by '\\t'"):
        probe_csv(CsvSource(path="tabs.tsv.csv"), tmp_path, "data.source")
    assert probe_csv(CsvSource(path="houses.csv", separator=";"), tmp_path, "data.source").columns == ["id", "price", "rooms", "city"]
