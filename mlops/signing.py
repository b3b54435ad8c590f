"""Signed model versions: an HMAC of the bundle's manifest hash, with a key kept outside MLflow.

The manifest hash alone proves a bundle was not changed after its hash was recorded, but the hash is a
tag in the same store as the artifacts: whoever can rewrite one can rewrite the other. With a signing
key (`MLOPS_SIGNING_KEY`, or the file `~/.config/mlops/signing_key`, or `$XDG_CONFIG_HOME/mlops/...`),
registration signs the hash, and loading refuses a version whose signature is missing or wrong before
a byte of it is downloaded. Without a key nothing is signed or checked (said in docs/security.md).
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from mlops.errors import RegistryError


def key_file() -> Path:
    """Where the signing key file is looked for: mlops/signing_key under $XDG_CONFIG_HOME or ~/.config."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "mlops" / "signing_key"


def signing_key() -> bytes | None:
    """The configured key, or None (the environment wins over the file)."""
    if os.environ.get("MLOPS_SIGNING_KEY"):
        return os.environ["MLOPS_SIGNING_KEY"].encode()
    try:
        text = key_file().read_text().strip()
    except OSError:
        return None
    return text.encode() or None


def sign(sha256: str) -> str | None:
    """The key's HMAC-SHA256 of `sha256`, hex; None when no key is configured."""
    key = signing_key()
    return hmac.new(key, sha256.encode(), hashlib.sha256).hexdigest() if key else None


def verify(sha256: str | None, signature: str | None, what: str) -> None:
    """With a key configured, `signature` must be the key's HMAC of `sha256`; raises RegistryError."""
    key = signing_key()
    if key is None:
        return
    if not signature:
        raise RegistryError(f"{what} is not signed, and a signing key is configured: refusing to load it "
                            f"(register it again with the key, or unset MLOPS_SIGNING_KEY to accept unsigned models)")
    expected = hmac.new(key, (sha256 or "").encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise RegistryError(f"{what}: its signature does not match this signing key; refusing to load it")
