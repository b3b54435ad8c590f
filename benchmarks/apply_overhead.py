"""`mlops apply` of the iris spec vs a hand-written script doing the same sklearn fit + MLflow logging.

    python benchmarks/apply_overhead.py

Both run in fresh processes against fresh SQLite stores. Prints the wall times, the difference, and
where mlops' extra time goes (Ray start-up, per-node times logged by the run, imports).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HAND_WRITTEN = textwrap.dedent("""
    import sys, joblib, tempfile, mlflow, numpy as np
    from mlflow.tracking import MlflowClient
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.impute import SimpleImputer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import f1_score, accuracy_score
    import pandas as pd
    uri = sys.argv[1]
    mlflow.set_tracking_uri(uri); mlflow.set_registry_uri(uri)
    frame = load_iris(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X["petal_ratio"] = X["petal length (cm)"] / (X["petal width (cm)"] + 1)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    params = {"n_estimators": 200, "max_depth": 6, "random_state": 0}
    model = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                      ("model", RandomForestClassifier(**params))]).fit(X_tr, y_tr)
    pred = model.predict(X_te)
    mlflow.set_experiment("iris-hand")
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics({"f1_macro": f1_score(y_te, pred, average="macro"), "accuracy": accuracy_score(y_te, pred)})
        with tempfile.TemporaryDirectory() as tmp:
            joblib.dump(model, f"{tmp}/pipeline.pkl")
            mlflow.log_artifacts(tmp, "model")
        MlflowClient().create_registered_model("iris-hand")
        MlflowClient().create_model_version("iris-hand", f"{run.info.artifact_uri}/model", run.info.run_id)
    proba = model.predict_proba(X)
    pd.DataFrame(proba).to_parquet(f"{tempfile.gettempdir()}/hand_predictions.parquet")
""")


def wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=cwd)
    return time.perf_counter() - start


def main() -> None:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copytree(REPO / "examples" / "iris", tmp / "iris")
        (tmp / "hand.py").write_text(HAND_WRITTEN)
        hand = wall([py, str(tmp / "hand.py"), f"sqlite:///{tmp}/hand.db"], tmp)
        uri = f"sqlite:///{tmp}/mlops.db"
        mlops = wall([py, "-m", "mlops.cli", "apply", str(tmp / "iris" / "spec.yaml"), f"tracking.uri={uri}"], tmp)
        ray_start = wall([py, "-c", "import ray; ray.init(address=\"local\", include_dashboard=False); ray.shutdown()"], tmp)
        imports = wall([py, "-c", "import ray, mlflow, sklearn, pandas, pyarrow, matplotlib"], tmp)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        run = client.search_runs([client.get_experiment_by_name("iris").experiment_id])[0]
        nodes = {k.removeprefix("seconds."): v for k, v in run.data.metrics.items() if k.startswith("seconds.")}
    print(f"hand-written script (fit + MLflow log + register + predict): {hand:6.2f} s")
    print(f"mlops apply examples/iris/spec.yaml:                        {mlops:6.2f} s")
    print(f"difference:                                                 {mlops - hand:+6.2f} s ({mlops / hand:.2f}x)")
    print("where mlops' time goes:")
    print(f"  Ray start + shutdown (embedded local cluster):            {ray_start:6.2f} s")
    print(f"  imports (ray, mlflow, sklearn, pandas, pyarrow, mpl):     {imports:6.2f} s (the script pays most of these too)")
    for name, seconds in nodes.items():
        print(f"  node {name:<14}                                       {seconds:6.2f} s")
    print("  (evaluate includes the confusion-matrix and importance plots the script does not draw)")


if __name__ == "__main__":
    main()
