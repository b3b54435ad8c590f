"""Explanation cost per model family: rows/s of `ModelExplainer.explain` (what `mlops explain` and the
endpoint's explain route run) against `predict` of the same pipeline on the same rows, measured in the same run.

    python benchmarks/explain.py [--rows 10000]

Data: 10 numeric columns and one categorical, a binary target. The permutation explainer's first call in
a process compiles SHAP's numba kernels: it is warmed up on a few rows before timing, as a served model is.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def data(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
    frame["city"] = rng.choice(["paris", "lyon", "nice", "lille"], size=rows)
    y = np.where(frame["x0"] + 0.5 * frame["x1"] - frame["x2"] * frame["x3"] + (frame["city"] == "paris") > 0, "yes", "no")
    return frame, y


def families() -> dict:
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from mlops.models.torch_mlp import TorchMLP

    return {"random_forest (tree)": RandomForestClassifier(100, max_depth=8, random_state=0, n_jobs=1),
            "hist_gradient_boosting (tree)": HistGradientBoostingClassifier(max_iter=100, random_state=0),
            "lightgbm (tree)": LGBMClassifier(n_estimators=100, verbose=-1),
            "logistic_regression (permutation)": LogisticRegression(max_iter=500),
            "torch MLP (permutation)": TorchMLP(model={"task": "classification", "type": "torch",
                                                       "training": {"epochs": 5}})}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    from mlops.explain.explainer import ModelExplainer
    from mlops.models.bundle import Bundle
    from mlops.models.preprocessing import build_pipeline

    train, y = data(5000)
    rows, _ = data(args.rows, seed=1)
    features = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot"}
    schema = [{"name": c, "type": "number"} for c in train.columns[:-1]] + [{"name": "city", "type": "string"}]
    print(f"{'family':36} {'predict rows/s':>15} {'explain rows/s':>15} {'ratio':>8}  rows explained")
    for name, estimator in families().items():
        pipe = build_pipeline(features, list(train.columns[:-1]), ["city"], estimator).fit(train, y)
        bundle = Bundle(pipe, {"task": "classification", "input_schema": schema})
        explainer = ModelExplainer(bundle, background=train)
        explainer.explain(rows.head(5))  # builds the explainer (and compiles numba's kernels once)
        limit = min(len(rows), explainer.row_limit())
        start = time.perf_counter()
        pipe.predict(rows)
        predict_rate = len(rows) / (time.perf_counter() - start)
        start = time.perf_counter()
        explainer.explain(rows.head(limit))
        explain_rate = limit / (time.perf_counter() - start)
        print(f"{name:36} {predict_rate:15,.0f} {explain_rate:15,.0f} {predict_rate / explain_rate:7.0f}x  {limit}")


if __name__ == "__main__":
    main()
