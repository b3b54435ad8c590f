"""When a scheduled duty is due: an interval (`every: 1d`) or a cron string, as pure functions of epoch seconds.

Ticks missed while nothing ran (a controller restart, a long outage) collapse into one: `due` asks only
whether at least one scheduled time fell in (last, now], and `last_due` names the latest of them, which the
caller records as its new `last`, so the next call is not due again until the following scheduled time.
Cron strings are read in UTC. No clock is read here: callers pass `now`, so tests need no sleeping.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from mlops.durations import parse_duration


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: exactly one of `every` (seconds) or `cron` (a 5- or 6-field cron string, UTC)."""
    every: float | None = None
    cron: str | None = None

    def describe(self) -> str:
        """The schedule as the spec writes it (every 1d, cron '0 2 * * *')."""
        from mlops.durations import format_duration
        return f"every {format_duration(self.every)}" if self.every else f"cron '{self.cron}'"


def parse_schedule(value: Any) -> Schedule:
    """A Schedule from what a spec holds: {every: 1d}, {cron: '0 2 * * *'}, a cron string, a duration or seconds.

    Raises ValueError (with the accepted forms) for anything else, so spec validators can wrap it in a field error.
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, Mapping) or hasattr(value, "every") or hasattr(value, "cron"):
        every, cron = _field(value, "every"), _field(value, "cron")
        if (every is None) == (cron is None):
            raise ValueError("a schedule sets exactly one of 'every' (like 1d) or 'cron' (like '0 2 * * *')")
        return Schedule(every=parse_duration(every)) if every is not None else Schedule(cron=check_cron(cron))
    if isinstance(value, str) and len(value.split()) >= 5:
        return Schedule(cron=check_cron(value))
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            return Schedule(every=parse_duration(value))
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a schedule; write {{every: 1d}} or a cron string like '0 2 * * *'")


def check_cron(expression: Any) -> str:
    """The cron string itself if croniter accepts it; ValueError naming it otherwise."""
    from croniter import croniter  # light, but only schedules with cron need it
    text = str(expression).strip()
    if not croniter.is_valid(text):
        raise ValueError(f"'{text}' is not a cron string; expected 5 fields (minute hour day month weekday), "
                         "like '0 2 * * *'")
    return text


def next_after(schedule: Any, t: float) -> float:
    """The first scheduled time strictly after t (epoch seconds). Intervals count from t itself."""
    parsed = parse_schedule(schedule)
    if parsed.every:
        return t + parsed.every
    from croniter import croniter
    return croniter(parsed.cron, _utc(t)).get_next(float)


def last_due(schedule: Any, last: float | None, now: float) -> float | None:
    """The latest scheduled time in (last, now], or None if none fell there; never-run (last None) is due now.

    Intervals stay anchored at `last` (last + k*every), so a late tick does not push the ones after it;
    for cron the scheduled times are the cron's own. Many missed times still give one answer: the latest.
    """
    parsed = parse_schedule(schedule)
    if last is None:
        return now
    if now <= last:
        return None
    if parsed.every:
        steps = math.floor((now - last) / parsed.every)
        return last + steps * parsed.every if steps >= 1 else None
    from croniter import croniter
    previous = croniter(parsed.cron, _utc(now)).get_prev(float)
    # croniter's get_prev is strictly before its start; a time exactly on the schedule is due itself
    if next_after(parsed, previous) <= now:
        previous = next_after(parsed, previous)
    return previous if previous > last else None


def due(schedule: Any, last: float | None, now: float) -> bool:
    """Whether at least one scheduled time fell in (last, now]; any number of missed ones count as one."""
    return last_due(schedule, last, now) is not None


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)
