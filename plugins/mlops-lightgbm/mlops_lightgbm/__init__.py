"""mlops plugin: `estimator: lightgbm` for classification and regression.

Registered through the same registry the built-ins use. The entry point calls `register()`; lightgbm
itself is imported only when a model is built, so `mlops validate` stays fast.
"""
from mlops.models.sklearn_estimators import sklearn_estimator
from mlops.plugins import estimators


def register() -> None:
    """Entry point of group `mlops.plugins`."""
    estimators.add(
        "lightgbm",
        sklearn_estimator(classification="lightgbm:LGBMClassifier", regression="lightgbm:LGBMRegressor"),
        threaded_predict=True,
        trusted_types=("lightgbm.",),  # skops may rebuild lightgbm's classes when a bundle loads
        auto=True,  # joins `model.type: auto`'s default candidates
        default_params={"classification": {"verbose": -1}, "regression": {"verbose": -1}},
        search_space={
            "params.n_estimators": {"randint": [50, 400]},
            "params.learning_rate": {"loguniform": [0.01, 0.3]},
            "params.num_leaves": {"randint": [8, 64]},
        },
    )
