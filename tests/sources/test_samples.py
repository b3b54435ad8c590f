"""The cheap column samples `mlops validate` and `mlops plan` take (the csv module, pyarrow, the committed table)
are what pandas reads, so the roles table they show is the one featurize acts on."""
from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import pytest

from messy_data import messy_frame
from mlops.sources.samples import sample_csv, sample_parquet, sample_series, sample_sklearn
from mlops.stages.column_roles import infer_roles

DATA = {"target": "price", "id_column": None, "timestamp": None}
FEATURES = {"high_cardinality": {"threshold": 50}}

TRICKY_CSV = """\
ints,ints_blank,floats,exp,bools,bools_blank,words,markers,dates,same,same, padded
1,1,1.5,1e3,True,true,a b,NA,2024-01-31,x,1, 7
2,,2,2E-2,False,,b,n/a,2024-02-01,y,2, 8
3,3,-0.25,inf,TRUE,false,a b,null,not a date,x,3, 9
-4,4,nan,5,false,TRUE,"c, d",-,2024-03-01T10:00:00,y,4,10
"""


def test_a_csv_column_is_typed_and_counted_as_pandas_reads_it(tmp_path):
    path = tmp_path / "tricky.csv"
    path.write_text(TRICKY_CSV)
    frame = pd.read_csv(path, skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    cheap = sample_csv(path, ",", 5000)
    assert [c.name for c in cheap] == list(frame.columns)  # a repeated name is renamed as pandas does: same.1
    for column in cheap:
        assert column == sample_series(frame[column.name]), column.name


def test_only_the_first_rows_are_read(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i % 3}\n" for i in range(100)))
    a, b = sample_csv(path, ",", 10)
    assert (a.present, a.unique, a.high, b.unique) == (10, 10, 9.0, 3)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_the_roles_of_a_cheap_sample_are_those_of_the_frame_apply_reads(tmp_path, suffix):
    frame = messy_frame(800)
    path = tmp_path / f"houses.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
        loaded, cheap = pd.read_csv(path, skipinitialspace=True), sample_csv(path, ",", 5000)
    else:
        frame.to_parquet(path, index=False)
        loaded, cheap = pd.read_parquet(path), sample_parquet(path, 5000)
    assert [asdict(r) for r in infer_roles(cheap, DATA, FEATURES)] == \
           [asdict(r) for r in infer_roles(loaded, DATA, FEATURES)]


def test_a_parquet_sample_has_the_dtypes_pandas_gives(tmp_path):
    frame = pd.DataFrame({"i": [1, 2, 3], "f": [0.5, None, 1.0], "b": [True, False, True], "s": ["a", None, "c"],
                          "t": pd.to_datetime(["2024-01-01", "2024-01-02", None])})
    path = tmp_path / "typed.parquet"
    frame.to_parquet(path, index=False)
    loaded = pd.read_parquet(path)
    for column in sample_parquet(path, 100):
        assert column == sample_series(loaded[column.name]), column.name
    # A file pandas did not write (no pandas metadata): nulls in an int or bool column, a timestamp in ms.
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"i": [1, None, 3], "b": [True, None, False],
                             "t": pa.array([0, 86_400_000, None], pa.timestamp("ms"))}), tmp_path / "other.parquet")
    loaded = pd.read_parquet(tmp_path / "other.parquet")
    for column in sample_parquet(tmp_path / "other.parquet", 100):
        assert column == sample_series(loaded[column.name]), column.name


def test_a_bundled_data_set_needs_neither_scikit_learn_nor_pandas_to_sample():
    import subprocess
    import sys

    columns = sample_sklearn("iris")
    assert [c.name for c in columns][-1] == "target" and columns[0].dtype == "float64" and columns[0].unique == 35
    code = ("import sys; from mlops.sources.samples import sample_sklearn; sample_sklearn('iris'); "
            "print(sorted(m for m in ('sklearn', 'pandas', 'numpy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
