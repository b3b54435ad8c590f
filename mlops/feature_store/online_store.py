"""The online store: one SQLite file holding, per view and entity key, the latest values and their event time.

Keys are stored as text (`entity_text`), so 42, 42.0 and "42" (from the command line) name one entity.
Values are one JSON object per row: a lookup is one primary-key read, well under a millisecond.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feature_rows (
    view TEXT NOT NULL, entity_key TEXT NOT NULL, event_ns INTEGER NOT NULL, feature_values TEXT NOT NULL,
    PRIMARY KEY (view, entity_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS materializations (
    view TEXT PRIMARY KEY, through_ns INTEGER NOT NULL, rows_written INTEGER NOT NULL, at_s REAL NOT NULL);
"""


def entity_text(value: Any) -> str:
    """The stored form of an entity key: integral numbers without a fraction, everything else as str()."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return entity_text(value.item())
    return str(value)


@dataclass
class StoredRow:
    """One entity's latest values in one view, with their event time (ns since the epoch, UTC)."""

    event_ns: int
    values: dict[str, Any]


@dataclass
class ViewStats:
    """What `mlops features list` shows of one view in the store."""

    view: str
    rows: int
    newest_event_ns: Optional[int]
    materialized_through_ns: Optional[int]
    materialized_at_s: Optional[float]


class OnlineStore:
    """Latest feature values per (view, entity key) in one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            from mlops.errors import MlopsError

            raise MlopsError(f"no online store at {self.path}: run `mlops features materialize SPEC` first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def write(self, view: str, rows: Iterable[tuple[str, int, dict[str, Any]]]) -> int:
        """Upsert (key, event_ns, values) rows; a row older than the stored one for its key is ignored."""
        payload = [(view, key, int(ns), json.dumps(values, default=str)) for key, ns, values in rows]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO feature_rows VALUES (?, ?, ?, ?) ON CONFLICT(view, entity_key) DO UPDATE SET "
                "event_ns = excluded.event_ns, feature_values = excluded.feature_values "
                "WHERE excluded.event_ns >= feature_rows.event_ns", payload)
            self._db.execute("COMMIT")
        return len(payload)

    def through(self, view: str) -> Optional[int]:
        """The end (ns) of the view's last materialization: rows up to it are in the store."""
        row = self._db.execute("SELECT through_ns FROM materializations WHERE view = ?", (view,)).fetchone()
        return row[0] if row else None

    def record_materialization(self, view: str, through_ns: int, rows: int) -> None:
        """Remember that `view` is materialized through `through_ns`."""
        with self._lock:
            self._db.execute("INSERT INTO materializations VALUES (?, ?, ?, ?) ON CONFLICT(view) DO UPDATE SET "
                             "through_ns = MAX(through_ns, excluded.through_ns), "
                             "rows_written = rows_written + excluded.rows_written, at_s = excluded.at_s",
                             (view, int(through_ns), int(rows), time.time()))

    def read(self, view: str, keys: list[Any]) -> dict[str, StoredRow]:
        """The stored rows of these entity keys (by their stored text form); absent keys are left out."""
        texts = [entity_text(k) for k in keys]
        found: dict[str, StoredRow] = {}
        for start in range(0, len(texts), 500):  # SQLite's bound-parameter limit
            chunk = texts[start:start + 500]
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(f"SELECT entity_key, event_ns, feature_values FROM feature_rows "
                                        f"WHERE view = ? AND entity_key IN ({marks})", (view, *chunk)).fetchall()
            for key, ns, values in rows:
                found[key] = StoredRow(ns, json.loads(values))
        return found

    def read_one(self, view: str, key: Any) -> Optional[StoredRow]:
        """The stored row of one entity key, or None."""
        with self._lock:
            row = self._db.execute("SELECT event_ns, feature_values FROM feature_rows WHERE view = ? AND entity_key = ?",
                                   (view, entity_text(key))).fetchone()
        return StoredRow(row[0], json.loads(row[1])) if row else None

    def stats(self, views: list[str]) -> list[ViewStats]:
        """Rows, newest event time and last materialization of each view."""
        out = []
        for view in views:
            rows, newest = self._db.execute("SELECT COUNT(*), MAX(event_ns) FROM feature_rows WHERE view = ?",
                                            (view,)).fetchone()
            done = self._db.execute("SELECT through_ns, at_s FROM materializations WHERE view = ?", (view,)).fetchone()
            out.append(ViewStats(view, rows, newest, done[0] if done else None, done[1] if done else None))
        return out
