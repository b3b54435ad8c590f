"""The command line ends its process without Python's teardown of every module (a second and more after an
apply), and otherwise as Python's exit would: exit handlers run, output flushed, the exit status kept, and
threads still working waited for. Each case is a real `mlops` process."""
from __future__ import annotations

import subprocess
import sys
import textwrap

# A command run through mlops.cli.main, with an exit handler and an object whose finalizer runs only when
# Python tears the modules down. (main freezes the objects that exist when it starts, for the cycle
# collector's sake, and Python's teardown never finalizes frozen ones: here nothing is frozen.)
COMMAND = textwrap.dedent("""
    import atexit, gc, os, sys, threading, time
    import mlops.cli

    gc.freeze = lambda: None

    class TornDown:
        def __del__(self, write=os.write):
            write(1, b"torn down\\n")

    kept_until_teardown = TornDown()
    atexit.register(lambda: print("exit handler ran"))
    if sys.argv[1] == "thread":
        threading.Thread(target=lambda: (time.sleep(0.5), print("thread finished"))).start()
    print("buffered output", end="")
    sys.argv = ["mlops", *sys.argv[2:]]
    mlops.cli.main()
""")


def mlops_process(tmp_path, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "command.py"
    script.write_text(COMMAND)
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)


def test_a_command_ends_without_teardown_keeping_its_status_handlers_and_output(tmp_path):
    done = mlops_process(tmp_path, "plain", "validate", "missing.yaml")
    assert done.returncode == 2
    assert "spec file not found" in done.stderr
    assert done.stdout.startswith("buffered output") and "exit handler ran" in done.stdout
    assert "torn down" not in done.stdout


def test_a_command_that_succeeds_exits_zero(tmp_path, example):
    done = mlops_process(tmp_path, "plain", "validate", str(example("iris") / "spec.yaml"))
    assert done.returncode == 0, done.stderr
    assert "exit handler ran" in done.stdout and "torn down" not in done.stdout


def test_a_thread_still_working_is_waited_for(tmp_path):
    done = mlops_process(tmp_path, "thread", "validate", "missing.yaml")
    assert done.returncode == 2
    assert "thread finished" in done.stdout and "exit handler ran" in done.stdout
