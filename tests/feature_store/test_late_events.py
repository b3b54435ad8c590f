"""Late events (stamped before the last materialization's end, written to the source after it) reach the
online store: a look-back, by default the view's TTL, rereads them, and only those newer than the store's
row for their entity are counted and written. Real parquet sources, a real SQLite online store, the real CLI."""
from __future__ import annotations

import pandas as pd
import pytest
from feature_store.test_cli import churn, invoke  # noqa: F401  (churn: the CLI tests' fixture, shared)
from mlops import api
from mlops.feature_store.materialize import materialize
from mlops.feature_store.online_store import OnlineStore

DAY = 86400
T0 = pd.Timestamp("2026-01-01", tz="UTC")


def ns(days: float) -> int:
    return int((T0 + pd.Timedelta(days=days)).value)


def write_view(tmp_path, rows, ttl_s=10 * DAY):
    """The view's source as it stands now: (customer_id, day, sessions) rows."""
    frame = pd.DataFrame(rows, columns=["customer_id", "event_time", "sessions"])
    frame["event_time"] = [T0 + pd.Timedelta(days=d) for d in frame["event_time"]]
    frame.to_parquet(tmp_path / "activity.parquet", index=False)
    return {"name": "activity", "entity": "customer", "key": "customer_id", "field": "features.views.0",
            "source": {"type": "parquet", "path": "activity.parquet"}, "timestamp": "event_time", "ttl_s": ttl_s,
            "features": ["sessions"], "defaults": {}}


@pytest.fixture
def store(tmp_path):
    s = OnlineStore(tmp_path / ".mlops" / "feature_store.db")
    yield s
    s.close()


ON_TIME = [(1, 5, 10), (2, 6, 20)]


def test_late_events_within_the_ttl_are_materialized_and_superseded_ones_are_not(tmp_path, store):
    view = write_view(tmp_path, ON_TIME)
    assert materialize([view], tmp_path, store, end_ns=ns(10))[0].rows_in_window == 2
    # Arrived after that run: newer than the stored row (customer 1), a new entity (3), older than the
    # stored row (customer 2: superseded), and one stamped past the 10-day TTL before the last end (4).
    write_view(tmp_path, ON_TIME + [(1, 8, 11), (3, 9, 30), (2, 4, 99), (4, -1, 40)])
    late = materialize([view], tmp_path, store, end_ns=ns(12))[0]
    assert (late.rows_in_window, late.late_rows, late.entities_written) == (2, 2, 2)
    assert late.lookback_s == 10 * DAY and late.start_ns == ns(10)
    assert store.read_one("activity", 1).values == {"sessions": 11} and store.read_one("activity", 1).event_ns == ns(8)
    assert store.read_one("activity", 3).values == {"sessions": 30}
    assert store.read_one("activity", 2).values == {"sessions": 20}  # the late day-4 row is older than day 6
    assert store.read_one("activity", 4) is None  # beyond the look-back
    again = materialize([view], tmp_path, store, end_ns=ns(12))[0]
    assert (again.rows_in_window, again.late_rows, again.entities_written) == (0, 0, 0)  # nothing new since


def test_the_look_back_can_be_set_switched_off_or_unlimited(tmp_path):
    def late_arrivals_written(lookback_s):
        """Materialize through day 10, then rows stamped day 9 and day -1 arrive; what the next run writes."""
        view = write_view(tmp_path, ON_TIME)
        store = OnlineStore(tmp_path / f"store-{lookback_s}.db")
        try:
            materialize([view], tmp_path, store, end_ns=ns(10))
            write_view(tmp_path, ON_TIME + [(3, 9, 30), (4, -1, 40)])
            done = materialize([view], tmp_path, store, end_ns=ns(11), lookback_s=lookback_s)[0]
            return done.late_rows, {k for k in (3, 4) if store.read_one("activity", k) is not None}
        finally:
            store.close()

    assert late_arrivals_written(0) == (0, set())  # only rows after the last end, as before look-backs
    assert late_arrivals_written(DAY / 2) == (0, set())  # day 9 is a day before the last end
    assert late_arrivals_written(2 * DAY) == (1, {3})
    assert late_arrivals_written(None) == (1, {3})  # the default, the 10-day TTL: day -1 is 11 days back
    assert late_arrivals_written(float("inf")) == (2, {3, 4})


def test_a_view_without_a_ttl_looks_back_over_everything(tmp_path, store):
    view = write_view(tmp_path, ON_TIME, ttl_s=None)
    materialize([view], tmp_path, store, end_ns=ns(100))
    write_view(tmp_path, ON_TIME + [(5, 1, 50)], ttl_s=None)
    late = materialize([view], tmp_path, store, end_ns=ns(101))[0]
    assert late.late_rows == 1 and late.lookback_s == float("inf")
    assert store.read_one("activity", 5).values == {"sessions": 50}


def test_an_explicit_start_rereads_from_there_without_a_look_back(tmp_path, store):
    view = write_view(tmp_path, ON_TIME)
    materialize([view], tmp_path, store, end_ns=ns(10))
    write_view(tmp_path, ON_TIME + [(3, 4, 30)])
    redo = materialize([view], tmp_path, store, start_ns=ns(5), end_ns=ns(10))[0]
    assert redo.late_rows == 0 and redo.lookback_s is None and store.read_one("activity", 3) is None


def test_the_cli_materializes_a_late_event_and_names_a_bad_lookback(churn):
    first = invoke("features", "materialize", churn, "--end", "2026-04-01")
    assert first.exit_code == 0, first.output
    before = next(r for r in api.online_features(churn, [], {"customer_id": 7}, as_of="2026-04-01")
                  if r.view == "customer_activity")
    assert before.event_ns < pd.Timestamp("2026-03-31 12:00", tz="UTC").value  # so the late row is newer
    source = churn.parent / "data" / "activity.parquet"
    activity = pd.read_parquet(source)
    late = activity[activity["customer_id"] == 7].tail(1).assign(event_time=pd.Timestamp("2026-03-31 12:00"),
                                                                  sessions_7d=12345)
    pd.concat([activity, late]).to_parquet(source, index=False)  # arrives after the run, stamped before its end
    again = invoke("features", "materialize", churn, "--end", "2026-04-02")
    assert again.exit_code == 0, again.output
    cells = next([c.strip() for c in line.split("│")[1:-1]] for line in again.output.splitlines()
                 if "customer_activity" in line)
    late_column, look_back_column = cells[2], cells[5]
    assert (late_column, look_back_column) == ("1", "30d"), again.output  # the look-back is the view's TTL, as written
    after = api.online_features(churn, [], {"customer_id": 7}, as_of="2026-04-02")
    activity_after = next(r for r in after if r.view == "customer_activity")
    assert activity_after.values["sessions_7d"] == 12345
    assert before.values["sessions_7d"] != 12345
    bad = invoke("features", "materialize", churn, "--lookback", "a while")
    assert bad.exit_code == 2 and "--lookback" in bad.output and "a while" in bad.output, bad.output
