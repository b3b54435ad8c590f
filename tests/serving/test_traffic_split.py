"""The router a replica compiles from a rollout's routing table: weighted picks in proportion, sticky callers
kept on one version (in any process), versions that are not loaded giving their share to the champion."""
from __future__ import annotations

import random
from collections import Counter

from mlops.serving.traffic_split import Router, Routing, bucket_of


def test_one_version_takes_everything_without_a_draw():
    router = Router(Routing.single("3"), {"3"})
    assert router.only == "3" and router.pick() == "3" and router.shares() == {"3": 100.0}


def test_weighted_picks_follow_the_percentages():
    random.seed(7)
    router = Router(Routing("1", {"2": 25, "1": 75}), {"1", "2"})
    counts = Counter(router.pick() for _ in range(20000))
    assert abs(counts["2"] / 20000 - 0.25) < 0.015
    assert router.shares() == {"2": 25.0, "1": 75.0}


def test_zero_and_hundred_percent_are_exact():
    assert {Router(Routing("1", {"2": 0, "1": 100}), {"1", "2"}).pick() for _ in range(500)} == {"1"}
    assert {Router(Routing("1", {"2": 100, "1": 0}), {"1", "2"}).pick() for _ in range(500)} == {"2"}


def test_a_version_not_loaded_gives_its_share_to_the_champion():
    router = Router(Routing("1", {"2": 40, "1": 60}), {"1"})
    assert router.only == "1"


def test_sticky_callers_keep_their_version_and_stay_on_the_challenger_as_it_grows():
    five = Router(Routing("1", {"2": 5, "1": 95}, sticky_key="user"), {"1", "2"})
    fifty = Router(Routing("1", {"2": 50, "1": 50}, sticky_key="user"), {"1", "2"})
    users = [f"user-{i}" for i in range(2000)]
    first = {u: five.pick(u) for u in users}
    assert all(five.pick(u) == first[u] for u in users)  # the same caller, the same version, every time
    assert all(fifty.pick(u) == "2" for u in users if first[u] == "2")  # a canary step never moves one back
    assert 0.03 < sum(v == "2" for v in first.values()) / len(users) < 0.07


def test_the_sticky_bucket_is_the_same_in_every_process():
    # blake2b, not hash(): Python salts hash() per process, and replicas are processes
    assert bucket_of("user-42") == bucket_of("user-42") and abs(bucket_of("user-42") - 43.6047) < 0.001


def test_a_table_round_trips_through_json_data():
    table = Routing("1", {"2": 10.0, "1": 90.0}, shadow=None, sticky_header="x-user", epoch=3, at=12.5, mode="canary")
    assert Routing.from_dict(table.to_dict(), "9") == table and table.live == ["1", "2"]
    assert Routing.from_dict(None, "9") == Routing.single("9")


def test_per_version_numbers_merge_by_epoch_and_summarize():
    from mlops.serving.version_stats import VersionDelta, VersionStats

    replica_a, replica_b = VersionDelta(), VersionDelta()
    for ms in (2.0, 3.0, 50.0):
        replica_a.answered(2, "1", ms)
    replica_a.predicted(2, "1", ["a", "a", "b"], categorical=True)
    replica_b.failed(2, "2")
    replica_b.answered(2, "2", 4.0)
    replica_b.shadowed(2, "3", requests=2, rows=4, agree=3, abs_diff=0.0, ms=6.0)
    replica_b.answered(1, "1", 1.0)  # an older epoch: another step's numbers
    stats = VersionStats()
    stats.add(replica_a)
    stats.add(replica_b)
    step = stats.summary(2)["by_version"]
    assert step["1"]["requests"] == 3 and step["1"]["classes"] == {"a": 2, "b": 1}
    assert 45 < step["1"]["latency_p99_ms"] < 55 and step["1"]["error_rate"] == 0.0
    assert step["2"]["errors"] == 1 and step["2"]["error_rate"] == 0.5
    assert step["3"]["agreement"] == 0.75 and step["3"]["shadow_rows"] == 4
    assert stats.summary(1)["by_version"]["1"]["requests"] == 1 and stats.summary()["epoch"] == 2
