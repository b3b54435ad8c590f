"""train: fit preprocessing + estimator on the train split, as one pipeline."""
from __future__ import annotations

from typing import Any

from mlops.errors import Problem, SpecError


_NOT_YET = object()  # a Trained rebuilt from its pickle whose model nobody has asked for yet


class Trained:
    """The fitted model and what must travel with it (input schema, feature lists, classes).

    Pickled with the model in-band, as bytes of its own pickle: Ray hands a task's large numpy arrays to the
    next task as read-only views of its object store, and some fitted models cannot predict from read-only
    state (an SVC's predict_proba: 'buffer source array is read-only' in evaluate); the inner pickle comes
    back as writable arrays. Unpickled, the model itself is rebuilt only when it is first asked for: the
    apply's driver caches and forwards a Trained without ever importing the model's library (scikit-learn
    alone is a second of its start), and pickling it again reuses the bytes it came with."""

    def __init__(self, model: Any, meta: dict[str, Any]):
        self._model = model
        self._pickled: bytes | None = None
        self.meta = meta

    @classmethod
    def from_pickled(cls, model: bytes, meta: dict[str, Any]) -> "Trained":
        trained = cls(_NOT_YET, meta)
        trained._pickled = model
        return trained

    @property
    def model(self) -> Any:
        if self._model is _NOT_YET:
            import pickle

            self._model = pickle.loads(self._pickled)  # noqa: S301 - bytes a Trained's own __reduce__ wrote, via Ray
        return self._model

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self._pickled is None:
            import pickle

            return _rebuild_trained, (pickle.dumps(self._model, protocol=pickle.HIGHEST_PROTOCOL), self.meta)
        return _rebuild_trained, (self._pickled, self.meta)

    def __repr__(self) -> str:
        model = "not unpickled yet" if self._model is _NOT_YET else type(self._model).__name__
        return f"Trained(model={model}, estimator={self.meta.get('estimator')!r})"


def _rebuild_trained(model: bytes, meta: dict[str, Any]) -> Trained:
    return Trained.from_pickled(model, meta)


def model_meta(features: Any, model_section: dict[str, Any], flavor: str, fitted: Any) -> dict[str, Any]:
    """The bundle's metadata: flavor, task, model, feature lists, input schema, data fingerprint, classes."""
    classes = getattr(fitted, "classes_", None)
    return {
        "flavor": flavor,
        "task": model_section["task"],
        "model_type": model_section["type"],
        "estimator": model_section.get("estimator"),
        "target": features.target,
        "id_column": features.id_column,
        "numeric": features.numeric,
        "categorical": features.categorical,
        "input_schema": features.input_schema,
        "datetime": getattr(features, "datetime", []),
        "high_cardinality": getattr(features, "high_cardinality", []),
        # Columns of the training data that are no input (features.drop, ids, free text, constants): requests
        # and batch files may carry them, and they are ignored.
        "ignored_columns": getattr(features, "ignored", []),
        "column_roles": getattr(features, "roles", []),
        "data_fingerprint": features.fingerprint,
        "classes": [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None,
    }


def run(features: Any, split: Any, params: dict[str, Any], estimator_fit: dict[str, Any] | None = None) -> Trained:
    """Fit preprocessing + estimator on the train split; a SpecError when the estimator rejects the fit.
    `estimator_fit`: arguments for the estimator's fit (a stacking's members' out-of-fold predictions)."""
    from mlops.models.estimators import build_estimator, key_by_labels
    from mlops.models.preprocessing import build_pipeline
    from mlops.searched_scaling import pipeline_features

    model = params["model"]
    # The resolved date columns (listed or inferred), so the pipeline reads exactly those as dates; the scaling
    # a searched model chose.
    section = pipeline_features({**params["features"], "datetime": getattr(features, "datetime", None)
                                 or params["features"].get("datetime")}, model)
    torch = model["type"] == "torch"  # an auto search's torch winner, refitted in this task (on its GPU, if it holds one)
    pipeline = build_pipeline(section, features.numeric, features.categorical, _torch_mlp(model) if torch else build_estimator(model))
    try:
        key_by_labels(pipeline, split.y_train)
        pipeline.fit(split.X_train, split.y_train,
                     **{f"{pipeline.steps[-1][0]}__{name}": value for name, value in (estimator_fit or {}).items()})
    except ValueError as exc:
        # Estimators reject bad parameter values or unsuitable data only at fit time.
        raise SpecError(Problem("model", f"fitting {model.get('estimator', model['type'])} failed: {exc}")) from None
    if torch:
        fitted = pipeline.steps[-1][1]
        return Trained(pipeline, {**model_meta(features, model, "torch", pipeline), "architecture": fitted.model_["architecture"],
                                  "best_epoch": fitted.best_epoch_})
    return Trained(pipeline, model_meta(features, model, "sklearn", pipeline))


def _torch_mlp(model: dict[str, Any]) -> Any:
    from mlops.models.torch_mlp import TorchMLP

    return TorchMLP(model)
