"""Feature store specs that are wrong: `mlops validate` exits 2 naming the field, never a traceback."""
from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import write_spec
from mlops.cli import app

SPEC = """
name: demo
data:
  source: {type: csv, path: labels.csv}
  target: churned
  timestamp: label_time
  entity_keys: [customer_id]
features:
  entities: [{name: customer, key: customer_id}]
  views:
    - name: activity
      entity: customer
      source: {type: parquet, path: activity.parquet}
      timestamp: event_time
      ttl: 30d
      features: [sessions, plan]
      defaults: {sessions: 0}
model:
  task: classification
  type: sklearn
  estimator: random_forest
"""


def run_validate(tmp_path, text: str, *, event_time=None, label_time=None):
    labels = pd.DataFrame({"customer_id": [1, 2, 3, 4], "label_time": label_time or ["2026-01-05"] * 4,
                           "churned": [0, 1, 0, 1]})
    labels.to_csv(tmp_path / "labels.csv", index=False)
    activity = pd.DataFrame({"customer_id": [1, 2], "sessions": [3, 4], "plan": ["a", "b"],
                             "event_time": event_time if event_time is not None else pd.to_datetime(["2026-01-01"] * 2)})
    activity.to_parquet(tmp_path / "activity.parquet", index=False)
    return CliRunner().invoke(app, ["validate", str(write_spec(tmp_path, text))])


def test_a_good_feature_spec_validates(tmp_path):
    result = run_validate(tmp_path, SPEC)
    assert result.exit_code == 0, result.output


CASES = [
    ("view-column-missing", SPEC.replace("[sessions, plan]", "[sessions, plans]"), {},
     ["features.views.0.features", "'plans'", "did you mean 'plan'"]),
    ("view-timestamp-missing", SPEC.replace("timestamp: event_time", "timestamp: event_tim"), {},
     ["features.views.0.timestamp", "event_tim"]),
    ("timestamp-wrong-type", SPEC, {"event_time": [5, 6]}, ["features.views.0.timestamp", "not a time", "int64"]),
    ("label-timestamp-wrong-type", SPEC, {"label_time": [1, 2, 3, 4]}, ["data.timestamp", "not a time"]),
    ("label-timestamp-unparsable", SPEC, {"label_time": ["soon"] * 4}, ["data.timestamp", "does not parse"]),
    ("entity-key-not-in-labels", SPEC.replace("key: customer_id}", "key: cust_id}").replace(
        "entity_keys: [customer_id]", "entity_keys: [cust_id]"), {}, ["data.entity_keys", "cust_id", "not in the labels"]),
    ("entity-key-not-listed", SPEC.replace("entity_keys: [customer_id]", "entity_keys: []"), {},
     ["data.entity_keys", "lacks 'customer_id'"]),
    ("ttl-not-a-duration", SPEC.replace("ttl: 30d", "ttl: 30 days"), {}, ["features.views.0.ttl", "not a duration"]),
    ("unknown-entity", SPEC.replace("entity: customer\n", "entity: custmer\n"), {},
     ["features.views.0.entity", "did you mean 'customer'"]),
    ("default-not-a-feature", SPEC.replace("{sessions: 0}", "{session: 0}"), {}, ["features.views.0.defaults", "session"]),
    ("views-need-label-time", SPEC.replace("  timestamp: label_time\n", ""), {}, ["data.timestamp", "point-in-time"]),
    ("join-partitions-zero", SPEC.replace("features:\n", "features:\n  join_partitions: 0\n"), {},
     ["features.join_partitions", "expected auto or a whole number >= 1 (got 0)"]),
    ("join-partitions-not-auto", SPEC.replace("features:\n", "features:\n  join_partitions: many\n"), {},
     ["features.join_partitions", "expected auto or a whole number >= 1 (got 'many')"]),
    ("store-needs-views", SPEC.split("features:")[0] + "model: {task: classification, type: sklearn, estimator: "
     "random_forest}\nserving: {mode: online, online: {features_from_store: true}}\n", {},
     ["serving.online.features_from_store", "needs features.views"]),
]


@pytest.mark.parametrize("text,columns,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_feature_spec_errors_name_the_field(tmp_path, text, columns, fragments):
    result = run_validate(tmp_path, text, **columns)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
