"""register (runs in the driver, the only MLflow writer): log the evaluation, save the bundle, register it."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlops.metrics import promotes
from mlops.models.bundle import save_model_files, seal_bundle
from mlops.models.model_contract import IMPUTED_KEY
from mlops.errors import RegistryError
from mlops.registry import CHAMPION, Registry
from mlops import tracking_tags

Work = Callable[..., Any]  # work(fn, *args) -> fn(*args), run where the caller chose (see run)


@dataclass
class Registration:
    version: str
    sha256: str
    promoted: bool  # the champion decision: apply moves the alias once every node of the plan succeeded
    decision: str  # why the champion alias moves or stays
    compared_with: str | None = None  # the champion version it was compared with (None: there was none)
    metrics: dict[str, float] = field(default_factory=dict)  # its evaluation on the test split
    run_id: str | None = None  # the MLflow run that registered it
    settled: bool = False  # the decision was carried out (the alias moved, or stayed): an apply that failed
    # after registering leaves it unsettled, and the next apply that reuses it carries the decision out


def run(trained: Any, evaluation: Any, monitoring: Any, split: Any, params: dict[str, Any], *, registry: Registry,
        run_id: str, extra_meta: dict[str, Any] | None = None, work: Work | None = None) -> Registration:
    """Log the evaluation to run `run_id`, register the bundle as model `params["name"]`; with
    `params["auto_promote"]`, decide whether it becomes champion (the alias itself moves only when the whole
    apply has succeeded: a failed deploy never leaves a new champion). `monitoring` (the profile) and
    `split` (for the input example and the comparison with the champion) may be None. `work(fn, *args)` runs
    what touches a model (writing the bundle, scoring the champion) where the caller wants it; here by default."""
    work = work or _here
    name = params["name"]
    registry.log_metrics(run_id, evaluation.metrics)
    for file_name, png in evaluation.plots.items():
        registry.log_bytes(run_id, png, f"plots/{file_name}")
    for path, content in getattr(evaluation, "artifacts", {}).items():  # an evaluation cached before has none
        registry.log_bytes(run_id, content, path)
    meta = {**trained.meta, **(extra_meta or {}), "metric": evaluation.metric, "metrics": evaluation.metrics, "name": name}
    with tempfile.TemporaryDirectory(prefix="mlops-bundle-") as tmp:
        # What the model imputes is recorded with it, so a deploy reads the metadata, not the model.
        meta[IMPUTED_KEY] = work(write_model_files, Path(tmp) / "model", trained, meta, monitoring)
        sha = seal_bundle(Path(tmp) / "model", meta, example_rows(split, meta))
        source = registry.log_dir(run_id, Path(tmp) / "model", "model")
    version = registry.register(name, source, run_id, sha, tags={tracking_tags.METRIC: evaluation.metric,
                                                                   tracking_tags.SCORE: evaluation.score})
    compared = None
    if params.get("auto_promote", True):
        promoted, decision, compared = _champion_decision(registry, run_id, name, evaluation, split, work)
    else:
        promoted, decision = False, "registered as a challenger; the champion/challenger comparison decides"

    registry.set_tags(run_id, {tracking_tags.MODEL_VERSION: version.version, tracking_tags.DECISION: decision})
    if compared is not None:  # the decision links to the side-by-side page (`mlops report` writes it)
        registry.set_tags(run_id, {tracking_tags.COMPARISON: comparison_link(name, compared, version.version)})
    return Registration(version.version, sha, promoted, decision, compared, dict(evaluation.metrics), run_id)


def comparison_link(name: str, champion: str, challenger: str) -> str:
    """Where the champion gate's comparison lives: the command that writes it and the challenger run's artifact."""
    return (f"mlops report {name} --compare {champion} {challenger} "
            f"(artifact card/compare_v{champion}_v{challenger}.html)")


EXAMPLE_ROWS = 5  # rows of the test split saved with the model as MLflow's input example


def example_rows(split: Any, meta: dict[str, Any]) -> Any:
    """A few test rows, raw input columns only, for MLflow's input example; None without a split."""
    columns = [c["name"] for c in meta.get("input_schema") or []]
    X = getattr(split, "X_test", None)
    if X is None or not columns or any(c not in X.columns for c in columns):
        return None
    return X[columns].head(EXAMPLE_ROWS)


def _champion_decision(registry: Registry, run_id: str, name: str, evaluation: Any, split: Any,
                       work: Work | None = None) -> tuple[bool, str, str | None]:
    """The first version becomes champion; a later one when it scores at least as well as the champion
    on the same rows (this apply's test split). Both scores go to the run. A champion that cannot score
    these rows (it reads columns they lack) is compared by its own recorded score, and the decision says so."""
    try:
        champion = registry.by_alias(name, CHAMPION)
    except RegistryError:
        return True, "first version: promoted to champion", None
    metric, score = evaluation.metric, evaluation.score
    theirs, where = score_on(registry, name, champion.version, metric, split, work), "on the same test rows"
    if theirs is None:
        recorded = champion.tags.get(tracking_tags.SCORE)
        if champion.tags.get(tracking_tags.METRIC) != metric or recorded is None:
            return True, f"champion v{champion.version} has no comparable {metric}: promoted", champion.version
        theirs, where = float(recorded), "(champion's own recorded score: it cannot score these rows)"
    registry.log_metrics(run_id, {f"champion.{metric}": theirs})
    registry.set_tags(run_id, {tracking_tags.CHAMPION_COMPARED: champion.version})
    verdict = "promoted" if promotes(metric, score, theirs) else "kept champion"
    return (verdict == "promoted", f"{metric} {score:.4f} vs champion v{champion.version} {theirs:.4f} {where}: {verdict}",
            champion.version)


def score_on(registry: Registry, name: str, version: str, metric: str, split: Any, work: Work | None = None) -> float | None:
    """The metric of a registered version on the split's test rows, or None when it cannot be computed;
    the version is fetched here and scored through `work` (here by default)."""
    if split is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        try:
            fetched = registry.fetch(name, Path(tmp), version=version)
        except RegistryError:  # no such version, or its signature does not hold
            return None
        return (work or _here)(score_fetched, fetched, metric, split.X_test, split.y_test)


def score_fetched(fetched: Any, metric: str, X_test: Any, y_test: Any) -> float | None:
    """The metric of a fetched version (its files verified as it loads) on these rows; None when it cannot
    be computed: other columns, other classes, a broken bundle."""
    from mlops.models.scores import compute_metrics, labels_from_proba

    try:
        bundle = fetched.load()
        X = X_test[bundle.input_columns]
        proba = bundle.predict_proba(X)
        if proba is not None:
            classes = bundle.model.classes_
            metrics = compute_metrics(bundle.task, y_test, labels_from_proba(classes, proba), proba, classes)
        else:
            metrics = compute_metrics(bundle.task, y_test, bundle.predict(X))
        return float(metrics[metric])
    except (KeyError, ValueError, TypeError, RegistryError):
        return None


def write_model_files(directory: Path, trained: Any, meta: dict[str, Any], monitoring: Any) -> list[str]:
    """The trained model's files of the bundle in `directory` (which may be another process's on this
    machine); returns the input columns the model imputes, found as a loader of the bundle would find them
    (on its saved drift reference's first row)."""
    from types import SimpleNamespace

    from mlops.detectors import artifacts
    from mlops.models.bundle import Bundle
    from mlops.models.model_contract import find_imputed_columns

    save_model_files(trained.model, meta, directory, monitoring)
    saved = SimpleNamespace(reference=artifacts.load_reference(directory))
    return find_imputed_columns(Bundle(trained.model, meta, saved))


def _here(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)
