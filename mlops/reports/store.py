"""What a report reads about a version from MLflow (its run's metrics, tags and artifacts, its bundle, the
resolved spec it was applied with), and where a report is stored: the artifacts of the version's run."""
from __future__ import annotations

import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlops.errors import Problem, RegistryError, SpecError

CARD_DIR = "card"  # artifact folder of the version's run that holds its card (and its comparisons)


@dataclass
class VersionRecord:
    """One registered version, read lazily from the registry."""

    registry: Any
    name: str
    version: Any  # mlops.registry.ModelVersion

    @functools.cached_property
    def run(self) -> Any:
        """The MLflow run that registered the version (None when it is gone)."""
        if not self.version.run_id:
            return None
        try:
            return self.registry.client.get_run(self.version.run_id)
        except Exception:  # noqa: BLE001 - a deleted run: the card says what it cannot show
            return None

    @property
    def tags(self) -> dict[str, str]:
        """The run's tags ({} without a run)."""
        return dict(self.run.data.tags) if self.run is not None else {}

    @property
    def metrics(self) -> dict[str, float]:
        """The run's metrics ({} without a run)."""
        return dict(self.run.data.metrics) if self.run is not None else {}

    @functools.cached_property
    def bundle(self) -> Any:
        """The loaded model, its sha256 verified."""
        return self.registry.load(self.name, version=self.version.version)

    def artifact(self, path: str) -> Optional[bytes]:
        """The bytes of the run's artifact at `path`; None when absent."""
        if self.run is None:
            return None
        with tempfile.TemporaryDirectory(prefix="mlops-report-") as tmp:
            try:
                local = self.registry.client.download_artifacts(self.version.run_id, path, tmp)
            except Exception:  # noqa: BLE001 - MLflow raises several kinds for a missing artifact
                return None
            return Path(local).read_bytes() if Path(local).is_file() else None

    def artifact_json(self, path: str) -> Any:
        """The run's JSON artifact at `path`, parsed; None when absent."""
        data = self.artifact(path)
        return json.loads(data) if data is not None else None

    def plots(self) -> dict[str, bytes]:
        """The run's plots ({file name: PNG})."""
        if self.run is None:
            return {}
        names = [f.path for f in self.registry.client.list_artifacts(self.version.run_id, "plots") if not f.is_dir]
        return {Path(n).name: data for n in names if (data := self.artifact(n)) is not None}

    def spec(self) -> dict[str, Any]:
        """The resolved spec the version was applied with ({} when not recorded)."""
        import yaml

        data = self.artifact("spec/resolved_spec.yaml")
        return (yaml.safe_load(data) or {}) if data else {}

    def test_rows(self) -> Any:
        """The test rows kept at evaluation, with their label column (None for a version evaluated before)."""
        import io

        import pandas as pd

        data = self.artifact("evaluation/test_rows.parquet")
        return pd.read_parquet(io.BytesIO(data)) if data else None


def record(registry: Any, name: str, version: Optional[str] = None) -> VersionRecord:
    """A version (default: the champion, else the newest) of model `name`; a SpecError naming what is missing."""
    from mlops.registry import CHAMPION

    versions = registry.versions(name)
    if not versions:
        raise SpecError(Problem("NAME", f"no registered model of this name in {registry.uri}", value=name))
    if version is None:
        try:
            return VersionRecord(registry, name, registry.by_alias(name, CHAMPION))
        except RegistryError:
            version = max(versions, key=lambda v: int(v.version)).version
    found = [v for v in versions if str(v.version) == str(version)]
    if not found:
        raise SpecError(Problem("VERSION", f"model {name} has no version {version}", value=version,
                                expected=f"one of {sorted(int(v.version) for v in versions)}"))
    return VersionRecord(registry, name, found[0])


def save(registry: Any, rec: VersionRecord, stem: str, markdown: str, images: dict[str, bytes], page: str,
         out_dir: Optional[Path]) -> dict[str, str]:
    """Log the page (Markdown, its images, HTML) to the version's run under card/, and write it to `out_dir`
    when given; the paths written ({"html": ..., "markdown": ..., "artifact": ...})."""
    written: dict[str, str] = {}
    if rec.run is not None:
        registry.log_text(rec.version.run_id, markdown, f"{CARD_DIR}/{stem}.md")
        registry.log_text(rec.version.run_id, page, f"{CARD_DIR}/{stem}.html")
        for path, png in images.items():
            registry.log_bytes(rec.version.run_id, png, f"{CARD_DIR}/{path}")
        written["artifact"] = f"runs:/{rec.version.run_id}/{CARD_DIR}/{stem}.html"
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{stem}.md").write_text(markdown)
        (out_dir / f"{stem}.html").write_text(page)
        for path, png in images.items():
            (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / path).write_bytes(png)
        written["markdown"], written["html"] = str(out_dir / f"{stem}.md"), str(out_dir / f"{stem}.html")
    return written
