"""`mlops features export --feast DIR`: an equivalent Feast repository (feature_store.yaml + definitions), as
text, so the same entities and views can move to Feast. Feast itself is not imported."""
from __future__ import annotations

from pathlib import Path
from typing import Any

_FEAST_TYPES = {"boolean": "Bool", "integer": "Int64", "number": "Float64", "string": "String"}


def _feast_type(column: Any) -> str:
    """Feast's type for a view column: the input schema's kind of it (one owner), or a timestamp."""
    import pandas as pd

    from mlops.detectors.column_profile import column_kind

    if pd.api.types.is_datetime64_any_dtype(column):
        return "UnixTimestamp"
    return _FEAST_TYPES[column_kind(column)]


def _parquet_path(view: dict[str, Any], base_dir: Path, out_dir: Path, frame: Any) -> str:
    """Feast's FileSource reads parquet: a parquet source is named in place, any other is written beside."""
    source = view["source"]
    if source["type"] == "parquet" and not any(c in source["path"] for c in "*?["):
        path = Path(source["path"]).expanduser()
        return str((path if path.is_absolute() else base_dir / path).resolve())
    import pandas as pd

    target = out_dir / "data" / f"{view['name']}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    frame = frame.copy()
    frame[view["timestamp"]] = pd.to_datetime(frame[view["timestamp"]], utc=True)  # Feast reads a timestamp column
    frame.to_parquet(target, index=False)
    return str(target.resolve())


def export_feast(project_name: str, spec_entities: list[Any], views: list[dict[str, Any]], base_dir: str | Path,
                 out_dir: str | Path) -> list[Path]:
    """Write feature_store.yaml and features.py for these entities and views into `out_dir`; the files written."""
    from mlops.feature_store.views import read_view

    out, base = Path(out_dir), Path(base_dir)
    out.mkdir(parents=True, exist_ok=True)
    yaml_text = (f"project: {project_name.replace('-', '_').replace('.', '_')}\n"
                 "registry: data/registry.db\nprovider: local\n"
                 "online_store:\n  type: sqlite\n  path: data/online_store.db\n"
                 "entity_key_serialization_version: 2\n")
    lines = ['"""Feast definitions exported by `mlops features export --feast` (same entities, views, TTLs)."""',
             "from datetime import timedelta", "",
             "from feast import Entity, FeatureView, Field, FileSource",
             "from feast.types import Bool, Float64, Int64, String, UnixTimestamp", ""]
    for entity in spec_entities:
        lines.append(f"{entity.name} = Entity(name={entity.name!r}, join_keys=[{entity.key!r}])")
    lines.append("")
    for view in views:
        loaded = read_view(view, base)
        path = _parquet_path(view, base, out, loaded.frame)
        fields = ", ".join(f"Field(name={f!r}, dtype={_feast_type(loaded.frame[f])})" for f in view["features"])
        ttl = f"timedelta(seconds={int(view['ttl_s']) if float(view['ttl_s']).is_integer() else view['ttl_s']})" if view["ttl_s"] is not None else "timedelta(0)"  # 0: no limit
        lines += [f"{view['name']}_source = FileSource(name={view['name'] + '_source'!r}, path={path!r}, "
                  f"timestamp_field={view['timestamp']!r})",
                  f"{view['name']} = FeatureView(", f"    name={view['name']!r},", f"    entities=[{view['entity']}],",
                  f"    ttl={ttl},", f"    schema=[{fields}],", "    online=True,",
                  f"    source={view['name']}_source,", ")", ""]
    written = [out / "feature_store.yaml", out / "features.py"]
    written[0].write_text(yaml_text)
    written[1].write_text("\n".join(lines))
    return written
