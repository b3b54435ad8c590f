"""mlops plugin: `estimator: lightgbm` for classification and regression.

Registered through the same registry the built-ins use. The entry point calls `register()`; lightgbm
itself is imported only when a model is built, so `mlops validate` stays fast.
"""
from mlops.models.sklearn_estimators import sklearn_estimator
from mlops.plugins import estimators


# The exact types a saved LightGBM pipeline names (skops.io.get_untrusted_types), all classes: skops may
# rebuild these when a bundle loads. mlops.models.safe_format refuses to save a model that names others
TRUSTED_TYPES = (
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.basic.Booster",  # the fitted model, rebuilt from LightGBM's own text format
    "collections.OrderedDict",  # best_score_ is a defaultdict(OrderedDict)
)


def register() -> None:
    """Entry point of group `mlops.plugins`."""
    estimators.add(
        "lightgbm",
        sklearn_estimator(classification="lightgbm:LGBMClassifier", regression="lightgbm:LGBMRegressor"),
        threaded_predict=True,
        trusted_types=TRUSTED_TYPES,
        auto=True,  # joins `model.type: auto`'s default candidates
        default_params={"classification": {"verbose": -1}, "regression": {"verbose": -1}},
        search_space={
            "params.n_estimators": {"randint": [50, 400]},
            "params.learning_rate": {"loguniform": [0.01, 0.3]},
            "params.num_leaves": {"randint": [8, 64]},
        },
    )
