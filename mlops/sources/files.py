"""Tables named on the command line (`mlops check --data`, `feedback --labels`, `predict --input`):
one reader, one set of messages naming the option and the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem


def read_table(path: str, where: str = "--data") -> Any:
    """A CSV or parquet file named on the command line (`where`: the option, for errors)."""
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise DataError(Problem(where, "no such file", value=path))
    try:
        if file.suffix == ".parquet":
            return pd.read_parquet(file)
        if file.suffix in (".csv", ".txt"):
            frame = pd.read_csv(file, skipinitialspace=True)
            frame.columns = [str(c).strip() for c in frame.columns]
            return frame
    except Exception as exc:  # parser errors come in many types; the user needs the file and the reason
        raise DataError(Problem(where, f"cannot read: {exc}", value=path)) from None
    raise DataError(Problem(where, "unknown file type", value=path, expected=".csv or .parquet"))
