"""The `mlops` command: parses arguments, calls mlops.api, renders with rich. No logic of its own."""
from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from mlops.errors import MlopsError
from mlops import tracking_tags

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Declarative ML from one spec: validate, plan, apply on Ray, track in MLflow.")
console = Console()
err_console = Console(stderr=True)

SPEC = typer.Argument(..., help="path to spec.yaml")
FORCE_ALL = "__all__"
OVERRIDES = typer.Argument(None, help="Hydra overrides: a.b=1, +a.c=2, ~a.d, group=option")
TRACKING = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: $MLOPS_TRACKING_URI or sqlite:///.mlops/mlflow.db)")


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


@app.command()
@user_errors
def validate(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES) -> None:
    """Check the spec and the data it names; exit 0, or 2 with every problem by field."""
    from mlops import api

    project = api.validate(spec, overrides or [])
    probe = project.data_probe
    rows = f", {probe.rows} rows" if probe and probe.rows is not None else ""
    cols = f"{len(probe.columns)} columns" if probe else "data not probed"
    console.print(f"[green]ok[/] {project.spec.name}: {project.spec.model.task} with {project.spec.model.type} ({cols}{rows})")


@app.command()
@user_errors
def plan(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
         as_json: bool = typer.Option(False, "--json", help="print the plan as JSON")) -> None:
    """Print the graph `apply` would run. Runs nothing."""
    from mlops import api

    compiled = api.plan(spec, overrides or [])
    actions = api.explain(compiled)
    if as_json:
        sys.stdout.write(json.dumps({**compiled.to_dict(), "actions": actions}, indent=2, default=str) + "\n")
        return
    print_plan(compiled, actions)


def print_plan(compiled: Any, actions: dict[str, dict[str, Any]]) -> None:
    """The plan as a table, each node `will run` (with why) or `cached`, and a terraform-style count."""
    table = Table(title=f"plan {compiled.name}  (hash {compiled.hash})")
    for column in ("node", "kind", "action", "why", "runs on", "resources", "hash"):
        table.add_column(column, overflow="fold")
    for node in compiled.nodes:
        res = ", ".join(f"{k}={v:g}" for k, v in node.resources.items()) or "-"
        if "resources_per_worker" in node.params:  # Ray Train: the driver starts `workers` actors of this size
            each = ", ".join(f"{k}={v:g}" for k, v in node.params["resources_per_worker"].items())
            res = f"{node.params['workers']} workers x ({each}), use_gpu={node.params['use_gpu']}"
        if node.kind == "tune":  # Tuner.fit() in the driver starts trials of this size
            from mlops.plan.tuning import describe_trials

            res = describe_trials(node)
        action = actions.get(node.id, {"action": "run", "reasons": []})
        label = "[yellow]will run[/]" if action["action"] == "run" else "[green]cached[/]"
        table.add_row(node.id, node.kind, label, "; ".join(action["reasons"]) or "-", node.placement, res, node.hash)
    print_wide(table)
    runs = sum(1 for a in actions.values() if a["action"] == "run")
    console.print(f"Plan: {runs} to run, {len(actions) - runs} cached.")


@app.command()
@user_errors
def apply(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
          address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (overrides hardware.cluster)"),
          force: Optional[str] = typer.Option(None, "--force", is_flag=False, flag_value=FORCE_ALL, metavar="[NODE]",
                                              help="rerun every node; --force NODE: that node and everything downstream"),
          multirun: bool = typer.Option(False, "--multirun", "-m", help="Hydra sweep: a=1,2 b=x,y applies every combination")) -> None:
    """Train, evaluate, register and batch-predict as the spec says."""
    from mlops import api

    overrides = list(overrides or [])
    if force is not None and force != FORCE_ALL and "=" in force:  # `--force a.b=1`: a bare --force, then an override
        overrides.insert(0, force)
        force = FORCE_ALL
    rerun: bool | str = True if force == FORCE_ALL else (force or False)
    if multirun:
        from mlops.cli_training import apply_multirun

        return apply_multirun(spec, overrides, address=address, force=rerun)

    def on_done(node: Any, seconds: float) -> None:
        console.print(f"  [green]✓[/] {node.id:<14} {seconds:6.2f}s")

    def on_plan(compiled: Any, actions: dict[str, Any]) -> None:
        if any(a["action"] == "run" for a in actions.values()):
            print_plan(compiled, actions)

    with console.status("applying...", spinner="dots"):
        result = api.apply(spec, overrides, address=address, force=rerun, on_done=on_done, on_plan=on_plan)
    if result.up_to_date:
        console.print(f"[yellow]up to date[/]: nothing changed since run {result.run_id} (plan {result.plan_hash}); "
                      "--force to rerun")
        return
    if result.reused:
        console.print(f"reused: {', '.join(result.reused)}")
    if result.tuning is not None:
        t = result.tuning
        chosen = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.best.params.items())
        console.print(f"[bold]tuning[/] {len(t.trials)} trials in {t.seconds:.1f}s; best ({t.metric} "
                      f"{t.best.metrics.get(t.metric, float('nan')):.4f} on validation): {chosen}")
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
    console.print(f"[bold]run[/] {result.run_id}  [bold]model version[/] {result.version}  ({result.decision})")
    console.print(f"[bold]metrics[/] {metrics}")
    if result.endpoint is not None:
        console.print(f"[bold]endpoint[/] {result.endpoint.url}/predict serves v{result.endpoint.version} (stop: mlops stop {result.endpoint.name})")
    if result.batch is not None:
        b = result.batch
        console.print(f"[bold]predictions[/] {b.rows} rows -> {b.output} ({b.executor}, {b.seconds:.2f}s)")


@app.command()
@user_errors
def submit(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
           address: str = typer.Option(..., "--address", help="Ray dashboard/job address, e.g. http://127.0.0.1:8265"),
           upload: bool = typer.Option(False, "--upload", help="ship the spec's directory as the job's working_dir"),
           wait: bool = typer.Option(True, "--wait/--no-wait", help="wait for the job and print its logs")) -> None:
    """Validate here, then run `mlops apply` as a Ray job on an existing cluster."""
    from mlops import api

    result = api.submit(spec, overrides or [], address, upload=upload, wait=wait)
    if result.logs:
        console.print(result.logs, markup=False, highlight=False)
    console.print(f"job {result.job_id}: {result.status}")
    if result.status in ("FAILED", "STOPPED"):
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec (for editor completion and checks)."""
    from mlops import api

    sys.stdout.write(json.dumps(api.schema(), indent=2) + "\n")


@app.command()
@user_errors
def models(name: str = typer.Argument(..., help="registered model name (the spec's name)"), tracking_uri: Optional[str] = TRACKING) -> None:
    """List the versions of a registered model with their aliases and scores."""
    from mlops import api

    table = Table(title=f"model {name}")
    for column in ("version", "aliases", "metric", "test score", "retrained on", "sha256", "run"):
        table.add_column(column)
    for v in api.registry(tracking_uri, name).versions(name):
        score = v.tags.get(tracking_tags.SCORE)
        table.add_row(v.version, ",".join(v.aliases), v.tags.get(tracking_tags.METRIC, ""), f"{float(score):.4f}" if score else "",
                      v.tags.get(tracking_tags.TRIGGER, ""), (v.sha256 or "")[:12], v.run_id or "")
    print_wide(table)


@app.command()
@user_errors
def promote(name: str = typer.Argument(...), version: str = typer.Argument(...), tracking_uri: Optional[str] = TRACKING) -> None:
    """Make VERSION the champion of NAME."""
    from mlops import api

    serving = api.promote(name, version, tracking_uri)
    console.print(f"{name}: champion -> v{version}" + (f"; endpoint now serves v{serving}" if serving else ""))


@app.command()
@user_errors
def rollback(name: str = typer.Argument(...), tracking_uri: Optional[str] = TRACKING) -> None:
    """Restore the previous champion of NAME."""
    from mlops import api

    version = api.rollback(name, tracking_uri)
    console.print(f"{name}: champion rolled back to v{version}")


@app.command()
def plugins() -> None:
    """List every registered type (built-in and from installed plugins)."""
    from mlops.plugins import data_sources, detectors, estimators, model_flavors, triggers

    table = Table(title="registered types")
    for column in ("kind", "name", "from"):
        table.add_column(column)
    for registry in (data_sources, estimators, model_flavors, detectors, triggers):
        for entry in registry:
            table.add_row(registry.kind, entry.name, entry.origin)
    console.print(table)


def main() -> None:
    app()


# Command groups of later capabilities live in their own modules; importing them registers their commands.
from mlops import cli_monitoring, cli_serving, cli_training  # noqa: E402,F401


if __name__ == "__main__":
    # Run through the imported module: the command modules registered themselves on *its* app.
    from mlops.cli import main as imported_main

    imported_main()
