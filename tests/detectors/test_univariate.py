"""The fast per-feature tests give alibi-detect's answers bit for bit: statistics, p-values (float32, as
alibi keeps them), thresholds and verdicts, on ties, shifts, constant columns and unseen categories."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.detectors.drift import DriftReference, detect_drift, quiet_alibi_detect
from mlops.detectors.univariate import batch_verdict, chi2_test, feature_scores, ks_statistic, ks_test


def _alibi(ref: np.ndarray, new: np.ndarray, categorical: set[int], p_val: float, correction: str) -> dict:
    quiet_alibi_detect()
    from alibi_detect.cd import TabularDrift

    cd = TabularDrift(ref, p_val=p_val, correction=correction, categories_per_feature={c: None for c in categorical})
    return cd.predict(new, drift_type="batch", return_p_val=True, return_distance=True)["data"]


def _columns(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    """Continuous, heavily tied (integer), constant and categorical-code columns."""
    return np.column_stack([
        rng.normal(size=n) + shift,
        rng.integers(0, 6, size=n).astype(float) + (shift > 0),  # ties within and across samples
        np.full(n, 2.0),  # constant: every point tied
        rng.exponential(size=n) * (1 + shift),
        rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1]).astype(float),  # categorical codes
        rng.choice(6, size=n).astype(float) if shift else rng.choice(4, size=n).astype(float),  # unseen codes
    ])


@pytest.mark.parametrize("n_new,shift,correction", [(800, 0.0, "bonferroni"), (3000, 0.3, "bonferroni"),
                                                    (1, 0.0, "fdr"), (2500, 0.0, "fdr"), (4000, 0.25, "fdr")])
def test_scores_and_verdicts_equal_alibi_detect(n_new, shift, correction):
    rng = np.random.default_rng(n_new)
    ref, new = _columns(rng, 1000, 0.0), _columns(rng, n_new, shift)
    categorical = {4, 5}
    expected = _alibi(ref, new, categorical, 0.05, correction)
    p_values, statistics = feature_scores(ref, lambda c: new[:, c], range(ref.shape[1]), categorical)
    assert p_values.dtype == expected["p_val"].dtype == np.float32
    np.testing.assert_array_equal(p_values, expected["p_val"])
    np.testing.assert_array_equal(statistics, expected["distance"])
    is_drift, threshold = batch_verdict(p_values, 0.05, correction)
    assert is_drift == expected["is_drift"]
    np.testing.assert_array_equal(threshold, expected["threshold"])


def test_ks_statistic_equals_scipy_on_interleaved_ties():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    for _ in range(200):
        ref, new = rng.integers(0, 8, size=rng.integers(1, 40)), rng.integers(0, 8, size=rng.integers(1, 60))
        ref, new = ref.astype(float), new.astype(float)
        assert ks_statistic(np.sort(ref), np.sort(new)) == ks_2samp(ref, new, method="asymp").statistic
        assert ks_test(ref, new) == pytest.approx(tuple(ks_2samp(ref, new, method="asymp")[:2]), rel=0, abs=0)


def test_values_that_are_not_codes_are_counted_one_by_one():
    ref, new = np.array([0.5, 1.5, 1.5, 2.5]), np.array([0.5, 0.5, 3.5, 1.5])
    from scipy.stats import chi2_contingency

    values = list(set().union(list(np.unique(ref)), list(np.unique(new))))
    table = np.vstack(([(ref == v).sum() for v in values], [(new == v).sum() for v in values]))
    assert chi2_test(ref, new) == tuple(float(x) for x in chi2_contingency(table)[:2])


@pytest.mark.parametrize("detector", ["tabular", "ks", "chi2"])
def test_detect_drift_on_a_frame_with_missing_and_unseen_values(detector):
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.integers(0, 4, 3000).astype(float),
                          "c": rng.choice(["x", "y", "z"], 3000)})
    reference = DriftReference.from_frame(train, reference_rows=1000)
    new = pd.DataFrame({"a": np.r_[rng.normal(0.2, size=1999), np.nan], "b": rng.integers(0, 5, 2000).astype(float),
                        "c": rng.choice(["x", "y", "w", None], 2000)})
    report = detect_drift(reference, new, detector)
    from mlops.detectors.drift import encode

    ref, enc = reference.matrix, encode(reference, new)
    cols = {"ks": [0, 1], "chi2": [2]}.get(detector, [0, 1, 2])
    expected = _alibi(ref[:, cols], enc[:, cols], {i for i, c in enumerate(cols) if c == 2}, 0.05, "bonferroni")
    by_name = {f["name"]: f for f in report.features}
    for i, c in enumerate(cols):
        assert by_name[reference.columns[c]]["p_value"] == float(expected["p_val"][i])
        assert by_name[reference.columns[c]]["statistic"] == float(expected["distance"][i])
    assert report.is_drift == bool(expected["is_drift"])
