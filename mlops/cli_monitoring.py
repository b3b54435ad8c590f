"""CLI commands for issue 5: check, monitor, feedback. Registered on the shared typer app; logic lives in mlops.api / packages."""
from __future__ import annotations

from mlops.cli import app, console, user_errors  # noqa: F401
