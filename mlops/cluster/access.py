"""Who can reach a Ray that mlops starts on this machine: only local processes holding the cluster token.

A Ray node's GCS, raylet and workers run whatever task a connected client sends, so an open one is remote
code execution for anyone who can reach the port (the ShadowRay class of attack). Every Ray that mlops
starts itself (the embedded one of `apply`, the persistent head of online serving) therefore

* has token authentication on (`RAY_AUTH_MODE=token`), with a token generated on first use and kept in
  Ray's own token file (`~/.ray/auth_token`, or `RAY_AUTH_TOKEN_PATH`), readable by its owner only;
* listens on loopback only. Ray's "local-only" mode (what it does on macOS and Windows) binds every
  server to 127.0.0.1; on Linux it is switched on with `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`. The same
  switch is needed by a client of such a node, or Ray rewrites `127.0.0.1` to the machine's address.

A cluster named in the spec or with `--address` is the operator's: mlops sends its token when one is
available and changes nothing else.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from mlops.files import write_atomic

AUTH_MODE = "RAY_AUTH_MODE"
LOCAL_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's local-only mode, every server on loopback
LOOPBACK = "127.0.0.1"


def token_path() -> Path:
    """Where Ray reads the cluster token from (the same rule as Ray's own token loader)."""
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def ensure_token() -> None:
    """Create the cluster token when neither RAY_AUTH_TOKEN nor a non-empty token file exists."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return
    path = token_path()
    if path.is_file() and path.read_text().strip():
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, secrets.token_hex(32), mode=0o600)  # never readable by others, not even briefly


def local_ray_env() -> dict[str, str]:
    """Environment for a Ray process mlops starts here: token auth on (token created if missing), loopback only."""
    ensure_token()
    return {AUTH_MODE: "token", LOCAL_ONLY: "0"}


def secure_this_process() -> None:
    """Make this process start (and connect to) Ray on loopback with token auth, as a local head would.

    Ray reads both settings from the environment; its local-only flag is read once at import, so an
    already-imported Ray is told directly. Ray's processes started from here inherit the environment."""
    os.environ.update(local_ray_env())
    import ray._private.ray_constants as constants
    from ray._private.authentication.authentication_token_setup import _enable_token_auth

    constants.ENABLE_RAY_CLUSTER = False
    _enable_token_auth()  # refreshes Ray's cached config so this process sees token mode


def is_loopback(address: str) -> bool:
    """True for a GCS address on this machine's loopback (how mlops' own head is recorded)."""
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def reach_loopback_head() -> None:
    """A client of a loopback-only node must be in local-only mode too, or Ray dials the machine's address."""
    os.environ[LOCAL_ONLY] = "0"
    import ray._private.ray_constants as constants

    constants.ENABLE_RAY_CLUSTER = False
