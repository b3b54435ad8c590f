"""`features.high_cardinality.encoding: target`: the messy table's 600-value zip code becomes scikit-learn's
TargetEncoder (cross-fitted) inside the saved pipeline, which loads back through the safe format and scores
the same; a zip code never seen gets the overall mean; importance is named by input column."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from messy_data import messy_frame
from mlops.models import safe_format
from mlops.models.preprocessing import build_pipeline
from mlops.spec.features import FeaturesSpec
from mlops.stages import featurize
from mlops.stages.load import Loaded, frame_fingerprint
from mlops.stages.plots import feature_importance_values


def fitted(target: str, estimator):
    frame = messy_frame(800)
    frame["band"] = np.digitize(frame["price"], np.quantile(frame["price"], [0.33, 0.66])).astype(str)
    frame = frame.drop(columns="price" if target == "band" else "band")
    section = FeaturesSpec(high_cardinality={"encoding": "target"}).model_dump(mode="json")
    fs = featurize.run(Loaded(frame, frame_fingerprint(frame)), {"data": {"target": target}, "features": section})
    pipe = build_pipeline({**section, "datetime": fs.datetime}, fs.numeric, fs.categorical, estimator)
    return pipe.fit(fs.frame[fs.raw_inputs], fs.frame[target]), fs.frame[fs.raw_inputs], fs.frame[target]


@pytest.mark.parametrize("target, estimator", [("price", RandomForestRegressor(20, random_state=0)),
                                               ("band", RandomForestClassifier(20, random_state=0))],
                         ids=["regression", "three classes"])
def test_target_encoding_saves_loads_and_names_importance_by_input_column(tmp_path, target, estimator):
    pipe, X, y = fitted(target, estimator)
    branches = {name: list(columns) for name, _, columns in pipe.named_steps["preprocess"].transformers_}
    assert branches["high_cardinality"] == ["zip_code"] and "zip_code" not in branches["categorical"]
    width = len(pipe.named_steps["preprocess"].get_feature_names_out())
    assert width < 40  # one column per class for the zip code, not hundreds of one-hot columns
    safe_format.save(pipe, tmp_path / "pipeline.skops")  # refused if it named a type not on the trust list
    loaded = safe_format.load(tmp_path / "pipeline.skops")
    rows = X.head(20).copy()
    rows.loc[rows.index[0], "zip_code"] = "00000"  # never seen: the target's overall mean
    assert np.array_equal(loaded.predict(rows), pipe.predict(rows))
    importance = feature_importance_values(pipe, X, y, top=50)
    assert set(importance) <= set(X.columns) and "zip_code" in importance


def test_cross_fitting_is_seeded_so_the_same_data_gives_the_same_model():
    first, X, _ = fitted("price", RandomForestRegressor(10, random_state=0))
    second, _, _ = fitted("price", RandomForestRegressor(10, random_state=0))
    assert np.array_equal(first.predict(X.head(50)), second.predict(X.head(50)))
