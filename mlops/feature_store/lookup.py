"""Online lookups: a view's values for an entity key as of a time (stale = missing), and request rows
filled from the store for the endpoint (values sent in the request win)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

from mlops.durations import format_duration
from mlops.errors import MlopsError
from mlops.feature_store.online_store import OnlineStore, StoredRow


class UnknownEntity(MlopsError):
    """No usable values for an entity key in a view, and no defaults: the endpoint answers 404 with it."""

    status_code = 404

    def __init__(self, key: str, value: Any, view: str, reason: str, row: Optional[int] = None):
        self.key, self.value, self.view, self.reason, self.row = key, value, view, reason, row
        super().__init__(f"{key}={value!r}: {reason} in feature view '{view}' (and the view has no defaults "
                         f"for the features the request lacks)")


class MissingEntityKey(MlopsError):
    """A request row lacks the entity key a view needs to fill its features: the endpoint answers 422."""

    status_code = 422

    def __init__(self, key: str, view: str, row: int):
        self.key, self.view, self.row = key, view, row
        super().__init__(f"row {row}: '{key}' is missing; feature view '{view}' needs it to fill its features")


@dataclass
class OnlineFeatures:
    """One view's values for one entity: `status` ok, missing (no row) or stale (older than the TTL, or
    newer than `as_of`); values are the view's defaults (or None) unless ok."""

    view: str
    key: Any
    values: dict[str, Any]
    event_ns: Optional[int]
    status: str


def _usable(row: Optional[StoredRow], view: dict[str, Any], as_of_ns: int) -> str:
    if row is None:
        return "missing"
    if row.event_ns > as_of_ns:
        return "stale"  # a value from after `as_of` is never served, as the offline join never takes one
    ttl = view.get("ttl_s")
    if ttl is not None and as_of_ns - row.event_ns > round(ttl * 1e9):
        return "stale"
    return "ok"


def _features(row: Optional[StoredRow], view: dict[str, Any], status: str) -> dict[str, Any]:
    if status == "ok":
        return {f: row.values.get(f) for f in view["features"]}
    return {f: view["defaults"].get(f) for f in view["features"]}


def lookup(store: OnlineStore, views: list[dict[str, Any]], entity: dict[str, Any],
           as_of_ns: int | None = None) -> list[OnlineFeatures]:
    """Each view's values for the entity keys given (views whose key is not given are skipped)."""
    now = time.time_ns() if as_of_ns is None else as_of_ns
    out = []
    for view in views:
        if view["key"] not in entity:
            continue
        row = store.read_one(view["name"], entity[view["key"]])
        status = _usable(row, view, now)
        out.append(OnlineFeatures(view["name"], entity[view["key"]], _features(row, view, status),
                                  row.event_ns if row else None, status))
    return out


def feature_vector(store: OnlineStore, views: list[dict[str, Any]], entity: dict[str, Any],
                   as_of_ns: int | None = None) -> dict[str, Any]:
    """Every feature of the views for one entity as of a time: what the offline join gives a label row."""
    vector: dict[str, Any] = {}
    for found in lookup(store, views, entity, as_of_ns):
        vector.update(found.values)
    return vector


def store_supplied_fields(views: list[dict[str, Any]]) -> list[str]:
    """Request fields the store can supply (optional in the endpoint's request schema)."""
    return [f for view in views for f in view["features"]]


def fill_rows(rows: list[dict[str, Any]], store: OnlineStore, views: list[dict[str, Any]],
              as_of_ns: int | None = None) -> list[dict[str, Any]]:
    """Request rows with every view feature they lack (absent or null) filled from the store by entity key,
    one read per view. Stale values count as missing; missing ones take the view's defaults, else
    UnknownEntity. Null counts as not sent, so a request model's unset optional fields can be passed as is."""
    filled = fill_requests([rows], store, views, as_of_ns)[0]
    if isinstance(filled, MlopsError):
        raise filled
    return filled


def fill_requests(requests: list[list[dict[str, Any]]], store: OnlineStore, views: list[dict[str, Any]],
                  as_of_ns: int | None = None) -> list[list[dict[str, Any]] | MlopsError]:
    """fill_rows for several requests at once (an endpoint's batch): one store read per view for all their
    keys. Each request gets its filled rows, or its own error naming its first row the store cannot fill
    (MissingEntityKey, UnknownEntity), which leaves the other requests' rows filled."""
    from mlops.feature_store.online_store import entity_text

    now = time.time_ns() if as_of_ns is None else as_of_ns
    filled: list[Any] = [[dict(row) for row in rows] for rows in requests]
    for view in views:
        key, features = view["key"], view["features"]
        needing = [(q, i) for q, rows in enumerate(filled) if isinstance(rows, list)
                   for i, row in enumerate(rows) if any(row.get(f) is None for f in features)]
        for q, i in needing:
            if isinstance(filled[q], list) and filled[q][i].get(key) is None:
                filled[q] = MissingEntityKey(key, view["name"], i)
        needing = [(q, i) for q, i in needing if isinstance(filled[q], list)]
        if not needing:
            continue
        stored = store.read(view["name"], list({entity_text(filled[q][i][key]): filled[q][i][key] for q, i in needing}.values()))
        for q, i in needing:
            if not isinstance(filled[q], list):
                continue  # an earlier row of this request was refused
            row = filled[q][i]
            found = stored.get(entity_text(row[key]))
            status = _usable(found, view, now)
            lacking = [f for f in features if row.get(f) is None]
            if status != "ok" and any(view["defaults"].get(f) is None for f in lacking):
                reason = "no row" if status == "missing" else f"only a value older than the TTL ({format_duration(view['ttl_s'])})" \
                    if found is not None and found.event_ns <= now else "no row at or before now"
                filled[q] = UnknownEntity(key, row[key], view["name"], reason, i)
                continue
            values = _features(found, view, status)
            for f in lacking:
                row[f] = values[f]
    return filled
