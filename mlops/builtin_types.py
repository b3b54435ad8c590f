"""The built-in types, registered through the same registries and the same entry point group plugins
use (`mlops.plugins`: `builtin = "mlops.builtin_types:register"` in pyproject.toml), so the registry
never imports what it registers.

Targets are lazy 'module:attr' references or light factories so that `mlops validate` imports no
sklearn, pandas or Ray. Each kind is a table of data; `register` only walks the tables.
"""
from typing import Any

from mlops.models.ensembles import EnsembleFactory
from mlops.models.sklearn_estimators import sklearn_estimator
from mlops.plugins import data_sources, detectors, estimators, model_flavors, triggers

_L = "mlops.sources.loaders"
_D = "mlops.detectors.builtin"
_T = "mlops.monitoring.triggers"

# name -> (loader, config model, probe)
DATA_SOURCES: dict[str, tuple[str, str, str]] = {
    "csv": (f"{_L}:load_csv", "mlops.spec.sources:CsvSource", f"{_L}:probe_csv"),
    "parquet": (f"{_L}:load_parquet", "mlops.spec.sources:ParquetSource", f"{_L}:probe_parquet"),
    "sklearn": (f"{_L}:load_sklearn", "mlops.spec.sources:SklearnSource", f"{_L}:probe_sklearn"),
}

MODEL_FLAVORS: dict[str, str] = {
    "sklearn": "mlops.models.bundle:SklearnFlavor",
    "torch": "mlops.models.torch_mlp:TorchFlavor",  # state_dict + architecture, weights_only load
}

# One row per scikit-learn family:
#   classification / regression: the estimator class per task (a family may support one task only);
#   search_space: what `model.type: auto` and `tuning` explore (Tune domain specs, see spec/tuning);
#   default_params: per task, applied under the spec's params;
#   auto: in auto's default candidates (fast, robust families; a spec can list any family);
#   threaded_predict: predict parallelises itself (serving sizes its threads accordingly).
SKLEARN_FAMILIES: dict[str, dict[str, Any]] = {
    "random_forest": {
        "classification": "sklearn.ensemble:RandomForestClassifier",
        "regression": "sklearn.ensemble:RandomForestRegressor",
        "threaded_predict": True, "auto": True,
        "search_space": {"params.n_estimators": {"randint": [50, 400]}, "params.max_depth": {"choice": [None, 4, 8, 16]},
                         "params.min_samples_leaf": {"randint": [1, 10]}},
    },
    "extra_trees": {
        "classification": "sklearn.ensemble:ExtraTreesClassifier",
        "regression": "sklearn.ensemble:ExtraTreesRegressor",
        "threaded_predict": True, "auto": True,
        "search_space": {"params.n_estimators": {"randint": [50, 400]}, "params.max_depth": {"choice": [None, 4, 8, 16]}},
    },
    "gradient_boosting": {
        "classification": "sklearn.ensemble:GradientBoostingClassifier",
        "regression": "sklearn.ensemble:GradientBoostingRegressor",
        "search_space": {"params.n_estimators": {"randint": [50, 300]}, "params.learning_rate": {"loguniform": [0.01, 0.3]},
                         "params.max_depth": {"randint": [2, 6]}},
    },
    "hist_gradient_boosting": {
        "classification": "sklearn.ensemble:HistGradientBoostingClassifier",
        "regression": "sklearn.ensemble:HistGradientBoostingRegressor",
        "auto": True,
        "search_space": {"params.learning_rate": {"loguniform": [0.01, 0.3]}, "params.max_leaf_nodes": {"randint": [8, 64]},
                         "params.l2_regularization": {"loguniform": [1e-4, 1.0]}},
    },
    "logistic_regression": {
        "classification": "sklearn.linear_model:LogisticRegression",
        "search_space": {"params.C": {"loguniform": [1e-3, 100.0]}},
        "default_params": {"classification": {"max_iter": 1000}}, "auto": True,
    },
    "linear_regression": {"regression": "sklearn.linear_model:LinearRegression"},
    "ridge": {
        "regression": "sklearn.linear_model:Ridge",
        "search_space": {"params.alpha": {"loguniform": [1e-3, 100.0]}}, "auto": True,
    },
    "lasso": {"regression": "sklearn.linear_model:Lasso", "search_space": {"params.alpha": {"loguniform": [1e-4, 10.0]}}},
    "knn": {
        "classification": "sklearn.neighbors:KNeighborsClassifier",
        "regression": "sklearn.neighbors:KNeighborsRegressor",
        "search_space": {"params.n_neighbors": {"randint": [1, 30]}}, "auto": True,
    },
    "svm": {
        "classification": "sklearn.svm:SVC", "regression": "sklearn.svm:SVR",
        "search_space": {"params.C": {"loguniform": [1e-2, 100.0]}},
        "default_params": {"classification": {"probability": True}},
    },
    "mlp": {
        "classification": "sklearn.neural_network:MLPClassifier",
        "regression": "sklearn.neural_network:MLPRegressor",
        "search_space": {"params.alpha": {"loguniform": [1e-5, 1e-1]}, "params.learning_rate_init": {"loguniform": [1e-4, 1e-2]}},
        "default_params": {"classification": {"max_iter": 500}, "regression": {"max_iter": 500}},
    },
}

# Ensembles of a search's best trials (model.ensemble): estimators like the others, never searched themselves.
ENSEMBLES = ("stacking", "voting")

# Drift detectors compare a reference sample with new data feature by feature; outlier detectors score
# rows. Both run on the encoded matrix built by mlops.detectors.drift.encode (see docs/monitoring.md).
# name -> (function, metadata)
DETECTORS: dict[str, tuple[str, dict[str, Any]]] = {
    "ks": (f"{_D}:ks_drift", {"kind": "drift", "features": "numeric"}),
    "chi2": (f"{_D}:chi2_drift", {"kind": "drift", "features": "categorical"}),
    "tabular": (f"{_D}:tabular_drift", {"kind": "drift", "features": "mixed"}),
    "mmd": (f"{_D}:mmd_drift", {"kind": "drift", "features": "mixed", "needs": ("torch",)}),  # alibi's pytorch backend
    "iforest": (f"{_D}:iforest_outliers", {"kind": "outlier"}),
    "mahalanobis": (f"{_D}:mahalanobis_outliers", {"kind": "outlier", "needs": ("torch",)}),
}

# Retraining triggers: evaluator(config, context) -> TriggerResult (mlops.monitoring.triggers).
TRIGGERS: dict[str, tuple[str, str]] = {
    "drift": (f"{_T}:drift_fired", "mlops.spec.triggers:DriftTrigger"),
    "metric_drop": (f"{_T}:metric_drop_fired", "mlops.spec.triggers:MetricDropTrigger"),
    "new_data": (f"{_T}:new_data_fired", "mlops.spec.triggers:NewDataTrigger"),
    "schedule": (f"{_T}:schedule_fired", "mlops.spec.triggers:ScheduleTrigger"),
}

_TASKS = ("classification", "regression")


def register() -> None:
    """Entry point of group `mlops.plugins` for mlops itself."""
    for name, (loader, config, probe) in DATA_SOURCES.items():
        data_sources.add(name, loader, config=config, probe=probe)
    for name, flavor in MODEL_FLAVORS.items():
        model_flavors.add(name, flavor)
    for name, row in SKLEARN_FAMILIES.items():
        classes = {task: row[task] for task in _TASKS if task in row}
        meta = {key: value for key, value in row.items() if key not in _TASKS}
        estimators.add(name, sklearn_estimator(**classes), **meta)
    for name in ENSEMBLES:
        estimators.add(name, EnsembleFactory(name))
    for name, (function, meta) in DETECTORS.items():
        detectors.add(name, function, **meta)
    for name, (evaluator, config) in TRIGGERS.items():
        triggers.add(name, evaluator, config=config)
