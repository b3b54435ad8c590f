"""A model card per version: what it is, how it was made, how good it is (with intervals), what drives it,
what it was compared against, and what it is for. Built from what MLflow recorded; nothing is retrained."""
from __future__ import annotations

import json
from typing import Any

from mlops import tracking_tags
from mlops.models.intervals import RESAMPLES
from mlops.reports.render import Section
from mlops.reports.store import VersionRecord

SECTIONS = ("overview", "intended-use", "data-profile", "metrics", "plots", "importance", "drift-reference",
            "lineage", "champion-history")  # every card has these, in this order (tests and readers rely on it)


def card_sections(rec: VersionRecord) -> list[Section]:
    """The card's sections for one version."""
    return [overview(rec), intended_use(rec), data_profile(rec), metrics(rec), plots(rec), importance(rec),
            drift_reference(rec), lineage(rec), champion_history(rec)]


def overview(rec: VersionRecord) -> Section:
    """Name, version, aliases, family, task, score, the champion decision."""
    meta, tags = rec.bundle.meta, rec.tags
    section = Section("overview", "Overview")
    score = rec.version.tags.get(tracking_tags.SCORE)
    section.table(["field", "value"], [
        ["model", rec.name], ["version", rec.version.version], ["aliases", ", ".join(rec.version.aliases) or "-"],
        ["task", meta.get("task")], ["model type", meta.get("model_type")], ["estimator", meta.get("estimator") or "-"],
        ["metric", meta.get("metric")], ["test score", f"{float(score):.4f}" if score else "-"],
        ["classes", ", ".join(map(str, meta.get("classes") or [])) or "-"],
        ["champion decision", tags.get(tracking_tags.DECISION, "-")],
        ["comparison", tags.get(tracking_tags.COMPARISON, "-")]])
    return section


def intended_use(rec: VersionRecord) -> Section:
    """The spec's model.card (or a note that it has none)."""
    section = Section("intended-use", "Intended use")
    card = ((rec.spec().get("model") or {}).get("card")) or {}
    if not card:
        return section.text("The spec gives no model.card section: add description, intended_use, out_of_scope, "
                            "limitations and owners to say what this model is for.")
    rows = [[key.replace("_", " "), ", ".join(value) if isinstance(value, list) else value]
            for key, value in card.items() if value]
    return section.table(["field", "value"], rows)


def data_profile(rec: VersionRecord) -> Section:
    """The input columns: type, missing values in training, and their range or most frequent values."""
    meta = rec.bundle.meta
    section = Section("data-profile", "Data profile")
    reference = getattr(getattr(rec.bundle, "monitoring", None), "reference", None)
    frame = getattr(reference, "frame", None)
    rows = []
    for column in meta.get("input_schema") or []:
        name, summary = column["name"], ""
        if frame is not None and name in frame.columns:
            series = frame[name]
            if column.get("type") in ("float", "integer", "int", "number") and series.notna().any():
                values = series.astype(float)
                summary = f"mean {values.mean():.4g}, std {values.std():.4g}, min {values.min():.4g}, max {values.max():.4g}"
            else:
                top = series.astype(str).value_counts(sort=False).sort_values(ascending=False, kind="stable").head(3)
                summary = ", ".join(f"{k} ({v})" for k, v in top.items())
        rows.append([name, column.get("type"), "yes" if column.get("nullable") else "no", summary])
    section.text(f"Target: {meta.get('target')}. Training data: {fingerprint(meta.get('data_fingerprint'))}. "
                 f"Summaries are over the drift reference ({len(frame) if frame is not None else 0} training rows).")
    section.table(["column", "type", "missing in training", "summary"], rows)
    ignored = meta.get("ignored_columns") or []
    if ignored:
        section.text("Columns of the data the model does not read: " + ", ".join(map(str, ignored)))
    return section


def metrics(rec: VersionRecord) -> Section:
    """Every test metric with its 95% bootstrap interval."""
    section = Section("metrics", "Metrics (test split)")
    intervals = rec.artifact_json("evaluation/metrics_intervals.json")
    if intervals:
        section.text(f"95% intervals: bootstrap over the test rows (the predictions resampled {RESAMPLES} times).")
        return section.table(["metric", "value", "95% interval"],
                             [[m, v["value"], f"[{v['low']:.4g}, {v['high']:.4g}]"] for m, v in intervals.items()])
    found = {k: v for k, v in rec.metrics.items() if not k.startswith(("champion.", "system/"))}
    section.text("No intervals recorded (a version evaluated before they were).")
    return section.table(["metric", "value"], [[k, v] for k, v in sorted(found.items())])


def plots(rec: VersionRecord) -> Section:
    """The run's plots (confusion matrix or residuals, importance)."""
    section = Section("plots", "Plots")
    found = rec.plots()
    for name, png in sorted(found.items()):
        section.image(name, png, name.removesuffix(".png").replace("_", " "))
    return section if found else section.text("No plots recorded.")


def importance(rec: VersionRecord) -> Section:
    """Permutation importance with its spread, beside the model's own importance."""
    section = Section("importance", "Feature importance")
    table = rec.artifact_json("importance/importance.json")
    if not table:
        return section.text("No importance table recorded (a version evaluated before it was).")
    section.text(f"Permutation importance: the drop in {table['metric']} when a column is shuffled "
                 f"({table['repeats']} repeats over {table['rows']} test rows); own: the estimator's importance.")
    return section.table(["feature", "permutation (mean)", "spread (std)", "own importance"],
                         [[c["feature"] + (" (derived: shuffled through its inputs)" if c.get("derived") else ""),
                           None if c.get("derived") else c["mean"], None if c.get("derived") else c["std"], c["own"]]
                          for c in table["columns"]])


def drift_reference(rec: VersionRecord) -> Section:
    """What monitoring compares new data with: the reference sample and the validation settings."""
    section = Section("drift-reference", "Drift reference")
    monitoring = getattr(rec.bundle, "monitoring", None)
    if monitoring is None:
        return section.text("No monitoring artifacts: drift is not checked for this version.")
    reference = monitoring.reference
    section.text(f"Reference: {len(reference.frame)} training rows; numeric columns {', '.join(reference.numeric) or '-'}; "
                 f"categorical columns {', '.join(reference.categorical) or '-'}. "
                 f"Outlier detector: {'yes' if monitoring.outliers is not None else 'no'}.")
    config = monitoring.config or {}
    return section.table(["setting", "value"], [[k, json.dumps(v, default=str)] for k, v in config.items()])


def lineage(rec: VersionRecord) -> Section:
    """How it was made: spec, plan and data hashes, git commit, bundle hash, code versions."""
    meta, tags = rec.bundle.meta, rec.tags
    section = Section("lineage", "Lineage")
    rows = [["run", rec.version.run_id], ["spec file", tags.get(tracking_tags.SPEC_FILE)],
            ["plan hash", tags.get(tracking_tags.PLAN_HASH)], ["overrides", tags.get(tracking_tags.OVERRIDES)],
            ["data fingerprint", fingerprint(meta.get("data_fingerprint"))], ["git commit", tags.get(tracking_tags.GIT_COMMIT)],
            ["bundle sha256", rec.version.sha256], ["signed", "yes" if rec.version.tags.get(tracking_tags.SIGNATURE) else "no"],
            ["mlops version", meta.get("mlops_version")], ["retrained on", rec.version.tags.get(tracking_tags.TRIGGER)]]
    versions = rec.artifact_json("evaluation/code_versions.json") or {}
    rows += [[f"{k} version", v] for k, v in sorted(versions.items())] or [["code versions", "not recorded"]]
    return section.table(["field", "value"], [[k, v if v is not None else "-"] for k, v in rows])


def champion_history(rec: VersionRecord) -> Section:
    """Every version that held the champion alias, oldest first, each with its run's decision."""
    from mlops.reports.store import record

    section = Section("champion-history", "Champion history")
    history = rec.registry.champion_history(rec.name)
    rows = []
    for version in history:
        try:
            other = record(rec.registry, rec.name, version)
        except Exception:  # noqa: BLE001 - a deleted version stays in the history
            rows.append([version, "-", "(version deleted)"])
            continue
        score = other.version.tags.get(tracking_tags.SCORE)
        rows.append([version, f"{float(score):.4f}" if score else "-", other.tags.get(tracking_tags.DECISION, "-")])
    if not rows:
        return section.text("No version has been champion yet.")
    section.text("Oldest first; the last is the current champion. This version: v" + str(rec.version.version))
    return section.table(["version", "test score", "decision"], rows)


def fingerprint(found: Any) -> str:
    """The training data's fingerprint in words: its hash (shortened) and size."""
    if isinstance(found, dict):
        return f"sha256 {str(found.get('sha256', '-'))[:16]}, {found.get('rows', '?')} rows"
    return str(found or "-")
