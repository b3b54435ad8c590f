"""A small mixed-type frame and its featurization, shared by the featurize and fast-path tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.stages import featurize
from mlops.stages.load import Loaded, frame_fingerprint

FEATURES = {"numeric": None, "categorical": None, "drop": [], "derived": {"ratio": "x / (n + 1)"},
            "impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard", "encode": "onehot"}


def frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "user": [f"u{i}" for i in range(rows)],              # identifier-like: never a category
        "x": rng.normal(size=rows),
        "n": rng.integers(0, 5, rows),
        "city": rng.choice(["paris", "rome", None], rows),
        "vip": rng.choice([True, False], rows),
        "seen": pd.date_range("2024-01-01", periods=rows, freq="h"),  # a date: inferred, becomes numeric parts
        "y": rng.choice(["a", "b"], rows),
    })


def run(data: pd.DataFrame, **features) -> featurize.FeatureSet:
    params = {"data": {"target": "y", "id_column": None, "timestamp": None}, "features": {**FEATURES, **features},
              "task": "classification"}
    return featurize.run(Loaded(data, frame_fingerprint(data)), params)
