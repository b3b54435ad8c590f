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


def test_batch_scoring_joins_the_views_as_of_each_rows_time(ray_local, tracking_uri, example, tmp_path):
    """Rows to score carry only the entity key and their time: the views fill the features exactly as the
    training join would, so batch predictions equal the model's on the offline join of the same rows."""
    import pandas as pd
    from typer.testing import CliRunner

    from mlops.cli import app
    from mlops.feature_store.offline_join import point_in_time_join
    from mlops.feature_store.views import read_views
    from mlops.plan.features import view_params
    from mlops.project import load_project

    spec = example("churn-features") / "spec.yaml"
    api.apply(spec)
    rows = pd.read_csv(spec.parent / "data" / "labels.csv").head(40)[["customer_id", "label_time"]]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = CliRunner().invoke(app, ["predict", str(spec), "--batch", "--input", str(tmp_path / "rows.csv"),
                                   "--output", str(tmp_path / "scored.parquet")])
    assert out.exit_code == 0, out.output
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    project = load_project(spec, [], check_data=False)
    joined = point_in_time_join(rows, "label_time", read_views(view_params(project), spec.parent))
    bundle = api.load_model("churn_features", uri=tracking_uri)
    assert scored["prediction"].tolist() == bundle.predict(joined[bundle.input_columns]).tolist()

    rows[["customer_id"]].to_csv(tmp_path / "keys.csv", index=False)  # no time: scored as of now
    out = CliRunner().invoke(app, ["predict", str(spec), "--batch", "--input", str(tmp_path / "keys.csv"),
                                   "--output", str(tmp_path / "now.parquet")])
    assert out.exit_code == 0 and len(pd.read_parquet(tmp_path / "now.parquet")) == 40, out.output
    pd.DataFrame({"label_time": rows["label_time"]}).to_csv(tmp_path / "nokey.csv", index=False)
    out = CliRunner().invoke(app, ["predict", str(spec), "--batch", "--input", str(tmp_path / "nokey.csv"),
                                   "--output", str(tmp_path / "x.parquet")])
    assert out.exit_code != 0 and "customer_id" in out.output and "Traceback" not in out.output, out.output
