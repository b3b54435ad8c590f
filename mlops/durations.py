"""Durations written as the spec writes them: 30s, 5m, 1h, 7d, 2w; and printed back the same way."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = r"(\d+(?:\.\d+)?)\s*([smhdw])"
_PATTERN = re.compile(rf"^\s*(?:{_PART}\s*)+$")  # one part (7d) or several, largest first as printed (1h30m)


def parse_duration(value: object) -> float:
    """Seconds in a duration like '7d' (bare numbers are seconds)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        if not _PATTERN.match(str(value)):
            raise ValueError(f"'{value}' is not a duration; expected a number and a unit, like 30s, 5m, 1h, 7d or 2w")
        seconds = sum(float(number) * _UNITS[unit] for number, unit in re.findall(_PART, str(value)))
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value}")
    return seconds


def format_duration(seconds: float | None) -> str:
    """Seconds as a person writes them: the largest unit that holds them whole (21d, 90m, 45s), else parts
    from days down (1h30m15s, 2m0.5s); never an exponent. '-' for None. Weeks print as days (2w -> 14d)."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds < 60 or float(seconds).is_integer() and seconds < 3600:
        return _seconds(seconds)
    parts, rest = [], seconds
    for unit in ("d", "h", "m"):
        count, rest = divmod(rest, _UNITS[unit])
        if count or parts:
            parts.append(f"{int(count)}{unit}")
    if rest:
        parts.append(_seconds(rest))
    return "".join(parts)


def _seconds(seconds: float) -> str:
    """Seconds with up to 3 decimals, without trailing zeros or an exponent (45s, 0.5s, 1814400s)."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text or '0'}s"


# The schema says what a spec may write (30s, 5m, 1h, 7d, 2w or seconds), not the float it becomes.
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema({
    "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": _PATTERN.pattern}],
    "description": "a duration: seconds, or a number and a unit s|m|h|d|w, like 30s, 5m, 1h, 7d (or parts: 1h30m)"})]
