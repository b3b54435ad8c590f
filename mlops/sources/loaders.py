"""Built-in data source loaders and cheap probes (columns and emptiness, without reading everything)."""
from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem
from mlops.spec.sources import CsvSource, ParquetSource, SklearnSource, text_encoding
from mlops.sources.sklearn_columns import SKLEARN_DATASETS
from mlops.sources.remote import RemoteFile, open_file, readable, remote_files
from mlops.sources.urls import is_remote, local_part


@dataclass
class Probe:
    """What validation needs to know about a data source before any real work."""

    columns: list[str]
    rows: int | None  # None when counting would mean reading everything
    fingerprint: str  # changes when the data changes (paths, sizes, mtimes), cheap to compute


def normalize_column(name: str) -> str:
    """'sepal length (cm)' -> 'sepal_length_cm': names usable in expressions and JSON requests."""
    return re.sub(r"_+", "_", re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lower())).strip("_")


def describe_source(source: dict[str, Any]) -> str:
    """A source as a message names it: its path, its table (or query) and database with the credentials hidden,
    or its type and name."""
    from mlops.redact import redact, redact_url

    if isinstance(source.get("path"), str):
        return source["path"]
    if source.get("type") == "sql":
        what = f"table {source['table']}" if source.get("table") else "query"
        return f"sql {what} at {redact_url(str(source.get('url')))}"
    if "name" in source:
        return f"{source.get('type')}:{source['name']}"
    return str(redact(source))


def resolve_files(pattern: str, base_dir: Path, field: str, suffix: str) -> list[Path]:
    """Files a path/glob/directory names, relative to the spec's directory; DataError if none. A file:// URL is
    a local path; another URL (s3://, gs://) lists its files through fsspec (RemoteFile, a str with Path's
    name, suffix, stat and resolve)."""
    if is_remote(pattern):
        return remote_files(pattern, field, suffix)  # type: ignore[return-value]
    path = Path(os.path.expanduser(local_part(pattern)))
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():
        files = sorted(path.rglob(f"*{suffix}"))
    elif glob.has_magic(str(path)):
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
    else:
        files = [path] if path.exists() else []
    if not files:
        raise DataError(Problem(field, "no such file", value=str(path), hint="paths are relative to the spec's directory"))
    return files


def _fingerprint(files: list[Path]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for f in files:
        if isinstance(f, RemoteFile):
            digest.update(f"{f}|{f.version_key()}".encode())
            continue
        st = f.stat()
        digest.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def probe_csv(cfg: CsvSource, base_dir: Path, field: str) -> Probe:
    """Source `csv`: the first file's header (rows not counted); a DataError when it is unreadable or empty."""
    files = resolve_files(cfg.path, base_dir, f"{field}.path", ".csv")
    try:
        with open_file(files[0], "rt", newline="", encoding=text_encoding(cfg.model_dump())) as fh:
            reader = csv.reader(fh, delimiter=cfg.separator)
            header = next(reader, None)
            first_row = next(reader, None)
    except UnicodeDecodeError as exc:
        raise not_in_encoding(exc, files[0], f"{field}.path", cfg.encoding) from None
    except (OSError, csv.Error) as exc:
        raise DataError(Problem(f"{field}.path", f"cannot read CSV: {exc}", value=str(files[0]))) from None
    if not header:
        raise DataError(Problem(f"{field}.path", "file is empty (no header row)", value=str(files[0])))
    others = [sep for sep in (";", "\t", "|") if sep != cfg.separator and len(header) == 1 and sep in header[0]]
    if others:  # one column whose name holds another separator: the file is separated by that one
        shown = repr(others[0])
        raise DataError(Problem(f"{field}.separator", f"the header reads as one column ({header[0][:60]!r}): the file "
                                                      f"looks separated by {shown}", value=cfg.separator,
                                hint=f"set {field}.separator: {shown}" + (" (and decimal: ',' if its numbers are "
                                                                          "written 3,5)" if others[0] == ";" else "")))
    if first_row is None and len(files) == 1:
        raise DataError(Problem(f"{field}.path", "file has a header but no data rows", value=str(files[0])))
    return Probe([h.strip() for h in header], None, _fingerprint(files))


def probe_parquet(cfg: ParquetSource, base_dir: Path, field: str) -> Probe:
    """Source `parquet`: columns and row count from the files' metadata; a DataError when there are no rows."""
    files = resolve_files(cfg.path, base_dir, f"{field}.path", ".parquet")
    try:
        meta = [_parquet_metadata(f) for f in files]
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise DataError(Problem(f"{field}.path", f"cannot read parquet: {exc}", value=str(files[0]))) from None
    rows = sum(m.num_rows for m in meta)
    if rows == 0:
        raise DataError(Problem(f"{field}.path", "parquet data has no rows", value=str(files[0])))
    return Probe(list(meta[0].schema.to_arrow_schema().names), rows, _fingerprint(files))


def _parquet_metadata(file: Path):
    import pyarrow.parquet as pq

    with readable(file) as source:
        return pq.read_metadata(source)


def probe_sklearn(cfg: SklearnSource, base_dir: Path, field: str) -> Probe:
    """Source `sklearn`: the data set's known columns and rows, without loading it."""
    rows, columns = SKLEARN_DATASETS[cfg.name]
    return Probe([column[0] for column in columns], rows, f"sklearn:{cfg.name}")


def read_csv_files(files: list[Path], options: dict[str, Any], field: str):
    """The one CSV reader: files in order (read with pandas.read_csv's `options`: mlops.spec.sources.csv_options),
    one frame, column names stripped; a file that does not parse is a DataError naming `field` and the file."""
    import pandas as pd

    frames = []
    for file in files:
        try:
            with readable(file) as source:
                frames.append(pd.read_csv(source, **options))
        except UnicodeDecodeError as exc:
            raise not_in_encoding(exc, file, field, options.get("encoding", "utf-8")) from None
        except Exception as exc:  # pandas parser errors come in many types
            raise DataError(Problem(field, f"cannot read CSV: {exc}", value=str(file))) from None
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def not_in_encoding(exc: UnicodeDecodeError, file: Any, field: str, encoding: str) -> DataError:
    """The error for a CSV file that is not text in the source's encoding, saying which setting to change."""
    setting = field.rsplit(".", 1)[0] + ".encoding" if field.endswith(".path") else "encoding"
    shown = "utf-8" if encoding == "utf-8-sig" else encoding
    byte = exc.object[exc.start:exc.start + 1].hex() if isinstance(exc.object, (bytes, bytearray)) else "?"
    return DataError(Problem(field, f"the file is not {shown} text (byte 0x{byte} at offset {exc.start})",
                             value=str(file), hint=f"set {setting} to its encoding, e.g. latin-1 or cp1252 "
                                                   f"for older spreadsheet exports"))


def read_parquet_files(files: list[Path], field: str):
    """The one parquet reader: files in order, one frame; an unreadable file is a DataError naming it."""
    import pandas as pd

    frames = []
    for file in files:
        try:
            with readable(file) as source:
                frames.append(pd.read_parquet(source))
        except Exception as exc:  # arrow raises several types for damaged or foreign files
            raise DataError(Problem(field, f"cannot read parquet: {exc}", value=str(file))) from None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def load_csv(cfg: CsvSource, base_dir: Path, field: str = "data.source"):
    """Source `csv`: one file or a glob of them, read in sorted order."""
    return read_csv_files(resolve_files(cfg.path, base_dir, f"{field}.path", ".csv"), cfg.pandas_options(), f"{field}.path")


def load_parquet(cfg: ParquetSource, base_dir: Path, field: str = "data.source"):
    """Source `parquet`: a file, a glob, or a directory of files."""
    return read_parquet_files(resolve_files(cfg.path, base_dir, f"{field}.path", ".parquet"), f"{field}.path")


def load_sklearn(cfg: SklearnSource, base_dir: Path, field: str = "data.source"):
    """Source `sklearn`: a scikit-learn toy data set as one frame, column names normalized."""
    from sklearn import datasets

    frame = getattr(datasets, f"load_{cfg.name}")(as_frame=True).frame
    frame.columns = [normalize_column(c) for c in frame.columns]
    return frame
