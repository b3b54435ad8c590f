"""CLI commands for issue 4: serve, status, predict. Registered on the shared typer app; logic lives in mlops.api / packages."""
from __future__ import annotations

from mlops.cli import app, console, user_errors  # noqa: F401
