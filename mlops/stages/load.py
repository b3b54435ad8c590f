"""load: read the training data named by data.source into a DataFrame, with its fingerprint."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem
from mlops.plugins import data_sources


@dataclass
class Loaded:
    frame: Any
    fingerprint: dict[str, Any]  # content hash, rows, columns: logged with the run


def read_source(source: dict[str, Any], base_dir: str, field: str = "data.source"):
    """Any registered source (a dict as in the spec) -> DataFrame."""
    entry = data_sources.get(source["type"])
    config = entry.resolve("config").model_validate(source)
    return entry.load()(config, Path(base_dir), field)


def frame_fingerprint(frame: Any) -> dict[str, Any]:
    """sha256 over the frame's contents, plus its shape and columns."""
    import hashlib

    import pandas as pd

    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update("|".join(map(str, frame.columns)).encode())
    return {"sha256": digest.hexdigest(), "rows": int(len(frame)), "columns": [str(c) for c in frame.columns]}


def run(params: dict[str, Any]) -> Loaded:
    """The training data and its fingerprint; a DataError when it has no rows."""
    frame = read_source(params["source"], params["base_dir"])
    if len(frame) == 0:
        raise DataError(Problem("data.source", "data has no rows"))
    return Loaded(frame, frame_fingerprint(frame))
