"""Model bundles: a directory with the fitted model, its metadata, and a sha256 over both.

Layout:  model/
           mlops_model.json   flavor, task, classes, input schema, metrics, ...
           <flavor files>     sklearn: pipeline.skops (preprocessing + estimator together; skops'
                              format, rebuilt from trusted types only; format-1 bundles may have
                              pipeline.pkl instead, unpickled only as mlops.models.legacy_pickle allows)
           MLmodel, input_example.json, serving_input_example.json
                              the same bundle as an MLflow model (mlops.models.mlflow_model); older
                              bundles have none
           mlops_integrity.json  the manifest sha256 for loaders that get only a path; registration
                              adds the model name, version and their signature

The sha256 is recorded when the bundle is registered; `load_bundle` refuses a bundle whose files no
longer hash to it, before unpickling anything.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import RegistryError
from mlops.plugins import model_flavors

META_FILE = "mlops_model.json"


@dataclass
class Bundle:
    """A loaded model plus its metadata; predict/predict_proba take a DataFrame of raw inputs."""

    model: Any
    meta: dict[str, Any]
    monitoring: Any = None  # mlops.detectors.artifacts.MonitoringArtifacts, when trained with them

    @property
    def task(self) -> str:
        """The model's task, as recorded in its metadata."""
        return self.meta["task"]

    @property
    def input_columns(self) -> list[str]:
        """Names of the input columns, in the order of the recorded input schema."""
        return [c["name"] for c in self.meta["input_schema"]]

    def predict(self, X: Any) -> Any:
        """The model's predictions for the raw inputs `X`."""
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities for `X`; None unless the model is a classifier that gives them."""
        return self.model.predict_proba(X) if self.task == "classification" and hasattr(self.model, "predict_proba") else None


class SklearnFlavor:
    """Any object with the sklearn predict API (pipelines, plugin estimators), saved with skops."""

    file = "pipeline.skops"
    legacy_file = "pipeline.pkl"  # joblib, in format-1 bundles written before skops

    @staticmethod
    def save(model: Any, directory: Path) -> None:
        """Write `model` into `directory` in skops' format."""
        from mlops.models import safe_format

        safe_format.save(model, directory / SklearnFlavor.file)

    @staticmethod
    def load(directory: Path, meta: dict[str, Any]) -> Any:
        """The model in `directory`: from its skops file, or (format 1, when allowed) its legacy joblib file."""
        from mlops.models import legacy_pickle, safe_format

        if (directory / SklearnFlavor.file).is_file():
            return safe_format.load(directory / SklearnFlavor.file)
        return legacy_pickle.load(directory / SklearnFlavor.legacy_file, meta, SklearnFlavor.file)


HASH_SCHEME = "manifest-v1"  # recorded with each version (registry tag), so older versions keep verifying
# The bundle layout this mlops writes (meta "format"); it reads every one up to it. 1: may hold pickles
# (pipeline.pkl, preprocessing.pkl); 2: skops files only, so a pickle found in one is never loaded.
BUNDLE_FORMAT = 2
INTEGRITY_FILE = "mlops_integrity.json"  # the manifest hash itself: it cannot be one of the files it covers
# MLflow writes this beside the MLmodel of a version it loads through models:/, in the store's own
# artifact folder when the store is local; it names the version MLflow resolved, which the pyfunc loader
# compares with the signed integrity record (mlops.models.pyfunc.registered_as).
MLFLOW_REGISTERED_META = "registered_model_meta"
NOT_IN_MANIFEST = frozenset({INTEGRITY_FILE, MLFLOW_REGISTERED_META})  # top-level names only


def manifest_sha256(directory: Path) -> str:
    """sha256 of the bundle's manifest: every file's relative path, size and sha256, sorted by path. A
    file split or joined differently, renamed or resized changes it. The integrity file and MLflow's
    registered_model_meta are left out (no bundle had either before they were)."""
    entries = []
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        if str(path.relative_to(directory)) in NOT_IN_MANIFEST:
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        entries.append([str(path.relative_to(directory)), path.stat().st_size, digest.hexdigest()])
    return hashlib.sha256(json.dumps(entries, separators=(",", ":")).encode()).hexdigest()


def legacy_directory_sha256(directory: Path) -> str:
    """The scheme of versions registered before manifests (path + NUL + bytes, no lengths): still checked
    for those versions, never written again."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def bundle_sha256(directory: Path, scheme: str | None) -> str:
    """The bundle's sha256 under `scheme`: the manifest hash, or the legacy one for older versions."""
    return manifest_sha256(directory) if scheme == HASH_SCHEME else legacy_directory_sha256(directory)


def check_format(meta: dict[str, Any], directory: Path) -> None:
    """Refuse a bundle written in a format this mlops does not read (bundles without one are format 1)."""
    found = meta.get("format", 1)
    if not isinstance(found, int) or isinstance(found, bool) or found > BUNDLE_FORMAT:
        raise RegistryError(f"the model bundle at {directory} has format {found!r}, written by mlops "
                            f"{meta.get('mlops_version', '?')}; this mlops reads format {BUNDLE_FORMAT}: a newer mlops is needed")


def save_bundle(model: Any, meta: dict[str, Any], directory: Path, monitoring: Any = None,
                input_example: Any = None) -> str:
    """Write the bundle (and its monitoring artifacts), which is an MLflow model too, and return its
    sha256. `input_example`: a few rows of raw inputs, shown by MLflow with the signature."""
    save_model_files(model, meta, directory, monitoring)
    return seal_bundle(directory, meta, input_example)


def save_model_files(model: Any, meta: dict[str, Any], directory: Path, monitoring: Any = None) -> None:
    """The part of a bundle that needs the model's own library: the model in its flavor's format, and the
    monitoring artifacts."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_flavors.get(meta["flavor"]).load().save(model, directory)
    if monitoring is not None:
        from mlops.detectors import artifacts

        artifacts.save(monitoring, directory)


def seal_bundle(directory: Path, meta: dict[str, Any], input_example: Any = None) -> str:
    """The rest, which needs MLflow and no model library: the metadata, the MLmodel file and the integrity
    record; returns the sha256 of every file."""
    from mlops.models.mlflow_model import write_mlmodel
    from mlops.plugins import package_version

    meta = {**meta, "format": BUNDLE_FORMAT, "mlops_version": package_version("mlops")}
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
    write_mlmodel(directory, meta, input_example)  # before hashing: the MLmodel is part of the version
    sha = manifest_sha256(directory)
    write_integrity(directory, sha)
    return sha


def write_integrity(directory: Path, sha256: str, name: str | None = None, version: str | None = None) -> Path:
    """Record the manifest hash for loaders that get only a path (MLflow's pyfunc loader); once registered,
    with the model's name and version, signed together when a key is configured. The registry tags stay
    the authority for mlops' own loads. Returns the record's path."""
    from mlops.signing import sign

    record: dict[str, Any] = {"sha256": sha256, "hash_scheme": HASH_SCHEME}
    if name is not None and version is not None:  # a saved bundle has no version until it is registered
        record.update(name=name, version=str(version), signature=sign(name, version, sha256))
    path = Path(directory) / INTEGRITY_FILE
    path.write_text(json.dumps(record, indent=2))
    return path


def read_integrity(directory: Path) -> dict[str, Any]:
    """The integrity record `save_bundle` wrote; RegistryError when the bundle has none."""
    path = Path(directory) / INTEGRITY_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        raise RegistryError(f"no readable {INTEGRITY_FILE} in the model at {directory}: its files cannot be "
                            "verified, so it is not loaded") from None
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        raise RegistryError(f"{path} records no sha256: the model's files cannot be verified, so it is not loaded")
    return record


def verified_meta(directory: Path, expected_sha256: str | None, scheme: str | None = HASH_SCHEME) -> dict[str, Any]:
    """The bundle's metadata, once its files match the recorded hash (`scheme`: how it was computed); a
    mismatch is a RegistryError and nothing of it is read."""
    directory = Path(directory)
    if not (directory / META_FILE).is_file():
        raise RegistryError(f"{directory} is not a model bundle (no {META_FILE})")
    if not expected_sha256:
        raise RegistryError(f"no sha256 recorded for the model at {directory}; refusing to load it")
    actual = bundle_sha256(directory, scheme)
    if actual != expected_sha256:
        raise RegistryError(f"model artifact at {directory} fails its integrity check: sha256 is {actual[:12]}..., "
                            f"registered {expected_sha256[:12]}...; it was modified after registration")
    meta = json.loads((directory / META_FILE).read_text())
    check_format(meta, directory)
    return meta


def load_drift_reference(directory: Path, expected_sha256: str | None, scheme: str | None = HASH_SCHEME) -> Any:
    """The drift reference of a verified bundle (None for a bundle trained without monitoring artifacts),
    without loading its model or refitting its outlier detector: what an endpoint's monitor needs."""
    verified_meta(directory, expected_sha256, scheme)
    from mlops.detectors import artifacts

    return artifacts.load_reference(Path(directory))


def load_bundle(directory: Path, expected_sha256: str | None, scheme: str | None = HASH_SCHEME) -> Bundle:
    """Verify the bundle against the recorded hash (`scheme`: how it was computed), then load it. A mismatch
    is never loaded."""
    directory = Path(directory)
    meta = verified_meta(directory, expected_sha256, scheme)
    model = model_flavors.get(meta["flavor"]).load().load(directory, meta)
    monitoring = None
    if (directory / "monitoring").is_dir():
        from mlops.detectors import artifacts

        monitoring = artifacts.load(directory)
    return Bundle(model, meta, monitoring)
