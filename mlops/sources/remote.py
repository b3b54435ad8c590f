"""Files named by URLs other than file://, read through fsspec. Their storage options come only from the
environment, never from the spec: s3fs reads AWS_* (and ~/.aws), gcsfs GOOGLE_APPLICATION_CREDENTIALS, and
fsspec itself FSSPEC_<PROTOCOL>_<OPTION> (FSSPEC_S3_ENDPOINT_URL=http://minio:9000). A spec then holds no
credential, and the same spec reads the same data on every node that has the same environment.
"""
from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace
from typing import IO, Any, Iterator

from mlops.errors import DataError, Problem
from mlops.redact import redact_text, redact_url
from mlops.sources.urls import scheme

# The package each fsspec protocol needs (fsspec itself only brings local, memory and a few others).
PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
            "abfss": "adlfs", "adl": "adlfs", "hf": "huggingface_hub", "http": "aiohttp", "https": "aiohttp"}
EXTRAS = {"s3fs": " (or mlops[s3])", "gcsfs": " (or mlops[gcs])"}


class RemoteFile(str):
    """One file named by a fsspec URL: a str (pandas, pyarrow and Ray read it as a URL) with the few Path
    methods the readers use."""

    @property
    def name(self) -> str:
        """The last part of the URL's path."""
        return self.rstrip("/").rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        """'.csv' of s3://bucket/a.csv."""
        name = self.name
        return name[name.rfind("."):] if "." in name.lstrip(".") else ""

    def resolve(self) -> "RemoteFile":
        """A URL is already absolute."""
        return self

    def stat(self) -> Any:
        """Size and modification time (nanoseconds; 0 when the store keeps none), as os.stat names them."""
        fs, path = filesystem(self, "path")
        info = fs.info(path)
        when = info.get("mtime") or info.get("LastModified") or info.get("updated") or info.get("created") or 0
        seconds = when.timestamp() if hasattr(when, "timestamp") else _seconds(when)
        return SimpleNamespace(st_size=int(info.get("size") or 0), st_mtime_ns=int(seconds * 1e9))

    def version_key(self) -> str:
        """Changes when the file changes (fsspec's ukey: a hash of its size, time, ETag or generation)."""
        fs, path = filesystem(self, "path")
        return fs.ukey(path)


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        from datetime import datetime

        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def filesystem(url: str, field: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for `url`; a DataError naming `field` when its protocol is unknown
    or the package it needs is not installed."""
    import fsspec

    name = scheme(url) or "file"
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        package = PACKAGES.get(name, f"the fsspec implementation of {name}://")
        raise DataError(Problem(field, f"reading {name}:// URLs needs {package}, which is not installed",
                                value=redact_url(url),
                                hint=f"pip install {package}{EXTRAS.get(package, '')} (credentials and storage options "
                                     "come from the environment, never from the spec)")) from None
    except ValueError as exc:  # fsspec: "Protocol not known: x"
        raise DataError(Problem(field, f"unknown URL scheme {name}:// ({exc})", value=redact_url(url),
                                expected="a local path, or a URL fsspec reads: file://, s3://, gs://, az://, ...")) from None


def remote_files(pattern: str, field: str, suffix: str) -> list[RemoteFile]:
    """The files a URL names: one file, a glob, or a directory (its files ending in `suffix`), sorted."""
    from glob import has_magic

    fs, path = filesystem(pattern, field)
    try:
        if has_magic(path):
            found = [p for p, info in fs.glob(path, detail=True).items() if info.get("type") != "directory"]
        elif fs.isdir(path):
            found = [p for p in fs.find(path) if p.endswith(suffix)]
        else:
            found = [path] if fs.exists(path) else []
    except Exception as exc:  # each store raises its own types (credentials, network, permissions)
        raise DataError(Problem(field, f"cannot list {redact_url(pattern)}: {_first_line(exc)}",
                                hint="storage options and credentials come from the environment")) from None
    if not found:
        raise DataError(Problem(field, "no such file", value=redact_url(pattern)))
    return [RemoteFile(fs.unstrip_protocol(p)) for p in sorted(found)]


@contextmanager
def open_file(file: Any, mode: str = "rb", **text: Any) -> Iterator[IO]:
    """A local file or a RemoteFile, opened (`text`: encoding, errors, newline in text modes)."""
    if isinstance(file, RemoteFile):
        import fsspec

        with fsspec.open(str(file), mode, **text) as handle:
            yield handle
    else:
        with open(file, mode, **text) as handle:
            yield handle


@contextmanager
def readable(file: Any) -> Iterator[Any]:
    """What pandas and pyarrow read: a local path as is (their native readers), a RemoteFile opened through fsspec."""
    if isinstance(file, RemoteFile):
        with open_file(file) as handle:
            yield handle
    else:
        yield file


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact_text(text.splitlines()[0]) if text else type(exc).__name__
