"""mlops plugin: `estimator: lightgbm_dart`, LightGBM with DART boosting, for classification and regression.

mlops has LightGBM built in (`estimator: lightgbm`, with the `boosting` extra); this package shows how a
separately installed package adds a family of its own through the same registry. The entry point calls
`register()`; lightgbm itself is imported only when a model is built, so `mlops validate` stays fast.
DART drops random trees while boosting (Rashmi & Gilad-Bachrach, 2015): slower than plain gradient boosting,
and it cannot stop early, but sometimes more accurate.
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

DART = {"boosting_type": "dart", "verbose": -1}


def register() -> None:
    """Entry point of group `mlops.plugins`."""
    estimators.add(
        "lightgbm_dart",
        sklearn_estimator(classification="lightgbm:LGBMClassifier", regression="lightgbm:LGBMRegressor"),
        threaded_predict=True,
        trusted_types=TRUSTED_TYPES,
        # Not in `model.type: auto`'s default candidates (auto=True would add it): list it in model.candidates.
        default_params={"classification": DART, "regression": DART},
        search_space={
            "params.n_estimators": {"lograndint": [50, 401]},
            "params.learning_rate": {"loguniform": [0.01, 0.3]},
            "params.num_leaves": {"lograndint": [8, 65]},
            "params.min_child_samples": {"lograndint": [5, 65]},
        },
    )
