"""What a second node costs and buys, on real Ray clusters started here (as tests/cluster_fixtures.py starts them:
`ray start` nodes on their own loopback addresses, token auth on) with a real `mlflow server` for tracking.

    python benchmarks/cluster_scaling.py [--trials 16] [--rows 1000000]

1. Tune: `mlops apply --address` of a 16-trial search (one CPU per trial) on one node of 4 CPUs, then on two
   nodes of 2 CPUs each (the same total): seconds each and the ratio (the cost of the second node).
2. Batch scoring of 1M rows on the two-node cluster: `mlops predict --batch` with `executor: auto` (Ray Data on
   two nodes) against `executor: local` (threads in the command's process), seconds and rows/s each.

On one machine both "nodes" share its cores: the figures measure the overhead of spreading, not a speed-up.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from cluster_fixtures import HEAD_IP, TEMP_ROOT, TwoNodes, client_env, start_node, stop_tree  # noqa: E402
from mlops.cluster.access import ensure_token  # noqa: E402
from mlops.cluster.processes import stable_port  # noqa: E402

TUNED = """
name: scaling
defaults: [{{hardware: local_cpu}}, _self_]
data:
  source: {{type: sklearn, name: iris}}
  target: target
model: {{task: classification, type: sklearn, estimator: random_forest, params: {{n_estimators: 50}}, metric: f1_macro}}
tuning:
  num_samples: {trials}
  cpus_per_trial: 1
  search_space: {{params.max_depth: {{randint: [2, 12]}}}}
serving:
  mode: batch
  batch: {{input: {rows}, output: out/scored.parquet}}
"""


def mlops(*args: str, cwd: Path) -> tuple[float, str]:
    env = {k: v for k, v in client_env().items() if k != "MLOPS_TRACKING_URI"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlops.cli", *args], capture_output=True, text=True, cwd=cwd, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"mlops {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds, done.stdout


def start_cluster(folder: Path, layout: list[int]) -> TwoNodes:
    """A head with layout[0] CPUs and one worker per further entry; every node is waited for."""
    gcs, dashboard = stable_port(), stable_port()
    cluster = TwoNodes(f"{HEAD_IP}:{gcs}", f"http://{HEAD_IP}:{dashboard}", folder)
    cluster.procs.append(start_node(["--head", f"--port={gcs}", f"--num-cpus={layout[0]}", "--include-dashboard=true",
                                     f"--dashboard-host={HEAD_IP}", f"--dashboard-port={dashboard}"], HEAD_IP,
                                    folder / "head.log"))
    cluster.wait_for(lambda nodes: len(nodes) == 1, "the head did not come up")
    for i, cpus in enumerate(layout[1:]):
        cluster.add_worker(f"w{i}_node", cpus)
    return cluster


def stop_cluster(cluster: TwoNodes) -> None:
    for proc in reversed(cluster.procs):
        stop_tree(proc, ":" + cluster.gcs.rsplit(":", 1)[1])
    shutil.rmtree(TEMP_ROOT, ignore_errors=True)


def start_tracking(folder: Path) -> tuple[subprocess.Popen, str]:
    port = stable_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--serve-artifacts",
                             "--artifacts-destination", (folder / "artifacts").as_uri(), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    raise SystemExit("mlflow server did not start")


def iris_rows(path: Path, rows: int) -> Path:
    """`rows` rows with iris' columns (resampled with noise): what the batch scores."""
    import numpy as np
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.drop(columns="target")
    frame.columns = [c.replace(" (cm)", "_cm").replace(" ", "_") for c in frame.columns]
    rng = np.random.default_rng(0)
    picked = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
    picked += rng.normal(0, 0.05, picked.shape)
    picked.to_parquet(path, index=False, row_group_size=131072)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    ensure_token()
    work = Path(tempfile.mkdtemp(prefix="mlops-scaling-"))
    server, url = start_tracking(work)
    rows = iris_rows(work / "rows.parquet", args.rows)
    spec = work / "spec.yaml"
    spec.write_text(TUNED.format(trials=args.trials, rows=rows))
    tune: dict[str, float] = {}
    try:
        for label, layout in (("1 node x 4 CPUs", [4]), ("2 nodes x 2 CPUs", [2, 2])):
            folder = work / label.replace(" ", "")
            folder.mkdir()
            cluster = start_cluster(folder, layout)
            try:
                # Each apply trains anew: a fresh experiment name, so nothing is reused from the other cluster.
                tune[label], _ = mlops("apply", str(spec), f"tracking.uri={url}", f"tracking.experiment={folder.name}",
                                       "serving=null", "--address", cluster.gcs, "--force", "tune", cwd=work)
                print(f"tune {args.trials} trials on {label}: {tune[label]:.1f} s", flush=True)
                if len(layout) == 2:
                    batch_figures(spec, url, cluster, args.rows, work)
            finally:
                stop_cluster(cluster)
        one, two = tune.values()
        print(f"tune: two nodes / one node (same CPUs) = {two / one:.2f}x")
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)


def batch_figures(spec: Path, url: str, cluster: TwoNodes, rows: int, work: Path) -> None:
    """Score the rows with the version the apply registered: Ray Data (auto on two nodes) vs the local executor."""
    mlops("apply", str(spec), f"tracking.uri={url}", "tuning=null", "--address", cluster.gcs, cwd=work)  # a champion
    seen = {}
    for executor in ("auto", "local"):
        _, out = mlops("predict", str(spec), "--batch", f"tracking.uri={url}", f"hardware.cluster={cluster.gcs}",
                       f"serving.batch.executor={executor}", cwd=work)
        found = re.search(r"\((\w+), ([\d.]+)s\)", out)
        if found is None:
            raise SystemExit(f"no timing in: {out[-500:]}")
        used, seconds = found.group(1), float(found.group(2))
        seen[executor] = seconds
        print(f"batch {rows:,} rows, executor {executor} ({used}): {seconds:.1f} s, {rows / seconds:,.0f} rows/s", flush=True)
    print(f"batch: Ray Data on two nodes / local executor = {seen['auto'] / seen['local']:.2f}x (time)")


if __name__ == "__main__":
    main()
