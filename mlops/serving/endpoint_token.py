"""An endpoint's generated bearer token: what an endpoint without `serving.online.auth.token_env` checks.

Endpoints require a token unless the spec says `auth: none`. When the spec names no variable, the first
deploy writes a random token to `.mlops/tokens/<name>` beside the spec (mode 0600 in a 0700 folder, as
Jupyter keeps its token), and the CLI (`mlops predict`, `mlops status`) reads it from there; the replicas
get only its sha256. Deleting the file and applying again makes a new token.
"""
from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Optional

from mlops.files import write_atomic


def token_file(base_dir: str | Path, name: str) -> Path:
    """Where endpoint `name`'s generated token lives for the spec in `base_dir`."""
    return Path(base_dir) / ".mlops" / "tokens" / name


def read_token(base_dir: str | Path, name: str) -> Optional[str]:
    """The generated token of endpoint `name`, or None when there is none (never deployed, or deleted)."""
    try:
        token = token_file(base_dir, name).read_text().strip()
    except OSError:
        return None
    return token or None


def create_token(base_dir: str | Path, name: str) -> str:
    """Write a new random token for endpoint `name` (replacing any) and return it. The file is never
    readable by others, not even while it is written."""
    path = token_file(base_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.parent.stat().st_mode & 0o077:
        path.parent.chmod(0o700)
    token = secrets.token_urlsafe(32)
    write_atomic(path, token + "\n", mode=0o600)
    return token


def sha256(token: str) -> str:
    """What the replicas compare a presented token against."""
    return hashlib.sha256(token.encode()).hexdigest()
