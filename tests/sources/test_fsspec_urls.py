"""URLs in csv/parquet paths. file:// is a local path; other schemes are read through fsspec, their storage
options from the environment only. fsspec's in-memory store (memory://) stands in for s3:// and gs:// here
(no network): the same listing, globbing, reading, sampling and fingerprinting code runs for them."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import write_spec
from mlops import api
from mlops.errors import SpecError
from mlops.project import probe_source
from mlops.sources.loaders import resolve_files
from mlops.spec.sources import CsvSource, ParquetSource
from mlops.stages.load import read_source

ROWS = pd.DataFrame({"x": [0.1, 0.4, 0.5, 0.9, 0.3, 0.8], "kind": ["a", "b", "a", "b", "a", "b"], "target": [0, 1, 0, 1, 0, 1]})


def spec_reading(directory, source: str, extra: str = ""):
    return write_spec(directory, f"""
name: urls
data: {{source: {source}, target: target}}
model: {{task: classification, type: sklearn, estimator: logistic_regression}}
tracking: {{uri: "sqlite:///{directory}/mlflow.db"}}
{extra}""")


@pytest.fixture
def memory_store():
    """A fresh fsspec in-memory store (what s3:// or gs:// would list and read), emptied after the test."""
    import fsspec

    store = fsspec.filesystem("memory")
    if store.exists("/bucket"):
        store.rm("/bucket", recursive=True)
    yield store
    if store.exists("/bucket"):
        store.rm("/bucket", recursive=True)


def test_file_urls_read_csv_and_parquet_as_their_paths_do(tmp_path):
    (tmp_path / "new").mkdir()
    ROWS.to_csv(tmp_path / "new" / "a.csv", index=False)
    ROWS.to_csv(tmp_path / "new" / "b.csv", index=False)
    ROWS.to_parquet(tmp_path / "rows.parquet")
    csv_url, parquet_url = f"file://{tmp_path}/new/*.csv", f"file://{tmp_path}/rows.parquet"
    assert read_source({"type": "csv", "path": csv_url}, "/").equals(read_source({"type": "csv", "path": "new/*.csv"}, str(tmp_path)))
    assert read_source({"type": "parquet", "path": parquet_url}, "/").equals(ROWS)
    assert probe_source(CsvSource(path=csv_url), tmp_path, "data.source").fingerprint == \
        probe_source(CsvSource(path="new/*.csv"), tmp_path, "data.source").fingerprint  # the same files
    project = api.validate(spec_reading(tmp_path, f'{{type: parquet, path: "{parquet_url}"}}'))
    assert project.data_probe.rows == len(ROWS) and project.data_probe.columns == ["x", "kind", "target"]
    plan = api.plan(spec_reading(tmp_path, f'{{type: csv, path: "{csv_url}"}}'))
    assert plan.node("load").params["source"]["path"] == csv_url


def test_local_globs_keep_reading_every_match_in_sorted_order(tmp_path):
    (tmp_path / "new").mkdir()
    ROWS.head(2).to_csv(tmp_path / "new" / "2.csv", index=False)
    ROWS.tail(2).to_csv(tmp_path / "new" / "1.csv", index=False)
    frame = read_source({"type": "csv", "path": "new/*.csv"}, str(tmp_path))
    assert frame["x"].tolist() == ROWS.tail(2)["x"].tolist() + ROWS.head(2)["x"].tolist()


def test_remote_urls_are_listed_read_sampled_and_fingerprinted_through_fsspec(memory_store, tmp_path):
    from mlops.sources import samples

    for name in ("b.csv", "a.csv"):
        with memory_store.open(f"/bucket/new/{name}", "w") as fh:
            ROWS.to_csv(fh, index=False)
    with memory_store.open("/bucket/table/part-0.parquet", "wb") as fh:
        ROWS.to_parquet(fh)
    files = resolve_files("memory://bucket/new/*.csv", tmp_path, "data.source.path", ".csv")
    assert files == ["memory:///bucket/new/a.csv", "memory:///bucket/new/b.csv"]
    assert (files[0].name, files[0].suffix, files[0].stat().st_size) == ("a.csv", ".csv", memory_store.size("/bucket/new/a.csv"))
    assert len(read_source({"type": "csv", "path": "memory://bucket/new/*.csv"}, str(tmp_path))) == 2 * len(ROWS)
    assert read_source({"type": "parquet", "path": "memory://bucket/table"}, str(tmp_path)).equals(ROWS)
    probe = probe_source(ParquetSource(path="memory://bucket/table/"), tmp_path, "data.source")
    assert (probe.rows, probe.columns) == (len(ROWS), ["x", "kind", "target"])
    assert [c.name for c in samples.sample_csv(files[0], ",", 10)] == ["x", "kind", "target"]  # the roles table's read
    before = probe_source(CsvSource(path="memory://bucket/new/*.csv"), tmp_path, "data.source").fingerprint
    with memory_store.open("/bucket/new/c.csv", "w") as fh:  # a new file arrives: `load` must rerun
        ROWS.to_csv(fh, index=False)
    assert probe_source(CsvSource(path="memory://bucket/new/*.csv"), tmp_path, "data.source").fingerprint != before


@pytest.mark.parametrize("url, package", [("s3://bucket/data/*.csv", "s3fs"), ("gs://bucket/data.csv", "gcsfs")])
def test_a_cloud_url_without_its_package_names_the_field_and_the_package(tmp_path, url, package):
    try:
        __import__(package)
        pytest.skip(f"{package} is installed")
    except ImportError:
        pass
    with pytest.raises(SpecError) as raised:
        api.validate(spec_reading(tmp_path, f'{{type: csv, path: "{url}"}}'))
    [problem] = raised.value.problems
    assert problem.path == "data.source.path" and f"needs {package}, which is not installed" in problem.message
    assert f"pip install {package}" in problem.hint


def test_storage_options_are_never_spec_fields(tmp_path):
    with pytest.raises(SpecError) as raised:
        api.validate(spec_reading(tmp_path, '{type: csv, path: "s3://bucket/x.csv", storage_options: {key: AKIA}}'))
    assert raised.value.problems[0].path == "data.source.storage_options", str(raised.value)


def test_an_unknown_scheme_is_an_error_at_the_field(tmp_path):
    with pytest.raises(SpecError) as raised:
        api.validate(spec_reading(tmp_path, '{type: parquet, path: "nosuch://bucket/x.parquet"}'))
    assert [p.path for p in raised.value.problems] == ["data.source.path"] and "unknown URL scheme" in str(raised.value)
