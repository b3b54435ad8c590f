"""`mlops check`: one batch of new data against the champion's training profile, drift reference and
outlier detector; a JSON report for machines and an HTML report for people."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem

SEVERITIES = ("warn", "error")  # in rising order; `mlops check --fail-on` takes one (an 'ignore' never counts)


@dataclass
class DataCheck:
    name: str
    version: str
    report: Any  # check.CheckReport
    drift: Any = None  # drift.DriftReport
    outliers: dict[str, Any] | None = None
    skipped: str | None = None  # why drift was not tested
    reference: Any = None  # the DriftReference the batch was tested against (for the HTML plots)
    # What the input contract refuses, as every route and batch scoring would: {row (None: the column), column,
    # message}, rows counted from 0 (mlops.models.input_contract).
    refused: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The batch passed its checks: no anomaly of severity 'error'."""
        return self.report.ok

    @property
    def worst(self) -> str | None:
        """The most severe finding: 'error', 'warn', or None when the batch is clean."""
        found = {a.severity for a in self.report.anomalies}
        return next((s for s in reversed(SEVERITIES) if s in found), None)

    def fails(self, fail_on: str = "error") -> bool:
        """Whether the worst finding is at least `fail_on` ('warn' or 'error'): the check's exit status."""
        if fail_on not in SEVERITIES:
            raise DataError(Problem("--fail-on", "not a severity", value=fail_on, expected=f"one of {list(SEVERITIES)}"))
        return self.worst is not None and SEVERITIES.index(self.worst) >= SEVERITIES.index(fail_on)

    def verdict(self) -> str:
        """One line naming the worst finding: 'ok: no findings', 'warn: 2 warnings (drift: 33% of features
        drifted: plan, age, out_of_range in age)', 'error: 1 error (missing_column in x); 1 warning (...)'."""
        if self.worst is None:
            return "ok: no findings"
        parts = []
        for severity in reversed(SEVERITIES):
            found = [a for a in self.report.anomalies if a.severity == severity]
            if found:
                kinds = ", ".join(dict.fromkeys(f"{a.kind} in {a.column}" if a.column else f"{a.kind}: {a.detail}"
                                                for a in found))
                noun = "error" if severity == "error" else "warning"
                parts.append(f"{len(found)} {noun}{'' if len(found) == 1 else 's'} ({kinds})")
        return f"{self.worst}: {'; '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the model version checked against, the check report, drift and outliers."""
        return {"model": self.name, "version": self.version, **self.report.to_dict(), "worst": self.worst,
                "drift": self.drift.to_dict() if self.drift else None, "drift_skipped": self.skipped,
                "outliers": self.outliers, "refused": self.refused}


def check_data(project: Any, frame: Any, *, version: str | None = None) -> DataCheck:
    """Validate `frame` against the champion (or `version`); drift and outliers when the model has them."""
    from mlops.detectors.data_contract import Anomaly, check_batch
    from mlops.registry import CHAMPION, Registry
    from mlops.spec.validation import effective_validation

    spec = project.spec
    validation = effective_validation(spec)
    registry = Registry(spec.tracking.uri, create=False)  # checking reads: a missing store is an error
    bundle = registry.load(spec.name, version=version) if version else registry.load(spec.name, alias=CHAMPION)
    if bundle.monitoring is None:
        raise DataError(Problem("validation", f"model {spec.name} v{bundle.meta['registered_version']} was trained "
                                              "without a data profile", hint="retrain it with this version of mlops"))
    severities = validation.on_violation.model_dump()
    # The input contract first (what every route and batch scoring refuse, in their words); the data
    # quality checks then read the batch as the model would (bad cells as missing values).
    checked, refusals, judged = contract_findings(bundle, spec, frame, severities)
    report = check_batch(checked, bundle.monitoring.profile, severities,
                         null_tolerance=validation.null_fraction_tolerance, allowed_extra=tuple(checked.columns))
    # Missing and unknown columns are the contract's to name (refused, or imputed: a warning), once.
    report.anomalies = refusals + [a for a in report.anomalies if a.kind not in ("missing_column", "unexpected_column")]
    result = DataCheck(spec.name, bundle.meta["registered_version"], report,
                       refused=[{"row": p.row, "column": p.column, "message": p.message} for p in judged.columns + judged.cells])
    blocking = {a.kind for a in report.anomalies} & {"missing_column", "type_mismatch", "empty_batch"}
    if blocking:
        result.skipped = f"drift and outliers not tested: {', '.join(sorted(blocking))}"
        return result
    frame = checked
    if validation.drift is not None:
        from mlops.detectors.builtin import run_drift

        result.reference = bundle.monitoring.reference
        try:
            result.drift = run_drift(result.reference, frame, validation.drift)
        except ValueError as exc:  # e.g. ks on a model without numeric inputs
            raise DataError(Problem("validation.drift.detector", str(exc), value=validation.drift.detector)) from None
        if result.drift.is_drift:
            names = ", ".join(result.drift.drifted_features[:8])
            report.anomalies.append(Anomaly("drift", None, len(result.drift.drifted_features),
                                            f"{result.drift.drift_share:.0%} of features drifted: {names}",
                                            severities["drift"]))
    if bundle.monitoring.outliers is not None:
        scores, flags = bundle.monitoring.outliers.score(frame)
        result.outliers = {"detector": bundle.monitoring.outliers.detector, "count": int(flags.sum()),
                           "rate": float(flags.mean()), "threshold": bundle.monitoring.outliers.threshold,
                           "expected_rate": 1 - validation.outliers.threshold_percentile / 100 if validation.outliers else None}
    return result


def contract_findings(bundle: Any, spec: Any, frame: Any, severities: dict[str, str]) -> tuple[Any, list[Any], Any]:
    """The input contract's verdict on the batch (mlops.models.input_contract), as check anomalies: each
    column and cell that every route and batch scoring refuse is an error in their words (cells named by
    row, counted from 0); a missing column that is imputed is a warning. Returns the batch as the model
    reads it (refused cells and unknown columns out), the anomalies, and the contract's judgement."""
    import numpy as np

    from mlops.detectors.data_contract import Anomaly
    from mlops.models.model_contract import contract_for

    contract = contract_for(bundle, also=[spec.data.target, spec.data.id_column, spec.data.timestamp,
                                          *spec.data.entity_keys])
    judged = contract.judge(frame)
    found = [Anomaly(p.kind, p.column, len(frame), p.message, "error") for p in judged.columns]
    for column in judged.imputed_columns:
        found.append(Anomaly("missing_column", column, len(frame), "column is missing: imputed in every row (it had "
                                                                    "missing values in training)",
                             "warn" if severities.get("missing_column") == "error" else severities.get("missing_column", "warn")))
    by_column: dict[tuple[str, str], list[Any]] = {}
    for problem in judged.cells:
        by_column.setdefault((problem.column, problem.kind), []).append(problem)
    for (column, kind), problems in by_column.items():
        listed = "; ".join(f"row {p.row}: {p.message}" for p in problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        found.append(Anomaly(kind, column, len(problems), f"{len(problems)} refused by every route and batch scoring "
                                                          f"({listed}{more})", "error"))
    checked = judged.frame.drop(columns=[*judged.imputed_columns, *(p.column for p in judged.columns
                                                                  if p.kind == "unexpected_column")])
    for problem in judged.cells:
        checked.iloc[problem.row, checked.columns.get_loc(problem.column)] = np.nan
    return checked, found, judged


def write_reports(project: Any, result: DataCheck, frame: Any, json_path: str | None, html_path: str | None) -> dict[str, Path]:
    """The JSON report (always) and the HTML drift report (when drift was tested); returns where they went."""
    import json

    from mlops.detectors.drift_report import render_html
    from mlops.serving.traffic_log import monitoring_dir

    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = monitoring_dir(project.base_dir, project.spec.name) / "reports"
    out = {"json": Path(json_path) if json_path else folder / f"check-{stamp}.json"}
    out["json"].parent.mkdir(parents=True, exist_ok=True)
    out["json"].write_text(json.dumps(result.to_dict(), indent=2, default=str))
    if result.drift is not None:
        out["html"] = Path(html_path) if html_path else folder / f"drift-{stamp}.html"
        out["html"].parent.mkdir(parents=True, exist_ok=True)
        out["html"].write_text(render_html(result.drift, result.reference, frame))
    return out
