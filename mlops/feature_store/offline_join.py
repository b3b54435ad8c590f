"""Point-in-time-correct join of feature views onto labelled rows (Feast's `get_historical_features`).

For each label row and each view: the view's latest row for the same entity key whose event time is at or
before the label's time and no older than the view's TTL (`label_time - ttl <= event_time <= label_time`,
both ends included). A feature row stamped exactly at the label's time is included, as in Feast. Several
rows of one entity at the same event time: the last one in the source's order wins. No row in the window:
the view's default for the feature, else missing (NaN / None). Never a value from after the label's time.

Vectorised: entity keys and times become one sortable int64 per row (the entity's code, then the time as a
small int: its offset in units of the times' common divisor, or its rank), so one sort of the feature rows
and one `searchsorted` of the (sorted) labels find every match; no Python loop over rows or entities.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional


@dataclass
class ViewFrame:
    """One view's rows ready to join: the frame, its key and time columns, features, TTL and defaults."""

    name: str
    frame: Any  # pandas DataFrame
    key: str
    timestamp: str
    features: list[str]
    ttl_s: Optional[float] = None
    defaults: dict[str, Any] = field(default_factory=dict)


def to_utc_ns(values: Any, where: str):
    """Times (datetimes, dates or ISO strings; naive ones read as UTC) as int64 nanoseconds since the
    epoch, NaT as the int64 minimum; a DataError naming `where` when they do not parse."""
    import numpy as np
    import pandas as pd

    from mlops.errors import DataError, Problem

    series = pd.Series(values)
    if series.dtype == "datetime64[ns]":  # the common case, without copies
        return series.to_numpy().view(np.int64)
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise DataError(Problem(where, "timestamp column is not a time", value=str(series.dtype),
                                expected="datetime values or ISO-8601 strings"))
    try:
        stamps = pd.to_datetime(series, utc=True, format="ISO8601") if series.dtype == object else \
            pd.to_datetime(series, utc=True)
    except (ValueError, TypeError) as exc:
        raise DataError(Problem(where, f"timestamp column does not parse as times: {exc}")) from None
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)


PACK_LIMIT = 2**62  # (entity code, time) pairs packed below this; int64 leaves room for the -1s


def _small_times(view_ns, label_ns, view_ok, label_ok, codes: int):
    """Times as small ints that order exactly like the times (view v <= label l iff view time <= label
    time), and the width that packs (entity code, time) into one int64: the view times' offsets divided by
    their greatest common divisor (events are stamped in whole seconds or ms), else their ranks."""
    import numpy as np

    valid = view_ns[view_ok]
    if len(valid) == 0:
        return np.zeros(len(view_ns), np.int64), np.full(len(label_ns), -1, np.int64), 2
    base = valid.min()
    if int(valid.max()) - int(base) < PACK_LIMIT:  # else the offsets overflow int64 (times > 292 years apart)
        offsets = np.where(view_ok, view_ns - base, 0)
        step = int(np.gcd.reduce(offsets)) or 1
        span = int(offsets.max()) // step
        if (span + 2) * (codes + 1) < PACK_LIMIT:
            safe = np.clip(label_ns, base - 1, valid.max())  # NaT and earlier: -1, later: span; no overflow
            return offsets // step, np.floor_divide(safe - base, step), span + 2
    times = np.unique(valid)  # times too fine and far apart to pack: their ranks
    view_rank = np.searchsorted(times, view_ns)
    label_rank = np.where(label_ok, np.searchsorted(times, label_ns, side="right") - 1, -1)
    return view_rank.astype(np.int64), label_rank.astype(np.int64), len(times) + 2


def _search(view_key, label_key):
    """For each label key, the index of the last view row with a key at or below it (-1: none); among
    equal view keys the last in source order, as a stable sort would give."""
    import numpy as np

    if len(view_key) == 0:
        return np.full(len(label_key), -1, dtype=np.int64)
    order = np.argsort(view_key)  # unstable (faster); runs of equal keys are fixed below
    sorted_key = view_key[order]
    equal = sorted_key[1:] == sorted_key[:-1]
    if equal.any():  # searchsorted lands on a run's last slot: put the run's largest row index there
        starts = np.flatnonzero(np.r_[True, ~equal])
        ends = np.r_[starts[1:], len(order)] - 1
        order[ends] = np.maximum.reduceat(order, starts)
    queries = np.argsort(label_key)  # sorted queries walk the sorted keys once, instead of cache misses
    position = np.empty(len(label_key), dtype=np.int64)
    position[queries] = np.searchsorted(sorted_key, label_key[queries], side="right") - 1
    return np.where(position >= 0, order[np.maximum(position, 0)], -1)


def _match(label_codes, label_ns, view_codes, view_ns, ttl_s):
    """Index of each label's matching view row (into the view's rows), and whether there is one."""
    import numpy as np

    nat = np.iinfo(np.int64).min
    view_ok, label_ok = view_ns != nat, label_ns != nat
    codes = int(max(view_codes.max(initial=0), label_codes.max(initial=0))) + 1
    view_t, label_t, width = _small_times(view_ns, label_ns, view_ok, label_ok, codes)
    view_key = np.where(view_ok, view_codes.astype(np.int64), -1) * width + view_t
    label_key = label_codes.astype(np.int64) * width + label_t
    row = _search(view_key, label_key)
    found = row >= 0
    row = np.where(found, row, 0)
    found &= (view_codes[row] == label_codes) & (label_codes >= 0) & label_ok & view_ok[row]
    if ttl_s is not None:  # a found row is at or before its label: a negative age overflowed (> 292 years)
        age = label_ns - view_ns[row]
        found &= (age >= 0) & (age <= np.int64(round(ttl_s * 1e9)))
    return row, found


def match_part(label_codes, label_ns, view_codes, view_ns, ttl_s):
    """_match of one partition's rows (a Ray task's work in a partitioned join); an empty side matches nothing."""
    import numpy as np

    if len(view_codes) == 0 or len(label_codes) == 0:
        return np.zeros(len(label_codes), dtype=np.int64), np.zeros(len(label_codes), dtype=bool)
    return _match(label_codes, label_ns, view_codes, view_ns, ttl_s)


def _split(codes, partitions: int):
    """Row indices of each partition (entity code modulo `partitions`; a missing key's -1 lands in the last)."""
    import numpy as np

    part = (codes % partitions).astype(np.min_scalar_type(partitions))  # small ints: numpy radix-sorts them
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    return [order[bounds[p]:bounds[p + 1]] for p in range(partitions)]


def match_partitioned(label_codes, label_ns, view_codes, view_ns, ttl_s, partitions: int = 1,
                      map_parts: Callable[..., Iterable] = map):
    """_match, with the entities split into `partitions` disjoint sets matched independently through
    `map_parts(match_part, *argument lists)` (the builtin map, or one Ray task per partition), then put
    back in place: a label only ever matches rows of its own entity, so the rows out are the same."""
    import numpy as np

    if partitions <= 1:
        return match_part(label_codes, label_ns, view_codes, view_ns, ttl_s)
    label_parts, view_parts = _split(label_codes, partitions), _split(view_codes, partitions)
    results = map_parts(match_part, [label_codes[i] for i in label_parts], [label_ns[i] for i in label_parts],
                        [view_codes[i] for i in view_parts], [view_ns[i] for i in view_parts], [ttl_s] * partitions)
    row, found = np.zeros(len(label_codes), dtype=np.int64), np.zeros(len(label_codes), dtype=bool)
    for labels_at, views_at, (part_row, part_found) in zip(label_parts, view_parts, results):
        if len(views_at):
            row[labels_at] = views_at[part_row]
        found[labels_at] = part_found
    return row, found


def _codes(view_keys, label_keys):
    """Entity keys as int codes shared by both sides (-1 for a missing key)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_integer_dtype(view_keys) and pd.api.types.is_integer_dtype(label_keys):
        low = min(view_keys.min(), label_keys.min())
        high = max(view_keys.max(), label_keys.max())
        if int(high) - int(low) <= 4 * (len(view_keys) + len(label_keys)):  # dense ids: the id is the code
            return (view_keys.to_numpy().astype(np.int64) - low), (label_keys.to_numpy().astype(np.int64) - low)
    codes, _uniques = pd.factorize(pd.concat([view_keys, label_keys], ignore_index=True), use_na_sentinel=True)
    return codes[:len(view_keys)], codes[len(view_keys):]


def _column(values: Any, row, found, default: Any):
    """The matched values of one feature; the default (or missing) where there is no match."""
    import pandas as pd

    taken = pd.Series(values).take(row).reset_index(drop=True) if len(values) else \
        pd.Series([None] * len(row), dtype=object)
    if found.all():
        return taken
    mask = pd.Series(found)
    if default is not None:
        return taken.where(mask, default)
    if pd.api.types.is_bool_dtype(taken) or taken.dtype == object:
        return taken.astype(object).where(mask, None)
    return taken.where(mask)  # numbers become float with NaN, as pandas and Feast's offline store do


def point_in_time_join(labels: Any, label_timestamp: str, views: list[ViewFrame], partitions: int = 1,
                       map_parts: Callable[..., Iterable] = map) -> Any:
    """`labels` (same rows, same order) with every view's features as of each row's `label_timestamp`;
    the matching split over `partitions` sets of entities, run through `map_parts` (match_partitioned)."""
    import numpy as np

    out = labels.reset_index(drop=True).copy()
    label_ns = to_utc_ns(out[label_timestamp], "data.timestamp")
    for view in views:
        frame = view.frame
        view_ns = to_utc_ns(frame[view.timestamp], f"features.views.{view.name}.timestamp")
        if len(frame) == 0:  # nothing to match: every row gets the defaults
            row, found = np.zeros(len(out), dtype=np.int64), np.zeros(len(out), dtype=bool)
        else:
            view_codes, label_codes = _codes(frame[view.key], out[view.key])
            row, found = match_partitioned(label_codes, label_ns, view_codes, view_ns, view.ttl_s, partitions, map_parts)
        for feature in view.features:
            out[feature] = _column(frame[feature].to_numpy(), row, found, view.defaults.get(feature)).to_numpy()
    return out


def brute_force_join(labels: Any, label_timestamp: str, views: list[ViewFrame]) -> Any:
    """The same join by a loop over rows: slow, obviously right; the tests' reference."""
    import pandas as pd

    out = labels.reset_index(drop=True).copy()
    for view in views:
        frame = view.frame.reset_index(drop=True)
        view_ns = to_utc_ns(frame[view.timestamp], "view")
        label_ns = to_utc_ns(out[label_timestamp], "labels")
        columns: dict[str, list] = {f: [] for f in view.features}
        for i in range(len(out)):
            best = None
            for j in range(len(frame)):
                if frame[view.key].iloc[j] != out[view.key].iloc[i] or view_ns[j] > label_ns[i]:
                    continue
                if view.ttl_s is not None and int(label_ns[i]) - int(view_ns[j]) > round(view.ttl_s * 1e9):
                    continue
                if best is None or view_ns[j] >= view_ns[best]:
                    best = j
            for f in view.features:
                columns[f].append(frame[f].iloc[best] if best is not None else view.defaults.get(f))
        for f in view.features:
            out[f] = pd.Series(columns[f], dtype=object).to_numpy()
    return out
