"""Schedules as pure functions of time: intervals, cron strings, and missed ticks collapsing into one."""
from datetime import datetime, timezone

import pytest

from mlops.monitoring.schedule import Schedule, due, last_due, next_after, parse_schedule

DAY = 86400.0


def at(text: str) -> float:
    """Epoch seconds of a UTC time written like 2026-12-05 02:00."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp()


def test_the_forms_a_spec_writes_parse_to_one_schedule():
    assert parse_schedule({"every": "1d"}) == Schedule(every=DAY)
    assert parse_schedule("1h") == Schedule(every=3600.0)
    assert parse_schedule(30) == Schedule(every=30.0)
    assert parse_schedule("0 2 * * *") == Schedule(cron="0 2 * * *")
    assert parse_schedule({"cron": "*/5 * * * *"}).describe() == "cron '*/5 * * * *'"
    assert parse_schedule({"every": "1d"}).describe() == "every 1d"


@pytest.mark.parametrize("bad", ["61 * * * *", {"every": "1d", "cron": "* * * * *"}, {}, "soon", True, [1]])
def test_a_bad_schedule_says_what_is_accepted(bad):
    with pytest.raises(ValueError, match="cron|schedule|every"):
        parse_schedule(bad)


def test_an_interval_counts_from_the_last_run():
    start = at("2026-12-05 09:30")
    assert next_after({"every": "1d"}, start) == start + DAY
    assert not due({"every": "1d"}, start, start + DAY - 1)
    assert due({"every": "1d"}, start, start + DAY)


def test_a_cron_string_runs_at_its_own_times_in_utc():
    assert next_after("0 2 * * *", at("2026-12-05 01:00")) == at("2026-12-05 02:00")
    assert next_after("0 2 * * *", at("2026-12-05 02:00")) == at("2026-12-06 02:00")
    assert last_due("0 2 * * *", at("2026-12-05 01:00"), at("2026-12-05 02:00")) == at("2026-12-05 02:00")
    assert not due("0 2 * * *", at("2026-12-05 02:00"), at("2026-12-06 01:59"))


def test_never_run_is_due_now():
    assert last_due({"every": "1d"}, None, 1000.0) == 1000.0
    assert due("0 2 * * *", None, at("2026-12-05 13:00"))


@pytest.mark.parametrize("schedule", [{"every": "1d"}, "0 2 * * *"])
def test_missed_ticks_collapse_into_one(schedule):
    """Down for a week: one run now, and not due again until the next scheduled time."""
    last = at("2026-12-01 02:00")
    now = at("2026-12-08 10:00")
    ran_at = last_due(schedule, last, now)
    assert ran_at == at("2026-12-08 02:00")  # the latest missed time, not the first of seven
    assert not due(schedule, ran_at, now)
    assert not due(schedule, ran_at, at("2026-12-09 01:59"))
    assert due(schedule, ran_at, at("2026-12-09 02:00"))


def test_an_interval_stays_anchored_when_a_tick_runs_late():
    last = 0.0
    assert last_due({"every": 60}, last, 61.5) == 60.0  # recorded as 60, so the next is due at 120, not 121.5
    assert not due({"every": 60}, 60.0, 119.9)
    assert due({"every": 60}, 60.0, 120.0)


def test_a_clock_that_went_back_is_not_due():
    assert not due({"every": 60}, 500.0, 400.0)
