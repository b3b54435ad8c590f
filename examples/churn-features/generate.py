"""Generate the churn-features example's data (deterministic; no downloads):

  data/activity.parquet   customer_activity events: customer_id, event_time, sessions_7d, spend_30d, plan
  data/profiles.csv       customer_profile snapshots: customer_id, updated_at, tenure_months, support_tickets
  data/labels.csv         customer_id, label_time, churned (decided by the features as of label_time)

Run from anywhere: python generate.py [--customers N]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-01-01")


def generate(customers: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The three tables, churn depending on each customer's features as of the label's time."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, customers + 1)
    per = rng.integers(3, 12, customers)
    cid = np.repeat(ids, per)
    activity = pd.DataFrame({
        "customer_id": cid,
        "event_time": START + pd.to_timedelta(rng.integers(0, 180 * 24, len(cid)), unit="h"),
        "sessions_7d": rng.poisson(6, len(cid)),
        "spend_30d": np.round(rng.gamma(2.0, 25.0, len(cid)), 2),
        "plan": rng.choice(["basic", "plus", "pro"], len(cid), p=[0.5, 0.3, 0.2]),
    }).sort_values(["event_time", "customer_id"], kind="stable").reset_index(drop=True)
    profiles = pd.DataFrame({
        "customer_id": ids,
        "updated_at": START - pd.to_timedelta(rng.integers(1, 90, customers), unit="D"),
        "tenure_months": rng.integers(1, 60, customers),
        "support_tickets": rng.poisson(1.5, customers),
    })
    labels = pd.DataFrame({
        "customer_id": np.repeat(ids, 2),
        "label_time": START + pd.to_timedelta(rng.integers(30 * 24, 200 * 24, 2 * customers), unit="h"),
    })
    from mlops.feature_store.offline_join import ViewFrame, point_in_time_join

    views = [ViewFrame("customer_activity", activity, "customer_id", "event_time", ["sessions_7d", "spend_30d", "plan"],
                       30 * 86400, {"sessions_7d": 0, "spend_30d": 0.0, "plan": "none"}),
             ViewFrame("customer_profile", profiles, "customer_id", "updated_at", ["tenure_months", "support_tickets"])]
    joined = point_in_time_join(labels, "label_time", views)
    score = (-0.35 * joined["sessions_7d"] - 0.02 * joined["spend_30d"] + 0.6 * joined["support_tickets"]
             - 0.03 * joined["tenure_months"] + np.where(joined["plan"] == "none", 2.5, 0.0)
             + rng.normal(0, 0.7, len(joined)) + 2.0)
    labels["churned"] = (score > 0).astype(int)
    labels["label_time"] = labels["label_time"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    profiles["updated_at"] = profiles["updated_at"].dt.strftime("%Y-%m-%d")
    return {"activity": activity, "profiles": profiles, "labels": labels}


def main() -> None:
    """Write data/ beside this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=400)
    args = parser.parse_args()
    out = Path(__file__).resolve().parent / "data"
    out.mkdir(exist_ok=True)
    tables = generate(args.customers)
    tables["activity"].to_parquet(out / "activity.parquet", index=False)
    tables["profiles"].to_csv(out / "profiles.csv", index=False)
    tables["labels"].to_csv(out / "labels.csv", index=False)
    print(f"wrote {out}: {len(tables['activity'])} activity rows, {len(tables['labels'])} labels")


if __name__ == "__main__":
    main()
