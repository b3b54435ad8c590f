"""Node-level incremental apply on a real local Ray and a real MLflow store: an edit runs exactly the
nodes it touches, `mlops plan` says so beforehand, and interrupted or concurrent applies end well."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_iris

from conftest import session_ray_env
from mlops import api

pytestmark = pytest.mark.slow

TRAINING = ["load", "featurize", "split", "train", "evaluate", "profile", "register", "batch_predict"]


def versions(uri: str) -> list[str]:
    return [v.version for v in api.registry(uri).versions("iris")]


def actions(spec: Path, overrides: list[str] = ()) -> dict[str, str]:
    return {node: a["action"] for node, a in api.explain(api.plan(spec, overrides)).items()}


def test_each_edit_runs_exactly_the_nodes_it_touches(ray_local, tracking_uri, example, tmp_path):
    spec = example("iris") / "spec.yaml"
    first = api.apply(spec)
    assert first.ran == TRAINING and versions(tracking_uri) == ["1"]

    again = api.apply(spec)  # unchanged: nothing runs, nothing is registered
    assert again.up_to_date and again.ran == [] and again.run_id == first.run_id and versions(tracking_uri) == ["1"]

    # A model parameter: train, evaluate, register and scoring run; load, featurize and split are reused.
    plan = api.explain(api.plan(spec, ["model.params.n_estimators=50"]))
    assert plan["train"] == {"action": "run", "reasons": ["model.params.n_estimators: 200 -> 50"]}
    assert {n for n, a in plan.items() if a["action"] == "cached"} == {"load", "featurize", "split", "profile"}
    changed = api.apply(spec, ["model.params.n_estimators=50"])
    assert changed.ran == ["train", "evaluate", "register", "batch_predict"]
    assert {"featurize", "split"} <= set(changed.reused) and versions(tracking_uri) == ["1", "2"]
    # The challenger was compared with the champion on the same test rows; both scores are on its run.
    run = api.registry(tracking_uri).client.get_run(changed.run_id)
    assert run.data.metrics["f1_macro"] == changed.metrics["f1_macro"] and "champion.f1_macro" in run.data.metrics
    assert "on the same test rows" in changed.decision

    # The last applied state is kept in MLflow too: without the file beside the store, the plan still
    # explains a change by field instead of calling every node "never applied".
    state_file = next((Path(tracking_uri[len("sqlite:///"):]).parent / "node-cache" / "state").glob("iris.json"))
    kept = state_file.read_bytes()
    state_file.unlink()
    assert api.explain(api.plan(spec, ["model.params.n_estimators=60"]))["train"]["reasons"] == [
        "model.params.n_estimators: 50 -> 60"]
    state_file.write_bytes(kept)

    # A new batch input: only batch scoring runs, with the champion, and no version is registered.
    frame = load_iris(as_frame=True).frame.head(12)
    frame.columns = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm", "target"]
    frame.to_csv(tmp_path / "new.csv", index=False)
    new_input = ["model.params.n_estimators=50", f"serving.batch.input={tmp_path / 'new.csv'}"]
    assert actions(spec, new_input) == {**{n: "cached" for n in TRAINING[:-1]}, "batch_predict": "run"}
    scored = api.apply(spec, new_input)
    champion = api.registry(tracking_uri).by_alias("iris", "champion").version
    assert scored.ran == ["batch_predict"] and versions(tracking_uri) == ["1", "2"]
    assert scored.batch.rows == 12 and scored.batch.version == champion

    # --force NODE reruns that node and what is downstream of it.
    forced = api.apply(spec, new_input, force="evaluate")
    assert forced.ran == ["evaluate", "register", "batch_predict"] and versions(tracking_uri) == ["1", "2", "3"]


def test_moving_the_project_reruns_nothing_and_a_deleted_output_only_scoring(ray_local, tracking_uri, example, tmp_path):
    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    moved = tmp_path / "elsewhere" / "iris"
    shutil.copytree(spec.parent, moved)  # copy2 keeps the output's size and time
    assert api.apply(moved / "spec.yaml").up_to_date
    (moved / "out" / "iris_predictions.parquet").unlink()
    assert api.apply(moved / "spec.yaml").ran == ["batch_predict"]


def test_a_deleted_store_is_registered_into_again_not_reported_up_to_date(ray_local, tracking_uri, example):
    """Starting over by deleting the SQLite store (the node cache beside it stays): the plan says register runs
    and why, and the apply registers version 1 in the new store, reusing the trained model; the batch output,
    still there, is not rewritten."""
    from mlops.stores import sqlite_path

    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    sqlite_path(tracking_uri).unlink()
    explained = api.explain(api.plan(spec))
    assert [n for n, e in explained.items() if e["action"] == "run"] == ["register"], explained
    assert "store no longer has it" in explained["register"]["reasons"][0]

    def apply(*extra: str) -> str:  # as a user does, in a new process (this one's MLflow keeps the deleted file open)
        done = subprocess.run([sys.executable, "-m", "mlops.cli", "apply", str(spec), *extra], capture_output=True,
                              text=True, timeout=300, env={**session_ray_env(ray_local), "COLUMNS": "200"})
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    again = apply()
    assert "model version 1 registered, now the champion" in again and "reused: evaluate, profile, split, train" in again
    assert "predictions" not in again  # the batch output is still there: not rewritten
    assert "--force to rerun" in apply()  # up to date, and the advice it gives works as written:
    assert "Plan: 8 to run, 0 cached." in apply("--force")


def test_plan_explains_changed_fields_and_counts(tracking_uri, example):
    from typer.testing import CliRunner

    from mlops.cli import app

    spec = example("iris") / "spec.yaml"
    fresh = CliRunner().invoke(app, ["plan", str(spec)])
    assert fresh.exit_code == 0 and "never applied" in fresh.output and "Plan: 8 to run, 0 cached." in fresh.output


def test_plan_after_apply_names_old_and_new_values(ray_local, tracking_uri, example):
    import json

    from typer.testing import CliRunner

    from mlops.cli import app

    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    out = CliRunner().invoke(app, ["plan", str(spec), "features.scale=minmax"])
    assert "Plan: 7 to run, 1 cached." in out.output
    doc = json.loads(CliRunner().invoke(app, ["plan", str(spec), "features.scale=minmax", "--json"]).output)
    assert doc["actions"]["load"] == {"action": "cached", "reasons": []}
    assert doc["actions"]["featurize"] == {"action": "run", "reasons": ["features.scale: 'standard' -> 'minmax'"]}
    assert doc["actions"]["split"] == {"action": "run", "reasons": ["upstream changed (featurize)"]}


def test_a_damaged_cache_entry_is_recomputed_not_loaded(ray_local, tracking_uri, example):
    from mlops.runtime.node_cache import NodeCache, cache_dir

    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    plan = api.plan(spec, ["model.params.n_estimators=40"])
    cache = NodeCache(cache_dir(tracking_uri, spec.parent))
    pickled, _ = cache._paths(plan.node("split").hash)
    pickled.write_bytes(pickled.read_bytes()[:-10])  # truncated: fails its sha256
    result = api.apply(spec, ["model.params.n_estimators=40"])
    assert "split" in result.ran and "featurize" in result.reused


def test_two_concurrent_applies_of_one_spec_do_the_work_once(ray_local, tracking_uri, example):
    """Two `mlops apply` processes at once: the second waits on the lock, then finds the work done."""
    spec = example("iris") / "spec.yaml"
    procs = [subprocess.Popen([sys.executable, "-m", "mlops.cli", "apply", str(spec)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=session_ray_env(ray_local)) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted("up to date" in out for out, _ in outputs) == [False, True], outputs
    assert versions(tracking_uri) == ["1"]


@pytest.mark.reliability  # a fault injected; listed in docs/reliability.md
def test_killed_apply_resumes_from_the_last_finished_node(ray_local, tracking_uri, example):
    """kill -9 while training (the recorded state shows split finished and train not); the next apply of the
    same spec reuses what finished, trains, and registers exactly one version."""
    import os
    import signal

    spec = example("iris") / "spec.yaml"
    # Long enough to be killed in `train` (seconds of fitting), small to register: a 3000-tree forest spent
    # longer in the resumed apply's register and batch scoring than in training.
    slow = ["model.estimator=mlp", "~model.params", "+model.params={hidden_layer_sizes: [128, 128], max_iter: 2000, "
            "tol: 0.0, n_iter_no_change: 2000, random_state: 0}"]
    code = ("import sys; from mlops import api; "
            "api.apply(sys.argv[1], sys.argv[2:], on_done=lambda n, s: print('done', n.id, flush=True))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(spec), *slow], stdout=subprocess.PIPE, text=True,
                            start_new_session=True, env=session_ray_env(ray_local))
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line.strip())
            if line.strip() == "done split":
                os.killpg(proc.pid, signal.SIGKILL)  # train was submitted with split's inputs: it is running now
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert "done split" in seen and "done train" not in seen, seen
    before = api.explain(api.plan(spec, slow))
    assert before["split"]["action"] == "cached" and before["train"]["action"] == "run", before
    done = subprocess.run([sys.executable, "-c", code, str(spec), *slow], capture_output=True, text=True, timeout=300,
                          env=session_ray_env(ray_local))
    assert done.returncode == 0, done.stderr[-2000:]
    finished = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("done ")]
    assert "load" not in finished and "split" not in finished and "train" in finished
    assert versions(tracking_uri) == ["1"]


def test_a_spec_uses_its_own_store_from_any_working_directory(ray_local, example, tmp_path, monkeypatch):
    """A relative SQLite URI is relative to the spec, like every path in it: `cd` changes nothing. (The
    command's app in this process, on the session's Ray: what is tested is where paths lead, not a process.)"""
    from typer.testing import CliRunner

    from mlops.cli import app

    spec = example("iris") / "spec.yaml"  # tracking.uri defaults to sqlite:///.mlops/mlflow.db
    monkeypatch.delenv("MLOPS_TRACKING_URI", raising=False)
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    monkeypatch.chdir(first_dir)
    first = CliRunner().invoke(app, ["apply", str(spec)])
    assert first.exit_code == 0, first.output
    monkeypatch.chdir(second_dir)
    again = CliRunner().invoke(app, ["apply", str(spec)])
    assert again.exit_code == 0 and "up to date" in again.output, again.output
    assert (spec.parent / ".mlops" / "mlflow.db").is_file()
    assert not (first_dir / ".mlops").exists() and not (second_dir / ".mlops").exists()


def test_predict_batch_scores_a_file_with_the_champion_and_trains_nothing(ray_local, tracking_uri, example, tmp_path):
    from typer.testing import CliRunner

    from mlops.cli import app

    spec = example("iris") / "spec.yaml"
    api.apply(spec)
    frame = load_iris(as_frame=True).frame.head(7)
    frame.columns = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm", "target"]
    frame.to_csv(tmp_path / "rows.csv", index=False)
    out = CliRunner().invoke(app, ["predict", str(spec), "--batch", "--input", str(tmp_path / "rows.csv"),
                                   "--output", str(tmp_path / "scored.parquet")])
    assert out.exit_code == 0, out.output
    assert "7 rows with v1" in out.output and len(pd.read_parquet(tmp_path / "scored.parquet")) == 7
    assert versions(tracking_uri) == ["1"]
