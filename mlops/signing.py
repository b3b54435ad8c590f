"""Signed model versions: an HMAC of which model, which version and which bundle, with a key kept outside MLflow.

The manifest hash alone proves a bundle was not changed after its hash was recorded, but the hash is a
tag in the same store as the artifacts: whoever can rewrite one can rewrite the other. With a signing
key (`MLOPS_SIGNING_KEY`, or the file `~/.config/mlops/signing_key`, or `$XDG_CONFIG_HOME/mlops/...`),
registration signs the model's name, its version and the hash together, and loading refuses a version
whose signature is missing, made with another key, or made for another model or version, before a
byte of it is read. Without a key nothing is signed or checked (said in docs/security.md).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from mlops.errors import RegistryError

# Signatures read "v2:<hex>". Bare hex ones (mlops before v2) covered the hash alone, so a signed bundle of
# another model or an older version could stand in for this one: they are refused, never checked.
SCHEME = "v2"


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


def _digest(key: bytes, name: str, version: str | int, sha256: str) -> str:
    # A JSON list, not a joined string: no name or version can be split into another pair.
    message = json.dumps(["mlops-model-version", name, str(version), sha256]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(name: str, version: str | int, sha256: str) -> str | None:
    """The key's signature of model `name` version `version` with manifest hash `sha256`; None without a key."""
    key = signing_key()
    return f"{SCHEME}:{_digest(key, name, version, sha256)}" if key else None


def verify(name: str, version: str | int, sha256: str | None, signature: str | None, what: str) -> None:
    """With a key configured, `signature` must be the key's for exactly this name, version and hash;
    raises RegistryError naming `what` otherwise."""
    key = signing_key()
    if key is None:
        return
    if not signature:
        raise RegistryError(f"{what} is not signed, and a signing key is configured: refusing to load it "
                            f"(register it again with the key, or unset MLOPS_SIGNING_KEY to accept unsigned models)")
    scheme, _, digest = signature.partition(":")
    if scheme != SCHEME or not digest:
        raise RegistryError(f"{what} has a signature of mlops' older scheme, over its hash alone (it does not say "
                            f"which model and version it is for): refusing to load it; register it again with "
                            f"this key (mlops apply SPEC --force register)")
    if not hmac.compare_digest(_digest(key, name, version, sha256 or ""), digest):
        raise RegistryError(f"{what}: its signature does not match this signing key for model '{name}' v{version} "
                            f"and its hash; refusing to load it (signed with another key, or for another model or version)")
