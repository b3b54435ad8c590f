"""The trust list is exactly what the files mlops writes name: every registered estimator family (plugins
included), both tasks, numeric + categorical preprocessing, the torch flavor's preprocessing file. A new
family or option that needs a type not listed fails here, not at a user's first load."""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from mlops.models import safe_format
from mlops.models.ensembles import EnsembleFactory
from mlops.models.estimators import build_estimator
from mlops.models.preprocessing import build_pipeline
from mlops.plugins import estimators

FEATURES = [{"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
             "encode": "onehot", "derived": {"ratio": "size / (age + 1)"}},
            {"impute": {"numeric": "mean", "categorical": "constant"}, "scale": "minmax",
             "encode": "ordinal", "derived": None},
            # high_cardinality.encoding: target (plan's 3 values are above the threshold: TargetEncoder, cross-fitted)
            {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
             "encode": "onehot", "derived": None, "high_cardinality": {"threshold": 2, "encoding": "target"}}]
# The ensembles (stacking, voting) are saved over members of two kinds: a tree family and a linear one.
ENSEMBLE_MEMBERS = [{"estimator": "random_forest", "params": {"n_estimators": 5}}, {"estimator": "knn", "params": {}}]
# Structural parameters that change which objects a fitted estimator holds.
PARAMS = [("knn", {"algorithm": "ball_tree", "metric": "manhattan"}), ("knn", {"algorithm": "kd_tree", "metric": "chebyshev"}),
          ("knn", {"algorithm": "ball_tree", "metric": "minkowski", "p": 3}), ("mlp", {"solver": "sgd"})]


def _rows(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"size": rng.normal(10, 3, n), "age": rng.integers(1, 40, n),
                          "plan": rng.choice(["basic", "plus", "pro"], n)})
    frame.loc[::7, "size"] = np.nan
    frame.loc[::9, "plan"] = None
    return frame


def _reported(tmp_path, name: str, task: str, params: dict, features: dict) -> set[str]:
    X = _rows()
    y = np.where(X["age"] > 20, "old", "young") if task == "classification" else X["age"] * 2.0
    numeric = ["size", "age"] + (["ratio"] if features["derived"] else [])
    estimator = build_estimator({"estimator": name, "task": task, "params": params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of tiny fits
        pipe = build_pipeline(features, numeric, ["plan"], estimator).fit(X, y)
    sio.dump(pipe, tmp_path / "pipeline.skops")
    return set(sio.get_untrusted_types(file=tmp_path / "pipeline.skops"))


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> dict[str, set[str]]:
    """What each saved family names: {"random_forest/classification": {...}, ...}."""
    tmp = tmp_path_factory.mktemp("families")
    found = {}
    for entry in estimators:
        if not getattr(entry.target, "installed", True):
            continue  # a family of an extra that is not installed here (lightgbm, xgboost: mlops[boosting])
        if entry.meta.get("model_type", "sklearn") != "sklearn":
            continue  # a model type of its own, saved in its own flavor (torch: weights_only tensors, never skops)
        for task in entry.target.tasks:
            params = {"members": ENSEMBLE_MEMBERS} if isinstance(entry.target, EnsembleFactory) else {}
            for i, features in enumerate(FEATURES):
                found[f"{entry.name}/{task}/features{i}"] = _reported(tmp, entry.name, task, params, features)
    for name, params in PARAMS:
        for task in estimators.get(name).target.tasks:
            found[f"{name}/{task}/{params}"] = _reported(tmp, name, task, params, FEATURES[0])
    return found


def test_every_family_names_only_listed_types(reported):
    trusted = safe_format.TRUSTED_TYPES | safe_format.plugin_trusted_types()
    missing = {case: sorted(names - trusted) for case, names in reported.items() if names - trusted}
    assert not missing, f"add these (after review) to safe_format.TRUSTED_TYPES or the plugin's trusted_types: {missing}"


def test_the_list_holds_nothing_no_family_needs(reported):
    builtin = {case: names for case, names in reported.items() if estimators.get(case.split("/")[0]).origin == "builtin"}
    # the boosting families (mlops[boosting]) declare their own names, like plugins, when installed
    declared = {name for entry in estimators if entry.origin == "builtin" and getattr(entry.target, "installed", True)
                for name in entry.meta.get("trusted_types", ())}
    assert set().union(*builtin.values()) == safe_format.TRUSTED_TYPES | declared


def test_the_torch_flavors_preprocessing_file_names_only_listed_types(tmp_path):
    pytest.importorskip("torch")
    from mlops.models.torch_mlp import TorchFlavor, TorchMLP

    X = _rows().drop(columns="plan")
    section = {"task": "classification", "training": {"epochs": 2, "batch_size": 16}}
    features = {**FEATURES[0], "derived": {"ratio": "size / (age + 1)"}}
    pipe = build_pipeline(features, ["size", "age", "ratio"], [], TorchMLP(section)).fit(X, X["age"] > 20)
    TorchFlavor.save(pipe, tmp_path)
    names = set(sio.get_untrusted_types(file=tmp_path / TorchFlavor.preprocessing_file))
    assert names and names <= safe_format.TRUSTED_TYPES


def test_every_trusted_name_is_a_class_never_a_function():
    # A reduce node calls what the file names with arguments from the file: a listed function would run
    # with an attacker's arguments, a listed class only builds an instance.
    for name in safe_format.TRUSTED_TYPES | safe_format.plugin_trusted_types():
        module, _, attribute = name.rpartition(".")
        try:
            found = getattr(importlib.import_module(module), attribute)
        except ImportError:  # a plugin's library that is not installed here
            continue
        assert isinstance(found, type), f"{name} is not a class"
