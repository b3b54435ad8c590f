"""The drift reference and check pinned exactly (issue 28, mutation score): column kinds inferred, sampling,
category selection at the MAX_TESTED_CATEGORIES / MIN_TESTED_SHARE boundaries, labels, the files written,
encodings, the dense matrix, each refusal's message, defaults, which test runs on which column, the
report's order and dict, and what the MMD check hands alibi-detect (a recording stand-in, no torch test)."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest

from mlops.detectors import drift
from mlops.detectors.drift import DriftReference, DriftReport, dense, detect_drift, encode
from mlops.detectors.univariate import chi2_test, ks_test


def mixed(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                         "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
                         "size": rng.choice(["S", "M"], n)})


# ------------------------------------------------------------------------------------------- reference

def test_kinds_are_inferred_from_dtypes_and_given_kinds_are_kept():
    frame = pd.DataFrame({"n": [1.0, 2.0], "i": [1, 2], "s": ["x", "y"], "flag": [True, False],
                          "when": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                          "took": pd.to_timedelta([1, 2], unit="s")})
    ref = DriftReference.from_frame(frame)
    assert (ref.numeric, ref.categorical) == (["n", "i"], ["s", "flag"])  # booleans are categories; times neither
    assert list(ref.frame.columns) == ["n", "i", "s", "flag"] and ref.columns == ["n", "i", "s", "flag"]
    only_numeric = DriftReference.from_frame(frame, numeric=["i"])
    assert (only_numeric.numeric, only_numeric.categorical) == (["i"], [])
    only_categorical = DriftReference.from_frame(frame, categorical=["s"])
    assert (only_categorical.numeric, only_categorical.categorical) == ([], ["s"])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['zz'\]"):
        DriftReference.from_frame(frame, numeric=["zz"])


def test_sampling_keeps_a_frame_of_exactly_reference_rows_whole_and_in_order():
    frame = pd.DataFrame({"a": np.arange(10.0)}, index=np.arange(100, 110))
    ref = DriftReference.from_frame(frame, reference_rows=10)
    assert ref.frame["a"].tolist() == list(np.arange(10.0)) and list(ref.frame.index) == list(range(10))
    assert list(ref.frame.columns) == ["a"]
    sampled = DriftReference.from_frame(frame, reference_rows=9)
    assert len(sampled.frame) == 9 and list(sampled.frame.index) == list(range(9))
    assert sampled.frame["a"].tolist() == frame.sample(n=9, random_state=0)["a"].tolist()  # the default seed is 0


def test_the_default_sample_is_5000_rows():
    frame = pd.DataFrame({"a": np.arange(5001.0)})
    assert len(DriftReference.from_frame(frame).frame) == 5000
    assert len(DriftReference.from_frame(frame.iloc[:5000]).frame) == 5000


def test_categories_most_frequent_first_without_missing_or_unused_values():
    column = pd.Categorical(["b", "b", "a", None, "b", "c"], categories=["a", "b", "c", "unused"])
    ref = DriftReference.from_frame(pd.DataFrame({"k": column}), categorical=["k"])
    assert ref.categories == {"k": ["b", "a", "c"]}  # 'c' seen once is kept; 'unused' is not
    assert ref.grouped == set()  # a missing value is no extra category
    assert ref.labels("k") == ["b", "a", "c", "(missing)", "(unseen)"]


def _many(counts: list[int]) -> pd.Series:
    return pd.Series([f"v{i:02d}" for i, c in enumerate(counts) for _ in range(c)])


def test_exactly_max_tested_categories_are_all_kept():
    assert drift.MAX_TESTED_CATEGORIES == 20
    ref = DriftReference.from_frame(pd.DataFrame({"k": _many([10] * 19 + [1])}), categorical=["k"])
    assert len(ref.categories["k"]) == 20 and ref.grouped == set() and ref.labels("k")[-1] == "(unseen)"
    assert ref.categories["k"][-1] == "v19"  # kept though under 1%: the column is not grouped


def test_one_more_category_is_tested_on_the_frequent_ones_plus_other():
    ref = DriftReference.from_frame(pd.DataFrame({"k": _many([6] + [5] * 20)}), categorical=["k"])
    assert ref.categories["k"] == ["v00"] + [f"v{i:02d}" for i in range(1, 20)]  # the 20 most frequent
    assert ref.grouped == {"k"} and ref.labels("k")[-2:] == ["(missing)", "(other)"]


def test_a_grouped_column_keeps_values_of_at_least_one_percent():
    # 200 rows: 5 values of 35 rows, one of exactly 2 rows (1%), 23 of one row (0.5%)
    ref = DriftReference.from_frame(pd.DataFrame({"k": _many([35] * 5 + [2] + [1] * 23)}), categorical=["k"])
    assert ref.categories["k"] == ["v00", "v01", "v02", "v03", "v04", "v05"]
    assert ref.grouped == {"k"}
    codes = encode(ref, pd.DataFrame({"k": ["v05", "v06", None, "new"]}))[:, 0]
    assert codes.tolist() == [5, 7, 6, 7]  # a rare value and an unseen one share the "(other)" code


def test_encode_codes_and_median_imputation_exactly():
    train = pd.DataFrame({"a": [1.0, 2.0, 10.0, np.nan], "gone": [np.nan] * 4, "c": ["x", "y", "x", "x"]})
    ref = DriftReference(train, ["a", "gone"], ["c"])
    assert ref.medians.tolist() == [2.0, 0.0]  # an all-missing column imputes 0
    new = pd.DataFrame({"a": [np.nan, 5.0, "7", "oops"], "gone": [1.0, np.nan, 2.0, 3.0], "c": ["x", "y", None, "z"]})
    assert encode(ref, new).tolist() == [[2.0, 1.0, 0.0], [5.0, 0.0, 1.0], [7.0, 2.0, 2.0], [2.0, 3.0, 3.0]]
    assert drift.category_codes(pd.Series(["y", "x", None, "q"]), ["x", "y"]).tolist() == [1, 0, 2, 3]


def test_numeric_matrix_and_values_read_strings_as_numbers_or_missing():
    frame = pd.DataFrame({"a": [1, 2, 3], "s": ["1.5", "x", None]})
    assert drift.numeric_matrix(frame, []).shape == (3, 0)
    np.testing.assert_array_equal(drift.numeric_matrix(frame, ["a", "s"]), [[1.0, 1.5], [2.0, np.nan], [3.0, np.nan]])
    np.testing.assert_array_equal(drift.numeric_values(frame["s"]), [1.5, np.nan, np.nan])
    np.testing.assert_array_equal(drift.numeric_values(frame["a"]), [1.0, 2.0, 3.0])


def test_dense_standardizes_numbers_and_one_hot_encodes_categories_without_code_0():
    train = pd.DataFrame({"a": [1.0, 1.5, 2.0, 3.5], "c": [4.0, 4.0, 4.0, 4.0], "k": ["x", "x", "y", "x"]})
    ref = DriftReference(train, ["a", "c"], ["k"])
    out = dense(ref, encode(ref, pd.DataFrame({"a": [3.0, 0.0], "c": [6.0, 4.0], "k": ["y", None]})))
    std = np.std([1.0, 1.5, 2.0, 3.5])  # below 1: divided by all the same
    assert 0 < std < 1
    expected = [[(3.0 - 2.0) / std, 2.0, 1.0, 0.0, 0.0],  # a constant column is only centred; codes y, missing, unseen
                [(0.0 - 2.0) / std, 0.0, 0.0, 1.0, 0.0]]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.array(expected, dtype=np.float32), rtol=1e-6)


def test_to_dir_writes_exactly_two_files_and_reads_them_back(tmp_path):
    ref = DriftReference(pd.DataFrame({"a": [1.0, 2.0], "k": ["x", "y"]}, index=[7, 9]), ["a"], ["k"])
    where = ref.to_dir(tmp_path / "deep" / "ref")
    assert where == tmp_path / "deep" / "ref" and ref.to_dir(where) == where  # parents made; again is fine
    assert sorted(p.name for p in where.iterdir()) == ["reference.json", "reference.parquet"]
    assert (where / "reference.json").read_text() == json.dumps({"format": 1, "numeric": ["a"], "categorical": ["k"]},
                                                                indent=1)
    import pyarrow.parquet as pq

    assert pq.read_schema(where / "reference.parquet").names == ["a", "k"]  # no index column
    loaded = DriftReference.from_dir(where)
    assert (loaded.numeric, loaded.categorical) == (["a"], ["k"])
    pd.testing.assert_frame_equal(loaded.frame, ref.frame.reset_index(drop=True))


# ------------------------------------------------------------------------------------------ detect_drift

@pytest.fixture(scope="module")
def small() -> DriftReference:
    return DriftReference.from_frame(mixed(300, seed=0))


def test_defaults_are_tabular_at_five_percent_with_bonferroni(small):
    report = detect_drift(small, mixed(50, seed=1))
    assert (report.detector, report.p_val, report.correction) == ("tabular", 0.05, "bonferroni")
    assert (report.n_reference, report.n_new) == (300, 50)
    assert report.threshold == report.feature_threshold == 0.05 / 4
    assert report.distance is None and report.batch_p_value is None and report.notes == []


def test_refusals_name_what_is_wrong(small):
    frame = mixed(5, seed=1)
    with pytest.raises(ValueError, match=r"^unknown drift detector 'x'; expected one of \['ks', 'chi2', 'tabular', 'mmd'\]$"):
        detect_drift(small, frame, "x")
    with pytest.raises(ValueError, match=r"^unknown correction 'holm'; expected 'bonferroni' or 'fdr'$"):
        detect_drift(small, frame, correction="holm")
    with pytest.raises(ValueError, match="^cannot test an empty frame for drift$"):
        detect_drift(small, frame.iloc[:0])
    categorical_only = DriftReference.from_frame(mixed(30)[["color"]])
    with pytest.raises(ValueError, match="^detector 'ks' tests numeric features and the reference has none; "
                                         "use 'chi2' or 'tabular'$"):
        detect_drift(categorical_only, frame, "ks")
    numeric_only = DriftReference.from_frame(mixed(30)[["a"]])
    with pytest.raises(ValueError, match="^detector 'chi2' tests categorical features and the reference has none; "
                                         "use 'ks' or 'tabular'$"):
        detect_drift(numeric_only, frame, "chi2")
    wide = pd.DataFrame({f"c{i:02d}": [1.0] for i in range(25)})
    with pytest.raises(ValueError) as info:
        detect_drift(numeric_only, wide)
    assert str(info.value) == f"frame lacks column(s) ['a'] of the drift reference; it has {list(wide.columns)[:20]}"


def test_one_row_and_every_detector_but_mmd_work_without_features_of_the_other_kind(small):
    assert detect_drift(small, mixed(1, seed=2)).n_new == 1
    assert [f["name"] for f in detect_drift(DriftReference.from_frame(mixed(30)[["a"]]), mixed(9), "ks").features] == ["a"]
    assert [f["name"] for f in detect_drift(DriftReference.from_frame(mixed(30)[["color"]]), mixed(9), "chi2").features] \
        == ["color"]
    assert detect_drift(small, mixed(20, seed=3), correction="fdr").correction == "fdr"


@pytest.mark.parametrize("detector, names", [("ks", ["a", "b"]), ("chi2", ["color", "size"]),
                                             ("tabular", ["a", "b", "color", "size"])])
def test_each_feature_gets_its_own_test_and_kind(small, detector, names):
    new = mixed(80, seed=4)
    new["a"] += 0.8
    new["color"] = np.where(np.arange(80) < 60, "blue", new["color"])
    report = detect_drift(small, new, detector)
    assert report.detector == detector and sorted(f["name"] for f in report.features) == sorted(names)
    enc = encode(small, new)
    for f in report.features:
        c = small.columns.index(f["name"])
        test = ks_test if c < len(small.numeric) else chi2_test
        statistic, p_value = test(small.matrix[:, c], enc[:, c])
        assert f["kind"] == ("numeric" if c < len(small.numeric) else "categorical")
        assert (f["statistic"], f["p_value"]) == (float(np.float32(statistic)), float(np.float32(p_value)))
        assert f["drifted"] == (f["p_value"] < report.threshold)
    drifted = [f for f in report.features if f["drifted"]]
    assert report.features == drifted + sorted((f for f in report.features if not f["drifted"]),
                                               key=lambda f: f["p_value"])
    assert [f["p_value"] for f in drifted] == sorted(f["p_value"] for f in drifted) and drifted
    assert report.drifted_features == [f["name"] for f in drifted]
    assert report.drift_share == len(drifted) / len(names) and report.is_drift


def test_a_p_value_equal_to_the_threshold_is_no_drift():
    ref = DriftReference.from_frame(mixed(200, seed=0)[["a"]])
    new = mixed(40, seed=5)[["a"]] + 0.3
    p = detect_drift(ref, new, "ks").features[0]["p_value"]
    at = detect_drift(ref, new, "ks", p_val=p)  # one feature: the threshold is p_val itself
    assert at.threshold == p and at.features[0]["drifted"] is False and at.drifted_features == []
    assert at.drift_share == 0.0


def test_to_dict_is_plain_json_with_every_field():
    report = DriftReport(detector="mmd", p_val=np.float32(0.5), correction="fdr", threshold=np.float64(0.25),
                         is_drift=np.bool_(True), drift_share=np.float32(0.5),
                         features=[{"name": "a", "kind": "numeric", "p_value": np.float32(0.125),
                                    "statistic": np.float32(0.75), "drifted": np.bool_(True)}],
                         n_reference=np.int64(10), n_new=np.int64(3), feature_threshold=np.float32(0.125),
                         distance=np.float32(2.5), batch_p_value=np.float64(0.0), notes=["n"])
    out = report.to_dict()
    assert out == {"detector": "mmd", "p_val": 0.5, "correction": "fdr", "threshold": 0.25, "feature_threshold": 0.125,
                   "is_drift": True, "drift_share": 0.5, "n_reference": 10, "n_new": 3, "distance": 2.5,
                   "batch_p_value": 0.0,
                   "features": [{"name": "a", "kind": "numeric", "p_value": 0.125, "statistic": 0.75, "drifted": True}],
                   "notes": ["n"]}
    assert all(type(out[k]) is float for k in ("p_val", "threshold", "feature_threshold", "distance", "batch_p_value"))
    assert type(out["is_drift"]) is bool and type(out["n_new"]) is int
    bare = DriftReport("ks", 0.05, "bonferroni", 0.05, False, 0.0, [], 1, 1).to_dict()
    assert (bare["feature_threshold"], bare["distance"], bare["batch_p_value"]) == (None, None, None)
    assert report.drifted_features == ["a"]


# ------------------------------------------------------------------------------------------------- mmd

class RecordingMMD:
    """Stands in for alibi_detect.cd.MMDDrift: records what it is given, answers fixed values."""

    made: list["RecordingMMD"] = []

    def __init__(self, x_ref, backend, p_val, n_permutations, device):
        import torch

        self.x_ref, self.backend, self.p_val, self.n_permutations, self.device = x_ref, backend, p_val, n_permutations, device
        self.seed = torch.initial_seed()
        RecordingMMD.made.append(self)

    def predict(self, x, return_p_val, return_distance):
        self.x, self.flags = x, (return_p_val, return_distance)
        return {"data": {"is_drift": 1, "threshold": 0.125, "distance": 0.375, "p_val": 0.0625}, "meta": {}}


@pytest.fixture
def recording(monkeypatch):
    RecordingMMD.made = []
    monkeypatch.setitem(sys.modules, "alibi_detect.cd", types.SimpleNamespace(MMDDrift=RecordingMMD))
    return RecordingMMD.made


def test_mmd_hands_alibi_detect_at_most_500_distinct_rows_a_side(recording):
    assert (drift.MMD_MAX_ROWS, drift.MMD_PERMUTATIONS) == (500, 100)
    train = mixed(600, seed=0)
    ref = DriftReference.from_frame(train)
    new = mixed(600, seed=1)
    report = detect_drift(ref, new, "mmd", p_val=0.01, seed=3)
    (cd,) = recording
    assert (cd.backend, cd.p_val, cd.n_permutations, cd.device, cd.flags, cd.seed) == ("pytorch", 0.01, 100, "cpu",
                                                                                       (True, True), 3)
    assert cd.x_ref.shape == cd.x.shape == (500, 9) and cd.x.dtype == np.float32
    assert len(np.unique(cd.x_ref, axis=0)) == 500 and len(np.unique(cd.x, axis=0)) == 500  # without replacement
    everything_ref, everything_new = dense(ref, ref.matrix), dense(ref, encode(ref, new))
    assert {r.tobytes() for r in cd.x_ref} <= {r.tobytes() for r in everything_ref}
    assert {r.tobytes() for r in cd.x} <= {r.tobytes() for r in everything_new}
    assert (report.is_drift, report.threshold, report.distance, report.batch_p_value) == (True, 0.125, 0.375, 0.0625)
    assert report.feature_threshold == 0.01 / 4 and report.detector == "mmd"
    assert report.notes == ["verdict from the MMD permutation test on 500 reference and 500 new rows; the feature "
                            "table shows univariate tests (bonferroni-corrected) to locate the shift"]


def test_mmd_uses_500_rows_or_fewer_whole_and_in_order_with_seed_0(recording):
    ref = DriftReference.from_frame(mixed(500, seed=0))
    new = mixed(500, seed=1)
    detect_drift(ref, new, "mmd")
    (cd,) = recording
    np.testing.assert_array_equal(cd.x_ref, dense(ref, ref.matrix))
    np.testing.assert_array_equal(cd.x, dense(ref, encode(ref, new)))
    assert cd.seed == 0


def test_quiet_alibi_detect_sets_the_transformers_switch(monkeypatch):
    monkeypatch.delenv("TRANSFORMERS_NO_ADVISORY_WARNINGS", raising=False)
    drift.quiet_alibi_detect()
    import os

    assert os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] == "1"
