"""The point-in-time join: against a brute-force loop (hypothesis), TTL bounds, ties, defaults, never the future."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mlops.errors import DataError
from mlops.feature_store.offline_join import ViewFrame, brute_force_join, point_in_time_join

DAY = 86400


def frame_of(rows, columns):
    return pd.DataFrame(rows, columns=columns)


def same(a, b) -> bool:
    """Equal values, NaN and None counting as one 'missing'."""
    return all((pd.isna(x) and pd.isna(y)) or x == y for x, y in zip(a, b))


events = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30), st.integers(-50, 50)), min_size=0, max_size=40)
labels = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 35)), min_size=1, max_size=25)


@pytest.mark.parametrize("packing", ["offsets", "ranks"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(events=events, labels=labels, ttl_days=st.one_of(st.none(), st.integers(0, 10)),
       default=st.one_of(st.none(), st.integers(-5, -1)), partitions=st.sampled_from([1, 1, 2, 3, 7]))
def test_join_matches_a_brute_force_reference(packing, monkeypatch, events, labels, ttl_days, default, partitions):
    """Times packed as offsets (whole days here) or, when those would overflow, as ranks; the entities
    matched in one set or split into partitions: the same rows as the loop, ties at equal times included
    (whole days make many)."""
    from mlops.feature_store import offline_join

    monkeypatch.setattr(offline_join, "PACK_LIMIT", 2**62 if packing == "offsets" else 0)
    feats = frame_of([(k, pd.Timestamp("2026-01-01") + pd.Timedelta(days=d), v) for k, d, v in events],
                     ["key", "ts", "value"])
    feats["value"] = feats["value"].astype("int64")
    lab = frame_of([(k, pd.Timestamp("2026-01-01") + pd.Timedelta(days=d)) for k, d in labels], ["key", "at"])
    view = ViewFrame("v", feats, "key", "ts", ["value"], None if ttl_days is None else ttl_days * DAY,
                     {} if default is None else {"value": default})
    fast = point_in_time_join(lab, "at", [view], partitions)
    slow = brute_force_join(lab, "at", [view])
    assert list(fast["key"]) == list(lab["key"])  # same rows, same order
    assert same(fast["value"], slow["value"])
    if partitions > 1:  # and the same column as one partition gives, dtype included
        whole = point_in_time_join(lab, "at", [view])["value"]
        assert fast["value"].dtype == whole.dtype and same(fast["value"], whole)


def test_a_row_at_the_label_time_is_included_and_the_last_of_equal_times_wins():
    t = pd.Timestamp("2026-03-01")
    feats = frame_of([(1, t, 10), (1, t, 11), (1, t + pd.Timedelta(seconds=1), 99)], ["key", "ts", "value"])
    out = point_in_time_join(frame_of([(1, t)], ["key", "at"]), "at", [ViewFrame("v", feats, "key", "ts", ["value"])])
    assert out["value"].tolist() == [11]  # ts == label time counts; the later second never does


def test_ttl_bounds_are_inclusive_and_defaults_fill_the_rest():
    t = pd.Timestamp("2026-03-31")
    feats = frame_of([(1, t - pd.Timedelta(days=30), 5.0), (2, t - pd.Timedelta(days=30, seconds=1), 7.0)],
                     ["key", "ts", "value"])
    lab = frame_of([(1, t), (2, t), (3, t)], ["key", "at"])
    out = point_in_time_join(lab, "at", [ViewFrame("v", feats, "key", "ts", ["value"], 30 * DAY, {"value": 0.0})])
    assert out["value"].tolist() == [5.0, 0.0, 0.0]  # exactly 30 days old: in; a second older: out; unknown: default


def test_missing_values_without_defaults_are_nan_or_none():
    t = pd.Timestamp("2026-03-31")
    feats = frame_of([(1, t, 3, "pro")], ["key", "ts", "n", "plan"])
    out = point_in_time_join(frame_of([(1, t), (2, t)], ["key", "at"]), "at",
                             [ViewFrame("v", feats, "key", "ts", ["n", "plan"])])
    assert out["n"].iloc[0] == 3 and np.isnan(out["n"].iloc[1])
    assert out["plan"].tolist() == ["pro", None]


def test_times_mix_strings_naive_and_aware_as_utc():
    feats = frame_of([(1, "2026-01-01T10:00:00+02:00", 1), (1, "2026-01-01T09:00:00", 2)], ["key", "ts", "value"])
    lab = frame_of([(1, pd.Timestamp("2026-01-01T08:30:00", tz="UTC"))], ["key", "at"])
    out = point_in_time_join(lab, "at", [ViewFrame("v", feats, "key", "ts", ["value"])])
    assert out["value"].tolist() == [1]  # 10:00+02:00 is 08:00 UTC; 09:00 (naive = UTC) is after the label


def test_a_numeric_timestamp_is_refused_naming_the_field():
    feats = frame_of([(1, 5, 1)], ["key", "ts", "value"])
    with pytest.raises(DataError, match="features.views.v.timestamp"):
        point_in_time_join(frame_of([(1, "2026-01-01")], ["key", "at"]), "at",
                           [ViewFrame("v", feats, "key", "ts", ["value"])])


def test_several_views_and_entities_without_rows():
    t = pd.Timestamp("2026-02-01")
    a = frame_of([(1, t, 1.5)], ["key", "ts", "x"])
    b = frame_of([(2, t, "b")], ["key", "ts", "y"])
    out = point_in_time_join(frame_of([(1, t), (2, t)], ["key", "at"]), "at",
                             [ViewFrame("a", a, "key", "ts", ["x"]), ViewFrame("b", b, "key", "ts", ["y"], None, {"y": "?"})])
    assert same(out["x"], [1.5, None]) and out["y"].tolist() == ["?", "b"]


@settings(max_examples=60, deadline=None)
@given(hours=st.lists(st.integers(0, 48), min_size=1, max_size=20), label_minutes=st.lists(st.integers(-60, 3000),
                                                                                             min_size=1, max_size=20))
def test_label_times_between_the_views_whole_hours_compare_exactly(hours, label_minutes):
    """View times in whole hours pack as hour offsets; a label at any minute still compares exactly."""
    base = pd.Timestamp("2026-01-01")
    feats = frame_of([(1, base + pd.Timedelta(hours=h), i) for i, h in enumerate(hours)], ["key", "ts", "value"])
    lab = frame_of([(1, base + pd.Timedelta(minutes=m)) for m in label_minutes], ["key", "at"])
    view = ViewFrame("v", feats, "key", "ts", ["value"], 3 * 3600)
    assert same(point_in_time_join(lab, "at", [view])["value"], brute_force_join(lab, "at", [view])["value"])
