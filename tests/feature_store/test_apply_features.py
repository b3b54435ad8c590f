"""End to end: apply the churn-features example on the shared local Ray; the training rows are the
point-in-time join, the join node is cached by the next apply, and a change of a view's data reruns it."""
from __future__ import annotations

import os

import pytest

from mlops import api

pytestmark = pytest.mark.slow


def test_apply_churn_features_trains_on_the_joined_rows_and_caches_the_join(ray_local, tracking_uri, example):
    spec = example("churn-features") / "spec.yaml"
    first = api.apply(spec)
    assert first.metrics["roc_auc"] > 0.75, first.metrics  # churn is decided by the features as of label time
    again = api.apply(spec)
    assert again.up_to_date
    activity = spec.parent / "data" / "activity.parquet"
    os.utime(activity, (activity.stat().st_atime, activity.stat().st_mtime + 10))
    actions = api.explain(api.plan(spec))
    assert actions["load"]["action"] == "cached" and actions["join_features"]["action"] == "run"
