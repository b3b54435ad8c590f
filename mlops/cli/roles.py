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
    """The roles of the project's columns: decided on every row when validate --check-data read them all,
    else on the first SAMPLE_ROWS rows read cheaply (nothing when the data was not probed)."""
    if project is None or project.data_probe is None:
        return
    roles = _roles(project)
    basis = "all rows" if project.roles is not None else f"up to {SAMPLE_ROWS} rows"
    table = Table(title=f"columns (roles inferred from {basis}; override in features.numeric, categorical, datetime, "
                        "drop)")
    for column in ("column", "dtype", "role", "used", "why"):
        table.add_column(column, overflow="fold")
    for role in roles:
        style = STYLE.get(role.role, "red")
        table.add_row(role.name, role.dtype, f"[{style}]{role.role}[/]", "yes" if role.is_feature else "no", role.why)
    print_wide(table)
    unused = [r.name for r in roles if not r.is_feature and r.role not in ("target", "id column", "timestamp", "entity key")]
    if unused:
        console.print(f"not features (accepted and ignored in requests and batch files): {', '.join(unused)}")


def roles_json(project: Any) -> list[dict[str, Any]] | None:
    """The table print_roles shows, as JSON-ready rows (`mlops plan --json`); None when the data was not probed."""
    if project is None or project.data_probe is None:
        return None
    roles = _roles(project)
    return [{"column": r.name, "dtype": r.dtype, "role": r.role, "used": r.is_feature, "why": r.why} for r in roles]


def _roles(project: Any) -> list[Any]:
    """The roles validate --check-data decided on every row, else those of the first SAMPLE_ROWS rows."""
    from mlops.stages.column_roles import project_roles

    return project.roles if project.roles is not None else project_roles(project, SAMPLE_ROWS)
