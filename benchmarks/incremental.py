"""Incremental apply: what an edit costs against the first apply of the same spec, in the same run.

    python benchmarks/incremental.py [--rows 1000000]

Three figures, each a ratio to the first apply measured here (every apply is a fresh `mlops apply`
process against a fresh SQLite store, as a user runs it):

* unchanged re-apply of the iris example (target <= 0.05);
* a serving-only change of the online iris example (max_ongoing_requests), while a client keeps sending
  requests: ratio (target <= 0.5) and failed requests during the update (target 0);
* a model-parameter change on a generated data set of `--rows` rows: the ratio, and the seconds the
  cached load/featurize/split saved (their time in the first apply).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MLOPS = [sys.executable, "-m", "mlops.cli"]


def apply(spec: Path, overrides: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([*MLOPS, "apply", str(spec), *overrides], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mlops apply failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def node_seconds(stdout: str) -> dict[str, float]:
    """The per-node times `mlops apply` prints ('  ✓ node  1.23s')."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "✓" and parts[2].endswith("s"):
            out[parts[1]] = float(parts[2][:-1])
    return out


def unchanged(work: Path, env: dict[str, str]) -> None:
    spec = work / "iris" / "spec.yaml"
    first, _ = apply(spec, [], work, env)
    again, out = apply(spec, [], work, env)
    assert "up to date" in out, out
    print(f"unchanged re-apply: first {first:.2f}s, again {again:.2f}s = {again / first:.3f}x (target <= 0.05)")


def serving_only(work: Path, env: dict[str, str]) -> None:
    import httpx

    from mlops.cluster.processes import stable_port

    port = stable_port()
    spec = work / "iris" / "online.yaml"
    base = [f"serving.online.port={port}", "serving.online.auth=none"]
    try:
        first, _ = apply(spec, base, work, env)
        url = f"http://127.0.0.1:{port}/iris/predict"
        row = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}
        sent, failed, stop = [0], [], threading.Event()

        def client() -> None:
            with httpx.Client(timeout=10) as http:
                while not stop.is_set():
                    sent[0] += 1
                    try:
                        response = http.post(url, json={"rows": [row]})
                        if response.status_code != 200:
                            failed.append(response.status_code)
                    except httpx.HTTPError as exc:
                        failed.append(type(exc).__name__)

        thread = threading.Thread(target=client)
        thread.start()
        time.sleep(1)
        update, out = apply(spec, [*base, "serving.online.max_ongoing_requests=48"], work, env)
        time.sleep(1)
        stop.set()
        thread.join()
        ran = [n for n in node_seconds(out)]
        print(f"serving-only change: first {first:.2f}s, update {update:.2f}s = {update / first:.3f}x (target <= 0.5); "
              f"ran {ran}; {len(failed)} of {sent[0]} requests failed during the update (target 0)")
    finally:
        subprocess.run([*MLOPS, "stop"], cwd=work, env=env, capture_output=True)


def model_change(work: Path, env: dict[str, str], rows: int) -> None:
    import numpy as np
    import pandas as pd

    project = work / "big"
    project.mkdir()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 10)).astype("float32")
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)])
    frame["label"] = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    frame.to_parquet(project / "data.parquet")
    (project / "spec.yaml").write_text(
        "name: big\ndata: {source: {type: parquet, path: data.parquet}, target: label}\n"
        "model: {task: classification, type: sklearn, estimator: hist_gradient_boosting, params: {max_iter: 20}}\n")
    spec = project / "spec.yaml"
    first, out_first = apply(spec, [], project, env)
    changed, out = apply(spec, ["model.params.max_iter=10"], project, env)
    cached = {k: v for k, v in node_seconds(out_first).items() if k in ("load", "featurize", "split")}
    print(f"model-parameter change, {rows:,} rows: first {first:.2f}s, change {changed:.2f}s = {changed / first:.3f}x; "
          f"ran {list(node_seconds(out))}; cached load/featurize/split saved {sum(cached.values()):.2f}s ({cached})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-serving", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        work = Path(tmp)
        shutil.copytree(REPO / "examples" / "iris", work / "iris", ignore=shutil.ignore_patterns("out", ".mlops"))
        env = {**os.environ, "MLOPS_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "RAY_USAGE_STATS_ENABLED": "0"}
        unchanged(work, env)
        if not args.skip_serving:
            serving_only(work, env)
        model_change(work, {**env, "MLOPS_TRACKING_URI": f"sqlite:///{work / 'big.db'}"}, args.rows)


if __name__ == "__main__":
    main()
