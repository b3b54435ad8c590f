"""Write time-stamped batches of a synthetic churn problem whose data shifts from batch SHIFT_AT on.

    python generate.py                 # data/train.csv + data/new/batch-000.csv .. batch-004.csv (no shift yet)
    python generate.py --upto 8        # adds batches 5..7, which are shifted

Deterministic: batch i is always the same rows, so re-running only adds what is missing.
Before the shift, churn depends on tenure, monthly charges and plan; from SHIFT_AT on, charges rise
(covariate shift), more customers are on the 'basic' plan (categorical shift) and support calls start
to drive churn (concept shift), so the old model gets worse and a retrained one wins.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROWS_PER_BATCH = 500
SHIFT_AT = 5
START = pd.Timestamp("2026-01-01")


def make_rows(n: int, seed: int, shifted: bool, first_id: int, start: pd.Timestamp) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan_p = [0.6, 0.3, 0.1] if shifted else [0.3, 0.4, 0.3]
    frame = pd.DataFrame({
        "id": np.arange(first_id, first_id + n),
        "ts": start + pd.to_timedelta(np.sort(rng.uniform(0, 86400, n)), unit="s"),
        "tenure_months": rng.gamma(2.0, 12.0, n).round(1),
        "monthly_charges": rng.normal(85 if shifted else 65, 15, n).round(2),
        "support_calls": rng.poisson(2.0, n),
        "data_gb": rng.lognormal(2.0, 0.5, n).round(2),
        "age": rng.integers(18, 80, n),
        "plan": rng.choice(["basic", "standard", "premium"], n, p=plan_p),
    })
    plan_effect = frame["plan"].map({"basic": 0.6, "standard": 0.0, "premium": -0.6})
    logit = -0.12 * (frame["tenure_months"] - 24) + 0.08 * (frame["monthly_charges"] - 65) + 2 * plan_effect
    if shifted:  # charges stop mattering, support calls start to
        logit += 1.2 * (frame["support_calls"] - 2) - 0.08 * (frame["monthly_charges"] - 65)
    frame["churned"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upto", type=int, default=SHIFT_AT, help="write batches 0..upto-1 (default: the unshifted ones)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "data"))
    args = parser.parse_args()
    out = Path(args.out)
    (out / "new").mkdir(parents=True, exist_ok=True)
    if not (out / "train.csv").exists():
        make_rows(3000, 0, False, 0, START - pd.Timedelta(days=30)).to_csv(out / "train.csv", index=False)
    for i in range(args.upto):
        path = out / "new" / f"batch-{i:03d}.csv"
        if not path.exists():
            rows = make_rows(ROWS_PER_BATCH, 100 + i, i >= SHIFT_AT, 100_000 + i * ROWS_PER_BATCH, START + pd.Timedelta(days=i))
            rows.to_csv(path, index=False)
    print(f"{out}/train.csv and batches 0..{args.upto - 1} in {out}/new (shift from batch {SHIFT_AT})")


if __name__ == "__main__":
    main()
