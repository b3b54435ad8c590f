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


# How long a tracking server may take to answer at all: MLflow's own client retries a refused connection
# with backoff for minutes before it gives up, which reads as a hang.
REACH_TIMEOUT_S = 5.0
_REACHED: set[str] = set()  # servers this process found answering: asked once


def check_reachable(uri: str) -> None:
    """A tracking server (http/https URI) answers, or a RegistryError saying it does not, within seconds:
    any HTTP answer counts (a 401 is a server that is there). Other stores are local files: nothing to ask."""
    if not uri.lower().startswith(("http://", "https://")) or uri in _REACHED:
        return
    import requests

    from mlops.errors import UnreachableStore
    from mlops.redact import redact_url

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=REACH_TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as exc:
        reason = "no answer within {:g} s".format(REACH_TIMEOUT_S) if isinstance(exc, requests.Timeout) else \
            "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
        raise UnreachableStore(f"cannot reach the MLflow tracking server at {redact_url(uri)} ({reason}): is it "
                            f"running? (the store comes from tracking.uri, --tracking-uri or $MLOPS_TRACKING_URI)") from None
    _REACHED.add(uri)


def store_exists(uri: str) -> bool:
    """Whether a SQLite store's file exists (other stores are assumed to: a server answers for itself)."""
    path = sqlite_path(uri)
    return path is None or path.is_file()
