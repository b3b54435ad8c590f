"""One thin layer over MLflow: runs, model versions with their sha256, aliases, verified loading.

Only the driver process talks to MLflow (SQLite breaks under concurrent writers); Ray tasks return
their results to it.
"""
from __future__ import annotations

import functools
import json
import os
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from mlops.errors import RegistryError
from mlops import stores, tracking_tags

CHAMPION = "champion"


APPLIED_STATE_FILE = "spec/applied_state.json"


def artifact_root_for(uri: str) -> str | None:
    """Artifacts of a sqlite store live beside the database file (so a project dir is self-contained)."""
    db = stores.sqlite_path(uri)
    return (db.parent.resolve() / "artifacts").as_uri() if db is not None else None


def _require_store(uri: str) -> None:
    """Commands that only read never create a store (or its folder): a missing SQLite file is an error
    naming the URI, and the stores found below the working directory."""
    if stores.store_exists(uri):
        return
    found = sorted(str(p) for pattern in (".mlops/mlflow.db", "*/.mlops/mlflow.db", "*/*/.mlops/mlflow.db")
                   for p in Path.cwd().glob(pattern))[:5]
    hint = (f"; stores here: {', '.join(stores.SQLITE + f for f in found)} (--tracking-uri URI)" if found
            else "; nothing has been applied with it (a spec's relative store lives beside the spec)")
    raise RegistryError(f"no tracking store at {uri}{hint}")


def _prepare_store(uri: str) -> None:
    db = stores.sqlite_path(uri)
    if db is not None:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(f"tracking.uri: cannot create the folder of the SQLite store {db} "
                                f"({exc.strerror or exc}); point it at a folder this user can write") from None


# How long a tracking server may take to answer at all: MLflow's own client retries a refused connection
# with backoff for minutes before it gives up, which reads as a hang.
REACH_TIMEOUT_S = 5.0
_REACHED: set[str] = set()  # servers this process found answering: asked once


def check_reachable(uri: str) -> None:
    """A tracking server (http/https URI) answers, or a RegistryError saying it does not, within seconds:
    any HTTP answer counts (a 401 is a server that is there). Other stores are local files: nothing to ask."""
    if not uri.lower().startswith(("http://", "https://")) or uri in _REACHED:
        return
    import requests

    from mlops.errors import UnreachableStore
    from mlops.redact import redact_url

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=REACH_TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as exc:
        reason = "no answer within {:g} s".format(REACH_TIMEOUT_S) if isinstance(exc, requests.Timeout) else \
            "connection refused" if "refused" in str(exc).lower() else type(exc).__name__
        raise UnreachableStore(f"cannot reach the MLflow tracking server at {redact_url(uri)} ({reason}): is it "
                            f"running? (the store comes from tracking.uri, --tracking-uri or $MLOPS_TRACKING_URI)") from None
    _REACHED.add(uri)


# Multirun applies specs in threads of one driver process; MLflow's SQLite store takes one writer at a
# time, and register/promote are check-then-act. Every Registry method holds this (re-entrant) lock.
_MLFLOW_LOCK = threading.RLock()


def _serialized(cls: type) -> type:
    for name, method in list(vars(cls).items()):
        if callable(method) and not name.startswith("__"):
            setattr(cls, name, _locked(method))
    return cls


LOCKED_RETRIES = 8  # "database is locked": another process writes the SQLite store; wait and retry


def _locked(method: Any) -> Any:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        import time

        for attempt in range(LOCKED_RETRIES):
            try:
                with _MLFLOW_LOCK:
                    return method(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - only SQLite's lock contention is retried
                if "database is locked" not in str(exc) or attempt == LOCKED_RETRIES - 1:
                    raise
                time.sleep(min(0.05 * 2 ** attempt, 2.0))  # the write was rolled back: retrying is safe
        raise AssertionError("unreachable")

    return call


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Across processes, one decide-and-promote at a time on a SQLite store (a lock file beside it)."""
    database = stores.sqlite_path(uri)
    if database is None:
        yield
        return
    import fcntl

    path = database.with_suffix(".promote.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class ModelVersion:
    name: str
    version: str
    run_id: str | None
    source: str
    sha256: str | None
    aliases: list[str]
    tags: dict[str, str]


# What a replica needs of a version to load it without MLflow (whose store modules cost it 1.5-2 s of CPU
# to import as it starts): resolved by the deploying process, which has the registry open already.
RECORD_TAGS = (tracking_tags.SIGNATURE, tracking_tags.HASH_SCHEME)


def version_record(mv: ModelVersion) -> dict[str, Any]:
    """A version as plain JSON data for the replicas (mlops.serving.deploy puts it in their user_config)."""
    return {"name": mv.name, "version": mv.version, "source": mv.source, "sha256": mv.sha256,
            "tags": {tag: mv.tags[tag] for tag in RECORD_TAGS if tag in mv.tags}}


def local_folder(source: str) -> Path | None:
    """The folder an artifact URI names on this machine (a `file:` URI or an absolute path), if it is here."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(source)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        path = Path(unquote(parsed.path))
    elif parsed.scheme == "" and source.startswith("/"):
        path = Path(source)
    else:
        return None
    return path if path.is_dir() else None


def fetch_recorded(record: dict[str, Any], dst: Path) -> "Fetched | None":
    """A version's files copied from its folder on this machine into `dst`, by the record a deployer resolved
    (version_record), under the same checks as Registry.fetch: the signature first, then (as it loads) every
    file's hash. None when the files are not in a folder here (a server's store): fetch it through MLflow."""
    import shutil

    mv = ModelVersion(str(record["name"]), str(record["version"]), None, str(record["source"]), record.get("sha256"),
                      [], dict(record.get("tags") or {}))
    folder = local_folder(mv.source)
    if folder is None:
        return None
    _check_signature(mv)
    shutil.copytree(folder, dst, dirs_exist_ok=True)  # a private copy: what is verified is what is loaded
    return Fetched(Path(dst), mv.version, mv.sha256, mv.tags.get(tracking_tags.HASH_SCHEME))


@contextmanager
def _recorded(record: dict[str, Any] | None, name: str, version: str) -> Iterator["Fetched | None"]:
    """The version's files in a private temporary folder when `record` is this version's and its folder is on
    this machine (fetch_recorded), else None: then the registry has to fetch them."""
    if record is None or str(record.get("name")) != name or str(record.get("version")) != str(version):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        yield fetch_recorded(record, Path(tmp) / "model")


def load_version(uri: str, name: str, version: str, record: dict[str, Any] | None = None) -> Any:
    """Version `version` of model `name`, verified and loaded: from its folder by `record` when the deployer
    gave one for it and the folder is on this machine, else through the registry at `uri`."""
    with _recorded(record, name, version) as fetched:
        if fetched is not None:
            return fetched.load()
    return Registry(uri).load(name, version=version)


def load_drift_reference_of(uri: str, name: str, version: str, record: dict[str, Any] | None = None) -> Any:
    """The drift reference of a version (as Registry.drift_reference), from its folder by `record` when it is here."""
    from mlops.models.bundle import load_drift_reference

    with _recorded(record, name, version) as fetched:
        if fetched is not None:
            return load_drift_reference(fetched.directory, fetched.sha256, fetched.hash_scheme)
    return Registry(uri).drift_reference(name, version)


def _check_signature(mv: ModelVersion) -> None:
    """The version's signature holds (mlops.signing), before any of its bytes is read."""
    from mlops.signing import verify

    verify(mv.name, mv.version, mv.sha256, mv.tags.get(tracking_tags.SIGNATURE), f"model '{mv.name}' v{mv.version}")


@dataclass(frozen=True)
class Fetched:
    """A registered version's files downloaded into `directory`, its signature checked; `load` verifies the
    files against the recorded sha256 and loads them, in whichever process on this machine calls it (the
    driver fetches, a worker on its node loads: mlops.runtime.model_work)."""

    directory: Path
    version: str
    sha256: str | None
    hash_scheme: str | None

    def load(self) -> Any:
        from mlops.models.bundle import load_bundle

        bundle = load_bundle(self.directory, self.sha256, self.hash_scheme)
        bundle.meta["registered_version"] = self.version
        return bundle


@_serialized
class Registry:
    """MLflow tracking + model registry for one tracking URI."""

    def __init__(self, uri: str, create: bool = True):
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        os.environ.setdefault("MLFLOW_TRACKING_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        import logging

        from mlflow.tracking import MlflowClient

        for noisy in ("mlflow", "alembic"):  # schema-migration chatter on a new store is not for users
            logging.getLogger(noisy).setLevel(logging.WARNING)
        check_reachable(uri)  # a server that is not there: said in seconds, not after MLflow's retries
        if create:
            _prepare_store(uri)
        else:
            _require_store(uri)
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    # -- runs ---------------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        """The id of experiment `name`, created (with this store's artifact root) when it does not exist."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(name, artifact_location=artifact_root_for(self.uri))

    def start_run(self, experiment: str, run_name: str | None = None, tags: dict[str, str] | None = None,
                  parent_run_id: str | None = None) -> str:
        """Create a run in `experiment` (a child of `parent_run_id` when given); returns its run id."""
        all_tags = dict(tags or {})
        if parent_run_id:
            all_tags[tracking_tags.PARENT_RUN] = parent_run_id
        run = self.client.create_run(self.experiment_id(experiment), run_name=run_name, tags=all_tags)
        return run.info.run_id

    def end_run(self, run_id: str, ok: bool = True) -> None:
        """Mark the run FINISHED, or FAILED when not `ok`."""
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Log params as strings (cut to 6000 characters), 100 per write."""
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """Log metrics at `step`, all in one write."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])

    def log_batch(self, run_id: str, params: dict[str, Any], metrics: dict[str, float]) -> None:
        """Params and metrics in one write (many small runs, e.g. tuning trials, add up)."""
        import time

        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                              params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        """Set tags on the run, values as strings, in one write."""
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_text(self, run_id: str, text: str, path: str) -> None:
        """Save `text` as the run's artifact at `path`."""
        self.client.log_text(run_id, text, path)

    def log_bytes(self, run_id: str, data: bytes, path: str) -> None:
        """Save `data` as the run's artifact at `path`."""
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(path).name
            target.write_bytes(data)
            self.client.log_artifact(run_id, str(target), str(Path(path).parent) if Path(path).parent.name else None)

    def log_dir(self, run_id: str, directory: Path, artifact_path: str) -> str:
        """Upload `directory` under the run's `artifact_path`; returns the artifact URI it went to."""
        self.client.log_artifacts(run_id, str(directory), artifact_path)
        return f"{self.client.get_run(run_id).info.artifact_uri}/{artifact_path}"

    def last_retrain(self, name: str) -> dict[str, Any]:
        """The last retrain attempt recorded on the registered model, with its decision ({} if none)."""
        model = self.client.get_registered_model(name)
        return json.loads((model.tags or {}).get(tracking_tags.LAST_RETRAIN, "{}"))

    def record_applied_state(self, experiment: str, run_id: str, name: str, state: dict[str, Any]) -> None:
        """Keep the last applied state of spec `name` in MLflow too: the apply's run holds it as
        spec/applied_state.json and the experiment's tag `mlops.last_applied.<name>` names that run."""
        self.client.log_text(run_id, json.dumps(state, default=str), APPLIED_STATE_FILE)
        self.client.set_experiment_tag(self.experiment_id(experiment), f"{tracking_tags.LAST_APPLIED}.{name}", run_id)

    def applied_state(self, experiment: str, name: str) -> dict[str, Any]:
        """The last applied state of spec `name` as MLflow keeps it ({} when none was recorded)."""
        found = self.client.get_experiment_by_name(experiment)
        run_id = (found.tags or {}).get(f"{tracking_tags.LAST_APPLIED}.{name}") if found is not None else None
        if not run_id:
            return {}
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.client.download_artifacts(run_id, APPLIED_STATE_FILE, tmp)
                return json.loads(Path(path).read_text())
            except Exception:  # the run or its artifact is gone: as if nothing was recorded
                return {}

    # -- model registry -----------------------------------------------------------------------
    def register(self, name: str, source: str, run_id: str, sha256: str, tags: dict[str, Any] | None = None) -> ModelVersion:
        """A new version of model `name` from `source`, tagged with its sha256, then sealed (see `_seal`)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            self.client.create_registered_model(name, tags={tracking_tags.CHAMPION_HISTORY: "[]"})
        from mlops.models.bundle import HASH_SCHEME

        mv = self.client.create_model_version(name, source, run_id=run_id,
                                              tags={tracking_tags.SHA256: sha256, tracking_tags.HASH_SCHEME: HASH_SCHEME,
                                                    **{k: str(v) for k, v in (tags or {}).items()}})
        self._seal(name, str(mv.version), source, sha256)
        return self.version(name, mv.version)

    def _seal(self, name: str, version: str, source: str, sha256: str) -> None:
        """Bind the bundle to this name and version, known only now: the signature tag (with a key) covers
        name, version and hash, and the bundle's integrity record, rewritten in the store, carries the same
        for MLflow's loader. Until both are written the version is unsigned, so a signing key refuses it."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        from mlops.models.bundle import write_integrity
        from mlops.signing import sign

        signature = sign(name, version, sha256)
        if signature:
            self.client.set_model_version_tag(name, version, tracking_tags.SIGNATURE, signature)
        with tempfile.TemporaryDirectory(prefix="mlops-seal-") as tmp:
            record = write_integrity(Path(tmp), sha256, name, version)
            get_artifact_repository(source, tracking_uri=self.uri).log_artifact(str(record))

    def version(self, name: str, version: str | int) -> ModelVersion:
        """The registered version `version` of model `name`."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(name, str(version))
        except MlflowException:
            raise RegistryError(f"model '{name}' has no version {version}") from None
        return _to_version(mv)

    def by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version of model `name` that `alias` points at."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version_by_alias(name, alias)
        except MlflowException:
            raise RegistryError(f"model '{name}' has no version with alias '{alias}'") from None
        return _to_version(mv)

    def model_names(self) -> list[str]:
        """The names of every registered model in this store, sorted."""
        return sorted(m.name for m in self.client.search_registered_models(max_results=1000))

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of model `name`, oldest first, each with its aliases."""
        found = sorted((_to_version(mv) for mv in self.client.search_model_versions(f"name = '{name}'")),
                       key=lambda v: int(v.version))
        if found:  # searched versions come without their aliases; the registered model has them all
            aliases = self.client.get_registered_model(name).aliases or {}
            for v in found:
                v.aliases = sorted(a for a, target in aliases.items() if str(target) == v.version)
        return found

    def champion_history(self, name: str) -> list[str]:
        """The versions model `name` has had as champion, oldest first (the last is the current one)."""
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(name)
        except MlflowException:
            raise RegistryError(f"no registered model named '{name}' in {self.uri}") from None
        return json.loads(model.tags.get(tracking_tags.CHAMPION_HISTORY, "[]"))

    def promote(self, name: str, version: str | int, alias: str = CHAMPION) -> None:
        """Point `alias` at `version`; for the champion, remember the order for rollback."""
        self.version(name, version)  # raises if missing
        if alias == CHAMPION:  # the history first: a crash between the two writes leaves rollback a clear error
            history = self.champion_history(name)
            if not history or history[-1] != str(version):
                history.append(str(version))
            self.client.set_registered_model_tag(name, tracking_tags.CHAMPION_HISTORY, json.dumps(history))
        self.client.set_registered_model_alias(name, alias, str(version))

    def rollback(self, name: str) -> str:
        """Restore the previous champion; returns the version now serving."""
        history = self.champion_history(name)
        if len(history) < 2:
            raise RegistryError(f"model '{name}' has no previous champion to roll back to (history: {history})")
        current = self.by_alias(name, CHAMPION).version
        if current != history[-1]:  # the alias moved outside mlops: the history no longer says what came before
            raise RegistryError(f"model '{name}': the champion is v{current} but mlops' history ends at v{history[-1]}; "
                                f"promote the version you want explicitly (mlops promote {name} VERSION)")
        history.pop()
        self.verify(name, history[-1])  # never point the alias at a version that does not load
        self.client.set_registered_model_alias(name, CHAMPION, history[-1])
        self.client.set_registered_model_tag(name, tracking_tags.CHAMPION_HISTORY, json.dumps(history))
        return history[-1]

    def verify(self, name: str, version: str | int):
        """Load a version (its hash checked): RegistryError if it cannot serve; else the loaded bundle, for
        a caller that deploys it next (and need not load it again)."""
        from mlops.errors import MlopsError

        try:
            return self.load(name, version=version)
        except Exception as exc:  # noqa: BLE001 - any failure to load means: do not move an alias to it
            reason = str(exc) if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
            raise RegistryError(f"model '{name}' v{version} does not load ({reason}); the alias stays where it is") from None

    def download(self, version: ModelVersion, dst: Path | None = None) -> Path:
        """Download the version's bundle into `dst` (a new temporary directory by default); returns its path."""
        from mlflow.artifacts import download_artifacts

        dst = Path(dst or tempfile.mkdtemp(prefix="mlops-model-"))
        # This store, not MLflow's process-wide URI: a server that proxies artifacts (mlflow-artifacts:/) resolves
        # them only through its own tracking URI.
        return Path(download_artifacts(artifact_uri=version.source, dst_path=str(dst), tracking_uri=self.uri))

    def load(self, name: str, alias: str | None = CHAMPION, version: str | int | None = None):
        """Download and load a version, verifying its sha256 first."""
        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:  # flavors load eagerly
            return self.fetch(name, Path(tmp), alias, version).load()

    def fetch(self, name: str, dst: Path, alias: str | None = CHAMPION, version: str | int | None = None) -> Fetched:
        """Download a version (or the alias') into `dst` once its signature holds, for a loader that verifies
        its files (`Fetched.load`)."""
        mv = self._signed(name, alias, version)
        return Fetched(self.download(mv, dst), mv.version, mv.sha256, mv.tags.get(tracking_tags.HASH_SCHEME))

    def meta(self, name: str, version: str | int) -> dict[str, Any]:
        """A version's bundle metadata, verified as `load` verifies the whole version (signature, then every
        file's hash), without loading its model: what a deploy needs to build the endpoint's request model."""
        return self.meta_of(self.version(name, version))

    def meta_of(self, mv: ModelVersion) -> dict[str, Any]:
        """`meta` of a version already looked up (by version or alias)."""
        from mlops.models.bundle import verified_meta

        _check_signature(mv)
        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            meta = verified_meta(self.download(mv, Path(tmp)), mv.sha256, mv.tags.get(tracking_tags.HASH_SCHEME))
        return {**meta, "registered_version": mv.version}

    def drift_reference(self, name: str, version: str | int) -> Any:
        """The drift reference a version was trained with (None without monitoring artifacts), verified as
        `load` verifies the whole version, without loading its model."""
        from mlops.models.bundle import load_drift_reference

        mv = self._signed(name, None, version)
        with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
            return load_drift_reference(self.download(mv, Path(tmp)), mv.sha256, mv.tags.get(tracking_tags.HASH_SCHEME))

    def _signed(self, name: str, alias: str | None, version: str | int | None) -> ModelVersion:
        """The version (or the alias'), its signature checked before any download: the signature covers name
        and version too, so another model's or an older version's signed bundle (and its tags) copied here is
        refused."""
        mv = self.version(name, version) if version is not None else self.by_alias(name, alias)
        _check_signature(mv)
        return mv


def _to_version(mv: Any) -> ModelVersion:
    return ModelVersion(mv.name, str(mv.version), mv.run_id, mv.source, (mv.tags or {}).get(tracking_tags.SHA256),
                        list(getattr(mv, "aliases", []) or []), dict(mv.tags or {}))
