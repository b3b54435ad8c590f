"""Keeping secrets out of logs, MLflow and error messages: credentials in URLs, query strings, and the
values of keys that name a secret."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SECRET_KEY = re.compile(r"(token|password|passwd|secret|api[_-]?key|credential)", re.IGNORECASE)
NOT_SECRET = {"token_env"}  # names a variable that holds a secret; the name itself is not one
HIDDEN = "***"


def redact_url(text: str) -> str:
    """A URL without its user:password and query string (webhook and store URLs carry tokens there)."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    if "@" not in parts.netloc and not parts.query:
        return text  # nothing to hide (and urlunsplit would mangle sqlite:////abs/path)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    query = HIDDEN if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact(value: Any, key: str = "") -> Any:
    """A copy of a config tree with secret values hidden (for logs and the spec logged to MLflow)."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key not in NOT_SECRET and SECRET_KEY.search(key):
            return HIDDEN
        return redact_url(value)
    return value


def redact_override(override: str) -> str:
    """A Hydra override as logged: `key=value` with the value hidden when the key names a secret."""
    key, sep, value = override.partition("=")
    if not sep:
        return override
    leaf = key.lstrip("+~").rsplit(".", 1)[-1]
    return f"{key}={redact(value, leaf)}"
