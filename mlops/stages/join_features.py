"""join_features: the labels with every feature view's values as of each label's time (point-in-time).
Large joins spread their matching over the cluster: one Ray task per partition of the entities."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Union

AUTO_ROWS = 2_000_000  # labels + view rows from which `auto` partitions: below it, tasks cost more than they save


def run(loaded: Any, params: dict[str, Any]) -> Any:
    """A Loaded of the joined training rows; its fingerprint covers the labels and the views' data."""
    from mlops.feature_store.views import read_views
    from mlops.feature_store.offline_join import point_in_time_join
    from mlops.stages.load import Loaded, frame_fingerprint

    views = read_views(params["views"], params["base_dir"])
    rows = len(loaded.frame) + sum(len(view.frame) for view in views)
    partitions = join_partitions(params.get("partitions", "auto"), rows)
    frame = point_in_time_join(loaded.frame, params["timestamp"], views, partitions, ray_map if partitions > 1 else map)
    return Loaded(frame, frame_fingerprint(frame))


def join_partitions(setting: Union[str, int], rows: int) -> int:
    """features.join_partitions resolved: a number as given; `auto`, one per CPU of the Ray cluster this
    runs on once the join has AUTO_ROWS rows, else one (and one without a running Ray)."""
    if setting != "auto":
        return int(setting)
    import ray

    if rows < AUTO_ROWS or not ray.is_initialized():
        return 1
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def ray_map(fn: Callable[..., Any], *arguments: Iterable[Any]) -> list[Any]:
    """`map(fn, *arguments)` as one Ray task per call (one CPU each), anywhere on the cluster; the results
    in order. Outside Ray, the builtin map. (A task blocked here lends its CPU to the tasks it waits on.)"""
    import ray

    if not ray.is_initialized():
        return list(map(fn, *arguments))
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    return ray.get([remote.remote(*call) for call in zip(*arguments)])
