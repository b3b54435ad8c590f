"""Views in their own file, shared by several specs through the Hydra defaults list."""
from __future__ import annotations

import pandas as pd

from conftest import write_spec
from mlops import api

VIEWS = """# @package _global_
features:
  entities: [{name: customer, key: customer_id}]
  views:
    - {name: activity, entity: customer, source: {type: parquet, path: activity.parquet}, timestamp: event_time,
       ttl: 7d, features: [sessions]}
"""

SPEC = """
defaults:
  - feature_views: customer
  - _self_
name: {name}
data: {{source: {{type: csv, path: labels.csv}}, target: churned, timestamp: label_time, entity_keys: [customer_id]}}
model: {{task: classification, type: sklearn, estimator: {estimator}}}
"""


def test_two_specs_share_one_views_file(tmp_path):
    pd.DataFrame({"customer_id": [1, 2], "label_time": ["2026-01-05", "2026-01-06"], "churned": [0, 1]}) \
        .to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame({"customer_id": [1, 2], "event_time": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                  "sessions": [3, 4]}).to_parquet(tmp_path / "activity.parquet", index=False)
    write_spec(tmp_path / "feature_views", VIEWS, "customer.yaml")
    first = write_spec(tmp_path, SPEC.format(name="a", estimator="random_forest"), "a.yaml")
    second = write_spec(tmp_path, SPEC.format(name="b", estimator="logistic_regression"), "b.yaml")
    plans = [api.plan(first), api.plan(second)]
    joins = [p.node("join_features") for p in plans]
    assert joins[0].params["views"] == joins[1].params["views"] and joins[0].hash == joins[1].hash
    assert joins[0].params["views"][0]["ttl_s"] == 7 * 86400
