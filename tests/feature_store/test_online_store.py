"""The online store: incremental materialization, lookups with event times, missing and stale keys, request
rows filled from the store, and the same vector online as offline for the same entity and time."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlops.feature_store.lookup import MissingEntityKey, UnknownEntity, feature_vector, fill_requests, fill_rows, lookup
from mlops.feature_store.materialize import materialize, parse_time
from mlops.feature_store.offline_join import ViewFrame, point_in_time_join
from mlops.feature_store.online_store import OnlineStore, entity_text

DAY = 86400
T0 = pd.Timestamp("2026-01-01", tz="UTC")


def ns(days: float) -> int:
    return int((T0 + pd.Timedelta(days=days)).value)


def write_view(tmp_path, rows, name="activity", ttl_s=10 * DAY, defaults=None):
    frame = pd.DataFrame(rows, columns=["customer_id", "event_time", "sessions", "plan"])
    frame["event_time"] = [T0 + pd.Timedelta(days=d) for d in frame["event_time"]]
    frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return {"name": name, "entity": "customer", "key": "customer_id", "field": "features.views.0",
            "source": {"type": "parquet", "path": f"{name}.parquet"}, "timestamp": "event_time", "ttl_s": ttl_s,
            "features": ["sessions", "plan"], "defaults": defaults or {}}


@pytest.fixture
def store(tmp_path):
    s = OnlineStore(tmp_path / ".mlops" / "feature_store.db")
    yield s
    s.close()


def test_materialization_is_incremental_and_keeps_the_latest_row(tmp_path, store):
    view = write_view(tmp_path, [(1, 1, 3, "basic"), (1, 2, 4, "plus"), (2, 3, 7, "pro"), (1, 20, 9, "pro")])
    first = materialize([view], tmp_path, store, end_ns=ns(5))
    assert (first[0].rows_in_window, first[0].entities_written) == (3, 2)
    assert store.read_one("activity", 1).values == {"sessions": 4, "plan": "plus"}
    again = materialize([view], tmp_path, store, end_ns=ns(5))  # nothing newer than the last end
    assert (again[0].rows_in_window, again[0].entities_written) == (0, 0)
    later = materialize([view], tmp_path, store, end_ns=ns(30))
    assert (later[0].rows_in_window, later[0].entities_written) == (1, 1)
    assert store.read_one("activity", "1").event_ns == ns(20)  # "1" and 1 name one entity
    stats = store.stats(["activity"])[0]
    assert stats.rows == 2 and stats.newest_event_ns == ns(20) and stats.materialized_through_ns == ns(30)


def test_an_explicit_start_rereads_and_an_older_row_never_overwrites_a_newer(tmp_path, store):
    view = write_view(tmp_path, [(1, 1, 3, "basic"), (1, 2, 4, "plus")])
    materialize([view], tmp_path, store, end_ns=ns(5))
    redo = materialize([view], tmp_path, store, start_ns=ns(0), end_ns=ns(1))
    assert redo[0].entities_written == 1
    assert store.read_one("activity", 1).values["sessions"] == 4  # the day-1 row is older than the stored day-2 one


def test_lookup_reports_event_times_and_stale_or_missing_keys(tmp_path, store):
    view = write_view(tmp_path, [(1, 1, 3, "basic"), (2, 9, 5, "pro")], defaults={"sessions": 0})
    materialize([view], tmp_path, store, end_ns=ns(10))
    found = {r.key: r for r in lookup(store, [view], {"customer_id": 2}, as_of_ns=ns(10))}
    assert found[2].status == "ok" and found[2].event_ns == ns(9) and found[2].values == {"sessions": 5, "plan": "pro"}
    stale = lookup(store, [view], {"customer_id": 1}, as_of_ns=ns(12))[0]  # 11 days old, TTL 10 days
    assert stale.status == "stale" and stale.values == {"sessions": 0, "plan": None}
    missing = lookup(store, [view], {"customer_id": 99}, as_of_ns=ns(10))[0]
    assert missing.status == "missing" and missing.event_ns is None


def test_fill_rows_request_values_win_defaults_fill_and_unknown_keys_are_named(tmp_path, store):
    view = write_view(tmp_path, [(1, 1, 3, "basic"), (2, 1, 5, "pro")])
    materialize([view], tmp_path, store, end_ns=ns(2))
    rows = fill_rows([{"customer_id": 1, "other": 1.0}, {"customer_id": 2, "plan": "mine", "sessions": None}],
                     store, [view], ns(2))
    assert rows == [{"customer_id": 1, "other": 1.0, "sessions": 3, "plan": "basic"},  # null = not sent
                    {"customer_id": 2, "plan": "mine", "sessions": 5}]
    with pytest.raises(UnknownEntity, match="customer_id=42") as err:
        fill_rows([{"customer_id": 42}], store, [view], ns(2))
    assert err.value.status_code == 404 and err.value.key == "customer_id"
    with pytest.raises(UnknownEntity, match="older than the TTL"):
        fill_rows([{"customer_id": 1}], store, [view], ns(30))
    with pytest.raises(MissingEntityKey, match="'customer_id' is missing"):
        fill_rows([{"sessions": 1}], store, [view], ns(2))
    assert fill_rows([{"sessions": 1, "plan": "x"}], store, [view], ns(2)) == [{"sessions": 1, "plan": "x"}]
    with_defaults = {**view, "defaults": {"sessions": 0, "plan": "none"}}
    assert fill_rows([{"customer_id": 42}], store, [with_defaults], ns(2))[0] == {"customer_id": 42, "sessions": 0,
                                                                                   "plan": "none"}


def test_a_batch_of_requests_is_filled_with_one_read_per_view_and_a_bad_key_refuses_only_its_request(tmp_path, store):
    view = write_view(tmp_path, [(1, 1, 3, "basic"), (2, 1, 5, "pro")])
    materialize([view], tmp_path, store, end_ns=ns(2))
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)  # SQLite reports each statement it runs
    out = fill_requests([[{"customer_id": 1}], [{"customer_id": 2}, {"customer_id": 42}], [{"sessions": 1}],
                         [{"customer_id": 2.0, "sessions": 7}]], store, [view], ns(2))
    assert len([s for s in statements if s.startswith("SELECT")]) == 1
    assert out[0] == [{"customer_id": 1, "sessions": 3, "plan": "basic"}]
    assert isinstance(out[1], UnknownEntity) and out[1].row == 1 and "customer_id=42" in str(out[1])
    assert isinstance(out[2], MissingEntityKey) and out[2].row == 0
    assert out[3] == [{"customer_id": 2.0, "sessions": 7, "plan": "pro"}]  # 2.0 and 2 name one entity


def test_online_vector_equals_the_offline_one_for_the_same_entity_and_time(tmp_path, store):
    rng = np.random.default_rng(1)
    n = 400
    rows = list(zip(rng.integers(0, 40, n).tolist(), rng.integers(0, 60, n).tolist(), rng.integers(0, 20, n).tolist(),
                    rng.choice(["a", "b", "c"], n).tolist()))
    view = write_view(tmp_path, rows, ttl_s=7 * DAY, defaults={"sessions": -1})
    frame = pd.read_parquet(tmp_path / "activity.parquet")
    spec_view = ViewFrame("activity", frame, "customer_id", "event_time", ["sessions", "plan"], 7 * DAY, {"sessions": -1})
    for day in (15, 31, 47):  # materialize up to a time, then compare at exactly that time
        materialize([view], tmp_path, store, end_ns=ns(day))
        labels = pd.DataFrame({"customer_id": range(45), "at": [T0 + pd.Timedelta(days=day)] * 45})
        offline = point_in_time_join(labels, "at", [spec_view])
        for _, row in offline.iterrows():
            online = feature_vector(store, [view], {"customer_id": row["customer_id"]}, ns(day))
            for feature in ("sessions", "plan"):
                a, b = row[feature], online[feature]
                both_missing = (a is None or (isinstance(a, float) and math.isnan(a))) and b is None
                assert both_missing or a == b, (day, row["customer_id"], feature, a, b)


def test_entity_keys_and_times_from_the_command_line():
    assert entity_text(42) == entity_text(42.0) == entity_text("42") == entity_text(np.int64(42)) == "42"
    assert parse_time("2026-01-01", "--end") == ns(0)
    assert parse_time("2026-01-01T02:00:00+02:00", "--end") == ns(0)
    from mlops.errors import SpecError

    with pytest.raises(SpecError, match="--end: not a time"):
        parse_time("yesterday-ish", "--end")
