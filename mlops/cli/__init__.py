"""The `mlops` command: parses arguments, calls mlops.api, renders with rich. No logic of its own.

common.py holds what the command groups share; training.py, registry.py, monitoring.py, serving.py and head.py
each define one group's commands (and import only common.py); features.py is the `mlops features ...` sub-app;
this module makes the app and registers them.
"""
from __future__ import annotations

from mlops.cli import started  # noqa: F401  (the command's start time, taken before the imports below)

import typer

from mlops.cli import features, head, monitoring, registry, reports, serving, training

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Declarative ML from one spec: validate, plan, apply on Ray, track in MLflow. Paths inside a "
                       "spec are relative to the spec's directory; paths given as options (--input, --data, ...) "
                       "are relative to the working directory.")

for group in (training, registry, monitoring, serving, head, reports):  # `mlops --help` lists the commands in this order
    for command in group.COMMANDS:
        app.command()(command)
app.add_typer(features.app, name="features")


def main() -> None:
    """Run the `mlops` command line."""
    import gc

    # What the imports made lives until exit: the cycle collector's full passes need not walk it again and
    # again while the command loads a spec (about a tenth of `mlops validate`'s time).
    gc.freeze()
    import sys

    _show_spec_warnings_plainly()
    _say_when_on_the_local_head()
    try:
        app(args=training.bare_force(sys.argv[1:]))
    except SystemExit as done:
        _exit_without_teardown(done.code)
    _exit_without_teardown(0)


def _exit_without_teardown(code: int | str | None) -> None:
    """End the process as Python's exit would, less its teardown of every module: after an apply that is
    about 4,000 of them (Ray, MLflow, scikit-learn, pandas), a second and more of a command whose work is
    done. Threads still working are waited for by Python's own exit; else the exit handlers run (Ray's
    shutdown, MLflow's and logging's flushes) and the output is flushed before the process ends."""
    import atexit
    import os
    import sys
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(code)
    if isinstance(code, str):  # what SystemExit("message") does: the message on stderr, status 1
        print(code, file=sys.stderr)
    status = 0 if code is None else code if isinstance(code, int) else 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`mlops ... | head`): nothing more can be said on it
            pass
    os._exit(status)


def _say_when_on_the_local_head() -> None:
    """A command that runs on mlops' local head instead of starting its own Ray says so, once."""
    from mlops.cli.common import console
    from mlops.cluster import session

    session.on_local_head = lambda address: console.print(
        f"on the local Ray head at {address} (`mlops down` stops it)", highlight=False)


def _show_spec_warnings_plainly() -> None:
    """A spec warning reads `warning: field: why`, like an error, not as Python's file:line and source."""
    import warnings

    from mlops.errors import SpecWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001  (warnings' signature)
        if issubclass(category, SpecWarning):
            from mlops.cli.common import err_console

            err_console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
