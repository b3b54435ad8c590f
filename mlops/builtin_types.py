"""The built-in types, registered through the same registries and the same entry point group plugins
use (`mlops.plugins`: `builtin = "mlops.builtin_types:register"` in pyproject.toml), so the registry
never imports what it registers.

Targets are lazy 'module:attr' references or light factories so that `mlops validate` imports no
sklearn, pandas or Ray. Each kind is a table of data; `register` only walks the tables.
"""
from typing import Any

from mlops.models.boosting import boosting_estimator
from mlops.models.ensembles import EnsembleFactory
from mlops.models.sklearn_estimators import sklearn_estimator
from mlops.models.torch_family import TorchFamily
from mlops.plugins import data_sources, detectors, estimators, model_flavors, triggers
from mlops.searched_scaling import SCALE_KEY, SEARCHED_SCALES

_L = "mlops.sources.loaders"
_D = "mlops.detectors.builtin"
_T = "mlops.monitoring.triggers"

# name -> (loader, config model, probe)
DATA_SOURCES: dict[str, tuple[str, str, str]] = {
    "csv": (f"{_L}:load_csv", "mlops.spec.sources:CsvSource", f"{_L}:probe_csv"),
    "parquet": (f"{_L}:load_parquet", "mlops.spec.sources:ParquetSource", f"{_L}:probe_parquet"),
    "sklearn": (f"{_L}:load_sklearn", "mlops.spec.sources:SklearnSource", f"{_L}:probe_sklearn"),
    # SQLAlchemy + a driver (the `sql` extra), imported when a sql source is read, never by validate otherwise.
    "sql": ("mlops.sources.sql:load_sql", "mlops.spec.sources:SqlSource", "mlops.sources.sql:probe_sql"),
}

MODEL_FLAVORS: dict[str, str] = {
    "sklearn": "mlops.models.bundle:SklearnFlavor",
    "torch": "mlops.models.torch_mlp:TorchFlavor",  # state_dict + architecture, weights_only load
}

# One row per estimator family:
#   classification / regression: the estimator class per task (a family may support one task only);
#   search_space: what `model.type: auto` and `tuning` explore (Tune domain specs, see spec/tuning);
#   low_cost: a cheap configuration inside that space (few/small trees): auto's search starts with these,
#     cheapest family first by `cost` (the relative time of that configuration's fit);
#   portfolio: further configurations inside the space, each strong on a different kind of data, that the
#     search runs after every family's low_cost one (before it samples), so that the sampler's first picture
#     of a family is not one small configuration alone;
#   default_params: per task, applied under the spec's params;
#   auto: in auto's default candidates (fast, robust families; a spec can list any family);
#   auto_max_rows: a default candidate only searched when the training split has at most this many rows (its
#     fit's cost grows faster than the rows); a spec that lists the family in model.candidates searches it always;
#   threaded_predict: predict parallelises itself (serving sizes its threads accordingly);
#   threads_param: the parameter that sets its threads (a trial sets it to its CPUs; the others' native
#     thread pools are capped around the fit).
#   search_space's SCALE_KEY (mlops.searched_scaling): the family's scaling is searched (unless the spec
#     sets features.scale); the trees' results do not depend on it.
_SCALED = {SCALE_KEY: {"choice": SEARCHED_SCALES}}
_TREES = {"params.n_estimators": {"lograndint": [16, 513]}, "params.max_features": {"uniform": [0.1, 1.0]},
          "params.min_samples_leaf": {"lograndint": [1, 33]}, "params.max_depth": {"choice": [None, 8, 16]}}
_SMALL_FOREST = {"params.n_estimators": 16, "params.max_depth": 8}
SKLEARN_FAMILIES: dict[str, dict[str, Any]] = {
    "random_forest": {
        "classification": "sklearn.ensemble:RandomForestClassifier",
        "regression": "sklearn.ensemble:RandomForestRegressor",
        "threaded_predict": True, "threads_param": "n_jobs", "auto": True, "search_space": _TREES, "low_cost": _SMALL_FOREST,
        "cost": 5,
    },
    "extra_trees": {
        "classification": "sklearn.ensemble:ExtraTreesClassifier",
        "regression": "sklearn.ensemble:ExtraTreesRegressor",
        "threaded_predict": True, "threads_param": "n_jobs", "auto": True, "search_space": _TREES, "low_cost": _SMALL_FOREST,
        "cost": 4,
    },
    "gradient_boosting": {
        "classification": "sklearn.ensemble:GradientBoostingClassifier",
        "regression": "sklearn.ensemble:GradientBoostingRegressor",
        "search_space": {"params.n_estimators": {"lograndint": [16, 513]}, "params.learning_rate": {"loguniform": [0.01, 0.5]},
                         "params.max_depth": {"randint": [2, 8]}, "params.subsample": {"uniform": [0.5, 1.0]}},
        "low_cost": {"params.n_estimators": 16, "params.max_depth": 3}, "cost": 6,
    },
    "hist_gradient_boosting": {
        "classification": "sklearn.ensemble:HistGradientBoostingClassifier",
        "regression": "sklearn.ensemble:HistGradientBoostingRegressor",
        "auto": True,
        "search_space": {"params.max_iter": {"lograndint": [16, 513]}, "params.learning_rate": {"loguniform": [0.01, 0.5]},
                         "params.max_leaf_nodes": {"lograndint": [4, 257]}, "params.min_samples_leaf": {"lograndint": [2, 129]},
                         "params.l2_regularization": {"loguniform": [1e-4, 10.0]}, "params.max_features": {"uniform": [0.3, 1.0]}},
        "low_cost": {"params.max_iter": 128, "params.max_leaf_nodes": 8}, "cost": 3,
    },
    "logistic_regression": {
        "classification": "sklearn.linear_model:LogisticRegression",
        "search_space": {"params.C": {"loguniform": [1e-3, 100.0]}, **_SCALED},
        "default_params": {"classification": {"max_iter": 1000}}, "auto": True,
        "low_cost": {"params.C": 1.0, SCALE_KEY: "standard"}, "cost": 1,
    },
    "linear_regression": {"regression": "sklearn.linear_model:LinearRegression"},
    "ridge": {
        "regression": "sklearn.linear_model:Ridge",
        "search_space": {"params.alpha": {"loguniform": [1e-3, 100.0]}, **_SCALED}, "auto": True,
        "low_cost": {"params.alpha": 1.0, SCALE_KEY: "standard"},
        "cost": 1,
    },
    "lasso": {"regression": "sklearn.linear_model:Lasso", "search_space": {"params.alpha": {"loguniform": [1e-4, 10.0]}, **_SCALED}},
    "knn": {
        "classification": "sklearn.neighbors:KNeighborsClassifier",
        "regression": "sklearn.neighbors:KNeighborsRegressor",
        "search_space": {"params.n_neighbors": {"lograndint": [1, 65]}, "params.weights": {"choice": ["uniform", "distance"]},
                         **_SCALED},
        "threads_param": "n_jobs", "auto": True, "low_cost": {"params.n_neighbors": 5, SCALE_KEY: "standard"}, "cost": 3,
    },
    "svm": {  # RBF kernel: the strongest family on small dense data (digits), a fit's cost grows with rows squared
        "classification": "sklearn.svm:SVC", "regression": "sklearn.svm:SVR",
        "search_space": {"params.C": {"loguniform": [1e-2, 100.0]}, **_SCALED},
        "default_params": {"classification": {"probability": True}},
        "auto": True, "auto_max_rows": 10_000, "low_cost": {"params.C": 1.0, SCALE_KEY: "standard"}, "cost": 3,
    },
    "mlp": {
        "classification": "sklearn.neural_network:MLPClassifier",
        "regression": "sklearn.neural_network:MLPRegressor",
        "search_space": {"params.alpha": {"loguniform": [1e-5, 1e-1]}, "params.learning_rate_init": {"loguniform": [1e-4, 1e-2]},
                         **_SCALED},
        "default_params": {"classification": {"max_iter": 500}, "regression": {"max_iter": 500}},
    },
}

# Gradient boosting libraries (the `boosting` extra), rows as above plus `library`, the module they need, and
# `trusted_types`, the exact classes their saved models name (mlops.models.safe_format rebuilds only those
# beyond its own list; tests/models/test_trusted_types.py checks each is needed and suffices).
# n_estimators is a cap: a trial stops boosting when its validation loss stops improving, and the refit
# uses the rounds it kept. Spaces as wide as AutoML libraries search (leaves/depth, learning rate,
# rounds, row and column subsampling, L1/L2, minimum leaf size). On friedman1 the best trials sat at the old
# bounds (4 leaves, ~2,000 rounds at a small learning rate): small trees boosted long, so the space reaches
# 2 leaves (stumps: an additive model) and 8,192 rounds (a cap early stopping rarely reaches).
_REGULARIZED = {"params.learning_rate": {"loguniform": [0.01, 0.5]}, "params.subsample": {"uniform": [0.5, 1.0]},
                "params.colsample_bytree": {"uniform": [0.3, 1.0]}, "params.reg_alpha": {"loguniform": [1e-3, 10.0]},
                "params.reg_lambda": {"loguniform": [1e-3, 10.0]}}
# The start's rounds are a cap as well: with 64, friedman1's start points stopped at the cap (rmse 1.52 for
# xgboost, 1.30 for lightgbm, where 512 reached 1.10 in 0.6 s), so the search judged both families by a
# configuration far from what they can do and left them for others.
_SHORT = {"params.n_estimators": 512, "params.learning_rate": 0.1, "params.subsample": 1.0, "params.colsample_bytree": 1.0,
          "params.reg_alpha": 1e-3, "params.reg_lambda": 1.0}
# The boosting portfolios: small trees boosted long at a small learning rate (near-additive functions with a few
# interactions: friedman1's best, test rmse 1.063 where the start reached 1.092), and medium trees on row and
# column subsamples (interactions and many features: best or within 0.002 of best on the benchmark's three
# classification sets). Measured with benchmarks/automl_vs_flaml.py's data, one fit each (docs/automl.md).
_MEDIUM = {"params.learning_rate": 0.05, "params.subsample": 0.8, "params.colsample_bytree": 0.8,
           "params.reg_alpha": 1e-3, "params.reg_lambda": 1.0}
_QUIET = {"verbose": -1, "subsample_freq": 1}  # subsample_freq: LightGBM only row-subsamples when it is > 0
BOOSTING_FAMILIES: dict[str, dict[str, Any]] = {
    "lightgbm": {
        "library": "lightgbm",
        "classification": "lightgbm:LGBMClassifier", "regression": "lightgbm:LGBMRegressor",
        "threaded_predict": True, "threads_param": "n_jobs", "auto": True, "needs": ("boosting",),
        "default_params": {"classification": _QUIET, "regression": _QUIET},
        "trusted_types": ("lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor",
                          "lightgbm.basic.Booster",  # rebuilt from LightGBM's own text format
                          "collections.OrderedDict"),  # best_score_ is a defaultdict(OrderedDict)
        "search_space": {"params.n_estimators": {"lograndint": [8, 8193]}, "params.num_leaves": {"lograndint": [2, 513]},
                         "params.min_child_samples": {"lograndint": [2, 129]}, **_REGULARIZED},
        "low_cost": {**_SHORT, "params.num_leaves": 8, "params.min_child_samples": 20}, "cost": 2,
        "portfolio": [{**_SHORT, "params.n_estimators": 4096, "params.learning_rate": 0.03, "params.num_leaves": 4,
                       "params.min_child_samples": 20},
                      {**_MEDIUM, "params.n_estimators": 2048, "params.num_leaves": 16, "params.min_child_samples": 20}],
    },
    "xgboost": {
        "library": "xgboost",
        # XGBoost's own classifier takes labels 0..n-1 only; this subclass takes any labels.
        "classification": "mlops.models.xgboost_labels:XGBLabelClassifier", "regression": "xgboost:XGBRegressor",
        "trusted_types": ("mlops.models.xgboost_labels.XGBLabelClassifier", "xgboost.sklearn.XGBRegressor",
                          "xgboost.core.Booster"),  # rebuilt from XGBoost's own model format
        "threaded_predict": True, "threads_param": "n_jobs", "auto": True, "needs": ("boosting",),
        "search_space": {"params.n_estimators": {"lograndint": [8, 8193]}, "params.max_depth": {"randint": [2, 11]},
                         "params.min_child_weight": {"loguniform": [0.01, 64.0]}, **_REGULARIZED},
        "low_cost": {**_SHORT, "params.max_depth": 3, "params.min_child_weight": 1.0}, "cost": 2,
        # depth-2 trees boosted long lost to the start on every data set there (XGBoost grows depth-wise)
        "portfolio": [{**_MEDIUM, "params.n_estimators": 2048, "params.max_depth": 5, "params.min_child_weight": 1.0}],
    },
}

# The torch MLP in `model.type: auto` (neural architecture search, mlops.models.torch_family): a trial fits a
# `type: torch` section, `section` below plus the sampled values at their dotted paths. The space: the network's
# shape (depth hidden layers, the first `width` units, each next `shrink` times narrower), dropout, activation,
# learning rate, batch size and weight decay (AdamW). Epochs are a cap: a trial reports every epoch, ASHA stops
# weak ones early (mlops.stages.family_scheduler), patience stops the rest when they stall, and the refit
# trains as many epochs as the trial's best.
TORCH_FAMILY: dict[str, Any] = {
    "auto": True, "needs": ("torch",), "model_type": "torch",
    "section": {"training": {"epochs": 64, "optimizer": "adamw", "early_stopping": {"patience": 8}}},
    "search_space": {"architecture.depth": {"randint": [1, 5]}, "architecture.width": {"lograndint": [16, 513]},
                     "architecture.shrink": {"uniform": [0.25, 1.0]}, "architecture.dropout": {"uniform": [0.0, 0.5]},
                     "architecture.activation": {"choice": ["relu", "gelu", "silu", "tanh"]},
                     "training.lr": {"loguniform": [1e-4, 3e-2]}, "training.batch_size": {"choice": [64, 128, 256, 512]},
                     "training.weight_decay": {"loguniform": [1e-6, 1e-2]}},
    "low_cost": {"architecture.depth": 2, "architecture.width": 64, "architecture.shrink": 0.5,
                 "architecture.dropout": 0.0, "architecture.activation": "relu", "training.lr": 3e-3,
                 "training.batch_size": 256, "training.weight_decay": 1e-4},
    "cost": 4,
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
    "mmd": (f"{_D}:mmd_drift", {"kind": "drift", "features": "mixed", "needs": ("monitoring", "torch")}),  # alibi's pytorch backend
    "iforest": (f"{_D}:iforest_outliers", {"kind": "outlier"}),  # scikit-learn's forest, scored as alibi-detect does
    "mahalanobis": (f"{_D}:mahalanobis_outliers", {"kind": "outlier", "needs": ("monitoring", "torch")}),
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
    for name, row in BOOSTING_FAMILIES.items():
        classes = {task: row[task] for task in _TASKS if task in row}
        meta = {key: value for key, value in row.items() if key not in (*_TASKS, "library")}
        estimators.add(name, boosting_estimator(row["library"], **classes), **meta)
    estimators.add("torch", TorchFamily(), **TORCH_FAMILY)
    for name in ENSEMBLES:
        estimators.add(name, EnsembleFactory(name))
    for name, (function, meta) in DETECTORS.items():
        detectors.add(name, function, **meta)
    for name, (evaluator, config) in TRIGGERS.items():
        triggers.add(name, evaluator, config=config)
