"""Paths that are URLs, told apart without importing anything: `file://` names a local path; any other
scheme (s3://, gs://, az://, ...) is read through fsspec (mlops.sources.remote)."""
from __future__ import annotations

import re

SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def scheme(path: str) -> str | None:
    """The URL scheme of `path` ('s3' for s3://bucket/key), None for a plain path."""
    found = SCHEME.match(path)
    return found.group(1).lower() if found else None


def is_remote(path: str) -> bool:
    """`path` is a URL read through fsspec (any scheme but file://)."""
    return scheme(path) not in (None, "file")


def local_part(path: str) -> str:
    """A plain path as is; a file:// URL's path (file:///data/x.csv -> /data/x.csv)."""
    if scheme(path) != "file":
        return path
    rest = path[len("file://"):]
    return rest[len("localhost"):] if rest.startswith("localhost/") else rest
