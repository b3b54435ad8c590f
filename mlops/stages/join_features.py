"""join_features: the labels with every feature view's values as of each label's time (point-in-time)."""
from __future__ import annotations

from typing import Any


def run(loaded: Any, params: dict[str, Any]) -> Any:
    """A Loaded of the joined training rows; its fingerprint covers the labels and the views' data."""
    from mlops.feature_store.views import read_views
    from mlops.feature_store.offline_join import point_in_time_join
    from mlops.stages.load import Loaded, frame_fingerprint

    views = read_views(params["views"], params["base_dir"])
    frame = point_in_time_join(loaded.frame, params["timestamp"], views)
    return Loaded(frame, frame_fingerprint(frame))
