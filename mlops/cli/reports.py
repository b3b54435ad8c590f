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
            input_file: Optional[str] = typer.Option(None, "--input", help=f"rows to explain: CSV, JSON or parquet ({CLI_PATHS})"),
            traffic: bool = typer.Option(False, "--traffic", help="instead of --input: a sample of the rows the endpoint "
                                                                  "served (its prediction log), logged, and the features "
                                                                  "that drive them against training's"),
            window: str = typer.Option("1d", "--window", help="with --traffic: how far back to sample, e.g. 6h"),
            version: Optional[str] = typer.Option(None, "--version", help="explain this model version (default: the "
                                                                           "served alias, else the champion)"),
            top: int = typer.Option(5, "--top", min=1, help="contributions shown per row, largest first"),
            json_out: Optional[str] = typer.Option(None, "--json", help=f"write every row's explanation here ({CLI_PATHS})")) -> None:
    """Explain each row's prediction: its top contributions per input column (signed) and the base value they
    add to (SHAP; exact for tree models, sampled for the others, with a row limit bounding the cost)."""
    from mlops import api
    from mlops.errors import Problem, SpecError

    if traffic == bool(input_file):
        raise SpecError(Problem("--input", "give the rows to explain with --input FILE, or --traffic for served rows"))
    if traffic:
        from mlops.durations import parse_duration

        try:
            window_s = parse_duration(window)
        except ValueError as exc:
            raise SpecError(Problem("--window", str(exc), value=window)) from None
        print_drivers(spec, api.explain_traffic(spec, overrides or [], window_s=window_s))
        return
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


def print_drivers(what: str, summary: Optional[dict]) -> None:
    """The features that drive served predictions against training's, as a table."""
    if summary is None:
        console.print(f"{what}: nothing was served in the window: no traffic to explain")
        return
    table = Table(title=f"v{summary['version']}: what drives today's predictions ({summary['rows']} served rows explained, "
                        f"{summary['method']} explainer) against training")
    for column in ("feature", "today", "training", "change", "rank (today / training)"):
        table.add_column(column)
    share = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    for d in summary["drivers"]:
        change = "-" if d["change"] is None else f"{d['change'] * 100:+.1f} pts"
        table.add_row(escape(d["feature"]), share(d["today"]), share(d["training"]), change,
                      f"{d['rank_today'] or '-'} / {d['rank_training'] or '-'}")
    print_wide(table)


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
