"""Materialization: each view's latest row per entity, up to an end time, written into the online store.

Incremental as in Feast: a view's rows already materialized (event time at or before the end of its last
materialization) are not read into the store again; `start` overrides that lower bound, `end` defaults to now.
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
    rows_in_window: int  # source rows with event times inside (start, end]
    entities_written: int
    start_ns: Optional[int]
    end_ns: int


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
                end_ns: int | None = None) -> list[Materialized]:
    """Write every view's newest values in (start, end] into `store`; start defaults to the last end."""
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
        inside = event_ns <= end
        if lower is not None:
            inside &= event_ns > lower if start_ns is None else event_ns >= lower
        inside &= frame[view["key"]].notna().to_numpy()
        rows = latest_rows(frame[inside], view["key"], event_ns[inside], view["features"])
        written = store.write(view["name"], rows)
        store.record_materialization(view["name"], end, written)
        done.append(Materialized(view["name"], int(inside.sum()), written, lower, end))
    return done
