"""What every command group shares: the consoles, the common arguments and options, error handling, wide tables.

Command group modules import this module (and mlops.api inside their commands), never each other or the package.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import typer
from rich.console import Console
from rich.table import Table

from mlops.errors import DataError, MlopsError
from mlops.stores import DEFAULT_TRACKING_URI

# Lines are never broken by rich (soft_wrap): a terminal wraps them itself, and in a pipe or a CI log a verdict,
# URL or message stays one line that `tail -1` and grep find whole (rich would break them at 80 columns there).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

SPEC = typer.Argument(..., help="path to spec.yaml")
OVERRIDES = typer.Argument(None, help="Hydra overrides: a.b=1, +a.c=2, ~a.d, group=option")
TRACKING = typer.Option(None, "--tracking-uri",
                        help=f"MLflow tracking URI (default: $MLOPS_TRACKING_URI or {DEFAULT_TRACKING_URI})")


CLI_PATHS = "relative to the working directory"  # what every option that names a file says in its --help


def cli_path(value: str, option: str) -> str:
    """A file, folder or glob named by a command-line option, resolved against the working directory (where
    the command runs, as users expect of a command line; paths *inside* a spec are relative to the spec's
    directory). A DataError naming the option when nothing is there."""
    import glob
    import os
    from pathlib import Path

    from mlops.errors import DataError, Problem

    path = Path(os.path.expanduser(value))
    resolved = path if path.is_absolute() else Path.cwd() / path
    if not (resolved.exists() or (glob.has_magic(str(resolved)) and glob.glob(str(resolved), recursive=True))):
        raise DataError(Problem(option, "no such file", value=value,
                                hint=f"paths given on the command line are {CLI_PATHS} ({Path.cwd()}), "
                                     "not to the spec's directory"))
    return str(resolved)


def print_wide(table: Table) -> None:
    """Tables keep their ids whole even in a pipe (rich would squeeze them to 80 columns)."""
    Console(width=max(console.width, 120)).print(table)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print MlopsErrors as messages (exit 2 for spec/data errors, 1 otherwise), never as tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MlopsError as exc:
            problems = getattr(exc, "problems", None)
            title = "error"
            if exc.exit_code == 2 and problems:  # a command-line option's (or ARGUMENT's) problem is not the spec's
                title = "invalid input" if all(p.path.startswith("--") or p.path.isupper() for p in problems) \
                    else "invalid data" if isinstance(exc, DataError) else "invalid spec"
            err_console.print(f"[bold red]{title}:[/]")
            for line in (p.render() for p in problems) if problems else str(exc).splitlines():
                err_console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper
