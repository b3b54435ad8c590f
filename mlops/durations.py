"""Durations written as the spec writes them: 30s, 5m, 1h, 7d, 2w."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(value: object) -> float:
    """Seconds in a duration like '7d' (bare numbers are seconds)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _PATTERN.match(str(value))
        if not match:
            raise ValueError(f"'{value}' is not a duration; expected a number and a unit, like 30s, 5m, 1h, 7d or 2w")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {value}")
    return seconds


# The schema says what a spec may write (30s, 5m, 1h, 7d, 2w or seconds), not the float it becomes.
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema({
    "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": _PATTERN.pattern}],
    "description": "a duration: seconds, or a number and a unit s|m|h|d|w, like 30s, 5m, 1h, 7d"})]
