"""Commands for online serving: serve, status, predict, stop. Logic lives in mlops.api / mlops.serving."""
from __future__ import annotations

import json
import time
from typing import Any, List, Optional

import typer
from rich.table import Table

from mlops.cli.common import CLI_PATHS, OVERRIDES, SPEC, TRACKING, cli_path, console, err_console, print_wide, user_errors


@user_errors
def serve(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
          detach: bool = typer.Option(False, "--detach", help="leave the endpoint running (on mlops' local Ray head)"),
          address: Optional[str] = typer.Option(None, "--address", help="deploy to an existing Ray cluster")) -> None:
    """Run the spec's online endpoint as it was last applied: in the foreground until Ctrl-C, or detached."""
    from mlops import api

    def on_ready(deployed) -> None:
        from mlops.serving.client import auth_note

        note = auth_note(deployed.name)
        console.print(f"[green]serving[/] {deployed.name} v{deployed.version} at {deployed.url}/predict  (docs: {deployed.url}/docs"
                      f"{'; ' + note if note else ''})")
        if not detach:
            console.print("Ctrl-C to stop")

    def on_pending(changes: list[str]) -> None:
        err_console.print("[yellow]warning:[/] the endpoint's settings were edited since the last apply; serving "
                          "what was applied (`mlops apply` deploys the edit):")
        for change in changes:
            err_console.print(f"  {change}", markup=False, highlight=False, soft_wrap=True)

    api.serve(spec, overrides or [], detach=detach, address=address, on_ready=on_ready, on_pending=on_pending)
    if not detach:
        console.print("stopped")


@user_errors
def status(name: Optional[str] = typer.Argument(None, help="only this application"),
           address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to inspect (default: mlops' local head)"),
           tracking_uri: Optional[str] = TRACKING,
           drivers: bool = typer.Option(False, "--drivers", help="also the features that drive today's served predictions "
                                                                 "against training's (the controller's last traffic explanation)")) -> None:
    """Deployments, model versions, replicas and health of running endpoints."""
    from mlops import api

    rows = api.endpoint_status(name, address=address, uri=tracking_uri)
    if not rows:
        console.print("no endpoints running")
        found = {n: c for n, c in api.controllers().items() if name in (None, n)}
        _print_controllers(found)
        if drivers:
            _print_drivers(found)
        if name:
            _print_model(name, api.model_health(name, uri=tracking_uri))
        return
    table = Table(title="endpoints")
    for column in ("application", "route", "status", "deployment", "replicas", "model version", "champion"):
        table.add_column(column)
    for row in rows:
        replicas = ", ".join(f"{k.lower()}={v}" for k, v in row["replicas"].items()) or "-"
        served = row.get("serving_version") or "?"
        if row.get("refused_version"):
            served += f" (v{row['refused_version']} did not load: see /metadata)"
        table.add_row(row["application"], row["route"] or "-", row["status"], f"{row['deployment']} ({row['health']})",
                      replicas, served, row.get("champion") or "?")
    print_wide(table)
    _print_health(rows)
    _print_controllers({r["application"]: r.get("controller") for r in rows})
    if drivers:
        _print_drivers({r["application"]: r.get("controller") for r in rows})
    for row in {r["application"]: r for r in rows}.values():  # once per application, not per deployment
        if row.get("last_retrain"):
            _print_model(row["application"], row)


def _print_controllers(found: dict[str, Any]) -> None:
    """Each endpoint's always-on controller: runs or not, last and next tick, the last decision and why."""
    from rich.markup import escape

    if not any(found.values()):
        return
    table = Table(title="controllers")
    for column in ("application", "controller", "last tick", "next tick", "last decision", "why"):
        table.add_column(column)

    def ago(t: Any) -> str:
        return "-" if t is None else f"{time.strftime('%H:%M:%S', time.localtime(t))} ({_since(t)})"

    for app, c in found.items():
        if not c:
            table.add_row(app, "none", "-", "-", "-", "-")
            continue
        state = "[green]runs[/]" if c["running"] else "[red]not running[/]"
        state += " [yellow](late)[/]" if c.get("late") else ""
        state += f", restarted {c['restarts']}x" if c.get("restarts") else ""
        why = c.get("reason") or "-"
        if c.get("errors") and c["errors"][-1]["at"] >= (c.get("decided_at") or 0):  # the latest tick failed
            last = c["errors"][-1]
            why += f"; last error ({last['duty']}): {last['error']}"
        upcoming = f"ticking since {ago(c['ticking_since'])}" if c.get("ticking_since") else ago(c.get("next_tick"))
        table.add_row(app, state, ago(c.get("last_tick")), upcoming, escape(c.get("decision") or "-"),
                      escape(why))
    print_wide(table)


def _print_drivers(found: dict[str, Any]) -> None:
    """Per application: the features that drive its served predictions against training's, from its
    controller's last traffic explanation (or why there is none yet)."""
    from mlops.cli.reports import print_drivers

    for app, c in found.items():
        summary = (c or {}).get("drivers")
        if summary:
            print_drivers(app, summary)
            at = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(summary['at']))
            console.print(f"  explained at {at} ({_since(summary['at'])}); `mlops explain SPEC --traffic` explains the traffic again now")
        else:
            console.print(f"{app}: no traffic explained yet (the controller does it every monitoring.explain.every; "
                          "`mlops explain SPEC --traffic` does it now)")


def _since(t: float) -> str:
    """'12s ago' or '48s from now'."""
    from mlops.durations import format_duration

    delta = time.time() - t
    if round(abs(delta)) == 0:
        return "now"
    return f"{format_duration(round(abs(delta)))} {'ago' if delta > 0 else 'from now'}"


def _fmt(value: Any, spec: str, missing: str = "-") -> str:
    """VALUE formatted with SPEC, or MISSING when there is none."""
    return missing if value is None else format(value, spec)


def _print_health(rows: list[dict[str, Any]]) -> None:
    """Traffic over the last 5 minutes, the last drift check of the recent-input window, who answers and what
    the replicas use."""
    from mlops.serving.infra_metrics import infra_columns

    table = Table(title="health (last 5 min)")
    for column in ("application", "version", "requests", "error rate", "p50 ms", "p99 ms", "drift share", "outlier rate",
                   "traffic", "replicas"):
        table.add_column(column)
    hints = []
    for row in {r["application"]: r for r in rows}.values():  # one line per application, not per deployment
        stats = row.get("stats")
        if not stats:
            table.add_row(row["application"], row.get("serving_version") or "?", *["-"] * 8)
            if row.get("stats_hint"):
                hints.append(f"{row['application']}: {row['stats_hint']}")
            continue
        drift = stats.get("drift") or {}
        share = drift.get("drift_share")
        if not stats.get("drift_checks", True):
            drift_cell = "off"
        elif share is not None:
            drift_cell = f"{share:.0%} ({len(drift.get('drifted_features', []))} features, {drift.get('rows')} rows)"
        elif "error" in drift:
            drift_cell = f"error: {drift['error']}"
        else:
            drift_cell = f"not yet ({stats.get('drift_window_rows', 0)} rows in window)"
        table.add_row(row["application"], str(stats.get("version") or "?"), str(stats.get("requests", 0)),
                      _fmt(stats.get("error_rate"), ".2%"), _fmt(stats.get("latency_p50_ms"), ".1f"),
                      _fmt(stats.get("latency_p99_ms"), ".1f"), drift_cell, _fmt(stats.get("outlier_rate"), ".2%"),
                      _traffic_cell(stats.get("routing")), ", ".join(infra_columns(stats)) or "-")
    print_wide(table)
    for hint in hints:
        console.print(f"[yellow]{hint}[/]")


def _traffic_cell(routing: dict[str, Any] | None) -> str:
    """Who answers: the champion alone, or a rollout's split (e.g. 'canary: v1 75% / v2 25%', '+ shadow v3')."""
    if not routing or not routing.get("weights"):
        return "champion" + (f" + shadow v{routing['shadow']}" if routing and routing.get("shadow") else "")
    split = " / ".join(f"v{v} {w:g}%" for v, w in routing["weights"].items())
    return f"{routing.get('mode', 'split')}: {split}" + (f" + shadow v{routing['shadow']}" if routing.get("shadow") else "")


def _print_model(name: str, health: dict[str, Any]) -> None:
    """The champion of NAME and what its last retrain decided."""
    if health.get("champion") is None:
        console.print(f"{name}: no champion registered")
        return
    console.print(f"[bold]{name}[/]: champion v{health['champion']}")
    last = health.get("last_retrain")
    if last:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.get("at", 0)))
        verdict = "promoted" if last.get("promoted") else "kept the champion"
        console.print(f"  last retrain {when} ({', '.join(last.get('triggers', []))}): {verdict}; {last.get('reason')}")
    else:
        console.print("  no retrain yet")


@user_errors
def predict(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
            input_file: Optional[str] = typer.Option(None, "--input", help="rows as JSON ({'rows': [...]} or a list) or "
                                                     "CSV; with --batch, a file, folder or glob to score (default: "
                                                     f"serving.batch.input); {CLI_PATHS}"),
            local: bool = typer.Option(False, "--local", help="predict in this process with the registered model"),
            batch: bool = typer.Option(False, "--batch", help="score a file with serving.batch.model_alias's version, "
                                                              "on the spec's batch executor; no training"),
            output: Optional[str] = typer.Option(None, "--output", help="with --batch: where to write (default: "
                                                                      f"serving.batch.output); {CLI_PATHS}"),
            on_error: Optional[str] = typer.Option(None, "--on-error", metavar="fail|skip|null",
                                                   help="with --batch: rows with a bad cell: fail (name the first 20, "
                                                        "exit 2), skip (drop them) or null (impute the cell); default "
                                                        "serving.batch.on_error (fail)")) -> None:
    """Send rows to the running endpoint (or predict locally with --local) and print the answer as JSON;
    --batch scores a whole file with the registered model instead."""
    from mlops import api

    if input_file is not None and not (batch and input_file.startswith("sklearn:")):
        input_file = cli_path(input_file, "--input")
    if on_error is not None and on_error not in ("fail", "skip", "null"):
        from mlops.errors import DataError, Problem, did_you_mean

        raise DataError(Problem("--on-error", "not a choice", value=on_error, expected="fail, skip or null",
                                hint=did_you_mean(on_error, ("fail", "skip", "null"))))
    if batch:
        done = api.predict_batch(spec, overrides or [], input_file, output, on_error)
        console.print(f"predictions {done.rows} rows with v{done.version} -> {done.output} ({done.executor}, {done.seconds:.2f}s)")
        if done.skipped:
            console.print(f"[yellow]skipped {done.skipped} rows with a bad cell[/] (on_error: skip)")
        if done.nulled:
            console.print(f"[yellow]imputed {done.nulled} bad cells[/] (on_error: null)")
        return
    if input_file is None:
        raise typer.BadParameter("--input is required (or --batch to score serving.batch.input)")
    result = api.predict(spec, overrides or [], input_file, local=local)
    typer.echo(json.dumps(result, indent=2, default=str))


@user_errors
def stop(name: Optional[str] = typer.Argument(None, help="application to delete (default: all, and the local head)")) -> None:
    """Stop endpoints on mlops' local Ray head; the head itself stops when no application is left."""
    from mlops import api

    console.print(api.stop(name))


COMMANDS = (serve, status, predict, stop)  # in the order `mlops --help` lists them
