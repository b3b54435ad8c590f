"""A fitted model handed from one Ray task to the next (train -> evaluate, batch_predict) predicts there: Ray
gives large numpy arrays back as read-only views of its object store, which an SVC's predict_proba refuses
('buffer source array is read-only': digits with model.type auto, svm the winner, failed in evaluate)."""
from __future__ import annotations

import pytest
from sklearn import datasets

from mlops.models.estimators import build_estimator
from mlops.models.preprocessing import build_pipeline
from mlops.stages.train import Trained

FEATURES = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot",
            "derived": None}


@pytest.mark.slow
def test_a_trained_svm_predicts_probabilities_in_the_next_ray_task(ray_local):
    import ray

    X, y = datasets.load_digits(return_X_y=True, as_frame=True)
    X.columns = [f"x{i}" for i in range(X.shape[1])]
    estimator = build_estimator({"estimator": "svm", "task": "classification", "params": {}})
    pipeline = build_pipeline(FEATURES, list(X.columns), [], estimator).fit(X, y)

    @ray.remote(num_cpus=0)
    def probabilities(trained, rows):
        return trained.model.predict_proba(rows)

    proba = ray.get(probabilities.remote(ray.put(Trained(pipeline, {"estimator": "svm"})), X.iloc[:50]))
    assert proba.shape == (50, 10) and (proba.argmax(axis=1) == y.iloc[:50].to_numpy()).mean() > 0.9
