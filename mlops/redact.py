"""Keeping secrets out of logs, MLflow and error messages: credentials in URLs (user:password, query
strings, fragments, and the path of webhook URLs), and the values of keys that name a secret.

Everything mlops writes to MLflow or beside the store goes through `redact` (structured data: key-aware)
or `redact_text` (free text); both rest on `redact_url`.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# A key naming a secret: the word on its own or as a part (`api_token`, `db-password`, `clientSecret`), not
# inside another word (`tokenizer`, `max_tokens` are model settings).
SECRET_KEY = re.compile(r"(^|[^a-z])(token|password|passwd|secret|api[_-]?key|credentials?|private[_-]?key)($|[^a-z])")
NOT_SECRET = {"token_env"}  # names a variable that holds a secret; the name itself is not one
# Keys whose URL is a webhook or sink: its path may be the credential (long opaque segments are hidden).
HOOK_KEY = re.compile(r"(url|webhook|hook|sink)", re.IGNORECASE)
OVERRIDES_KEY = "overrides"  # a list of Hydra overrides (`key=value`): each redacted by its own key
HIDDEN = "***"

# Webhook services whose URL path is the credential: host -> how many leading path segments are not secret
# (hooks.slack.com/services/T/B/SECRET -> /services/***). A host matches itself and its subdomains.
WEBHOOK_HOSTS = {
    "hooks.slack.com": 1, "discord.com": 2, "discordapp.com": 2, "webhook.office.com": 1,
    "outlook.office.com": 1, "hooks.zapier.com": 2, "api.telegram.org": 0, "maker.ifttt.com": 1,
}
# Only web URLs have secret paths; sqlite:////abs/path and file paths are left exactly as they are.
WEB_SCHEMES = {"http", "https", "ws", "wss"}
# A token in a path: a run of 16+ letters and digits with both in it, or a UUID. Words, dates and file
# names (`2024-01-15_sales.csv`) are split by separators into short runs and stay.
ALNUM_RUN = re.compile(r"[A-Za-z0-9]{16,}")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:!?)\]]")  # no trailing punctuation


def _known_hook(host: str) -> int | None:
    """How many path segments of a known webhook host's URL are public; None for other hosts."""
    for name, kept in WEBHOOK_HOSTS.items():
        if host == name or host.endswith("." + name):
            return kept
    return None


def _opaque(segment: str) -> bool:
    """The segment holds a token or key (not a word, a date or a file name)."""
    runs = ALNUM_RUN.findall(segment)
    return bool(UUID.search(segment)) or any(any(c.isdigit() for c in r) and any(c.isalpha() for c in r) for r in runs)


def _redact_path(path: str, host: str, opaque_segments: bool) -> str:
    kept = _known_hook(host)
    segments = path.split("/")  # "/a/b" -> ["", "a", "b"]
    if kept is not None and len(segments) > kept + 1:
        return "/".join(segments[:kept + 1] + [HIDDEN])
    if opaque_segments:
        return "/".join(HIDDEN if _opaque(s) else s for s in segments)
    return path


def names_a_secret(key: str) -> bool:
    """The key (a config key, a variable name) names a secret: `api_token`, `DB_PASSWORD`, `clientSecret`."""
    if key in NOT_SECRET:
        return False
    return bool(SECRET_KEY.search(re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()))


def redact_url(text: str, path_secrets: bool = False) -> str:
    """A URL without its user:password, query string and fragment, and without the secret path of a known
    webhook service; with `path_secrets` (a webhook or sink URL), without any long opaque path segment."""
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    path = _redact_path(parts.path, host, path_secrets) if parts.scheme.lower() in WEB_SCHEMES else parts.path
    query = HIDDEN if parts.query else ""
    fragment = HIDDEN if parts.fragment else ""
    if (netloc, path, query, fragment) == (parts.netloc, parts.path, parts.query, parts.fragment):
        return text  # nothing to hide (and urlunsplit would mangle sqlite:////abs/path)
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def redact_text(text: str) -> str:
    """Free text (a log line, an error message) with every URL in it redacted."""
    return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def redact(value: Any, key: str = "") -> Any:
    """A copy of a config tree with secret values hidden (for logs, the spec and the plan logged to MLflow)."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if key == OVERRIDES_KEY:
            return [redact_override(v) if isinstance(v, str) else redact(v) for v in value]
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if names_a_secret(key):
            return HIDDEN
        if "://" in value and " " not in value.strip():
            return redact_url(value, path_secrets=bool(HOOK_KEY.search(key)))
        return redact_text(value)
    return value


def redact_override(override: str) -> str:
    """A Hydra override as logged: `key=value` with the value hidden when the key names a secret."""
    key, sep, value = override.partition("=")
    if not sep:
        return redact_text(override)
    leaf = key.lstrip("+~").rsplit(".", 1)[-1]
    quote = value[0] if len(value) >= 2 and value[0] in "'\"" and value.endswith(value[0]) else ""
    inner = value[1:-1] if quote else value
    return f"{key}={quote}{redact(inner, leaf)}{quote}"
