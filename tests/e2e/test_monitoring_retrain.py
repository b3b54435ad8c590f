"""Continuous training on real Ray and a real MLflow store: each trigger fires exactly when it should, the
challenger replaces the champion only when it wins, rollback restores, and MLflow records it all."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import EXAMPLES, write_spec
from mlops import api

pytestmark = pytest.mark.slow

_gen = importlib.util.spec_from_file_location("drift_generate", EXAMPLES / "drift" / "generate.py")
generate = importlib.util.module_from_spec(_gen)
_gen.loader.exec_module(generate)
START = pd.Timestamp("2026-01-01")

SPEC = """
name: churn
data:
  source: {{type: csv, path: train.csv}}
  target: churned
  id_column: id
  timestamp: ts
  split: {{method: stratified, test_size: 0.25, seed: 0}}
model: {{task: classification, type: sklearn, estimator: logistic_regression, metric: roc_auc}}
validation:
  drift: {{detector: tabular, p_val: 0.05}}
  outliers: {{detector: iforest, threshold_percentile: 99}}
retraining:
  data: {{source: {{type: csv, path: "new/*.csv"}}, holdout_rows: 300}}
  triggers:
    - {{on: drift, min_drifted_features: 0.3}}
    - {{on: metric_drop, below: 0.7, min_labels: 100}}
    - {{on: new_data, min_rows: 1000}}
    - {{on: schedule, every: {every}}}
  promote: {{metric: roc_auc, min_improvement: {min_improvement}, holdout: latest}}
serving: {{mode: batch, batch: {{input: train.csv, output: out/predictions.parquet, executor: local}}}}
tracking: {{uri: "{uri}"}}
"""


def batch(directory, i: int, shifted: bool, rows: int = 500) -> pd.DataFrame:
    """Write new/batch-<i>.csv from the example's generator (shifted from the example's SHIFT_AT on)."""
    frame = generate.make_rows(rows, 100 + i, shifted, 100_000 + i * rows, START + pd.Timedelta(days=i))
    (directory / "new").mkdir(exist_ok=True)
    frame.to_csv(directory / "new" / f"batch-{i:03d}.csv", index=False)
    return frame


def make_project(root, *, every: str = "30d", min_improvement: float = 0.0):
    root.mkdir(parents=True, exist_ok=True)
    generate.make_rows(1500, 0, False, 0, START - pd.Timedelta(days=30)).to_csv(root / "train.csv", index=False)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    spec = write_spec(root, SPEC.format(uri=uri, every=every, min_improvement=min_improvement))
    assert api.apply(spec).version == "1"
    return spec, uri


def fired(outcome) -> dict[str, bool]:
    return {r.on: r.fired for r in outcome.results}


@pytest.fixture(scope="module")
def champion(ray_local, tmp_path_factory):
    """v1 trained on unshifted data; the trigger tests only judge (no retraining)."""
    return make_project(tmp_path_factory.mktemp("triggers") / "churn")


def test_nothing_fires_without_new_data(champion):
    outcome = api.monitor(champion[0], retrain=False)
    assert fired(outcome) == {"drift": False, "metric_drop": False, "new_data": False, "schedule": False}
    assert outcome.champion_version == "1" and outcome.new_rows == 0


def test_batch_predictions_carry_outlier_scores_and_flags(champion):
    out = pd.read_parquet(champion[0].parent / "out" / "predictions.parquet")
    assert {"id", "prediction", "outlier_score", "is_outlier"} <= set(out.columns)
    assert out["is_outlier"].dtype == bool and 0.002 <= out["is_outlier"].mean() <= 0.03  # ~1% of training rows


def test_new_data_fires_at_min_rows_and_drift_stays_quiet_on_the_same_distribution(champion):
    spec, _ = champion
    batch(spec.parent, 0, shifted=False)
    outcome = api.monitor(spec, retrain=False)
    assert fired(outcome) == {"drift": False, "metric_drop": False, "new_data": False, "schedule": False}
    assert outcome.new_rows == 500 and outcome.labelled_rows == 500
    batch(spec.parent, 1, shifted=False)
    outcome = api.monitor(spec, retrain=False)
    assert fired(outcome)["new_data"] and not fired(outcome)["drift"] and not fired(outcome)["metric_drop"]
    assert outcome.results[2].value == 1000


def test_drift_fires_on_shifted_features_and_names_them(champion):
    spec, _ = champion
    outcome = api.monitor(spec, ["retraining.data.source.path=shifted/*.csv"], retrain=False)
    assert not fired(outcome)["drift"]  # no file there yet: nothing to test
    frame = generate.make_rows(400, 7, True, 900_000, START)
    (spec.parent / "shifted").mkdir()
    frame.to_csv(spec.parent / "shifted" / "b.csv", index=False)
    outcome = api.monitor(spec, ["retraining.data.source.path=shifted/*.csv"], retrain=False)
    assert fired(outcome)["drift"]
    assert {"monthly_charges", "plan"} <= set(outcome.drift.drifted_features)


def test_metric_drop_fires_on_wrong_predictions_reported_as_feedback(champion, tmp_path):
    spec, _ = champion
    new = pd.concat(pd.read_csv(p) for p in sorted((spec.parent / "new").glob("*.csv")))
    labels = pd.DataFrame({"id": new["id"], "churned": 1 - new["churned"]}).head(300)  # the truth, inverted
    labels_file = tmp_path / "labels.csv"
    labels.to_csv(labels_file, index=False)
    done = subprocess.run([sys.executable, "-m", "mlops.cli", "feedback", str(spec), "--labels", str(labels_file)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "stored 300 labels" in done.stdout, done.stdout + done.stderr
    outcome = api.monitor(spec, retrain=False)
    assert fired(outcome)["metric_drop"], outcome.results[1].reason
    assert outcome.results[1].value < 0.7


def test_schedule_fires_when_the_champion_is_older_than_every(champion):
    spec, _ = champion
    assert not fired(api.monitor(spec, retrain=False))["schedule"]
    assert fired(api.monitor(spec, ["retraining.triggers.3.every=1s"], retrain=False))["schedule"]


def test_bad_feedback_file_is_a_clear_error(champion, tmp_path):
    bad = tmp_path / "labels.csv"
    pd.DataFrame({"customer": [1], "churned": [0]}).to_csv(bad, index=False)
    done = subprocess.run([sys.executable, "-m", "mlops.cli", "feedback", str(champion[0]), "--labels", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no key column" in done.stderr and "Traceback" not in done.stderr


def test_losing_challenger_is_not_promoted_winning_one_is_and_rollback_restores(ray_local, tmp_path):
    from mlops.registry import Registry

    spec, uri = make_project(tmp_path / "churn", min_improvement=0.0)
    batch(spec.parent, 0, shifted=False)
    batch(spec.parent, 1, shifted=False)
    # Same distribution, and the challenger must beat the champion by 0.2 AUC: it cannot.
    lost = api.monitor(spec, ["retraining.promote.min_improvement=0.2"]).decision
    assert lost is not None and not lost.promoted and lost.triggers == ["new_data"]
    registry = Registry(uri)
    assert registry.by_alias("churn", "champion").version == "1"
    # The world shifts: the challenger, trained on the new window, wins on the latest labelled rows.
    for i in range(2, 5):
        batch(spec.parent, i, shifted=True)
    won = api.monitor(spec).decision
    assert won.promoted and won.challenger_score > won.champion_score
    assert "drift" in won.triggers and won.champion_version == "1"
    assert registry.by_alias("churn", "champion").version == won.challenger_version
    # MLflow has the decision, both scores and the triggers on each challenger's run.
    for decision in (lost, won):
        run = registry.client.get_run(decision.run_id)
        assert run.data.tags["mlops.promoted"] == str(decision.promoted)
        assert run.data.tags["mlops.triggers"] == ",".join(decision.triggers)
        assert "challenger v" in run.data.tags["mlops.decision"]
        assert run.data.metrics["retrain.champion_score"] == pytest.approx(decision.champion_score)
        assert run.data.metrics["retrain.challenger_score"] == pytest.approx(decision.challenger_score)
    last = json.loads(registry.client.get_registered_model("churn").tags["mlops.retrain.last"])
    assert last["promoted"] and last["challenger_version"] == won.challenger_version
    assert api.rollback("churn", uri) == "1"
    assert registry.by_alias("churn", "champion").version == "1"
