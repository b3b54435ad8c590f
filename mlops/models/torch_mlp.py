"""A torch MLP with the sklearn estimator API, and the "torch" model flavor that saves it in bundles.

For in-process training (Ray Tune trials tuning `training.lr` and friends), without Ray Train:

    fit_in_process(model_section: dict, X_train, y_train, X_val, y_val,
                   report: Callable[[int, dict[str, float]], None] | None = None) -> TorchMLP

    model_section: the spec's `model` for `type: torch` (a dump of TorchModelSpec; missing keys get
        the spec defaults). X_*: preprocessed numeric matrices; y_*: raw labels or values.
    report(epoch, metrics): called after every epoch with train_loss, val_loss, val_<metric>, ...
    Returns a fitted TorchMLP holding the weights of the best validation epoch (early stopping).

`TorchMLP(model=model_section).fit(X, y)` does the same on its own hold-out of
`training.validation_fraction`, so it can end a preprocessing Pipeline like any sklearn estimator.
Ray Train workers (mlops.stages.train_torch) run the same loop (mlops.models.torch_loop).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if

STATE_FORMAT = 1


def complete_section(model_section: dict[str, Any]) -> dict[str, Any]:
    """The model section with spec defaults filled in (and validated)."""
    from mlops.spec.model import TorchModelSpec

    return TorchModelSpec.model_validate({**model_section, "type": "torch"}).model_dump(mode="json")


def holdout(model: dict[str, Any], X: Any, y: Any) -> tuple[Any, Any, Any, Any]:
    """Split off training.validation_fraction of the rows (stratified when every class allows it)."""
    from sklearn.model_selection import train_test_split

    training = model["training"]
    y = np.asarray(y)
    stratify = None
    if model["task"] == "classification":
        _, counts = np.unique(y, return_counts=True)
        stratify = y if counts.min() >= 2 else None
    return train_test_split(X, y, test_size=training["validation_fraction"], random_state=training["seed"],
                            stratify=stratify)


class TorchMLP(BaseEstimator):
    """Tabular MLP: predict / predict_proba / classes_ like a sklearn classifier or regressor."""

    def __init__(self, model: dict[str, Any] | None = None):
        self.model = model

    def _is_classifier(self) -> bool:
        return (self.model or {}).get("task") == "classification"

    def fit(self, X: Any, y: Any) -> "TorchMLP":
        """Train in this process on (X, y), holding out the section's validation fraction, on the device this
        process holds (mlops.models.device); returns self, its net on the CPU."""
        from mlops.models.device import held_device

        model = complete_section(self.model)
        X_tr, X_val, y_tr, y_val = holdout(model, np.asarray(X, dtype=np.float32), y)
        fitted = fit_in_process(model, X_tr, y_tr, X_val, y_val, device=held_device())
        return self.set_fitted(fitted.net_, fitted.targets_, fitted.history_, fitted.best_epoch_)

    def set_fitted(self, net: Any, targets: Any, history: list[dict[str, float]], best_epoch: int) -> "TorchMLP":
        """Attach trained weights (from this process or from Ray Train workers), on the CPU."""
        self.model_ = complete_section(self.model)
        self.net_ = net.cpu().eval()
        self.device_ = "cpu"
        self.targets_ = targets
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_features_in_ = net[0].in_features
        if targets.task == "classification":
            self.classes_ = np.asarray(targets.classes)
        return self

    def to_device(self, device: Any) -> "TorchMLP":
        """Predict on `device` from now on ('cpu', 'cuda', 'cuda:1'): the weights move there once; each batch's
        preprocessed rows are copied there per forward pass and the outputs back."""
        self.net_ = self.net_.to(device)
        self.device_ = str(device)
        return self

    def __getstate__(self) -> dict[str, Any]:
        """Pickled on the CPU: a CUDA tensor in a pickle needs a GPU wherever it is unpickled."""
        state = dict(self.__dict__)
        if state.get("device_", "cpu") != "cpu":
            import copy

            state["net_"], state["device_"] = copy.deepcopy(self.net_).cpu(), "cpu"
        return state

    def _outputs(self, X: Any) -> np.ndarray:
        from mlops.models.torch_loop import outputs

        return outputs(self.net_, np.asarray(X, dtype=np.float32), getattr(self, "device_", "cpu"))

    @available_if(_is_classifier)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities for `X`, columns in the order of classes_ (classifiers only)."""
        from mlops.models.torch_loop import proba_from

        return proba_from(self._outputs(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class, or the regression value in the target's original scale."""
        out = self._outputs(X)
        if self.targets_.task == "classification":
            from mlops.models.scores import labels_from_proba
            from mlops.models.torch_loop import proba_from

            return labels_from_proba(self.classes_, proba_from(out))  # as every route labels rows from predict_proba
        return out[:, 0] * self.targets_.y_std + self.targets_.y_mean

    def score(self, X: Any, y: Any) -> float:
        """Accuracy or R^2, as sklearn classifiers and regressors score (used by permutation importance)."""
        from sklearn.metrics import accuracy_score, r2_score

        y_pred = self.predict(X)
        return float(accuracy_score(y, y_pred) if self._is_classifier() else r2_score(y, y_pred))

    def state(self) -> dict[str, Any]:
        """Weights plus everything needed to rebuild the net: plain types only (torch.load weights_only)."""
        t = self.targets_
        return {"format": STATE_FORMAT, "state_dict": {k: v.cpu() for k, v in self.net_.state_dict().items()},
                "config": {"n_inputs": int(self.n_features_in_), "architecture": self.model_["architecture"],
                           "task": t.task, "classes": t.classes, "y_mean": t.y_mean, "y_std": t.y_std,
                           "best_epoch": int(self.best_epoch_), "model": self.model_}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "TorchMLP":
        """The fitted model that `state()` describes, rebuilt on the CPU."""
        from mlops.models.torch_loop import Targets, build_net

        assert state.get("format") == STATE_FORMAT, f"unknown torch model format {state.get('format')}"
        config = state["config"]
        targets = Targets(config["task"], config["classes"], config["y_mean"], config["y_std"])
        net = build_net(config["n_inputs"], targets.n_outputs, config["architecture"])
        net.load_state_dict(state["state_dict"])
        return cls(config["model"]).set_fitted(net, targets, [], config["best_epoch"])


def fit_in_process(model_section: dict[str, Any], X_train: Any, y_train: Any, X_val: Any, y_val: Any,
                   report: Callable[[int, dict[str, float]], None] | None = None, device: Any = "cpu") -> TorchMLP:
    """Train in this process with the Ray Train workers' loop, on `device`; report(epoch, metrics) after each
    epoch. The fitted model's net is on the CPU (TorchMLP.to_device moves it)."""
    import torch

    from mlops.models import torch_loop as loop

    model = complete_section(model_section)
    training = model["training"]
    targets = loop.Targets.fit(model["task"], y_train)
    X_val, y_val = targets.known(X_val, y_val)
    X = np.asarray(X_train, dtype=np.float32)
    torch.manual_seed(training["seed"])
    net = loop.build_net(X.shape[1], targets.n_outputs, model["architecture"]).to(device)
    optimizer = loop.make_optimizer(net, training)
    train = (torch.as_tensor(X, device=device), torch.as_tensor(targets.encode(y_train), device=device))
    val = (np.asarray(X_val, dtype=np.float32), targets.encode(y_val))
    on_epoch = (lambda state, metrics, best: report(int(metrics["epoch"]), metrics)) if report else None
    state, best = loop.run_loop(net, optimizer, train, val, model, targets, loop.LoopState(), on_epoch=on_epoch)
    net.load_state_dict(best)
    return TorchMLP(model).set_fitted(net, targets, state.history, state.best_epoch)


class TorchFlavor:
    """Bundle files: preprocessing.skops (the fitted sklearn steps, skops' format) + model.pt (state_dict +
    architecture). Neither runs pickled code on load; format-1 bundles may have preprocessing.pkl instead
    (mlops.models.legacy_pickle decides whether it loads)."""

    preprocessing_file = "preprocessing.skops"
    legacy_preprocessing_file = "preprocessing.pkl"
    weights_file = "model.pt"

    @staticmethod
    def save(pipeline: Any, directory: Path) -> None:
        """Write the pipeline's preprocessing steps (skops) and its TorchMLP's state (torch.save)."""
        import torch
        from sklearn.pipeline import Pipeline

        from mlops.models import safe_format

        *steps, (_, estimator) = pipeline.steps
        assert isinstance(estimator, TorchMLP), f"torch flavor needs a TorchMLP last step, got {type(estimator)}"
        safe_format.save(Pipeline(steps), Path(directory) / TorchFlavor.preprocessing_file)
        torch.save(estimator.state(), Path(directory) / TorchFlavor.weights_file)

    @staticmethod
    def load(directory: Path, meta: dict[str, Any]) -> Any:
        """The pipeline again: its preprocessing steps followed by the TorchMLP rebuilt from model.pt."""
        import torch
        from sklearn.pipeline import Pipeline

        from mlops.models import legacy_pickle, safe_format

        if (Path(directory) / TorchFlavor.preprocessing_file).is_file():
            preprocessing = safe_format.load(Path(directory) / TorchFlavor.preprocessing_file)
        else:
            preprocessing = legacy_pickle.load(Path(directory) / TorchFlavor.legacy_preprocessing_file, meta,
                                               TorchFlavor.preprocessing_file)
        # weights_only: the weights file holds tensors and plain data only, never pickled code.
        state = torch.load(Path(directory) / TorchFlavor.weights_file, weights_only=True, map_location="cpu")
        return Pipeline([*preprocessing.steps, ("model", TorchMLP.from_state(state))])
