"""CLI for issue 3's training features: `mlops apply --multirun` renders its comparison table here."""
from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from mlops.cli import console, print_wide


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
