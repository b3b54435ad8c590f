"""Commands that go from a spec to a run: validate, plan, apply (and its --multirun sweep), submit, schema."""
from __future__ import annotations

import json
import sys
from typing import Any, List, Optional

import typer
from rich.table import Table

from mlops.cli.common import OVERRIDES, SPEC, console, err_console, print_wide, user_errors
from mlops.cli.monitoring import print_controller

FORCE_ALL = "__all__"  # what a bare --force becomes (bare_force): Typer has no option with an optional value


def bare_force(args: list[str]) -> list[str]:
    """`args` with a bare `--force` (last, or before an option, an override, or the spec file) written as
    `--force=FORCE_ALL`; `--force NODE` as it is. Without this, `mlops apply SPEC --force` was refused for a
    missing value and `mlops apply --force SPEC` took the spec for a node."""
    import os

    out = list(args)
    for i, word in enumerate(out):
        if word != "--force":
            continue
        following = out[i + 1] if i + 1 < len(out) else None
        if (following is None or following.startswith("-") or "=" in following
                or following.endswith((".yaml", ".yml")) or os.path.exists(following)):
            out[i] = f"--force={FORCE_ALL}"
    return out


@user_errors
def validate(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
             check_data: bool = typer.Option(False, "--check-data", help="also read every row of the data as apply "
                                             "will, and decide the column roles on all of them (slower)")) -> None:
    """Check the spec and the data it names (headers, first rows); exit 0, or 2 with every problem by field."""
    from mlops import api

    project = api.validate(spec, overrides or [], check_data=check_data)
    probe = project.data_probe
    rows = f", {probe.rows} rows" if probe and probe.rows is not None else ""
    cols = f"{len(probe.columns)} columns" if probe else "data not probed"
    console.print(f"[green]ok[/] {project.spec.name}: {project.spec.model.task} with {project.spec.model.type} ({cols}{rows})")
    from mlops.cli.roles import print_roles

    print_roles(project)


@user_errors
def plan(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
         as_json: bool = typer.Option(False, "--json", help="print the plan as JSON")) -> None:
    """Print the graph `apply` would run. Runs nothing."""
    from mlops import api

    from mlops.plan import compile_plan

    project = api.load(spec, overrides or [])  # once: the plan, the roles table and the resource check read it
    compiled = compile_plan(project)
    actions = api.explain(compiled)
    if as_json:
        from mlops.cli.roles import roles_json
        from mlops.redact import redact

        # What a terminal or a CI log shows is redacted like what MLflow keeps (the plan itself keeps secrets).
        shown = {**compiled.to_dict(), "actions": actions, "columns": roles_json(project)}  # columns: the roles table
        sys.stdout.write(json.dumps(redact(shown), indent=2, default=str) + "\n")
        return warn_if_unschedulable_here(project, compiled)
    from mlops.cli.roles import print_roles

    print_roles(project)
    print_plan(compiled, actions)
    warn_if_unschedulable_here(project, compiled)


def warn_if_unschedulable_here(project: Any, compiled: Any) -> None:
    """The resource check apply makes, run now without Ray when the plan runs on this machine: a warning
    on stderr per task larger than it (the plan is still shown, the exit code stays 0)."""
    from mlops import api

    problems = api.local_feasibility(project, compiled)
    if problems:
        err_console.print("[yellow]warning:[/] apply will refuse this plan on this machine (no cluster address):")
        for problem in problems:
            err_console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)


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


@user_errors
def apply(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
          address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (overrides hardware.cluster)"),
          force: Optional[str] = typer.Option(None, "--force", metavar="[NODE]",
                                              help="rerun every node; --force NODE: that node and everything downstream"),
          multirun: bool = typer.Option(False, "--multirun", "-m", help="Hydra sweep: a=1,2 b=x,y applies every combination")) -> None:
    """Train, evaluate, register and batch-predict as the spec says."""
    from mlops import api

    overrides = list(overrides or [])
    rerun: bool | str = True if force == FORCE_ALL else (force or False)
    if multirun:
        return apply_multirun(spec, overrides, address=address, force=rerun)

    def on_done(node: Any, seconds: float) -> None:
        console.print(f"  [green]✓[/] {node.id:<14} {seconds:6.2f}s")

    planned: list[Any] = []

    def on_plan(compiled: Any, actions: dict[str, Any]) -> None:
        planned.append(compiled)
        if any(a["action"] == "run" for a in actions.values()):
            print_plan(compiled, actions)

    from mlops.cli.started import STARTED_AT

    with console.status("applying...", spinner="dots"):
        result = api.apply(spec, overrides, address=address, force=rerun, on_done=on_done, on_plan=on_plan,
                           started_at=STARTED_AT)
    if result.up_to_date:
        console.print(f"[yellow]up to date[/]: nothing changed since run {result.run_id} (plan {result.plan_hash}); "
                      "--force to rerun")
        print_controller(result.controller)
        return
    if result.reused:
        console.print(f"reused: {', '.join(result.reused)}")
    if result.tuning is not None:
        t = result.tuning
        console.print(tuning_line(t))
        for family, why in t.meta.get("left_out", {}).items():
            console.print(f"  {family} not searched: {why} (list it in model.candidates to search it)")
        refit = result.seconds.get("train_best", result.seconds.get("train"))  # the node that refits the best trial
        after = [f"refit {refit:.1f}s"] if refit is not None else []
        after += [f"logging the trials {t.meta['logging_s']:.1f}s (beside the refit)"] if "logging_s" in t.meta else []
        if after:
            console.print(f"[bold]after the search[/] {', '.join(after)}")
    if result.ensemble:
        console.print(ensemble_line(result.ensemble, result.tuning), highlight=False)
    for line in apply_summary(result, api.champion_version(planned[-1]) if planned else None):
        console.print(line, highlight=False)
    print_controller(result.controller)


def ensemble_line(ensemble: dict[str, Any], tuning: Any) -> str:
    """What the registered model is when it is an ensemble (model.ensemble), not the best trial the line above
    names: its method and members, each with its family and validation score, and for stacking which
    combination of them its out-of-fold scores chose."""
    if ensemble.get("alone"):  # no ensemble was fitted: the best trial could not be one of its members
        return f"[bold]model.ensemble[/]: {ensemble['alone']}, so it was registered alone"
    by_id = {t.trial_id: t for t in tuning.trials} if tuning is not None else {}

    def named(trial_id: str, weight: float | None = None) -> str:
        trial = by_id.get(trial_id)
        score = trial.metrics.get(tuning.metric) if trial is not None else None
        family = trial.family if trial is not None else trial_id
        return f"{family}{'' if weight is None else f' x{weight:.2f}'}" + (
            f" ({tuning.metric} {score:.4f})" if score is not None else "")

    members, combination = ensemble["members"], ensemble.get("combination")
    if combination is None or combination == "stack":
        line = (f"[bold]registered[/] a {ensemble['method']} ensemble of the {len(members)} best trials: "
                f"{', '.join(named(m) for m in members)}")
    elif combination == "weighted":
        used = ensemble["used"]
        line = (f"[bold]registered[/] a weighted average of {len(used)} of the {len(members)} best trials: "
                f"{', '.join(named(m, w) for m, w in used.items())}")
    else:
        line = f"[bold]registered[/] the best of the {len(members)} best trials alone: {named(next(iter(ensemble['used'])))}"
    if combination is not None:
        scores = ensemble["out_of_fold"]
        line += (f"; out-of-fold {scores['metric']}: stack {scores['stack']:.4f}, weighted average "
                 f"{scores['weighted']:.4f}, best member {scores['member']:.4f} (model.ensemble.method: stacking)")
        if scores.get("from_search"):
            line += (f"; {scores['from_search']} of {len(members)} members' out-of-fold predictions from the search "
                     f"(combinations learnt on {scores['rows']:,} rows)")
    return line


def apply_summary(result: Any, champion: Optional[str]) -> list[str]:
    """What an apply did, in words that say what serves: the run, the version it registered (or reused) and
    whether that is the champion now, the metrics, then which version the endpoint and the batch scoring
    used. `champion`: the version the champion alias points at after the apply (None: no champion)."""
    from rich.markup import escape

    version, decision = result.version, escape(result.decision)
    if decision.startswith("model unchanged"):  # register was reused: this apply decided nothing new
        model = f"[bold]model version[/] {version} (unchanged)"
        model += ", the champion" if champion == version else f", not the champion: {_champion_text(champion)}"
    elif champion == version:
        model = f"[bold]model version[/] {version} registered, now the champion ({decision})"
    else:
        model = f"[bold]model version[/] {version} registered, not promoted: {_champion_text(champion, kept=True)} " \
                f"({decision})"
    lines = [f"[bold]run[/] {result.run_id}  {model}",
             "[bold]metrics[/] " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))]
    if result.endpoint is not None:
        e = result.endpoint
        from mlops.serving.client import auth_note

        note = auth_note(e.name)
        lines.append(f"[bold]endpoint[/] {e.url}/predict serves v{e.version}{_which(e.version, version, champion)} "
                     f"({note + '; ' if note else ''}stop: mlops stop {e.name})")
    if result.batch is not None:
        b = result.batch
        used = f" with v{b.version}{_which(b.version, version, champion)}" if b.version else ""
        lines.append(f"[bold]predictions[/] {b.rows} rows{used} -> {b.output} ({b.executor}, {b.seconds:.2f}s)")
    return lines


def _champion_text(champion: Optional[str], kept: bool = False) -> str:
    if champion is None:
        return "no champion yet"
    return f"kept champion v{champion}" if kept else f"champion is v{champion}"


def _which(used: Optional[str], version: Optional[str], champion: Optional[str]) -> str:
    """Why the version that served (or scored) is the one it is, when that is not this apply's version."""
    if used == version:
        return ""
    if used == champion:
        return f", the champion (v{version} was not promoted)"
    return f" (not this apply's v{version}: serving.*.model_alias names v{used})"


@user_errors
def submit(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
           address: str = typer.Option(..., "--address", help="Ray dashboard/job address, e.g. http://127.0.0.1:8265"),
           upload: bool = typer.Option(False, "--upload", help="ship the spec's directory as the job's working_dir "
                                       "(less .gitignore/.mlopsignore; never the store; credentials refused)"),
           include: Optional[List[str]] = typer.Option(None, "--include", help="with --upload: ship this file (or folder) "
                                                       "although it looks like a credential; repeatable"),
           runtime: str = typer.Option("ship", "--runtime", help="ship: send mlops, its plugins and their pip "
                                       "requirements with the job (a cluster with only Ray runs it); code: the code "
                                       "alone (the cluster has the libraries); installed: the cluster's own mlops"),
           wait: bool = typer.Option(True, "--wait/--no-wait", help="follow the job, streaming its logs")) -> None:
    """Validate here, then run `mlops apply` as a Ray job on an existing cluster."""
    import sys

    from mlops import api
    from mlops.runtime.submit import JobInterrupted

    def stream(chunk: str) -> None:
        sys.stdout.write(chunk)
        sys.stdout.flush()

    try:
        result = api.submit(spec, overrides or [], address, upload=upload, wait=wait, include=include or [],
                            runtime=runtime, on_output=stream)
    except JobInterrupted as interrupted:
        if sys.stdin.isatty() and typer.confirm(f"\nstop job {interrupted.job_id} on the cluster?", default=False):
            console.print(f"job {interrupted.job_id}: {interrupted.stop()}")
            raise typer.Exit(130)
        raise
    console.print(f"job {result.job_id}: {result.status}")
    if result.status in ("FAILED", "STOPPED"):
        raise typer.Exit(1)


def schema() -> None:
    """Print the JSON Schema of the spec (for editor completion and checks)."""
    from mlops import api

    sys.stdout.write(json.dumps(api.schema(), indent=2) + "\n")


def apply_multirun(spec: str, overrides: list[str], *, address: str | None, force: bool) -> None:
    """Apply every combination of the sweep and print one row per combination."""
    from mlops import api
    from mlops.runtime.multirun import swept_keys

    def on_done(index: int, node: Any, seconds: float) -> None:
        console.print(f"  [green]✓[/] #{index:<3} {node.id:<14} {seconds:6.2f}s")

    with console.status("applying every combination...", spinner="dots"):
        combos = api.multirun(spec, overrides, address=address, force=force, on_done=on_done)
    print_wide(comparison_table(combos, swept_keys(overrides)))
    if not all(c.ok for c in combos):
        raise typer.Exit(1)


def comparison_table(combos: list[Any], keys: list[str]) -> Table:
    """One column per swept key, then run id, model version, the deciding metric, and what happened."""
    metric = combos[0].metric if combos else "metric"
    table = Table(title=f"multirun: {len(combos)} combinations")
    keys = [k.lstrip("+") for k in keys]
    for column in ("#", *keys, "run", "version", metric):
        table.add_column(column, no_wrap=True)
    table.add_column("status")
    for i, combo in enumerate(combos):
        values = dict(o.lstrip("+").split("=", 1) for o in combo.overrides if "=" in o)
        result = combo.result
        value = (result.metrics or {}).get(combo.metric) if result is not None else None
        if combo.error:
            status = f"[red]failed[/]: {combo.error.splitlines()[0]}"
        elif combo.same_as is not None:
            status = f"same plan as #{combo.same_as}"
        elif result.up_to_date:
            status = "up to date"
        else:
            status = result.decision
        table.add_row(str(i), *(values.get(k, "") for k in keys), result.run_id[:12] if result and result.run_id else "-",
                      (result.version or "-") if result else "-", f"{value:.4f}" if value is not None else "", status)
    return table


COMMANDS = (validate, plan, apply, submit, schema)  # in the order `mlops --help` lists them


def tuning_line(t: Any) -> str:
    """The search in one line: trials, time, how they were scored, the best trial's score and parameters (a
    search space with nothing in it: the parameters the spec sets, said so rather than left blank)."""
    chosen = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.best.params.items())
    scored_by = f", scored by {t.meta['validation']}" if "validation" in t.meta else ""  # older outcomes: unsaid
    return (f"[bold]tuning[/] {len(t.trials)} trials in {t.seconds:.1f}s{scored_by}; best ({t.metric} "
            f"{t.best.metrics.get(t.metric, float('nan')):.4f} on validation): "
            f"{chosen or 'the parameters the spec sets (nothing searched)'}")
