"""Commands over what is registered: model versions in MLflow (models, promote, rollback) and plugin types (plugins)."""
from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from mlops import tracking_tags
from mlops.cli.common import TRACKING, console, print_wide, user_errors


@user_errors
def models(name: str = typer.Argument(..., help="registered model name (the spec's name)"), tracking_uri: Optional[str] = TRACKING) -> None:
    """List the versions of a registered model with their aliases and scores."""
    from mlops import api

    table = Table(title=f"model {name}")
    for column in ("version", "aliases", "metric", "test score", "retrained on", "sha256", "run"):
        table.add_column(column)
    for v in api.model_versions(name, tracking_uri):
        score = v.tags.get(tracking_tags.SCORE)
        table.add_row(v.version, ",".join(v.aliases), v.tags.get(tracking_tags.METRIC, ""), f"{float(score):.4f}" if score else "",
                      v.tags.get(tracking_tags.TRIGGER, ""), (v.sha256 or "")[:12], v.run_id or "")
    print_wide(table)
    searched, families = api.search_families(name, tracking_uri)
    if families:
        print_wide(family_table(searched.version, families))


def family_table(version: str, families: list[dict]) -> Table:
    """The search behind a version: every family's best trial side by side (validation score, trials, seconds)."""
    metric = families[0]["metric"]
    table = Table(title=f"search that produced v{version}: best trial of each family (validation {metric})")
    for column in ("family", f"best {metric}", "trials", "seconds"):
        table.add_column(column)
    for row in families:
        best = f"{row['best']:.4f}" if row["best"] is not None else "-"
        table.add_row(row["family"] + (" (best trial)" if row["winner"] else ""), best, str(row["trials"]), f"{row['seconds']:.1f}")
    return table


FORCE = typer.Option(False, "--force", help="End a rollout in progress on NAME's endpoint first (refused without it)")


def _say_ended(rollout: str) -> None:
    console.print(f"ended {rollout}", highlight=False)


@user_errors
def promote(name: str = typer.Argument(...), version: str = typer.Argument(...), tracking_uri: Optional[str] = TRACKING,
            force: bool = FORCE) -> None:
    """Make VERSION the champion of NAME."""
    from mlops import api

    serving = api.promote(name, version, tracking_uri, force=force, on_ended=_say_ended)
    console.print(f"{name}: champion -> v{version}" + (f"; endpoint now serves v{serving}" if serving else ""))


@user_errors
def rollback(name: str = typer.Argument(...), tracking_uri: Optional[str] = TRACKING, force: bool = FORCE) -> None:
    """Restore the previous champion of NAME."""
    from mlops import api

    version = api.rollback(name, tracking_uri, force=force, on_ended=_say_ended)
    console.print(f"{name}: champion rolled back to v{version}")


def plugins() -> None:
    """List every registered type (built-in and from installed plugins)."""
    from mlops.plugins import data_sources, detectors, estimators, model_flavors, triggers

    table = Table(title="registered types")
    for column in ("kind", "name", "from"):
        table.add_column(column)
    for registry in (data_sources, estimators, model_flavors, detectors, triggers):
        for entry in registry:
            missing = not getattr(entry.target, "installed", True)  # a family of an extra that is not installed
            needs = ", ".join(f"mlops[{extra}]" for extra in entry.meta.get("needs", ()))
            table.add_row(registry.kind, entry.name, entry.origin + (escape(f" (needs {needs})") if missing else ""))
    console.print(table)


COMMANDS = (models, promote, rollback, plugins)  # in the order `mlops --help` lists them
