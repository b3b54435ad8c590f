"""Without enough new labelled rows, the champion and the challenger are compared on the retrain plan's test
split: rebuilt from the compiled plan's own featurize and split nodes, so for the same data it is exactly
the apply plan's test split (the feature views joined in). In process: no Ray, no MLflow."""
from __future__ import annotations

import pandas as pd
import pytest

from mlops import api
from mlops.monitoring.retrain import held_out_rows, retrain_plan
from mlops.plan import compile_plan
from mlops.runtime.node_calls import run_here


@pytest.mark.parametrize("name", ["churn-features", "iris"])
def test_the_retrain_holdout_is_the_apply_plans_test_split_for_the_same_data(example, tmp_path, name):
    from mlops.stages.load import read_source

    project = api.load(example(name) / "spec.yaml")
    applied = compile_plan(project)
    split = run_here(applied, "split")["split"]
    window = tmp_path / "window.parquet"
    read_source(project.spec.data.source.model_dump(mode="json"), str(project.base_dir)).to_parquet(window, index=False)

    holdout = held_out_rows(retrain_plan(project, window))

    target = project.spec.data.target
    pd.testing.assert_frame_equal(holdout.drop(columns=target), split.X_test)
    pd.testing.assert_series_equal(holdout[target], split.y_test, check_names=False)
    if name == "churn-features":  # the views' features are part of the rows both models are scored on
        assert {"sessions_7d", "tenure_months"} <= set(holdout.columns)
