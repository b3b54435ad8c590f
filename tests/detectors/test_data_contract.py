"""Batch validation against the training profile (pandera underneath): each anomaly kind, by column."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.detectors.data_contract import check_batch
from mlops.detectors.column_profile import infer_profile
from mlops.spec.validation import OnViolation

INPUTS = ["age", "income", "plan", "score"]
SEVERITIES = OnViolation().model_dump()


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 80, n), "income": rng.normal(50_000, 10_000, n),
                         "plan": rng.choice(["basic", "standard", "premium"], n), "score": rng.uniform(0, 1, n)})


@pytest.fixture(scope="module")
def profile() -> dict:
    return infer_profile(frame(2000, seed=0), INPUTS, ["plan"])


def kinds(report) -> dict[str, str | None]:
    return {a.kind: a.column for a in report.anomalies}


def test_profile_records_types_ranges_domain_and_rows(profile):
    columns = {c["name"]: c for c in profile["columns"]}
    assert profile["rows"] == 2000
    assert columns["age"]["type"] == "integer" and columns["income"]["type"] == "number"
    assert columns["plan"]["categories"] == ["basic", "premium", "standard"]
    assert 18 <= columns["age"]["min"] and columns["age"]["max"] <= 79
    assert set(columns["score"]["quantiles"]) == {"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"}
    assert columns["income"]["null_fraction"] == 0.0


def test_a_clean_batch_from_the_training_distribution_passes(profile):
    report = check_batch(frame(500, seed=1), profile, SEVERITIES)
    assert report.ok and report.anomalies == []


def test_missing_and_unexpected_columns(profile):
    batch = frame(100, seed=2).drop(columns=["income"]).assign(colour="red")
    report = check_batch(batch, profile, SEVERITIES)
    assert kinds(report) == {"missing_column": "income", "unexpected_column": "colour"}
    assert not report.ok  # missing_column is an error by default
    assert next(a for a in report.anomalies if a.kind == "missing_column").count == 100


def test_type_mismatch_counts_the_bad_values(profile):
    batch = frame(100, seed=3).astype({"age": object})
    batch.loc[:4, "age"] = "old"
    report = check_batch(batch, profile, SEVERITIES)
    assert kinds(report) == {"type_mismatch": "age"}
    assert report.anomalies[0].count == 5 and "old" in report.anomalies[0].detail and not report.ok


def test_out_of_range_and_unseen_category(profile):
    batch = frame(200, seed=4)
    batch.loc[:9, "income"] = 1e7
    batch.loc[:2, "plan"] = "enterprise"
    report = check_batch(batch, profile, SEVERITIES)
    assert kinds(report) == {"out_of_range": "income", "unseen_category": "plan"}
    counts = {a.kind: a.count for a in report.anomalies}
    assert counts == {"out_of_range": 10, "unseen_category": 3}
    assert report.ok  # both are warnings by default


def test_null_fraction_exceeded(profile):
    batch = frame(200, seed=5)
    batch.loc[:39, "score"] = np.nan  # 20% nulls; training had none (+5% tolerance)
    report = check_batch(batch, profile, SEVERITIES)
    assert kinds(report) == {"null_fraction": "score"} and report.anomalies[0].count == 40


def test_empty_batch(profile):
    report = check_batch(frame(0, seed=6), profile, SEVERITIES)
    assert kinds(report) == {"empty_batch": None} and not report.ok


def test_severity_from_the_spec_decides(profile):
    batch = frame(100, seed=7)
    batch.loc[:2, "plan"] = "enterprise"
    strict = {**SEVERITIES, "unseen_category": "error"}
    assert not check_batch(batch, profile, strict).ok


def test_explicit_rules_are_exact_limits():
    train = frame(500, seed=8)
    profile = infer_profile(train, INPUTS, ["plan"], rules={"score": {"min": 0.0, "max": 0.5}})
    report = check_batch(frame(100, seed=9), profile, SEVERITIES)
    assert kinds(report) == {"out_of_range": "score"}
