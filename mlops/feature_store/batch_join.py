"""Feature views for batch scoring and data checks: the rows get each view's features as of their time,
with the same point-in-time join that built the training set (no train/serve skew between them).

A row is scored as of its own time when the input has the labels' time column (`data.timestamp`), else as
of now (the latest values within each view's TTL). Features the input already carries are kept as given.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from mlops.errors import DataError, Problem

AS_OF = "__mlops_as_of__"  # the time column added for rows that carry none


class BatchFeatureJoin:
    """Joins the plan's views onto batches of input rows; the views are read once, on first use."""

    def __init__(self, views: list[dict[str, Any]], timestamp: Optional[str], base_dir: str | Path,
                 field: str = "serving.batch.input"):
        self.views, self.timestamp, self.base_dir, self.field = views, timestamp, Path(base_dir), field
        self._frames: Optional[list[Any]] = None

    def supplied(self, columns: list[str]) -> list[str]:
        """The view features a batch with `columns` gets from the join (those it does not carry itself)."""
        return [f for view in self.views for f in view["features"] if f not in columns]

    def __call__(self, frame: Any) -> Any:
        """`frame` (same rows, same order and index) with the view features it lacks, as of each row's time."""
        import pandas as pd

        from mlops.feature_store.offline_join import ViewFrame, point_in_time_join
        from mlops.feature_store.views import read_views

        missing = self.supplied(list(frame.columns))
        if not missing:
            return frame
        needed = [v for v in self.views if any(f in missing for f in v["features"])]
        lacking = sorted({v["key"] for v in needed} - set(frame.columns))
        if lacking:
            raise DataError(Problem(self.field, f"input lacks the entity key columns {lacking}",
                                    hint=f"the model's features {missing} come from feature views joined by key"))
        if self._frames is None:
            self._frames = read_views(self.views, self.base_dir)
        views = [ViewFrame(v.name, v.frame, v.key, v.timestamp, [f for f in v.features if f in missing], v.ttl_s,
                           v.defaults) for v in self._frames]
        rows = frame.reset_index(drop=True)
        column = self.timestamp if self.timestamp and self.timestamp in rows.columns else AS_OF
        if column == AS_OF:
            rows = rows.assign(**{AS_OF: pd.Timestamp.now(tz="UTC").tz_localize(None)})
        joined = point_in_time_join(rows, column, [v for v in views if v.features])
        joined.index = frame.index
        return joined.drop(columns=[AS_OF], errors="ignore")
