"""CLI for issue 3's training features: `mlops apply --multirun` renders its comparison table here."""
from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from mlops.cli import app, console, print_wide, user_errors  # noqa: F401


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
    """Overrides (the swept keys), run id, model version, the deciding metric, and what happened."""
    table = Table(title=f"multirun: {len(combos)} combinations")
    for column in ("#", "overrides", "run", "version", "metric"):
        table.add_column(column, no_wrap=True)
    table.add_column("status")
    for i, combo in enumerate(combos):
        shown = [o for o in combo.overrides if o.split("=", 1)[0] in keys] or combo.overrides
        result = combo.result
        value = (result.metrics or {}).get(combo.metric) if result is not None else None
        metric = f"{combo.metric}={value:.4f}" if value is not None else ""
        if combo.error:
            status = f"[red]failed[/]: {combo.error.splitlines()[0]}"
        elif combo.same_as is not None:
            status = f"same plan as #{combo.same_as}"
        elif result.up_to_date:
            status = "up to date"
        else:
            status = result.decision
        table.add_row(str(i), " ".join(shown), result.run_id if result else "-", (result.version or "-") if result else "-",
                      metric, status)
    return table

