"""Commands for data checks, feedback, alerts and continuous training: check, feedback, monitor."""
from __future__ import annotations

import time
from typing import Any, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from mlops.cli.common import CLI_PATHS, OVERRIDES, SPEC, cli_path, console, print_wide, user_errors


@user_errors
def check(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
          data: str = typer.Option(..., "--data", help=f"a CSV or parquet batch of new data ({CLI_PATHS})"),
          version: Optional[str] = typer.Option(None, "--version", help="check against this model version (default: champion)"),
          json_out: Optional[str] = typer.Option(None, "--json", help=f"write the JSON report here ({CLI_PATHS})"),
          html_out: Optional[str] = typer.Option(None, "--html", help=f"write the HTML drift report here ({CLI_PATHS})"),
          fail_on: str = typer.Option("error", "--fail-on", metavar="warn|error",
                                      help="exit 1 when a finding is at least this severe: 'error' (default) or 'warn' "
                                           "(drift and every warning fail too)")) -> None:
    """Validate a batch against the model's training profile; drift and outliers too. The last line names the
    worst finding; exit 1 when it is at least --fail-on (default: error), else 0; exit 2 on bad input."""
    from mlops import api
    from mlops.monitoring.data_check import SEVERITIES, write_reports

    if fail_on not in SEVERITIES:
        from mlops.errors import DataError, Problem, did_you_mean

        raise DataError(Problem("--fail-on", "not a severity", value=fail_on, expected=f"one of {list(SEVERITIES)}",
                                hint=did_you_mean(fail_on, SEVERITIES)))
    project, frame, result = api.check(spec, overrides or [], cli_path(data, "--data"), version=version)
    table = Table(title=f"{result.name} v{result.version}: {result.report.rows} rows checked")
    for column in ("severity", "kind", "column", "count", "detail"):
        table.add_column(column)
    colour = {"error": "red", "warn": "yellow", "ignore": "dim"}
    for a in result.report.anomalies:
        table.add_row(f"[{colour[a.severity]}]{a.severity}[/]", a.kind, a.column or "-", str(a.count), a.detail)
    if result.report.anomalies:
        print_wide(table)
    if result.drift is not None:
        d = result.drift
        console.print(f"[bold]drift[/] ({d.detector}, p_val {d.p_val}, {d.correction}): "
                      + (f"[red]drift[/] in {len(d.drifted_features)} of {len(d.features)} features" if d.is_drift
                         else f"[green]no drift[/] in {len(d.features)} features"))
    elif result.skipped:
        console.print(f"[yellow]{result.skipped}[/]")
    if result.outliers:
        o = result.outliers
        console.print(f"[bold]outliers[/] ({o['detector']}): {o['count']} rows ({o['rate']:.1%})")
    paths = write_reports(project, result, frame, json_out, html_out)
    console.print("reports: " + ", ".join(str(p) for p in paths.values()))
    colour = {None: "green", "warn": "yellow", "error": "red"}[result.worst]
    verdict, _, findings = result.verdict().partition(":")
    failed = result.fails(fail_on)
    tail = " (not failing: --fail-on warn makes warnings exit 1)" if result.worst == "warn" and not failed else ""
    console.print(f"[{colour}]{verdict}[/]:{escape(findings)}{tail}", highlight=False)
    if failed:
        raise typer.Exit(1)


@user_errors
def feedback(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
             labels: str = typer.Option(..., "--labels", help="CSV/parquet: request_id (or data.id_column) and the "
                                                              f"label ({CLI_PATHS})")) -> None:
    """Store ground-truth labels for served or batch-predicted rows (they drive metric_drop and retraining)."""
    from mlops import api

    stored = api.feedback(spec, overrides or [], cli_path(labels, "--labels"))
    console.print(f"stored {stored} labels")


@user_errors
def monitor(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
            watch: bool = typer.Option(False, "--watch", help="keep evaluating every --interval seconds until Ctrl-C, "
                                                              "in this terminal"),
            interval: float = typer.Option(60, "--interval", min=1, help="seconds between evaluations with --watch"),
            detach: bool = typer.Option(False, "--detach", help="start the always-on controller on the cluster (mlops' "
                                        "local head by default): it ticks every monitoring.controller.tick, after this "
                                        "command exits"),
            stop: bool = typer.Option(False, "--stop", help="stop the always-on controller"),
            dry_run: bool = typer.Option(False, "--dry-run", help="evaluate the triggers but do not retrain"),
            address: Optional[str] = typer.Option(None, "--address", help="Ray cluster for retraining (and for the "
                                                  "controller with --detach/--stop)")) -> None:
    """Judge alerts and every retraining trigger; when one fires, retrain and promote the challenger only if it wins.
    --detach hands that to an always-on controller on the cluster; --stop stops it."""
    from mlops import api

    _check_modes(watch, detach, stop, dry_run)
    if detach:
        print_controller(api.start_controller(spec, overrides or [], address=address))
        return
    if stop:
        console.print(api.stop_controller(spec, overrides or [], address=address))
        return

    def on_done(node: Any, seconds: float) -> None:
        console.print(f"  [green]✓[/] {node.id:<14} {seconds:6.2f}s")

    def evaluate(locked: bool) -> None:
        outcome = api.monitor(spec, overrides or [], retrain=not dry_run, address=address, on_done=on_done,
                              on_judged=_print_triggers, locked=locked)
        _print_decision(outcome)

    if not watch or dry_run:
        while True:
            evaluate(False)
            if not watch:
                return
            time.sleep(interval)
    # Holding the controller lock all along: a detached controller is refused meanwhile, and vice versa.
    with api.monitor_lock(api.load(spec, overrides or [], check_data=False), "mlops monitor --watch"):
        while True:
            evaluate(True)
            time.sleep(interval)


def _check_modes(watch: bool, detach: bool, stop: bool, dry_run: bool) -> None:
    from mlops.errors import Problem, SpecError

    chosen = [flag for flag, on in (("--watch", watch), ("--detach", detach), ("--stop", stop)) if on]
    if len(chosen) > 1 or (dry_run and (detach or stop)):
        raise SpecError(Problem(chosen[-1] if chosen else "--dry-run", "options that cannot go together",
                                value=" ".join([*chosen, *(["--dry-run"] if dry_run else [])]),
                                hint="--watch runs here, --detach starts the controller on the cluster, --stop stops it"))


def print_controller(status: Optional[dict]) -> None:
    """One line on the always-on controller an apply or --detach started (nothing when none)."""
    if not status:
        return
    if status.get("error"):
        console.print(f"[yellow]controller not started[/]: {escape(status['error'])}")
        return
    tick = status.get("tick_s")
    where = f" on {status['address']}" if status.get("address") else ""
    console.print(f"[bold]controller[/] {status.get('name')} runs{where}, ticking every "
                  f"{_duration(tick)} (mlops status shows it; stop: mlops monitor SPEC --stop)", highlight=False)


def _duration(seconds: Optional[float]) -> str:
    from mlops.durations import format_duration

    return format_duration(seconds)


def _print_triggers(outcome: Any) -> None:
    """The alerts, then each retraining trigger: fired or not, and why."""
    stamp = time.strftime("%H:%M:%S")
    alerts = outcome.alerts
    if alerts is not None:
        _print_alerts(outcome.name, alerts, stamp)
    if outcome.champion_version is None:
        return
    console.print(f"[bold]{outcome.name}[/] champion v{outcome.champion_version}: {outcome.new_rows} new rows, "
                  f"{outcome.labelled_rows} new labelled rows  ({stamp})")
    table = Table()
    for column in ("trigger", "fired", "why"):
        table.add_column(column)
    for r in outcome.results:
        table.add_row(r.on, "[red]yes[/]" if r.fired else "no", r.reason)
    print_wide(table)


def _print_alerts(name: str, alerts: Any, stamp: str) -> None:
    """Each alert: fired or not, and why; then any that could not be delivered."""
    if alerts.note:
        console.print(f"[yellow]{alerts.note}[/]")
        return
    table = Table(title=f"{name} alerts ({stamp})")
    for column in ("alert", "fired", "why"):
        table.add_column(column)
    for r in alerts.results:
        table.add_row(r.metric, "[red]yes[/]" if r.fired else "no", r.reason)
    print_wide(table)
    for problem in alerts.problems:
        console.print(f"[red]alert not delivered[/]: {problem}")


def _print_decision(outcome: Any) -> None:
    """What this evaluation decided: retrained (promoted or not), would retrain, or nothing fired."""
    d = outcome.decision
    if d is not None:
        verdict = "[green]promoted[/]" if d.promoted else "[yellow]kept the champion[/]"
        console.print(f"[bold]retrained[/] ({', '.join(d.triggers)}): {verdict}; {d.reason}")
        if outcome.followed:
            console.print(f"endpoint: {outcome.followed}")
    elif outcome.fired:
        console.print("[yellow]dry run[/]: would retrain")
    elif outcome.champion_version is not None:
        console.print("no trigger fired: the champion stays")


COMMANDS = (check, feedback, monitor)  # in the order `mlops --help` lists them
