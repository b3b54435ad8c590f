"""What the register stage leaves in a real (SQLite) MLflow store, pinned where benchmarks/mutation.py found
no test for it: the bundle's recorded metrics, where the bundle lives in the run, its five example rows, a
registered version scoring the same test rows as its evaluation did (probability metrics included), and
the champion gate's decision text and what it logs to the challenger's run."""
from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import EXAMPLES
from mlops import api, tracking_tags
from mlops.registry import CHAMPION, Registry
from mlops.runtime.node_calls import inputs_of, run_here
from mlops.stages import register as stage
from mlops.stages.evaluate import Evaluation

STRONG = "{n_estimators: 20, max_depth: 6, random_state: 0}"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """Iris planned, trained, evaluated and profiled once for the module (the register node's params and
    inputs), and one SQLite store the tests share, each under a model name of its own."""
    tmp_path = tmp_path_factory.mktemp("register_outputs")
    project = shutil.copytree(EXAMPLES / "iris", tmp_path / "iris", ignore=shutil.ignore_patterns("out", ".mlops"))
    uri = f"sqlite:///{tmp_path / 'outputs.db'}"
    plan = api.plan(project / "spec.yaml", [f"model.params={STRONG}", f"tracking.uri={uri}"])
    node = plan.node("register")
    return node.params, inputs_of(node, run_here(plan, "evaluate", "profile")), Registry(uri)


_NAMES = itertools.count(1)


@pytest.fixture
def registered(evaluated):
    """The register stage run in each test (so each test runs the code it checks) as the first version of a
    model of its own: v1, promoted as apply does; with the split it was evaluated on."""
    params, inputs, registry = evaluated
    name = f"iris-{next(_NAMES)}"
    run_id = registry.start_run(name)
    registration = stage.run(**inputs, params={**params, "name": name}, registry=registry, run_id=run_id)
    registry.promote(name, registration.version)
    return SimpleNamespace(name=name, registry=registry, run_id=run_id, registration=registration, **inputs)


def test_the_bundle_records_the_metric_and_every_metric_of_its_evaluation(registered):
    evaluation = registered.evaluation
    meta = registered.registry.load(registered.name, version=registered.registration.version).meta
    assert meta["metric"] == evaluation.metric == "f1_macro"
    assert meta["metrics"] == pytest.approx(evaluation.metrics) and meta["name"] == registered.name
    assert registered.registration.metrics == evaluation.metrics
    version = registered.registry.version(registered.name, registered.registration.version)
    assert version.tags[tracking_tags.METRIC] == "f1_macro"
    assert float(version.tags[tracking_tags.SCORE]) == pytest.approx(evaluation.score)


def test_the_bundle_is_the_runs_model_artifact_with_five_test_rows_as_its_input_example(registered, tmp_path):
    registry, run_id = registered.registry, registered.run_id
    version = registry.version(registered.name, registered.registration.version)
    assert version.source == f"{registry.client.get_run(run_id).info.artifact_uri}/model"
    assert "model" in [a.path for a in registry.client.list_artifacts(run_id)]
    bundle = registry.download(version, tmp_path / "download")
    example = json.loads((bundle / "input_example.json").read_text())
    rows = example["data"] if isinstance(example, dict) else example
    assert len(rows) == 5  # docs/mlflow.md: five rows of the test split
    assert stage.EXAMPLE_ROWS == 5


def test_the_run_holds_the_evaluations_plots_and_artifacts_and_metrics(registered, tmp_path):
    registry, run_id, evaluation = registered.registry, registered.run_id, registered.evaluation

    def listed(path: str | None = None) -> set[str]:
        found = set()
        for item in registry.client.list_artifacts(run_id, path):
            found |= listed(item.path) if item.is_dir else {item.path}
        return found

    held = listed()
    assert {f"plots/{name}" for name in evaluation.plots} <= held and "plots/confusion_matrix.png" in held
    assert set(evaluation.artifacts) <= held and "evaluation/metrics_intervals.json" in held
    for path, content in evaluation.artifacts.items():
        assert Path(registry.client.download_artifacts(run_id, path, str(tmp_path))).read_bytes() == content, path
    assert registry.client.get_run(run_id).data.metrics == pytest.approx(evaluation.metrics)
    tags = registry.client.get_run(run_id).data.tags
    assert tags[tracking_tags.DECISION] == "first version: promoted to champion" == registered.registration.decision
    assert tracking_tags.COMPARISON not in tags and registered.registration.compared_with is None


def test_a_version_scores_the_rows_it_was_evaluated_on_as_its_evaluation_did(registered):
    """score_on is how the gate scores the champion: on the same rows it must give the recorded values,
    the probability metrics (log_loss, roc_auc) too."""
    evaluation = registered.evaluation
    assert {"f1_macro", "accuracy", "log_loss"} <= set(evaluation.metrics)
    for metric, value in evaluation.metrics.items():
        assert stage.score_on(registered.registry, registered.name, "1", metric, registered.split) == pytest.approx(value), metric
    assert stage.score_on(registered.registry, registered.name, "1", "rmse", registered.split) is None  # not a metric of it
    assert stage.score_on(registered.registry, registered.name, "9", "f1_macro", registered.split) is None  # no such version


def test_a_challenger_is_compared_on_the_same_test_rows_and_the_run_records_the_comparison(registered):
    registry, evaluation = registered.registry, registered.evaluation
    score = evaluation.score
    run_id = registry.start_run(registered.name)
    promoted, decision, compared = stage._champion_decision(registry, run_id, registered.name, evaluation, registered.split)
    assert (promoted, compared) == (True, "1")  # a tie promotes
    assert decision == f"f1_macro {score:.4f} vs champion v1 {score:.4f} on the same test rows: promoted"
    run = registry.client.get_run(run_id)
    assert run.data.metrics["champion.f1_macro"] == pytest.approx(score)
    assert run.data.tags[tracking_tags.CHAMPION_COMPARED] == "1"
    worse = Evaluation({**evaluation.metrics, "f1_macro": score - 0.05}, "f1_macro")
    promoted, decision, compared = stage._champion_decision(registry, run_id, registered.name, worse, registered.split)
    assert (promoted, compared) == (False, "1")
    assert decision == f"f1_macro {score - 0.05:.4f} vs champion v1 {score:.4f} on the same test rows: kept champion"


def test_a_champion_without_rows_is_compared_by_its_recorded_score_and_the_decision_says_so(registered):
    registry, evaluation = registered.registry, registered.evaluation
    score = evaluation.score
    better = Evaluation({"f1_macro": score + 0.01}, "f1_macro")
    promoted, decision, compared = stage._champion_decision(registry, registry.start_run(registered.name), registered.name, better, None)
    assert (promoted, compared) == (True, "1")
    assert decision == (f"f1_macro {score + 0.01:.4f} vs champion v1 {score:.4f} "
                        "(champion's own recorded score: it cannot score these rows): promoted")


def test_the_registering_run_links_to_the_comparison_and_names_version_and_decision(registered):
    registry = registered.registry
    run_id = registry.start_run(registered.name)
    second = stage.run(SimpleNamespace(model=registered.trained.model, meta=registered.trained.meta),
                       registered.evaluation, None, registered.split, {"name": registered.name}, registry=registry, run_id=run_id)
    assert (second.version, second.promoted, second.compared_with, second.run_id) == ("2", True, "1", run_id)
    assert second.settled is False
    tags = registry.client.get_run(run_id).data.tags
    assert tags[tracking_tags.MODEL_VERSION] == "2" and tags[tracking_tags.DECISION] == second.decision
    assert tags[tracking_tags.COMPARISON] == stage.comparison_link(registered.name, "1", "2") == \
        f"mlops report {registered.name} --compare 1 2 (artifact card/compare_v1_v2.html)"
    assert registry.by_alias(registered.name, CHAMPION).version == "1"  # the alias moves only when apply succeeds


def test_the_drift_reference_alone_is_the_bundles_own_verified_and_without_its_model(registered):
    """What an endpoint's monitor loads: the reference rows the whole bundle carries, under the same hash
    check (a changed file is refused), and not the model: no model library is imported for it."""
    import subprocess
    import sys
    from urllib.parse import unquote, urlparse

    import pandas as pd

    from mlops.errors import RegistryError

    registry, name, version = registered.registry, registered.name, registered.registration.version
    whole = registry.load(name, version=version).monitoring.reference
    alone = registry.drift_reference(name, version)
    pd.testing.assert_frame_equal(alone.frame, whole.frame)
    assert (alone.numeric, alone.categorical) == (whole.numeric, whole.categorical)

    probe = ("import sys; from mlops.registry import Registry; "
             f"ref = Registry({registry.uri!r}).drift_reference({name!r}, {version!r}); "
             "print(len(ref.frame), sorted(m for m in ('skops', 'sklearn.ensemble') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == str(len(whole.frame)) and done.stdout.strip().endswith("[]"), done.stdout

    stored = Path(unquote(urlparse(registry.version(name, version).source).path)) / "monitoring" / "reference.parquet"
    assert stored.is_file()
    with stored.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(RegistryError, match="modified after registration"):
        registry.drift_reference(name, version)


def test_what_the_model_imputes_is_recorded_and_the_metadata_reads_verified_without_the_model(registered):
    """A deploy builds the endpoint's request model from the version's metadata: the columns the model takes
    null in are found at registration (as a loader finds them, by scoring) and recorded there, and the
    metadata is read under the same checks as the whole bundle, without importing the model's library."""
    import subprocess
    import sys
    from urllib.parse import unquote, urlparse

    from mlops.errors import RegistryError
    from mlops.models.model_contract import IMPUTED_KEY, find_imputed_columns

    registry, name, version = registered.registry, registered.name, registered.registration.version
    bundle = registry.load(name, version=version)
    recorded = bundle.meta[IMPUTED_KEY]
    assert recorded == find_imputed_columns(bundle) and set(recorded) <= set(bundle.input_columns)
    assert registry.meta(name, version) == bundle.meta  # registered_version included

    probe = ("import sys; from mlops.registry import Registry; "
             f"meta = Registry({registry.uri!r}).meta({name!r}, {version!r}); "
             f"print(meta[{IMPUTED_KEY!r}] == {recorded!r}, sorted(m for m in ('skops', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "True" and done.stdout.strip().endswith("[]"), done.stdout

    model_dir = Path(unquote(urlparse(registry.version(name, version).source).path))
    stored = next(path for path in model_dir.iterdir() if path.suffix == ".skops")
    with stored.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(RegistryError, match="modified after registration"):
        registry.meta(name, version)
