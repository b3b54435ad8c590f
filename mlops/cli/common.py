"""What every command group shares: the consoles, the common arguments and options, error handling, wide tables.

Command group modules import this module (and mlops.api inside their commands), never each other or the package.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import typer
from rich.console import Console
from rich.table import Table

from mlops.errors import MlopsError
from mlops.stores import DEFAULT_TRACKING_URI

console = Console()
err_console = Console(stderr=True)

SPEC = typer.Argument(..., help="path to spec.yaml")
OVERRIDES = typer.Argument(None, help="Hydra overrides: a.b=1, +a.c=2, ~a.d, group=option")
TRACKING = typer.Option(None, "--tracking-uri",
                        help=f"MLflow tracking URI (default: $MLOPS_TRACKING_URI or {DEFAULT_TRACKING_URI})")


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
            if exc.exit_code == 2 and problems:  # a command-line option's problem is not the spec's
                title = "invalid input" if all(p.path.startswith("--") for p in problems) else "invalid spec"
            err_console.print(f"[bold red]{title}:[/]")
            for line in (p.render() for p in problems) if problems else str(exc).splitlines():
                err_console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper
