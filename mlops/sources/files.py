"""Tables named on the command line (`mlops check --data`, `feedback --labels`, `predict --input`):
one reader, one set of messages naming the option and the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem


def read_table(path: str, where: str = "--data") -> Any:
    """A CSV or parquet file named on the command line (`where`: the option, for errors)."""
    from mlops.sources.loaders import read_csv_files, read_parquet_files

    file = Path(path)
    if not file.is_file():
        raise DataError(Problem(where, "no such file", value=path))
    if file.suffix == ".parquet":
        return read_parquet_files([file], where)
    if file.suffix in (".csv", ".txt"):
        return read_csv_files([file], {"sep": ",", "skipinitialspace": True, "encoding": "utf-8-sig"}, where)
    raise DataError(Problem(where, "unknown file type", value=path, expected=".csv or .parquet"))
