"""What every node of a cluster must reach. On one machine a relative path and a SQLite store are fine; when
the spec's hardware targets a cluster (hardware.cluster is an address or `auto`, as the cluster_cpu and
cluster_gpu presets set it), a task reads its data on whichever node it lands, and runs are recorded from
more than one machine: a relative path names a different file (or none) there, and a SQLite file lives on
one disk. Such a spec is refused when it is loaded (`mlops validate`), naming the field and the fix.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

from mlops.errors import Problem
from mlops.sources.urls import local_part, scheme

DATA_FIX = ("use an absolute path on storage every node mounts (/shared/data/x.csv), a URL every node reads "
            "(s3://, gs://, file:///shared/...), or a sql source")
STORAGE_FIX = "set hardware.storage to a path every node mounts (/mnt/shared/mlops) or a URL (s3://bucket/mlops)"
TRACKING_FIX = ("run `mlflow server --backend-store-uri postgresql://... --artifacts-destination s3://...` (or any "
                "shared backend) and set tracking.uri to its URL, e.g. http://mlflow.internal:5000")


def targets_cluster(hardware: Any) -> bool:
    """The spec runs on a Ray cluster (an address or `auto`), not on mlops' embedded local Ray."""
    return hardware.cluster not in (None, "", "local")


def cluster_problems(spec: Any, where: str | None = None) -> list[Problem]:
    """Every path and store of the spec that not every node of its cluster can reach; [] on one machine.
    `where` names a multi-node cluster found at run time (`--address`); else the spec's hardware.cluster decides."""
    if where is None:
        if not targets_cluster(spec.hardware):
            return []
        where = f"hardware.cluster={spec.hardware.cluster}"
    problems = [Problem(field, f"a relative path is read on whichever node runs the task; with a cluster ({where}) "
                               "every node must reach the data", value=path, hint=DATA_FIX)
                for field, path in _local_paths(spec) if _relative(path)]
    storage = spec.hardware.storage
    if storage is not None and _relative(storage):
        problems.append(Problem("hardware.storage", f"a relative path names a different folder on each node; with a "
                                                    f"cluster ({where}) every node writes Tune results and checkpoints "
                                                    "there", value=storage, hint=STORAGE_FIX))
    elif storage is None and spec.model.type == "torch" and not spec.model.training.checkpoint_dir:
        problems.append(Problem("hardware.storage", f"Ray Train workers write checkpoints that the driver reads; with a "
                                                    f"cluster ({where}) they need a location every node reaches",
                                value=None, hint=STORAGE_FIX))
    uri = spec.tracking.uri
    if _local_store(uri):
        problems.append(Problem("tracking.uri", f"a {'SQLite' if uri.startswith('sqlite:') else 'local file'} store "
                                                f"is a file on one machine; with a cluster ({where}) runs, artifacts "
                                                "and versions are written from more than one",
                                value=uri, hint=TRACKING_FIX))
    return problems


def _local_paths(spec: Any) -> Iterator[tuple[str, str]]:
    """(field, path) of every file source of the spec: training data, feature views, retraining data, batch input."""
    yield from _source_paths(spec.data.source, "data.source")
    for i, view in enumerate(spec.features.views):
        yield from _source_paths(view.source, f"features.views.{i}.source")
    if spec.retraining is not None:
        yield from _source_paths(spec.retraining.data.source, "retraining.data.source")
    batch = spec.serving.batch if spec.serving is not None else None
    if batch is not None:
        if isinstance(batch.input, str):
            if not batch.input.startswith("sklearn:"):
                yield "serving.batch.input", batch.input
        else:
            yield from _source_paths(batch.input, "serving.batch.input")


def _source_paths(source: Any, field: str) -> Iterator[tuple[str, str]]:
    path = getattr(source, "path", None)  # csv, parquet, and plugin sources that read files
    if isinstance(path, str):
        yield f"{field}.path", path


def _relative(path: str) -> bool:
    """A local path (or a file:// URL's) that is not absolute; other URLs name the same data everywhere."""
    if scheme(path) not in (None, "file"):
        return False
    return not os.path.isabs(os.path.expanduser(local_part(path)))


def _local_store(uri: str) -> bool:
    """A tracking URI that is a file on this machine: SQLite, a file:// store, or a plain path (MLflow's ./mlruns)."""
    if uri in ("databricks", "databricks-uc", "uc"):  # MLflow's names of hosted stores, not folders
        return False
    return uri.startswith("sqlite:") or scheme(uri) in (None, "file")
