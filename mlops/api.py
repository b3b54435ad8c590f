"""The Python API the CLI wraps: load, validate, plan, apply, schema, and model-registry actions."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from mlops.project import Project, load_project

DEFAULT_TRACKING_URI = "sqlite:///.mlops/mlflow.db"


def load(spec_path: str | Path, overrides: Sequence[str] = (), check_data: bool = True) -> Project:
    """Compose, validate and probe a spec; raises SpecError with every problem found."""
    return load_project(spec_path, overrides, check_data=check_data)


def plan(spec_path: str | Path, overrides: Sequence[str] = ()):
    """The plan `apply` would run; pure, no Ray, no MLflow."""
    from mlops.plan import compile_plan

    return compile_plan(load(spec_path, overrides))


def preflight(project: Project) -> None:
    """Checks that need the model libraries (parameter names), still before any Ray work."""
    from mlops.models.estimators import check_params

    if project.spec.model.type == "sklearn":
        check_params(project.spec.model.model_dump())


def apply(spec_path: str | Path, overrides: Sequence[str] = (), *, address: str | None = None, force: bool = False,
          on_done: Callable[..., None] | None = None):
    """Run the spec: train, evaluate, register and batch-predict; idempotent for an unchanged plan."""
    from mlops.plan import compile_plan
    from mlops.runtime.apply import apply_plan

    project = load(spec_path, overrides)
    preflight(project)
    return apply_plan(project, compile_plan(project), address=address, force=force, on_done=on_done)


def submit(spec_path: str | Path, overrides: Sequence[str], address: str, *, upload: bool = False, wait: bool = True):
    """Validate locally, then run the apply as a Ray job on the cluster at `address`."""
    from mlops.runtime.submit import submit as submit_job

    project = load(spec_path, overrides)
    preflight(project)
    return submit_job(project, overrides, address, upload=upload, wait=wait)


def schema() -> dict[str, Any]:
    """JSON Schema of the whole spec (for editors)."""
    from mlops.spec import Spec

    doc = Spec.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "mlops spec"
    return doc


def tracking_uri(uri: str | None = None) -> str:
    return uri or os.environ.get("MLOPS_TRACKING_URI") or DEFAULT_TRACKING_URI


def registry(uri: str | None = None):
    from mlops.registry import Registry

    return Registry(tracking_uri(uri))


def promote(name: str, version: str, uri: str | None = None) -> None:
    """Make `version` the champion."""
    registry(uri).promote(name, version)


def rollback(name: str, uri: str | None = None) -> str:
    """Restore the previous champion; returns its version."""
    return registry(uri).rollback(name)


def load_model(name: str, alias: str = "champion", version: str | None = None, uri: str | None = None):
    """A registered model, its sha256 verified before loading."""
    return registry(uri).load(name, alias=alias, version=version)
