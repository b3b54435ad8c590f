"""`mlops features ...`: the feature store's commands (materialize, get, list, export). Parse, call, render."""
from __future__ import annotations

from typing import List, Optional

import typer
from rich.table import Table

from mlops.cli.common import CLI_PATHS, OVERRIDES, SPEC, console, print_wide, user_errors
from mlops.durations import format_duration

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Feature store: materialize views to the online store, look values up, list, export to Feast.")


def _time(ns: Optional[int]) -> str:
    """ns since the epoch as an ISO-8601 UTC time ('-' for none)."""
    if ns is None:
        return "-"
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="seconds")


@app.command()
@user_errors
def materialize(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
                start: Optional[str] = typer.Option(None, "--start", help="from this time, inclusive (default: after "
                                                    "the last end, plus late events within --lookback)"),
                end: Optional[str] = typer.Option(None, "--end", help="up to this time (default: now)"),
                lookback: Optional[str] = typer.Option(None, "--lookback", help="also write late events: rows stamped "
                                                       "up to this long before the last end and newer than the store's "
                                                       "row for their entity (default: each view's TTL; 0: none; all)")
                ) -> None:
    """Write each view's latest values per entity into the online store: rows newer than the last run, and late
    events (stamped before the last run's end, within --lookback) that are newer than what the store holds."""
    from mlops import api

    results = api.materialize_features(spec, overrides or [], start=start, end=end, lookback=lookback)
    table = Table(title="materialized")
    for column in ("view", "new rows", "late", "written", "after", "look-back", "through"):
        table.add_column(column, overflow="fold")
    for r in results:
        back = "-" if r.lookback_s is None else "all" if r.lookback_s == float("inf") else format_duration(r.lookback_s)
        table.add_row(r.view, str(r.rows_in_window), str(r.late_rows), str(r.entities_written), _time(r.start_ns),
                      back, _time(r.end_ns))
    print_wide(table)


def _entity(values: List[str]) -> dict[str, str]:
    """KEY=VALUE options as a dict; a typer error naming --entity for anything else."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--entity")
        out[key.strip()] = value.strip()
    return out


@app.command()
@user_errors
def get(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
        entity: List[str] = typer.Option(..., "--entity", help="KEY=VALUE, e.g. customer_id=42 (repeatable)"),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="judge staleness at this time (default: now)")) -> None:
    """Print an entity's values from the online store, with their event times (stale = older than the TTL)."""
    from mlops import api

    results = api.online_features(spec, overrides or [], _entity(entity), as_of=as_of)
    table = Table(title="online features")
    for column in ("view", "key", "feature", "value", "event time", "status"):
        table.add_column(column)
    for r in results:
        for feature, value in r.values.items():
            table.add_row(r.view, str(r.key), feature, repr(value), _time(r.event_ns), r.status)
    print_wide(table)


@app.command("list")
@user_errors
def list_views(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES) -> None:
    """Show entities, views, source rows and the online store's rows and freshness."""
    from mlops import api

    status = api.feature_store_status(spec, overrides or [])
    console.print("entities: " + ", ".join(f"{e['name']} (key {e['key']})" for e in status["entities"]))
    table = Table(title=f"feature views  (online store {status['store']})")
    for column in ("view", "entity", "features", "ttl", "source rows", "online rows", "newest event",
                   "materialized through"):
        table.add_column(column, overflow="fold")
    for v in status["views"]:
        online = v["online"]
        ttl = format_duration(v["ttl_s"]) if v["ttl_s"] is not None else "any age"
        rows = "-" if v["source_rows"] is None else str(v["source_rows"])
        table.add_row(v["name"], v["entity"], ", ".join(v["features"]), ttl, rows,
                      str(online.rows) if online else "0", _time(online.newest_event_ns if online else None),
                      _time(online.materialized_through_ns if online else None))
    print_wide(table)


@app.command()
@user_errors
def export(spec: str = SPEC, overrides: Optional[List[str]] = OVERRIDES,
           feast: str = typer.Option(..., "--feast", help=f"directory to write the Feast repository into ({CLI_PATHS})")) -> None:
    """Write an equivalent Feast repository: feature_store.yaml and the definitions (entities, views, TTLs)."""
    from mlops import api

    for path in api.export_feast(spec, overrides or [], feast):
        console.print(f"wrote {path}")
