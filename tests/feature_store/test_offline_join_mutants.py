"""The point-in-time join's parts pinned exactly (issue 28, mutation score): time parsing and its errors,
how times are packed (offsets over their common step, else ranks; the PACK_LIMIT boundary), the sorted
search (ties, empty views), TTL ends to the nanosecond, partitions and map_parts, entity codes, column
dtypes, the output's columns, the brute-force reference itself, and times more than 292 years apart."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.errors import DataError
from mlops.feature_store import offline_join as oj
from mlops.feature_store.offline_join import ViewFrame, brute_force_join, point_in_time_join, to_utc_ns

NAT = np.iinfo(np.int64).min
SECOND = 10**9
T = pd.Timestamp("2026-03-01")


def ns(*values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def view_of(rows, ttl_s=None, defaults=None, features=("value",)) -> ViewFrame:
    frame = pd.DataFrame(rows, columns=["key", "ts", *features])
    return ViewFrame("v", frame, "key", "ts", list(features), ttl_s, defaults or {})


def labels_of(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["key", "at"])


def plain(values) -> list:
    """A column as a list, NaN and None both as None (the join gives NaN in a number column, the loop None)."""
    return [None if pd.isna(v) else v for v in values]


def both(labels, view):
    """The vectorised join and the loop, each as a plain list of the one feature."""
    return plain(point_in_time_join(labels, "at", [view])["value"]), plain(brute_force_join(labels, "at", [view])["value"])


class Spy:
    """map_parts that records each call's partition count and each partition's label and view entity codes."""

    def __init__(self):
        self.calls, self.parts = [], []

    def __call__(self, fn, label_codes, label_ns, view_codes, view_ns, ttls):
        self.calls.append(len(label_codes))
        self.parts.append([(sorted(a.tolist()), sorted(b.tolist())) for a, b in zip(label_codes, view_codes)])
        return map(fn, label_codes, label_ns, view_codes, view_ns, ttls)


# ------------------------------------------------------------------------------------------- to_utc_ns

def test_a_nanosecond_datetime_column_is_read_without_a_copy():
    column = pd.DataFrame({"ts": pd.to_datetime(["2026-01-01", "2026-01-02"])})["ts"]
    out = to_utc_ns(column, "x")
    assert out.tolist() == [pd.Timestamp("2026-01-01").value, pd.Timestamp("2026-01-02").value]
    assert np.shares_memory(out, column.to_numpy())  # the common case: a view, no copy


def test_seconds_resolution_and_aware_columns_become_utc_nanoseconds():
    seconds = pd.Series([pd.Timestamp("2026-01-01 00:00:01"), pd.Timestamp("2026-01-02")]).astype("datetime64[s]")
    assert to_utc_ns(seconds, "x").tolist() == [pd.Timestamp("2026-01-01 00:00:01").value,
                                                pd.Timestamp("2026-01-02").value]
    paris = pd.Series(pd.to_datetime(["2026-01-01 01:00:00"])).dt.tz_localize("Europe/Paris")
    assert to_utc_ns(paris, "x").tolist() == [pd.Timestamp("2026-01-01 00:00:00").value]
    aware = to_utc_ns(pd.Series(["2026-01-01T10:00:00+02:00", "2026-01-01T09:00:00Z", None]), "x")
    assert aware.tolist() == [pd.Timestamp("2026-01-01 08:00").value, pd.Timestamp("2026-01-01 09:00").value, NAT]
    naive = to_utc_ns(pd.Series(["2026-01-01T09:00:00", "2026-01-02"]), "x")  # read as UTC
    assert naive.tolist() == [pd.Timestamp("2026-01-01 09:00").value, pd.Timestamp("2026-01-02").value]


@pytest.mark.parametrize("values, dtype", [([5, 6], "int64"), ([True, False], "bool"), ([1.5], "float64")])
def test_numbers_and_booleans_are_not_times(values, dtype):
    with pytest.raises(DataError) as info:
        to_utc_ns(pd.Series(values), "features.views.v.timestamp")
    (problem,) = info.value.problems
    assert (problem.path, problem.message, problem.value, problem.expected) == (
        "features.views.v.timestamp", "timestamp column is not a time", dtype, "datetime values or ISO-8601 strings")


def test_strings_that_are_not_times_are_a_data_error_naming_the_field():
    with pytest.raises(DataError) as info:
        to_utc_ns(pd.Series(["2026-01-01", "yesterday"]), "data.ts")
    (problem,) = info.value.problems
    assert problem.path == "data.ts" and problem.message.startswith("timestamp column does not parse as times: ")


def test_each_side_names_its_own_field():
    good = view_of([(1, T, 1)])
    with pytest.raises(DataError) as info:
        point_in_time_join(labels_of([(1, 5)]), "at", [good])
    assert info.value.problems[0].path == "data.timestamp"
    with pytest.raises(DataError) as info:
        brute_force_join(labels_of([(1, 5)]), "at", [good])
    assert info.value.problems[0].path == "labels"
    with pytest.raises(DataError) as info:
        brute_force_join(labels_of([(1, T)]), "at", [view_of([(1, 7, 1)])])
    assert info.value.problems[0].path == "view"


# ---------------------------------------------------------------------------------------- _small_times

def test_times_pack_as_offsets_over_their_common_step():
    base = pd.Timestamp("2026-01-01").value
    view = ns(base, NAT, base + 3 * SECOND, base + 300 * SECOND)
    labels = ns(base - 1, NAT, base + 4 * SECOND, base + 10**6 * SECOND, base)
    view_t, label_t, width = oj._small_times(view, labels, view != NAT, labels != NAT, 3)
    assert view_t.tolist() == [0, 0, 1, 100] and width == 102  # whole 3 s steps; NaT rows at 0
    assert label_t.tolist() == [-1, -1, 1, 100, 0]  # before the first: -1, NaT: -1, after the last: the span


def test_one_time_packs_as_zero_and_no_times_pack_as_nothing():
    view_t, label_t, width = oj._small_times(ns(50, 50), ns(10, 49, 50, 51), np.ones(2, bool), np.ones(4, bool), 1)
    assert (view_t.tolist(), label_t.tolist(), width) == ([0, 0], [-1, -1, 0, 0], 2)
    view_t, label_t, width = oj._small_times(ns(NAT, NAT), ns(5, NAT), np.zeros(2, bool), ns(1, 0) > 0, 4)
    assert (view_t.tolist(), label_t.tolist(), width) == ([0, 0], [-1, -1], 2)


@pytest.mark.parametrize("top, packed", [(2**61 - 3, True), (2**61 - 2, False), (2**61, False)])
def test_the_pack_limit_is_2_to_the_62_exclusive(top, packed):
    """(span + 2) * (codes + 1) below 2**62: offsets (width span + 2); at or above it: ranks (width n + 2)."""
    view = ns(0, 1, top)
    labels = ns(2, top + 5, NAT, -7)
    view_t, label_t, width = oj._small_times(view, labels, np.ones(3, bool), labels != NAT, 1)
    if packed:
        assert (view_t.tolist(), label_t.tolist(), width) == ([0, 1, top], [2, top, -1, -1], top + 2)
    else:
        assert (view_t.tolist(), label_t.tolist(), width) == ([0, 1, 2], [1, 2, -1, -1], 5)


def test_view_times_as_far_apart_as_the_limit_are_ranked():
    view_t, label_t, width = oj._small_times(ns(0, 2**62), ns(1, 2**62), np.ones(2, bool), np.ones(2, bool), 1)
    assert (view_t.tolist(), label_t.tolist(), width) == ([0, 1], [0, 1], 4)


# ---------------------------------------------------------------------------------------------- _search

def test_search_takes_the_last_row_of_equal_keys_in_source_order():
    keys = np.array([7, 3] * 100, dtype=np.int64)  # long enough that numpy's argsort is not stable
    assert oj._search(keys, ns(7, 3, 2, 10, 5)).tolist() == [198, 199, -1, 198, 199]


def test_search_finds_the_smallest_key_and_nothing_in_no_keys():
    assert oj._search(ns(4, 9), ns(4, 3, 9)).tolist() == [0, -1, 1]
    assert oj._search(ns(), ns(1, 2)).tolist() == [-1, -1]


# ----------------------------------------------------------------------------------------------- _match

def test_match_of_a_label_before_the_only_row():
    row, found = oj._match(ns(0, 0), ns(5, 20), ns(0), ns(10), None)
    assert found.tolist() == [False, True] and row[1] == 0


def test_ttl_ends_are_exact_to_the_nanosecond():
    label = T.value
    rows = [(1, pd.Timestamp(label - SECOND), 10), (2, pd.Timestamp(label - SECOND - 1), 20), (3, T, 30)]
    view = view_of(rows, ttl_s=1.0, defaults={"value": -1})
    lab = labels_of([(1, T), (2, T), (3, T)])
    fast, slow = both(lab, view)
    assert fast == slow == [10, -1, 30]  # exactly 1 s old: in; 1 ns more: out; age 0: in
    assert oj._match(ns(0, 1, 2), ns(label, label, label), ns(0, 1, 2), ns(label - SECOND, label - SECOND - 1, label),
                     1.0)[1].tolist() == [True, False, True]


def test_rows_and_labels_more_than_292_years_apart():
    """Nanosecond times that far apart overflow int64 differences: never a future row, never a stale one."""
    feats = [(1, pd.Timestamp("1700-01-01"), 1), (1, pd.Timestamp("2200-01-02"), 2), (2, pd.Timestamp("1700-01-01"), 3)]
    lab = labels_of([(1, pd.Timestamp("2000-01-01")), (1, pd.Timestamp("2201-01-01")), (2, pd.Timestamp("2260-01-01"))])
    fast, slow = both(lab, view_of(feats))
    assert fast == slow == [1, 2, 3]
    fast, slow = both(lab, view_of(feats, ttl_s=86400.0, defaults={"value": 0}))
    assert fast == slow == [0, 0, 0]  # 300 years old, 1 year old, 560 years old: all past a one-day TTL
    only_old = view_of([(1, pd.Timestamp("1700-01-01"), 5)])
    assert both(labels_of([(1, pd.Timestamp("2100-01-01"))]), only_old) == ([5], [5])


# ------------------------------------------------------------------------------- partitions, map_parts

def test_an_empty_side_matches_nothing():
    row, found = oj.match_part(ns(0, 1), ns(1, 2), ns(), ns(), None)
    assert row.tolist() == [0, 0] and found.tolist() == [False, False] and row.dtype == np.int64
    row, found = oj.match_part(ns(), ns(), ns(0), ns(1), None)
    assert len(row) == len(found) == 0


def test_one_partition_matches_in_process_and_more_go_through_map_parts():
    codes, times = ns(0, 1, 2, 3), ns(5, 5, 5, 5)
    spy = Spy()
    row, found = oj.match_partitioned(codes, times, ns(0, 1), ns(1, 2), None, map_parts=spy)
    assert spy.calls == [] and found.tolist() == [True, True, False, False] and row[:2].tolist() == [0, 1]
    for parts in (2, 3, 5):  # some partitions hold labels but no rows
        row, found = oj.match_partitioned(codes, times, ns(0, 1), ns(1, 2), None, parts, spy)
        assert found.tolist() == [True, True, False, False] and row[:2].tolist() == [0, 1]
    assert spy.calls == [2, 3, 5]
    assert spy.parts[1] == [([0, 3], [0]), ([1], [1]), ([2], [])]  # entity code modulo the partition count


def test_point_in_time_join_partitions_through_map_parts_only_when_asked():
    view = view_of([(k, T, k * 10) for k in range(6)])
    lab = labels_of([(k, T) for k in range(8)])
    spy = Spy()
    assert point_in_time_join(lab, "at", [view], map_parts=spy)["value"].tolist()[:6] == [0, 10, 20, 30, 40, 50]
    assert spy.calls == []
    out = point_in_time_join(lab, "at", [view], 4, spy)
    assert spy.calls == [4] and out["value"].tolist()[:6] == [0, 10, 20, 30, 40, 50]


# ----------------------------------------------------------------------------------------------- _codes

def test_dense_integer_ids_are_their_own_codes_up_to_four_per_row():
    view, labels = oj._codes(pd.Series([100, 112]), pd.Series([100]))  # span 12 = 4 * 3 rows: dense
    assert view.tolist() == [0, 12] and labels.tolist() == [0]
    view, labels = oj._codes(pd.Series([100, 113]), pd.Series([113]))  # span 13: factorized
    assert view.tolist() == [0, 1] and labels.tolist() == [1]
    view, labels = oj._codes(pd.Series(["b", None, "a"]), pd.Series(["a", "c", None]))
    assert view.tolist() == [0, -1, 1] and labels.tolist() == [1, 2, -1]


def test_keys_that_differ_only_in_type_or_are_missing_never_match():
    view = view_of([(-5, T, 1), (-3, T, 3)])
    assert both(labels_of([(-5, T), (-3, T), (-4, T)]), view) == ([1, 3, None], [1, 3, None])
    fast, slow = both(labels_of([(-3.5, T), (-5.0, T)]), view)
    assert fast == slow == [None, 1]  # -3.5 is no entity (not -3); -5.0 is -5
    assert both(labels_of([("-5", T)]), view) == ([None], [None])  # a string is not the number
    floats = view_of([(1.0, T, 1), (np.nan, T, 2)])
    fast, slow = both(labels_of([(np.nan, T), (1.0, T)]), floats)
    assert fast == slow == [None, 1]  # a missing key matches no row, not even a row with a missing key


# --------------------------------------------------------------------------------------- columns, output

def test_booleans_keep_their_dtype_when_every_row_matches_and_become_none_when_not():
    view = view_of([(1, T, True), (2, T, False)])
    full = point_in_time_join(labels_of([(1, T), (2, T)]), "at", [view])["value"]
    assert full.dtype == bool and full.tolist() == [True, False]
    partial = point_in_time_join(labels_of([(1, T), (3, T)]), "at", [view])["value"]
    assert partial.dtype == object and partial.tolist() == [True, None]


def test_a_view_without_rows_gives_defaults_or_missing():
    empty = pd.DataFrame({"key": pd.Series([], dtype="int64"), "ts": pd.Series([], dtype="datetime64[ns]"),
                          "value": pd.Series([], dtype="int64"), "name": pd.Series([], dtype=object)})
    view = ViewFrame("v", empty, "key", "ts", ["value", "name"], None, {"value": 7})
    out = point_in_time_join(labels_of([(1, T), (2, T)]), "at", [view])
    assert out["value"].tolist() == [7, 7] and out["name"].tolist() == [None, None]


def test_the_output_is_the_labels_in_order_with_a_fresh_index_and_the_features():
    lab = labels_of([(2, T), (1, T)]).set_axis([10, 20])
    lab["extra"] = ["a", "b"]
    frame = pd.DataFrame({"key": [1, 2], "ts": [T, T], "value": [5, 6]}).set_index("key", drop=False)  # 'key' twice
    view = ViewFrame("v", frame, "key", "ts", ["value"])
    for out in (point_in_time_join(lab, "at", [view]), brute_force_join(lab, "at", [view])):
        assert list(out.columns) == ["key", "at", "extra", "value"] and list(out.index) == [0, 1]
        assert out["value"].tolist() == [6, 5]


def test_the_brute_force_reference_itself():
    """Same key, at or before the label, inside the TTL; the last of equal times in source order; else the default."""
    rows = [(1, T - pd.Timedelta(hours=2), 1), (1, T - pd.Timedelta(hours=1), 2), (1, T - pd.Timedelta(hours=1), 3),
            (1, T + pd.Timedelta(seconds=1), 4), (2, T, 5), (2, T - pd.Timedelta(seconds=1), 6)]
    lab = labels_of([(1, T), (2, T), (3, T), (1, T - pd.Timedelta(hours=3))])
    assert both(lab, view_of(rows)) == ([3, 5, None, None], [3, 5, None, None])
    ttl = view_of(rows, ttl_s=3600.0, defaults={"value": 0})
    assert both(lab, ttl) == ([3, 5, 0, 0], [3, 5, 0, 0])
    short = view_of(rows, ttl_s=0.5, defaults={"value": 0})
    assert both(lab, short) == ([0, 5, 0, 0], [0, 5, 0, 0])
