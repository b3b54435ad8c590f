"""Monitoring artifacts kept in the model bundle (monitoring/): the data profile, the validation config
applied at train time, the drift reference sample and the outlier detector's settings.

Everything is JSON or parquet (no pickle): the outlier detector is refitted from the saved reference with
its saved seed when the bundle loads. The files are written before the bundle is hashed, so
`load_bundle`'s sha256 check covers them too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIR = "monitoring"


@dataclass
class MonitoringArtifacts:
    """What monitoring needs from training time."""

    profile: dict[str, Any]  # mlops.detectors.column_profile.infer_profile
    reference: Any  # mlops.detectors.drift.DriftReference
    config: dict[str, Any]  # the validation section as applied
    outliers: Any = None  # mlops.detectors.outliers.OutlierDetector, or None


def save(monitoring: MonitoringArtifacts, bundle_dir: Path) -> None:
    """Write the artifacts into the bundle directory (before it is hashed)."""
    out = Path(bundle_dir) / DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.json").write_text(json.dumps(monitoring.profile, indent=1, default=str))
    (out / "config.json").write_text(json.dumps(monitoring.config, indent=1, default=str))
    if monitoring.outliers is not None:
        monitoring.outliers.save(out)  # writes the reference too
    else:
        monitoring.reference.to_dir(out)


def load_reference(bundle_dir: Path) -> Any:
    """The drift reference of a (hash-verified) bundle alone, or None for bundles trained without it."""
    from mlops.detectors.drift import DriftReference

    src = Path(bundle_dir) / DIR
    return DriftReference.from_dir(src) if (src / "profile.json").is_file() else None


def load(bundle_dir: Path) -> MonitoringArtifacts | None:
    """The artifacts of a (hash-verified) bundle, or None for bundles trained without them."""
    from mlops.detectors.drift import DriftReference

    src = Path(bundle_dir) / DIR
    if not (src / "profile.json").is_file():
        return None
    outliers = None
    if (src / "outliers.json").is_file():
        from mlops.detectors.outliers import OutlierDetector

        outliers = OutlierDetector.load(src)
    reference = outliers.reference if outliers is not None else DriftReference.from_dir(src)
    return MonitoringArtifacts(json.loads((src / "profile.json").read_text()), reference,
                               json.loads((src / "config.json").read_text()), outliers)
