"""CLI commands for online serving: serve, status, predict, stop. Logic lives in mlops.api / mlops.serving."""
from __future__ import annotations

import json
from typing import List, Optional

import typer
from rich.table import Table

from mlops.cli import OVERRIDES, SPEC, TRACKING, app, console, print_wide, user_errors


@app.command()
@user_errors
def serve(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
          detach: bool = typer.Option(False, "--detach", help="leave the endpoint running (on mlops' local Ray head)"),
          address: Optional[str] = typer.Option(None, "--address", help="deploy to an existing Ray cluster")) -> None:
    """Run the spec's online endpoint: in the foreground until Ctrl-C, or detached."""
    from mlops import api

    def on_ready(deployed) -> None:
        console.print(f"[green]serving[/] {deployed.name} v{deployed.version} at {deployed.url}/predict  (docs: {deployed.url}/docs)")
        if not detach:
            console.print("Ctrl-C to stop")

    api.serve(spec, overrides or [], detach=detach, address=address, on_ready=on_ready)
    if not detach:
        console.print("stopped")


@app.command()
@user_errors
def status(name: Optional[str] = typer.Argument(None, help="only this application"),
           address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to inspect (default: mlops' local head)"),
           tracking_uri: Optional[str] = TRACKING) -> None:
    """Deployments, model versions, replicas and health of running endpoints."""
    from mlops import api

    rows = api.endpoint_status(name, address=address, uri=tracking_uri)
    if not rows:
        console.print("no endpoints running")
        return
    table = Table(title="endpoints")
    for column in ("application", "route", "status", "deployment", "replicas", "model version", "champion"):
        table.add_column(column)
    for row in rows:
        replicas = ", ".join(f"{k.lower()}={v}" for k, v in row["replicas"].items()) or "-"
        table.add_row(row["application"], row["route"] or "-", row["status"], f"{row['deployment']} ({row['health']})",
                      replicas, row.get("serving_version") or "?", row.get("champion") or "?")
    print_wide(table)


@app.command()
@user_errors
def predict(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
            input_file: str = typer.Option(..., "--input", help="rows as JSON ({'rows': [...]} or a list) or CSV"),
            local: bool = typer.Option(False, "--local", help="predict in this process with the registered model")) -> None:
    """Send rows to the running endpoint (or predict locally with --local) and print the answer as JSON."""
    from mlops import api

    result = api.predict(spec, overrides or [], input_file, local=local)
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command()
@user_errors
def stop(name: Optional[str] = typer.Argument(None, help="application to delete (default: all, and the local head)")) -> None:
    """Stop endpoints on mlops' local Ray head; the head itself stops when no application is left."""
    from mlops import api

    console.print(api.stop(name))
