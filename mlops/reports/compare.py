"""Two versions side by side on the same rows (the challenger's kept test rows, the rows the champion gate
compared them on): metrics with bootstrap intervals, where their predictions disagree, importance changes."""
from __future__ import annotations

from typing import Any, Optional

from mlops import tracking_tags
from mlops.reports.card import fingerprint
from mlops.reports.render import Section
from mlops.reports.store import VersionRecord

SECTIONS = ("overview", "metrics", "disagreement", "importance-changes")
LISTED_ROWS = 20  # disagreeing rows shown


def compare_sections(champion: VersionRecord, challenger: VersionRecord) -> list[Section]:
    """The comparison page's sections."""
    from mlops.stages.evaluate import TARGET_COLUMN

    rows = challenger.test_rows()
    source = f"v{challenger.version.version}'s test rows"
    if rows is None:
        rows, source = champion.test_rows(), f"v{champion.version.version}'s test rows"
    scored = {}
    if rows is not None:
        y = rows[TARGET_COLUMN].to_numpy()
        for rec in (champion, challenger):
            scored[rec.version.version] = _predict(rec, rows)
    else:
        y = None
    return [_overview(champion, challenger, source, 0 if rows is None else len(rows)),
            _metrics(champion, challenger, y, scored), _disagreement(champion, challenger, rows, y, scored),
            _importance_changes(champion, challenger)]


def _predict(rec: VersionRecord, rows: Any) -> Optional[tuple[Any, Any]]:
    """(predictions, probabilities or None) of the version on `rows`; None when it cannot read them."""
    import numpy as np

    from mlops.models.scores import labels_from_proba

    bundle = rec.bundle
    try:
        X = rows[bundle.input_columns]
        proba = bundle.predict_proba(X)
        if proba is not None:
            return np.asarray(labels_from_proba(bundle.model.classes_, proba)), proba
        return np.asarray(bundle.predict(X)), None
    except (KeyError, ValueError, TypeError):
        return None


def _overview(champion: VersionRecord, challenger: VersionRecord, source: str, count: int) -> Section:
    section = Section("overview", "Overview")
    section.text(f"Both versions scored on the same {count} rows: {source}.")
    rows = []
    for label, get in (("role", lambda r: "champion" if r is champion else "challenger"),
                       ("estimator", lambda r: r.bundle.meta.get("estimator") or r.bundle.meta.get("model_type")),
                       ("recorded test score", lambda r: _score(r.version.tags.get(tracking_tags.SCORE))),
                       ("aliases", lambda r: ", ".join(r.version.aliases) or "-"),
                       ("champion decision", lambda r: r.tags.get(tracking_tags.DECISION, "-")),
                       ("training data", lambda r: fingerprint(r.bundle.meta.get("data_fingerprint")))):
        rows.append([label, get(champion), get(challenger)])
    return section.table(["", f"v{champion.version.version}", f"v{challenger.version.version}"], rows)


def _score(value: Optional[str]) -> str:
    return f"{float(value):.4f}" if value else "-"


def _metrics(champion: VersionRecord, challenger: VersionRecord, y: Any, scored: dict) -> Section:
    from mlops.models.intervals import bootstrap

    section = Section("metrics", "Metrics on the same rows (95% bootstrap intervals)")
    found = {}
    for rec in (champion, challenger):
        out = scored.get(rec.version.version)
        if out is not None:
            found[rec.version.version] = bootstrap(rec.bundle.task, y, out[0], out[1],
                                                   getattr(rec.bundle.model, "classes_", None))
    if len(found) < 2:
        return section.text("Not both versions can score these rows (they read different columns).")
    a, b = (found[r.version.version] for r in (champion, challenger))

    def shown(v: dict) -> str:
        return f"{v['value']:.4g} [{v['low']:.4g}, {v['high']:.4g}]"

    return section.table(["metric", f"v{champion.version.version}", f"v{challenger.version.version}", "difference"],
                         [[m, shown(a[m]), shown(b[m]), b[m]["value"] - a[m]["value"]] for m in a if m in b])


def _disagreement(champion: VersionRecord, challenger: VersionRecord, rows: Any, y: Any, scored: dict) -> Section:
    import numpy as np

    section = Section("disagreement", "Where the predictions disagree")
    a, b = scored.get(champion.version.version), scored.get(challenger.version.version)
    if a is None or b is None:
        return section.text("Not both versions can score these rows.")
    pa, pb = a[0], b[0]
    if champion.bundle.task == "classification":
        differ = pa != pb
        section.text(f"{int(differ.sum())} of {len(pa)} rows ({differ.mean():.1%}) get a different class.")
        pairs: dict[tuple, int] = {}
        for x, z in zip(pa[differ], pb[differ]):
            pairs[(x, z)] = pairs.get((x, z), 0) + 1
        section.table([f"v{champion.version.version} says", f"v{challenger.version.version} says", "rows"],
                      [[x, z, n] for (x, z), n in sorted(pairs.items(), key=lambda p: -p[1])])
    else:
        gap = np.abs(pa.astype(float) - pb.astype(float))
        scale = float(np.std(y.astype(float))) or 1.0
        differ = gap > 0.1 * scale
        section.text(f"Mean absolute difference {gap.mean():.4g}; {int(differ.sum())} of {len(pa)} rows "
                     f"({differ.mean():.1%}) differ by more than a tenth of the target's spread ({0.1 * scale:.4g}).")
    shown = np.flatnonzero(differ)[:LISTED_ROWS]
    if len(shown):
        inputs = [c for c in challenger.bundle.input_columns if c in rows.columns][:6]
        section.table(["row", *inputs, "actual", f"v{champion.version.version}", f"v{challenger.version.version}"],
                      [[int(i), *[rows[c].iloc[i] for c in inputs], y[i], pa[i], pb[i]] for i in shown])
    return section


def _importance_changes(champion: VersionRecord, challenger: VersionRecord) -> Section:
    section = Section("importance-changes", "Importance changes")
    tables = [rec.artifact_json("importance/importance.json") for rec in (champion, challenger)]
    if not all(tables):
        return section.text("Not both versions recorded permutation importance.")
    ranked = [{c["feature"]: (i + 1, c["mean"]) for i, c in enumerate(t["columns"])} for t in tables]
    features = list(dict.fromkeys([*ranked[1], *ranked[0]]))
    section.text(f"Permutation importance (drop in {tables[1]['metric']} when shuffled) and rank, per version.")
    rows = []
    for f in features:
        (ra, ma), (rb, mb) = ranked[0].get(f, ("-", None)), ranked[1].get(f, ("-", None))
        change = (mb - ma) if ma is not None and mb is not None else None
        rows.append([f, ra, ma, rb, mb, change])
    return section.table(["feature", f"rank v{champion.version.version}", "importance", f"rank v{challenger.version.version}",
                          "importance", "change"], rows)
