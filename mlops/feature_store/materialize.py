"""Materialization: each view's latest row per entity, up to an end time, written into the online store.

Incremental as in Feast: the window starts after the end of the view's last materialization; `start`
overrides that lower bound, `end` defaults to now. Events arrive late (stamped before the last run's end, written
to the source after it): a look-back (default: the view's TTL; a view without one looks back over everything)
rereads the rows stamped before the last end, and those newer than what the store holds for their entity are
written too. A late row older than the stored one is superseded and changes nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlops.errors import Problem, SpecError


@dataclass
class Materialized:
    """What one view's materialization did."""

    view: str
    rows_in_window: int  # source rows new to the store: event times in (start, end], and late ones
    entities_written: int
    start_ns: Optional[int]
    end_ns: int
    late_rows: int = 0  # of rows_in_window: stamped at or before `start` but newer than the store's row
    lookback_s: Optional[float] = None  # how far before `start` late rows were looked for (inf: no limit;
    # None: not looked for, on a first run or from an explicit --start)


NO_LOOKBACK = 0.0  # --lookback 0: only rows after the last end, as before late events were looked for


def parse_lookback(value: str | None) -> Optional[float]:
    """--lookback as seconds: a duration (7d, 12h), 0 for none, 'all' for no limit; None: each view's TTL."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("0", "0s", "none"):
        return NO_LOOKBACK
    if text == "all":
        return float("inf")
    from mlops.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise SpecError(Problem("--lookback", "not a duration", value=value,
                                expected="a duration like 7d or 12h, 0 for none, or 'all'")) from None


def parse_time(value: str | None, option: str) -> Optional[int]:
    """A time from the command line (ISO-8601, naive = UTC, or 'now') as ns since the epoch; None for None."""
    if value is None:
        return None
    if value.strip().lower() == "now":
        return time.time_ns()
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or stamp is pd.NaT:
        raise SpecError(Problem(option, "not a time", value=value, expected="ISO-8601 like 2026-01-31 or "
                                                                           "2026-01-31T12:00:00Z, or 'now'"))
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def jsonable(value: Any) -> Any:
    """A feature value as JSON stores it (numpy scalars as Python numbers, times as ISO-8601)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def latest_rows(frame: Any, key: str, event_ns: Any, features: list[str]) -> list[tuple[str, int, dict[str, Any]]]:
    """The last row per entity by event time (source order among equal times, as the offline join)."""
    import json

    import numpy as np

    from mlops.feature_store.online_store import entity_text

    order = np.argsort(event_ns, kind="stable")
    ordered = frame.iloc[order]
    ordered_ns = event_ns[order]
    last = ~ordered[key].duplicated(keep="last").to_numpy()
    chosen = ordered[last]
    values = chosen[features].astype(object)
    values = values.where(values.notna(), None)
    records = json.loads(json.dumps(values.to_dict("records"), default=jsonable))  # one conversion for all rows
    keys = [entity_text(k) for k in chosen[key].tolist()]
    return list(zip(keys, ordered_ns[last].tolist(), records))


def materialize(views: list[dict[str, Any]], base_dir: str | Path, store: Any, *, start_ns: int | None = None,
                end_ns: int | None = None, lookback_s: float | None = None) -> list[Materialized]:
    """Write every view's newest values in (start, end] into `store`; start defaults to the last end, and
    then late rows stamped up to `lookback_s` before it (default: the view's TTL) are written too."""
    import numpy as np

    from mlops.feature_store.offline_join import to_utc_ns
    from mlops.feature_store.views import read_view

    end = time.time_ns() if end_ns is None else end_ns
    if start_ns is not None and start_ns > end:
        raise SpecError(Problem("--start", "is after --end", value=start_ns))
    done = []
    for view in views:
        loaded = read_view(view, base_dir)
        frame = loaded.frame.reset_index(drop=True)
        event_ns = to_utc_ns(frame[view["timestamp"]], f"{view['field']}.timestamp")
        lower = start_ns if start_ns is not None else store.through(view["name"])
        keyed = frame[view["key"]].notna().to_numpy()
        inside = (event_ns <= end) & keyed
        late = np.zeros_like(inside)
        lookback = None
        if start_ns is not None:  # an explicit --start rereads from there (inclusive): no look-back
            inside &= event_ns >= start_ns
        elif lower is not None:
            inside &= event_ns > lower
            lookback = lookback_s if lookback_s is not None else view["ttl_s"] or float("inf")  # no TTL: any age
            late = _late_rows(store, view, frame, event_ns, keyed & (event_ns <= min(lower, end)), lower, lookback)
        chosen = inside | late
        rows = latest_rows(frame[chosen], view["key"], event_ns[chosen], view["features"])
        written = store.write(view["name"], rows)
        store.record_materialization(view["name"], end, written)
        done.append(Materialized(view["name"], int(chosen.sum()), written, lower, end, int(late.sum()), lookback))
    return done


def _late_rows(store: Any, view: dict[str, Any], frame: Any, event_ns: Any, before: Any, lower: int,
               lookback_s: float) -> Any:
    """Rows stamped in (lower - lookback, lower] that are newer than the store's row for their entity (or
    whose entity it lacks): events that reached the source after the run that materialized through `lower`."""
    import numpy as np

    from mlops.feature_store.online_store import entity_text

    candidates = before.copy()
    if lookback_s <= 0:
        return np.zeros_like(candidates)
    if lookback_s != float("inf"):
        candidates &= event_ns > lower - round(lookback_s * 1e9)
    where = np.flatnonzero(candidates)
    if not len(where):
        return candidates
    keys = [entity_text(k) for k in frame[view["key"]].to_numpy()[where].tolist()]
    stored = store.read(view["name"], list(dict.fromkeys(keys)))
    newer = [key not in stored or int(ns) > stored[key].event_ns for key, ns in zip(keys, event_ns[where].tolist())]
    candidates[where] = np.asarray(newer, dtype=bool)
    return candidates
