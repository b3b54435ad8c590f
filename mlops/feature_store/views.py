"""A view's source read into a ViewFrame, and the checks of views against their data (before any Ray work)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import Collector, DataError, did_you_mean
from mlops.feature_store.offline_join import ViewFrame
from mlops.plugins import data_sources


def read_source(source: dict[str, Any], base_dir: str | Path, field: str) -> Any:
    """A registered data source (a dict as in the spec) read into a DataFrame."""
    entry = data_sources.get(source["type"])
    config = entry.resolve("config").model_validate(source)
    return entry.load()(config, Path(base_dir), field)


def read_view(view: dict[str, Any], base_dir: str | Path) -> ViewFrame:
    """One view (as the plan carries it) read from its source, its columns checked."""
    frame = read_source(view["source"], base_dir, f"{view['field']}.source")
    problems = Collector()
    _check_columns(view, list(frame.columns), problems)
    problems.raise_if_any(DataError)
    return ViewFrame(view["name"], frame, view["key"], view["timestamp"], view["features"], view["ttl_s"],
                     view["defaults"])


def read_views(views: list[dict[str, Any]], base_dir: str | Path) -> list[ViewFrame]:
    """Every view of the plan, read."""
    return [read_view(view, base_dir) for view in views]


def _check_columns(view: dict[str, Any], columns: list[str], problems: Collector) -> None:
    from mlops.sources.loaders import describe_source

    field = view["field"]
    wanted = [(f"{field}.features", f) for f in view["features"]]
    wanted += [(f"{field}.timestamp", view["timestamp"]), (f"{field}.entity", view["key"])]
    for path, column in wanted:
        if column not in columns:
            problems.add(path, f"column not in the view's source {describe_source(view['source'])}",
                         value=column, expected=f"one of {sorted(columns)[:12]}", hint=did_you_mean(column, columns))


def timestamp_problem(source: Any, base_dir: Path, column: str, field: str, problems: Collector) -> None:
    """Record a problem when `column` of a csv/parquet source does not hold times (read from a sample)."""
    import pandas as pd

    from mlops.feature_store.offline_join import to_utc_ns
    from mlops.sources.loaders import resolve_files

    if source.type == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = resolve_files(source.path, base_dir, f"{field}.source.path", ".parquet")
        schema = pq.read_schema(files[0])
        if column not in schema.names:
            return
        kind = schema.field(column).type
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_string(kind)
                or pa.types.is_large_string(kind)):
            problems.add(field, "timestamp column is not a time", value=f"{column}: {kind}",
                         expected="a timestamp/date column or ISO-8601 strings")
            return
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            return
        sample = pq.ParquetFile(files[0]).read_row_group(0, columns=[column]).column(0).to_pandas().head(100)
    elif source.type == "csv":
        files = resolve_files(source.path, base_dir, f"{field}.source.path", ".csv")
        try:
            head = pd.read_csv(files[0], nrows=100, **source.pandas_options())
        except Exception:  # the source's own probe reports an unreadable file
            return
        head.columns = [str(c).strip() for c in head.columns]
        if column not in head.columns:
            return
        sample = head[column]
    else:
        return  # other sources are checked when the join reads them
    try:
        to_utc_ns(sample, field)
    except DataError as exc:
        problems.problems.extend(exc.problems)


def check_views(project: Any) -> None:
    """What `mlops validate` checks of the views: columns in their sources, times that are times, the labels'
    entity keys and timestamp; a DataError naming each field."""
    from mlops.plan.features import view_params
    from mlops.project import probe_source

    spec = project.spec
    problems = Collector()
    label_probe = project.data_probe
    if label_probe is not None:
        for key in spec.data.entity_keys:
            if key not in label_probe.columns:
                problems.add("data.entity_keys", "entity key not in the labels (data.source)", value=key,
                             expected=f"one of {sorted(label_probe.columns)[:12]}", hint=did_you_mean(key, label_probe.columns))
    if spec.data.timestamp and label_probe is not None and spec.data.timestamp in label_probe.columns:
        timestamp_problem(spec.data.source, project.base_dir, spec.data.timestamp, "data.timestamp", problems)
    try:
        views = view_params(project)
    except DataError as exc:
        problems.problems.extend(exc.problems)
        problems.raise_if_any(DataError)
    for view, spec_view in zip(views, spec.features.views):
        probe = probe_source(spec_view.source, project.base_dir, f"{view['field']}.source")
        if probe is None:
            continue
        _check_columns(view, probe.columns, problems)
        if view["timestamp"] in probe.columns:
            timestamp_problem(spec_view.source, project.base_dir, view["timestamp"], f"{view['field']}.timestamp",
                              problems)
    problems.raise_if_any(DataError)
