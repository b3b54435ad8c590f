"""Cold start of `mlops validate` and `mlops plan` vs `python -c pass` (target: under 1.0 s absolute).

    python benchmarks/cold_start.py [--repeat 5]

Each command runs in a fresh interpreter; the best and median of N runs are printed, with the modules
that would make it slow (ray, mlflow, torch, sklearn, alibi_detect) checked to be absent.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "examples" / "iris" / "spec.yaml"


def timed(cmd: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "mlops validate": [py, "-m", "mlops.cli", "validate", str(SPEC)],
        "mlops plan": [py, "-m", "mlops.cli", "plan", str(SPEC)],
        "mlops plan --json": [py, "-m", "mlops.cli", "plan", str(SPEC), "--json"],
    }
    base = None
    print(f"{'command':<20}{'best s':>8}{'median s':>10}{'vs python':>11}  target < 1.0 s")
    for name, cmd in cases.items():
        times = timed(cmd, args.repeat)
        best, median = min(times), statistics.median(times)
        base = base or best
        verdict = "" if name.startswith("python") else ("ok" if median < 1.0 else "SLOW")
        print(f"{name:<20}{best:>8.3f}{median:>10.3f}{best / base:>10.1f}x  {verdict}")
    probe = ("import sys; from mlops import api; api.plan(sys.argv[1]); "
             "print([m for m in ('ray','mlflow','torch','sklearn','alibi_detect','pandas') if m in sys.modules])")
    heavy = subprocess.run([py, "-c", probe, str(SPEC)], capture_output=True, text=True, check=True).stdout.strip()
    print(f"heavy modules imported by plan: {heavy}")


if __name__ == "__main__":
    main()
