"""`mlops apply` of the iris spec on mlops' local head (`mlops up`) vs the hand-written fit-and-log script.

    python benchmarks/apply_on_head.py [N]

In a temp directory: `mlops up`, then N rounds of, each a fresh process with a fresh SQLite store (so
every apply trains): the hand-written script of benchmarks/apply_overhead.py (sklearn fit, MLflow params,
metrics, model artifact, registered version, predictions), `mlops apply` on the head, and `mlops apply`
from a directory without a head (its own embedded Ray), for comparison. Prints the medians and the
ratios (issue 23's target: apply on the head <= 1.2x the script); `mlops down` at the end, also on failure.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from apply_overhead import HAND_WRITTEN, REPO  # the same script and example as the embedded-Ray benchmark

HEAD_LINE = "on the local Ray head at"  # what a command that runs on the head prints


def run(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds and stdout of a fresh process; fails loudly with its output when it fails."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def mlops(*args: str, cwd: Path) -> tuple[float, str]:
    return run([sys.executable, "-m", "mlops.cli", *args], cwd)


def apply_once(tmp: Path, cwd: Path, store: str, on_head: bool) -> float:
    """One apply of the iris example into a fresh store; checks it ran where it should have."""
    seconds, out = mlops("apply", str(tmp / "iris" / "spec.yaml"), f"tracking.uri=sqlite:///{tmp / store}", cwd=cwd)
    if (HEAD_LINE in out) != on_head:
        raise SystemExit(f"apply {'did not run' if on_head else 'ran'} on the local head:\n{out[-2000:]}")
    return seconds


def main(rounds: int) -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copytree(REPO / "examples" / "iris", tmp / "iris", ignore=shutil.ignore_patterns("out", ".mlops"))
        (tmp / "hand.py").write_text(HAND_WRITTEN)
        headless = tmp / "no-head"  # no .mlops/ray-head.json here: apply starts its own Ray
        headless.mkdir()
        up_s, said = mlops("up", cwd=tmp)
        print(said.strip(), f"({up_s:.1f}s)")
        hand, head, embedded = [], [], []
        try:
            for i in range(rounds):  # interleaved: a load spike on the machine hits all three alike
                hand.append(run([py, str(tmp / "hand.py"), f"sqlite:///{tmp}/hand{i}.db"], tmp)[0])
                head.append(apply_once(tmp, tmp, f"head{i}.db", on_head=True))
                embedded.append(apply_once(tmp, headless, f"embedded{i}.db", on_head=False))
                print(f"round {i + 1}: script {hand[-1]:.2f}s, apply on the head {head[-1]:.2f}s, "
                      f"apply with its own Ray {embedded[-1]:.2f}s", flush=True)
        finally:
            print(mlops("down", cwd=tmp)[1].strip())
    script, on_head, own = (statistics.median(x) for x in (hand, head, embedded))
    print(f"median of {rounds} (fresh process and store each):")
    print(f"  hand-written script (fit + MLflow log + register + predict): {script:6.2f} s")
    print(f"  mlops apply on the local head (mlops up):                   {on_head:6.2f} s  {on_head / script:.2f}x "
          f"(target <= 1.2x)")
    print(f"  mlops apply with its own embedded Ray (no head):            {own:6.2f} s  {own / script:.2f}x")
    print(f"  the head saves:                                             {own - on_head:+6.2f} s per apply")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
