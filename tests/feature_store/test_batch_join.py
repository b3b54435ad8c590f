"""Feature views joined onto rows to score (no Ray): as of each row's time, or now; given values kept."""
from __future__ import annotations

import pandas as pd
import pytest

from mlops.errors import DataError
from mlops.feature_store.batch_join import BatchFeatureJoin


@pytest.fixture
def views(tmp_path):
    pd.DataFrame({"customer_id": [1, 1, 2], "event_time": ["2026-01-01", "2026-01-10", "2026-01-05"],
                  "spend": [10.0, 20.0, 5.0]}).to_csv(tmp_path / "activity.csv", index=False)
    return [{"name": "activity", "entity": "customer", "key": "customer_id", "timestamp": "event_time",
             "source": {"type": "csv", "path": "activity.csv"}, "ttl_s": None, "features": ["spend"],
             "defaults": {"spend": 0.0}, "fingerprint": None, "field": "features.views.0"}]


def test_rows_get_the_features_as_of_their_time_in_their_order(views, tmp_path):
    join = BatchFeatureJoin(views, "label_time", tmp_path)
    rows = pd.DataFrame({"customer_id": [1, 2, 1, 3], "label_time": ["2026-01-05", "2026-01-06", "2026-01-11", "2026-01-11"]},
                        index=[10, 11, 12, 13])
    out = join(rows)
    assert out["spend"].tolist() == [10.0, 5.0, 20.0, 0.0] and list(out.index) == [10, 11, 12, 13]
    assert join.supplied(["customer_id", "label_time"]) == ["spend"]


def test_rows_without_a_time_are_scored_as_of_now_and_given_values_win(views, tmp_path):
    join = BatchFeatureJoin(views, "label_time", tmp_path)
    assert join(pd.DataFrame({"customer_id": [1, 2]}))["spend"].tolist() == [20.0, 5.0]
    given = pd.DataFrame({"customer_id": [1], "spend": [99.0]})
    assert join(given)["spend"].tolist() == [99.0] and join.supplied(list(given.columns)) == []


def test_a_missing_entity_key_names_the_input(views, tmp_path):
    with pytest.raises(DataError, match="entity key columns \\['customer_id'\\]"):
        BatchFeatureJoin(views, "label_time", tmp_path)(pd.DataFrame({"label_time": ["2026-01-05"]}))
