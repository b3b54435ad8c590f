"""Commands a person reads a model by: explain (per-prediction contributions) and report (a model card, or
two versions compared)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Tuple

import typer
from rich.markup import escape
from rich.table import Table

from mlops.cli.common import CLI_PATHS, OVERRIDES, SPEC, TRACKING, cli_path, console, print_wide, user_errors


@user_errors
def explain(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
            input_file: str = typer.Option(..., "--input", help=f"rows to explain: CSV, JSON or parquet ({CLI_PATHS})"),
            version: Optional[str] = typer.Option(None, "--version", help="explain this model version (default: the "
                                                                           "served alias, else the champion)"),
            top: int = typer.Option(5, "--top", min=1, help="contributions shown per row, largest first"),
            json_out: Optional[str] = typer.Option(None, "--json", help=f"write every row's explanation here ({CLI_PATHS})")) -> None:
    """Explain each row's prediction: its top contributions per input column (signed) and the base value they
    add to (SHAP; exact for tree models, sampled for the others, with a row limit bounding the cost)."""
    from mlops import api

    result = api.explain_predictions(spec, overrides or [], cli_path(input_file, "--input"), version=version, top=top)
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2, default=str))
    table = Table(title=f"{result['model']} v{result['version']}: {len(result['rows'])} rows explained ({result['method']} explainer)")
    for column in ("row", "prediction", "explained", "base value", "output", f"top {top} contributions"):
        table.add_column(column)
    for row in result["rows"]:
        parts = ", ".join(f"{escape(c['feature'])} {c['contribution']:+.4g}" for c in row["contributions"])
        table.add_row(str(row["row"]), escape(str(row["prediction"])), escape(row["explained"]),
                      f"{row['base_value']:.4g}", f"{row['output']:.4g}", parts)
    print_wide(table)
    if json_out:
        console.print(f"wrote {json_out}")


@user_errors
def report(name: str = typer.Argument(..., help="registered model name (the spec's name)"),
           version: Optional[str] = typer.Argument(None, help="the version (default: the champion)"),
           compare: Optional[Tuple[str, str]] = typer.Option(None, "--compare", metavar="CHAMPION CHALLENGER",
                                                              help="two versions side by side on the same rows, "
                                                                   "instead of one version's card"),
           out: Optional[str] = typer.Option(None, "--out", help=f"also write the pages into this folder ({CLI_PATHS})"),
           tracking_uri: Optional[str] = TRACKING) -> None:
    """Write a version's model card (Markdown + HTML) and store it with the version in MLflow; with --compare,
    the side-by-side comparison of two versions on the same rows."""
    from mlops import api
    from mlops.errors import Problem, SpecError

    if compare and all(compare):
        if version:
            raise SpecError(Problem("VERSION", "give either a VERSION or --compare CHAMPION CHALLENGER", value=version))
        versions = list(compare)
        written = api.compare_report(name, versions[0], versions[1], uri=tracking_uri, out_dir=out)
        what = f"{name}: v{versions[0]} vs v{versions[1]}"
    else:
        written = api.report(name, version, uri=tracking_uri, out_dir=out)
        what = f"{name} v{written.pop('version')}: model card"
    console.print(what)
    for kind, path in written.items():
        console.print(f"  {kind}: {escape(path)}")


COMMANDS = (explain, report)  # in the order `mlops --help` lists them
