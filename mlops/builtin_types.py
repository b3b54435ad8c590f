"""The built-in types, registered through the same registries and the same entry point group plugins
use (`mlops.plugins`: `builtin = "mlops.builtin_types:register"` in pyproject.toml), so the registry
never imports what it registers.

Targets are lazy 'module:attr' references or light factories so that `mlops validate` imports no
sklearn, pandas or Ray.
"""
from mlops.models.ensembles import EnsembleFactory
from mlops.models.sklearn_estimators import sklearn_estimator
from mlops.plugins import data_sources, detectors, estimators, model_flavors, triggers

_L = "mlops.sources.loaders"
_D = "mlops.detectors.builtin"
_T = "mlops.monitoring.triggers"


def register() -> None:
    """Entry point of group `mlops.plugins` for mlops itself."""
    data_sources.add("csv", f"{_L}:load_csv", config="mlops.spec.sources:CsvSource", probe=f"{_L}:probe_csv")
    data_sources.add("parquet", f"{_L}:load_parquet", config="mlops.spec.sources:ParquetSource", probe=f"{_L}:probe_parquet")
    data_sources.add("sklearn", f"{_L}:load_sklearn", config="mlops.spec.sources:SklearnSource", probe=f"{_L}:probe_sklearn")

    model_flavors.add("sklearn", "mlops.models.bundle:SklearnFlavor")
    model_flavors.add("torch", "mlops.models.torch_mlp:TorchFlavor")  # state_dict + architecture, weights_only load

    # default_params: per task, applied under the spec's params.
    # search_space: the per-family space `model.type: auto` explores (Tune domain specs, see spec/tuning).
    # auto=True: the family is in auto's default candidates (fast, robust ones; a spec can list any family).
    estimators.add(
        "random_forest",
        sklearn_estimator(
            classification="sklearn.ensemble:RandomForestClassifier",
            regression="sklearn.ensemble:RandomForestRegressor",
        ),
        threaded_predict=True,
        auto=True,
        search_space={
            "params.n_estimators": {"randint": [50, 400]},
            "params.max_depth": {"choice": [None, 4, 8, 16]},
            "params.min_samples_leaf": {"randint": [1, 10]},
        },
    )
    estimators.add(
        "extra_trees",
        sklearn_estimator(
            classification="sklearn.ensemble:ExtraTreesClassifier",
            regression="sklearn.ensemble:ExtraTreesRegressor",
        ),
        threaded_predict=True,
        auto=True,
        search_space={
            "params.n_estimators": {"randint": [50, 400]},
            "params.max_depth": {"choice": [None, 4, 8, 16]},
        },
    )
    estimators.add(
        "gradient_boosting",
        sklearn_estimator(
            classification="sklearn.ensemble:GradientBoostingClassifier",
            regression="sklearn.ensemble:GradientBoostingRegressor",
        ),
        search_space={
            "params.n_estimators": {"randint": [50, 300]},
            "params.learning_rate": {"loguniform": [0.01, 0.3]},
            "params.max_depth": {"randint": [2, 6]},
        },
    )
    estimators.add(
        "hist_gradient_boosting",
        sklearn_estimator(
            classification="sklearn.ensemble:HistGradientBoostingClassifier",
            regression="sklearn.ensemble:HistGradientBoostingRegressor",
        ),
        auto=True,
        search_space={
            "params.learning_rate": {"loguniform": [0.01, 0.3]},
            "params.max_leaf_nodes": {"randint": [8, 64]},
            "params.l2_regularization": {"loguniform": [1e-4, 1.0]},
        },
    )
    estimators.add(
        "logistic_regression",
        sklearn_estimator(classification="sklearn.linear_model:LogisticRegression"),
        search_space={"params.C": {"loguniform": [1e-3, 100.0]}},
        default_params={"classification": {"max_iter": 1000}},
        auto=True,
    )
    estimators.add("linear_regression", sklearn_estimator(regression="sklearn.linear_model:LinearRegression"))
    estimators.add(
        "ridge",
        sklearn_estimator(regression="sklearn.linear_model:Ridge"),
        search_space={"params.alpha": {"loguniform": [1e-3, 100.0]}},
        auto=True,
    )
    estimators.add(
        "lasso",
        sklearn_estimator(regression="sklearn.linear_model:Lasso"),
        search_space={"params.alpha": {"loguniform": [1e-4, 10.0]}},
    )
    estimators.add(
        "knn",
        sklearn_estimator(
            classification="sklearn.neighbors:KNeighborsClassifier",
            regression="sklearn.neighbors:KNeighborsRegressor",
        ),
        search_space={"params.n_neighbors": {"randint": [1, 30]}},
        auto=True,
    )
    estimators.add(
        "svm",
        sklearn_estimator(classification="sklearn.svm:SVC", regression="sklearn.svm:SVR"),
        search_space={"params.C": {"loguniform": [1e-2, 100.0]}},
        default_params={"classification": {"probability": True}},
    )
    estimators.add(
        "mlp",
        sklearn_estimator(
            classification="sklearn.neural_network:MLPClassifier",
            regression="sklearn.neural_network:MLPRegressor",
        ),
        search_space={
            "params.alpha": {"loguniform": [1e-5, 1e-1]},
            "params.learning_rate_init": {"loguniform": [1e-4, 1e-2]},
        },
        default_params={"classification": {"max_iter": 500}, "regression": {"max_iter": 500}},
    )

    # Ensembles of a search's best trials (model.ensemble): estimators like the others, never searched themselves.
    estimators.add("stacking", EnsembleFactory("stacking"))
    estimators.add("voting", EnsembleFactory("voting"))

    # Drift detectors compare a reference sample with new data feature by feature; outlier detectors score
    # rows. Both run on the encoded matrix built by mlops.detectors.drift.encode (see docs/monitoring.md).
    detectors.add("ks", f"{_D}:ks_drift", kind="drift", features="numeric")
    detectors.add("chi2", f"{_D}:chi2_drift", kind="drift", features="categorical")
    detectors.add("tabular", f"{_D}:tabular_drift", kind="drift", features="mixed")
    detectors.add("mmd", f"{_D}:mmd_drift", kind="drift", features="mixed", needs=("torch",))  # alibi's pytorch backend
    detectors.add("iforest", f"{_D}:iforest_outliers", kind="outlier")
    detectors.add("mahalanobis", f"{_D}:mahalanobis_outliers", kind="outlier", needs=("torch",))

    # Retraining triggers: evaluator(config, context) -> TriggerResult (mlops.monitoring.triggers).
    triggers.add("drift", f"{_T}:drift_fired", config="mlops.spec.triggers:DriftTrigger")
    triggers.add("metric_drop", f"{_T}:metric_drop_fired", config="mlops.spec.triggers:MetricDropTrigger")
    triggers.add("new_data", f"{_T}:new_data_fired", config="mlops.spec.triggers:NewDataTrigger")
    triggers.add("schedule", f"{_T}:schedule_fired", config="mlops.spec.triggers:ScheduleTrigger")
