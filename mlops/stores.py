"""Tracking-store URIs: the default, SQLite paths, and relative URIs made absolute. The one place that
knows what a `sqlite:///` URI means; registry, plan, project and the node cache all ask here."""
from __future__ import annotations

from pathlib import Path

SQLITE = "sqlite:///"
DEFAULT_TRACKING_URI = SQLITE + ".mlops/mlflow.db"  # relative: beside the spec (or the working directory)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a SQLite URI (None for any other store)."""
    return Path(uri[len(SQLITE):]) if uri.startswith(SQLITE) else None


def is_relative_sqlite(uri: str) -> bool:
    """`uri` is a SQLite URI with a relative path (`sqlite:///x.db`, not `sqlite:////abs/x.db`)."""
    return uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/")


def absolute(uri: str, base_dir: Path | None = None) -> str:
    """A relative SQLite URI made absolute against `base_dir` (default: the working directory), since
    replicas and Ray tasks run elsewhere; other URIs are returned unchanged."""
    if not is_relative_sqlite(uri):
        return uri
    return f"{SQLITE}{(Path(base_dir or Path.cwd()) / uri[len(SQLITE):]).resolve()}"


def store_exists(uri: str) -> bool:
    """Whether a SQLite store's file exists (other stores are assumed to: a server answers for itself)."""
    path = sqlite_path(uri)
    return path is None or path.is_file()
