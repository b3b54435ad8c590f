"""CLI commands for issue 3: multirun helpers. Registered on the shared typer app; logic lives in mlops.api / packages."""
from __future__ import annotations

from mlops.cli import app, console, user_errors  # noqa: F401
