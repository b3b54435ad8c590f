"""The controller's bookkeeping without Ray: one holder per project, and a restart that resumes where it was,
running the ticks it missed once and a failing duty never stopping the others."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlops.monitoring.controller_state import (ControllerBusy, ControllerLock, ControllerState, begin_tick, due_tick,
                                               finish_tick, load_state, run_duties, save_state)

TICK = 60.0


def tick(path, duties, now):
    """One pass of the controller's loop at time `now` (as controller_actor does it), from the state file."""
    state = load_state(path, "churn")
    scheduled = due_tick(state, TICK, now)
    if scheduled is None:
        return None
    collapsed = begin_tick(state, scheduled, now)
    save_state(path, state)
    run_duties(duties, None, state, now)
    finish_tick(state, scheduled, collapsed, now, TICK)
    save_state(path, state)
    return scheduled


def counting(runs):
    def duty(project, state, now):
        runs.append(now)
        return [{"decision": "v1 stays", "reason": f"nothing fired at {now:g}"}]
    return duty


def test_a_second_holder_is_refused_with_the_first_one_named(tmp_path):
    path = tmp_path / "controller" / "churn.json"
    first, second = ControllerLock(path, "churn"), ControllerLock(path, "churn")
    first.acquire("controller actor mlops-controller:churn pid 41 on head")
    assert first.held and second.is_held()
    with pytest.raises(ControllerBusy, match=r"churn already runs \(controller actor mlops-controller:churn pid 41"):
        second.acquire("mlops monitor --watch pid 42")
    first.release()
    assert not second.is_held()
    second.acquire("mlops monitor --watch pid 42")
    assert second.holder() == "mlops monitor --watch pid 42"
    second.release()


def test_a_holder_that_dies_leaves_no_stale_lock(tmp_path):
    """kill -9 of the holder: the kernel drops its lock, so the next controller takes it at once."""
    path = tmp_path / "churn.json"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from mlops.monitoring.controller_state import ControllerLock; "
        f"lock = ControllerLock({str(path)!r}, 'churn'); lock.acquire('doomed'); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = ControllerLock(path, "churn")
        with pytest.raises(ControllerBusy, match="doomed"):
            lock.acquire("next")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        lock.acquire("next")
        assert lock.held and lock.holder() == "next"
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_ticks_missed_while_down_run_once_after_the_restart(tmp_path):
    path, runs = tmp_path / "churn.json", []
    duties = [("monitor", counting(runs))]
    assert tick(path, duties, 1000.0) == 1000.0  # never ran: due at once
    assert tick(path, duties, 1030.0) is None
    assert tick(path, duties, 1060.0) == 1060.0
    # Down for ten ticks; the restarted controller reads the same file.
    assert tick(path, duties, 1060.0 + 10 * TICK + 5) == 1060.0 + 10 * TICK  # one tick, the latest missed one
    assert tick(path, duties, 1060.0 + 10 * TICK + 6) is None  # ... and not the other nine
    assert len(runs) == 3
    state = load_state(path, "churn")
    assert [t["collapsed"] for t in state.tick_log] == [1, 1, 10]
    assert state.next_tick == 1060.0 + 11 * TICK and state.ticks == 3
    assert state.decision == "v1 stays" and state.reason == f"nothing fired at {1060.0 + 10 * TICK + 5:g}"


def test_a_tick_interrupted_by_a_crash_runs_again_once(tmp_path):
    path, runs = tmp_path / "churn.json", []
    tick(path, [("monitor", counting(runs))], 1000.0)
    state = load_state(path, "churn")
    begin_tick(state, 1060.0, 1060.0)
    save_state(path, state)  # the process dies here, mid-tick
    assert load_state(path, "churn").running_tick == 1060.0
    assert tick(path, [("monitor", counting(runs))], 1070.0) == 1060.0
    assert tick(path, [("monitor", counting(runs))], 1080.0) is None
    assert len(runs) == 2 and load_state(path, "churn").running_tick is None


def test_a_duty_that_raises_is_recorded_and_the_next_duty_and_tick_run(tmp_path, caplog):
    path, runs = tmp_path / "churn.json", []

    def broken(project, state, now):
        raise ValueError("retraining.data.source: no such file new/*.csv")

    duties = [("monitor", broken), ("rollout", counting(runs))]
    with caplog.at_level("ERROR", logger="mlops.controller"):
        tick(path, duties, 1000.0)
    assert "controller duty monitor failed" in caplog.text and "no such file" in caplog.text
    tick(path, duties, 1060.0)
    state = load_state(path, "churn")
    assert runs == [1000.0, 1060.0] and state.ticks == 2
    assert state.duties["monitor"] == {"runs": 2, "failures": 2, "last_ok": None,
                                       "last_error": "ValueError: retraining.data.source: no such file new/*.csv"}
    assert state.errors[-1] == {"at": 1060.0, "duty": "monitor",
                                "error": "ValueError: retraining.data.source: no such file new/*.csv"}


def test_a_damaged_state_file_starts_afresh(tmp_path):
    path = tmp_path / "churn.json"
    path.write_text("{not json")
    assert load_state(path, "churn") == ControllerState("churn")
    save_state(path, ControllerState("churn", ticks=3, restarts=1))
    assert load_state(path, "churn").ticks == 3


def test_events_from_a_duty_may_be_one_dict_or_none(tmp_path):
    state = ControllerState("churn")
    events = run_duties([("a", lambda p, s, n: None), ("b", lambda p, s, n: {"decision": "step 2", "reason": "ok"})],
                        None, state, time.time())
    assert events == [{"decision": "step 2", "reason": "ok", "duty": "b"}] and state.decision == "step 2"


def test_the_monitor_command_refuses_modes_that_cannot_go_together_and_a_controller_with_nothing_to_do():
    from typer.testing import CliRunner

    from conftest import EXAMPLES
    from mlops.cli import app

    iris = str(EXAMPLES / "iris" / "spec.yaml")
    both = CliRunner().invoke(app, ["monitor", iris, "--watch", "--detach"])
    assert both.exit_code == 2 and "cannot go together" in both.output and "Traceback" not in both.output
    idle = CliRunner().invoke(app, ["monitor", iris, "--detach"])
    assert idle.exit_code == 2 and "a controller needs a retraining or monitoring section" in " ".join(idle.output.split())
