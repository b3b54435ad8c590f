"""The feature store's part of the plan: each view as plain data, and the `join_features` node. Pure."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.plan.graph import Node

DEFAULT_ONLINE_STORE = ".mlops/feature_store.db"


def view_params(project: Any) -> list[dict[str, Any]]:
    """Every view of the spec as the join, the store and the endpoint read it, with its data fingerprint."""
    from mlops.project import probe_source

    spec = project.spec
    views = []
    for i, view in enumerate(spec.features.views):
        probe = probe_source(view.source, project.base_dir, f"features.views.{i}.source")
        views.append({"name": view.name, "entity": view.entity, "key": spec.features.entity_key(view),
                      "source": view.source.model_dump(mode="json"), "timestamp": view.timestamp,
                      "ttl_s": view.ttl, "features": list(view.features), "defaults": dict(view.defaults),
                      "fingerprint": probe.fingerprint if probe else None, "field": f"features.views.{i}"})
    return views


def serving_views(spec: Any) -> list[dict[str, Any]]:
    """What the endpoint needs of each view to fill requests from the online store (no sources)."""
    return [{"name": view.name, "key": spec.features.entity_key(view), "features": list(view.features),
             "ttl_s": view.ttl, "defaults": dict(view.defaults)} for view in spec.features.views]


def online_store_path(project: Any) -> Path:
    """The online store's SQLite file: features.online_store, relative to the spec, or .mlops/ beside it."""
    configured = project.spec.features.online_store or DEFAULT_ONLINE_STORE
    path = Path(configured).expanduser()
    return (path if path.is_absolute() else Path(project.base_dir) / path).resolve()


def join_node(project: Any, code: dict[str, str]) -> Node:
    """Node `join_features` (after `load`): the labels with every view's features as of each label's time."""
    spec = project.spec
    params = {"timestamp": spec.data.timestamp, "entity_keys": list(spec.data.entity_keys),
              "views": view_params(project), "code": code}
    return Node("join_features", "join_features", {"loaded": "load"}, params, {"CPU": 1.0, **project.spec.hardware.resources_per_task},
                runtime={"base_dir": str(Path(project.base_dir).resolve()),
                         "partitions": spec.features.join_partitions})  # how, not what: the rows out are the same
