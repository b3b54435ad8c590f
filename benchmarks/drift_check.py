"""Validation + drift check throughput on 10k / 100k / 1M rows x 20 columns (16 numeric, 4 categorical):
pandera checks against the training profile, then encode + TabularDrift against a 5000-row reference
(+ outlier scoring).

    python benchmarks/drift_check.py [--rows 10000 100000 1000000] [--repeat 3]

Baseline, measured in the same run: the same per-feature tests called straight from scipy on numpy arrays
that are already encoded (what the check costs without mlops' encoding and alibi-detect's wrapper).
Target on a 2-core machine: 100k rows in under 2 s for validation + drift. Columns: validate (check_batch:
types, ranges, domains, nulls with pandera), encode (frame -> matrix), drift (enc+drift minus encode),
enc+drift (one detect_drift call), total (validate + enc+drift: what `mlops check` spends after loading),
scipy baseline (tests only), and outlier scoring of the same rows (encode included).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

N_NUMERIC, N_CATEGORICAL = 16, 4


def make_frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, N_NUMERIC)), columns=[f"x{i}" for i in range(N_NUMERIC)])
    frame["x0"] += shift
    for j in range(N_CATEGORICAL):
        levels = np.array([f"level_{k}" for k in range(5 + 5 * j)])  # 5, 10, 15 and 20 categories
        frame[f"c{j}"] = levels[rng.integers(0, len(levels), size=rows)]
    return frame


def scipy_baseline(ref: np.ndarray, new: np.ndarray) -> np.ndarray:
    from scipy.stats import chi2_contingency, ks_2samp

    p = np.empty(ref.shape[1])
    for f in range(ref.shape[1]):
        if f < N_NUMERIC:
            p[f] = ks_2samp(ref[:, f], new[:, f], mode="asymp").pvalue
        else:
            k = int(max(ref[:, f].max(), new[:, f].max())) + 1
            table = np.vstack([np.bincount(a[:, f].astype(int), minlength=k) for a in (ref, new)])
            p[f] = chi2_contingency(table[:, table.sum(0) > 0]).pvalue
    return p


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from mlops.detectors.data_contract import check_batch
    from mlops.detectors.drift import DriftReference, detect_drift, encode
    from mlops.detectors.outliers import fit_outlier_detector
    from mlops.detectors.column_profile import infer_profile
    from mlops.spec.validation import OnViolation

    start = time.perf_counter()
    import alibi_detect  # noqa: F401  (reported separately: a one-off cost per process)
    import_s = time.perf_counter() - start
    train = make_frame(50_000, seed=0)
    reference = DriftReference.from_frame(train, reference_rows=5000)
    profile = infer_profile(train, list(train.columns), reference.categorical)
    severities = OnViolation().model_dump()
    _ = reference.matrix
    detectors = {name: fit_outlier_detector(reference, name, 99) for name in ("iforest", "mahalanobis")}
    print(f"alibi_detect import: {import_s:.2f} s (once per process); reference: {len(reference.frame)} rows x "
          f"{len(reference.columns)} columns; best of {args.repeat}\n")
    header = (f"{'rows':>9} | {'validate s':>10} | {'encode s':>8} | {'drift s':>7} | {'enc+drift s':>11} | "
              f"{'total s':>7} | {'rows/s':>10} | "
              f"{'scipy base s':>12} | {'iforest s':>9} | {'mahal. s':>8} | verdict")
    print(header)
    print("-" * len(header))
    for rows in args.rows:
        frame = make_frame(rows, seed=1, shift=0.1)  # x0 moved by 0.1 sd: the verdict should name it
        val_s, checked = best_of(args.repeat, lambda: check_batch(frame, profile, severities))
        assert checked.ok, checked.anomalies
        enc_s, new = best_of(args.repeat, lambda: encode(reference, frame))
        total_s, report = best_of(args.repeat, lambda: detect_drift(reference, frame, "tabular"))
        base_s, _ = best_of(args.repeat, lambda: scipy_baseline(reference.matrix, new))
        if_s, _ = best_of(1 if rows >= 1_000_000 else args.repeat, lambda: detectors["iforest"].score(frame))
        mh_s, _ = best_of(args.repeat, lambda: detectors["mahalanobis"].score(frame))
        verdict = f"drift in {report.drifted_features}" if report.is_drift else "no drift"
        print(f"{rows:>9,} | {val_s:>10.3f} | {enc_s:>8.3f} | {total_s - enc_s:>7.3f} | {total_s:>11.3f} | "
              f"{val_s + total_s:>7.3f} | {rows / (val_s + total_s):>10,.0f} | "
              f"{base_s:>12.3f} | {if_s:>9.3f} | {mh_s:>8.3f} | {verdict}")


if __name__ == "__main__":
    main()
