"""The column-roles table `mlops validate` and `mlops plan` print: every column of the training data, its
role and why (mlops.stages.column_roles decides; featurize acts on the same decision)."""
from __future__ import annotations

from typing import Any

from rich.table import Table

from mlops.cli.common import console, print_wide

SAMPLE_ROWS = 5000
STYLE = {"numeric": "green", "categorical": "green", "high-cardinality categorical": "yellow", "datetime": "green",
         "target": "cyan", "id column": "cyan", "timestamp": "cyan", "entity key": "cyan"}


def print_roles(project: Any) -> None:
    """The roles of the project's columns, from the first SAMPLE_ROWS rows (nothing when not probed)."""
    from mlops.stages.column_roles import project_roles

    if project is None or project.data_probe is None:
        return
    roles = project_roles(project, SAMPLE_ROWS)
    table = Table(title=f"columns (roles inferred from up to {SAMPLE_ROWS} rows; override in features.numeric, "
                        "categorical, datetime, drop)")
    for column in ("column", "dtype", "role", "used", "why"):
        table.add_column(column, overflow="fold")
    for role in roles:
        style = STYLE.get(role.role, "red")
        table.add_row(role.name, role.dtype, f"[{style}]{role.role}[/]", "yes" if role.is_feature else "no", role.why)
    print_wide(table)
    unused = [r.name for r in roles if not r.is_feature and r.role not in ("target", "id column", "timestamp", "entity key")]
    if unused:
        console.print(f"not features (accepted and ignored in requests and batch files): {', '.join(unused)}")
