"""Drift and outlier detection on synthetic mixed data: false alarms, shifts found by name, reports, persistence."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops.detectors.drift import DriftReference, detect_drift, encode
from mlops.detectors.outliers import OutlierDetector, fit_outlier_detector

NUMERIC = [f"x{i}" for i in range(5)]
COLORS, COLOR_P = ["red", "green", "blue"], [0.5, 0.3, 0.2]
SIZES = ["S", "M", "L", "XL"]


def sample(n: int, seed: int, shift: dict[str, float] | None = None, color_p: list[float] = COLOR_P) -> pd.DataFrame:
    """Five standard normal columns and two categorical ones; `shift` moves numeric means."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(size=n) + (shift or {}).get(c, 0.0) for c in NUMERIC})
    frame["color"] = rng.choice(COLORS, size=n, p=color_p)
    frame["size"] = rng.choice(SIZES, size=n)
    return frame


@pytest.fixture(scope="module")
def reference() -> DriftReference:
    return DriftReference.from_frame(sample(20_000, seed=0), reference_rows=5000, seed=0)


def test_reference_infers_kinds_samples_and_round_trips(reference, tmp_path):
    assert reference.numeric == NUMERIC and reference.categorical == ["color", "size"]
    assert len(reference.frame) == 5000
    loaded = DriftReference.from_dir(reference.to_dir(tmp_path / "ref"))
    assert not list(tmp_path.glob("ref/*.pkl"))
    pd.testing.assert_frame_equal(loaded.frame, reference.frame)
    assert (loaded.numeric, loaded.categorical) == (reference.numeric, reference.categorical)


def test_encode_imputes_median_and_codes_missing_and_unseen(reference):
    frame = pd.DataFrame({**{c: [np.nan, 1.0, 2.0] for c in NUMERIC}, "color": ["red", None, "purple"],
                          "size": ["S", "M", "L"]})
    X = encode(reference, frame)
    k = len(COLORS)
    assert X[0, 0] == pytest.approx(np.median(reference.frame["x0"]))
    assert list(X[:, 5]) == [reference.categories["color"].index("red"), k, k + 1]  # missing -> k, unseen -> k + 1


def test_no_drift_false_alarm_rate_is_near_p_val(reference):
    trials = 40
    alarms = {c: sum(detect_drift(reference, sample(2000, seed=100 + t), "tabular", 0.05, c).is_drift
                     for t in range(trials)) / trials for c in ("bonferroni", "fdr")}
    print(f"\nfalse-alarm rate over {trials} same-distribution samples at p_val=0.05: {alarms}")
    assert alarms["bonferroni"] <= 0.15 and alarms["fdr"] <= 0.15


def test_shifted_numeric_feature_is_named(reference):
    report = detect_drift(reference, sample(2000, seed=1, shift={"x3": 0.3}))
    assert report.is_drift and report.drifted_features == ["x3"]
    assert report.features[0]["name"] == "x3" and report.features[0]["kind"] == "numeric"
    assert report.drift_share == pytest.approx(1 / 7)
    assert report.threshold == pytest.approx(0.05 / 7)  # bonferroni over 7 features


def test_changed_category_frequencies_are_named(reference):
    report = detect_drift(reference, sample(2000, seed=2, color_p=[0.35, 0.35, 0.3]))
    assert report.is_drift and report.drifted_features == ["color"]
    assert report.features[0]["kind"] == "categorical"


@pytest.mark.parametrize("detector, shift, expected", [
    ("ks", {"shift": {"x1": 0.4}}, ["x1"]),
    ("chi2", {"color_p": [0.3, 0.3, 0.4]}, ["color"]),
    ("tabular", {"shift": {"x1": 0.4}}, ["x1"]),
    ("mmd", {"shift": {"x1": 0.5}}, ["x1"]),
])
def test_each_detector_separates_drift_from_no_drift(reference, detector, shift, expected):
    calm = detect_drift(reference, sample(2000, seed=3), detector)
    moved = detect_drift(reference, sample(2000, seed=4, **shift), detector)
    assert not calm.is_drift and moved.is_drift
    assert moved.drifted_features == expected
    kinds = {f["kind"] for f in calm.features}
    assert kinds == {"ks": {"numeric"}, "chi2": {"categorical"}}.get(detector, {"numeric", "categorical"})
    if detector == "mmd":
        assert moved.batch_p_value < 0.05 and moved.distance > calm.distance


def test_mmd_verdict_is_reproducible(reference):
    frame = sample(3000, seed=5, shift={"x0": 0.1})
    first, again = (detect_drift(reference, frame, "mmd", seed=1).to_dict() for _ in range(2))
    assert first == again


def test_detector_without_features_of_its_kind_is_a_clear_error():
    numeric_only = DriftReference.from_frame(sample(500, seed=0)[NUMERIC])
    with pytest.raises(ValueError, match="'chi2' tests categorical features"):
        detect_drift(numeric_only, sample(100, seed=1), "chi2")
    with pytest.raises(ValueError, match="lacks column"):
        detect_drift(numeric_only, sample(100, seed=1).drop(columns="x2"), "ks")


def test_html_report_and_dict(reference):
    frame = sample(3000, seed=6, shift={"x2": 0.5})
    frame.loc[:20, "size"] = "XXL"
    report = detect_drift(reference, frame, "tabular", correction="fdr")
    from mlops.detectors.drift_report import render_html

    page = render_html(report, reference, frame)
    assert "Drift detected" in page and "<td>x2</td>" in page
    assert page.count("<img") == 7 and "data:image/png;base64," in page
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["is_drift"] is True and payload["features"][0]["name"] == "x2"
    assert all(type(f["p_value"]) is float for f in payload["features"])


@pytest.mark.parametrize("detector", ["iforest", "mahalanobis"])
def test_outliers_flag_extreme_rows_and_about_the_tail_of_normal_ones(reference, detector, tmp_path):
    od = fit_outlier_detector(reference, detector, threshold_percentile=98, seed=3)
    normal = sample(5000, seed=7)
    scores, flagged = od.score(normal)
    assert 0.005 <= flagged.mean() <= 0.04  # about 100 - 98 = 2%
    extreme = sample(50, seed=8)
    signs = np.random.default_rng(9).choice([-1.0, 1.0], size=(50, len(NUMERIC)))
    extreme[NUMERIC] = 20.0 * signs  # 20 sigma from the mean in every numeric column
    assert od.score(extreme)[1].all()
    loaded = OutlierDetector.load(od.save(tmp_path / "od"))
    np.testing.assert_array_equal(loaded.score(normal)[0], scores)
    assert loaded.threshold == od.threshold


def test_the_isolation_forest_scores_as_alibi_detects_iforest_does(reference):
    """mlops fits scikit-learn's forest itself (alibi-detect's package import costs seconds); its scores and
    threshold are what alibi-detect's IForest, given the same seed, computes, to the last bit."""
    pytest.importorskip("alibi_detect")
    from alibi_detect.od import IForest

    from mlops.detectors.outliers import _features

    od = fit_outlier_detector(reference, "iforest", threshold_percentile=97, seed=5)
    theirs = IForest(threshold=np.inf, n_estimators=100)
    theirs.isolationforest.set_params(random_state=5)
    X = _features("iforest", reference, reference.matrix)
    theirs.fit(X)
    theirs.infer_threshold(X, threshold_perc=97)
    new = sample(3000, seed=11, shift={"x1": 1.5})
    np.testing.assert_array_equal(od.score(new)[0], theirs.score(_features("iforest", reference, encode(reference, new))))
    assert od.threshold == theirs.threshold


def test_fitting_scoring_and_loading_an_isolation_forest_import_neither_alibi_detect_nor_torch(reference, tmp_path):
    import subprocess
    import sys

    saved = fit_outlier_detector(reference, "iforest", seed=1).save(tmp_path / "od")
    script = ("import sys\nfrom mlops.detectors.drift import DriftReference\n"
              "from mlops.detectors.outliers import OutlierDetector, fit_outlier_detector\n"
              f"od = OutlierDetector.load({str(saved)!r})\n"
              "fit_outlier_detector(od.reference, 'iforest').score(od.reference.frame)\n"
              "print(sorted(m for m in ('alibi_detect', 'torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_mahalanobis_flags_an_extreme_value_in_one_column(reference):
    # Isolation forests cannot: a value past the reference range isolates no faster than the most
    # extreme reference row did, so only a distance-based detector reliably flags it.
    od = fit_outlier_detector(reference, "mahalanobis", threshold_percentile=99)
    extreme = sample(50, seed=10)
    extreme["x4"] = 20.0
    assert od.score(extreme)[1].all()


def test_numbers_written_as_text_are_tested_as_numbers():
    """A price column exported as '$1,234.50' is numeric to the model, so to the drift check too: a shift in
    the amounts is found by name, the same distribution is quiet (read as missing, both would look alike)."""
    def priced(n: int, seed: int, mean: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return pd.DataFrame({"price": [f"${v:,.2f}" for v in rng.normal(mean, 1_000, n)], "x0": rng.normal(size=n)})

    reference = DriftReference.from_frame(priced(5000, 0, 20_000), numeric=["price", "x0"], categorical=[])
    assert not detect_drift(reference, priced(2000, 1, 20_000), "ks").is_drift
    shifted = detect_drift(reference, priced(2000, 2, 20_300), "ks")
    assert shifted.is_drift and shifted.drifted_features == ["price"]
