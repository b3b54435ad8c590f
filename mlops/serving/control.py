"""Endpoint lifecycle used by the CLI and API: serve, follow the alias, status, predict, stop."""
from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mlops.errors import DataError, MlopsError, Problem
from mlops.plan.graph import Node
from mlops.project import Project, load_project
from mlops.serving.deploy import (Deployed, absolute_tracking_uri, deploy_and_record, endpoint_env, endpoint_unchanged,
                                  ensure_online, update_version)


@contextmanager
def _on_cluster(address: str | None) -> Iterator[bool]:
    """Use the Ray this process already has, else connect to `address`; yields False if there is none."""
    import ray

    from mlops.cluster.session import ray_session

    if ray.is_initialized():
        yield True
        return
    if address is None:
        yield False
        return
    with ray_session("local", address):
        yield True


def serve(project: Project, node: Node, *, detach: bool, address: str | None,
          on_ready: Callable[[Deployed], None]) -> Deployed:
    """Deploy `node` (the project's deploy node, as applied); in the foreground, block until Ctrl-C/SIGTERM
    and shut Serve down cleanly. The project says only where to run it (hardware)."""
    from mlops.cluster.session import ray_session, resolve_address
    from mlops.cluster.local_head import ensure_head
    from mlops.plan.endpoint import EndpointSettings

    settings = EndpointSettings.of(node)
    env = endpoint_env(settings)
    remote = resolve_address(project.spec.hardware.cluster, address)
    hidden = settings.auth.secret_env() if settings.auth is not None else []  # replicas get the token's sha256, never the token
    if detach and not remote:
        running = _unchanged_endpoint(node)
        if running is not None:  # same settings, same version: leave it (and its traffic statistics) alone
            on_ready(running)
            return running
        address = ensure_head(env, project.spec.hardware.local_cpus, hidden=hidden).gcs
    elif not remote:
        os.environ.update(env)  # read by the Serve controller of the embedded Ray we are about to start
    # An embedded Ray's processes copy this process' environment when they start: without the token.
    withheld = {name: os.environ.pop(name) for name in hidden if name in os.environ and not remote}
    try:
        # In the foreground the endpoint gets its own Ray, never this directory's head: its Ctrl-C shuts Serve
        # down, which on the head would take the detached endpoints with it.
        with ray_session(project.spec.hardware.cluster, address, project.spec.hardware.local_cpus, local_head=detach):
            os.environ.update(withheld)  # the deploy below reads it, to send its sha256
            withheld = {}
            deployed = deploy_and_record(node)
            on_ready(deployed)
            if not detach:
                _block_until_interrupted()
    finally:
        os.environ.update(withheld)
    return deployed


def _unchanged_endpoint(node: Node) -> Deployed | None:
    """The node's endpoint, when it already runs on mlops' local head with the node's settings and the
    alias' version."""
    from mlops.errors import RegistryError
    from mlops.plan.endpoint import EndpointSettings
    from mlops.registry import Registry
    from mlops.serving.app_records import recorded_app

    settings = EndpointSettings.of(node)
    app = recorded_app(settings.name)
    if app is None:
        return None
    try:
        version = Registry(node.runtime["tracking_uri"]).by_alias(settings.name, settings.model_alias).version
    except RegistryError:
        return None
    return Deployed(settings.name, app.url, version) if endpoint_unchanged(node, version) else None


def _block_until_interrupted() -> None:
    from ray import serve

    # Both signals stop cleanly. SIGINT explicitly too: a background job of a non-interactive shell starts
    # with SIGINT ignored, and Python then never raises KeyboardInterrupt.
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        serve.shutdown()


def follow_alias(name: str, uri: str, loaded: Any = None) -> str | None:
    """After an alias move in store `uri`, hot-swap the running endpoint `name` to the alias' version, with
    the deploy node it runs (never the spec file: an edit that was not applied changes nothing). None when
    no endpoint of `name` runs here, or it serves from another store. `loaded`: the version's bundle when
    the caller has loaded it (promote verified it), so it is not loaded twice."""
    from mlops import stores
    from mlops.cluster.local_head import read_state
    from mlops.plan.endpoint import EndpointSettings
    from mlops.registry import Registry
    from mlops.serving.app_records import recorded_node

    node = recorded_node(name)
    if node is None or stores.absolute(node.runtime["tracking_uri"]) != stores.absolute(uri):
        return None
    state = read_state()
    with _on_cluster(state.gcs if state else None) as connected:
        if not connected or not _app_running(name):
            return None
        alias = EndpointSettings.of(node).model_alias
        version = Registry(node.runtime["tracking_uri"]).by_alias(name, alias).version
        return update_version(name, version, loaded).version


def _refuse_unknown_app(name: str, state: Any) -> None:
    """`mlops stop NAME` for a NAME the head does not run: an error naming what does (it used to report
    NAME stopped, and stop the head with every endpoint on it when none was recorded)."""
    try:
        with _on_cluster(state.gcs):
            running = _running_apps()
    except MlopsError:  # the head does not answer: its record is all there is to go by
        running = []
    if name in running:
        return
    from mlops.errors import did_you_mean

    known = sorted(set(state.apps) | set(running))
    hint = did_you_mean(name, known)
    raise MlopsError(f"no endpoint '{name}' runs on mlops' local head{f' ({hint})' if hint else ''}; running: "
                     f"{', '.join(known) or 'none'} (`mlops stop` with no name stops every endpoint and the head)")


def _delete_app(name: str, timeout_s: float = 60) -> None:
    """serve.delete, waited for in steps of 0.1 s: Serve's own wait polls once a second, which added up to a
    second to every `mlops stop NAME` (the replicas' drain, deploy.LOCAL_DRAIN_S, is the rest)."""
    from ray import serve

    serve.delete(name, _blocking=False)
    deadline = time.monotonic() + timeout_s
    while name in _running_apps():
        if time.monotonic() > deadline:
            raise MlopsError(f"Serve application {name!r} was not deleted within {timeout_s:.0f} s; "
                             f"`mlops status` shows what it waits for")
        time.sleep(0.1)


def _running_apps() -> list[str]:
    from ray import serve

    try:
        return list(serve.status().applications)
    except Exception:  # noqa: BLE001 - no Serve controller on this cluster means no app
        return []


def _app_running(name: str) -> bool:
    return name in _running_apps()


def endpoint_status(name: str | None, address: str | None, uri: str | None) -> list[dict[str, Any]]:
    """Rows of app/deployment status, with the version each endpoint serves and the current champion."""
    from mlops.cluster.local_head import read_state
    from mlops.serving.app_records import recorded_apps
    from mlops.serving.client import application_health
    from mlops.serving.deploy import app_status

    state = read_state()
    with _on_cluster(address or (state.gcs if state else None)) as connected:
        if not connected:
            return []
        rows = app_status(name)
    apps = recorded_apps()
    looked_up: dict[str, dict[str, Any]] = {}  # one look per application, however many deployments it has
    for row in rows:
        app = row["application"]
        if app not in looked_up:
            looked_up[app] = application_health(apps.get(app), uri)
            if looked_up[app].get("tracking"):
                looked_up[app].update(model_health(app, looked_up[app].pop("tracking")))
        row.update(looked_up[app])
    return rows


def model_health(name: str, uri: str) -> dict[str, Any]:
    """The champion version and the last retrain attempt with its decision (from the registry)."""
    from mlops.errors import RegistryError
    from mlops.registry import Registry

    try:
        registry = Registry(uri, create=False)
        champion = registry.by_alias(name, "champion").version
    except RegistryError:
        return {"champion": None, "last_retrain": None}
    return {"champion": champion, "last_retrain": registry.last_retrain(name) or None}


def read_rows(path: str) -> list[dict[str, Any]]:
    """Rows from a JSON file ({'rows': [...]} or a list of objects) or a CSV file."""
    import json

    file = Path(path)
    if not file.is_file():
        raise DataError(Problem("--input", "no such file", value=path))
    if file.suffix in (".csv", ".parquet"):
        from mlops.sources.files import read_table

        frame = read_table(path, "--input")  # a file that does not parse is a message naming it
        return [{k: (None if v != v else v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
    try:
        doc = json.loads(file.read_text())
    except ValueError as exc:
        raise DataError(Problem("--input", f"not valid JSON: {exc}", value=path)) from None
    rows = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise DataError(Problem("--input", "expected {'rows': [...]} or a JSON list of rows", value=path))
    return rows


def predict(spec_path: str | Path, overrides: Sequence[str], input_file: str, *, local: bool) -> dict[str, Any]:
    """Predict rows through the running endpoint, or locally from the registry with --local."""
    project = load_project(spec_path, overrides, check_data=False)
    rows = read_rows(input_file)
    if local:
        return _predict_local(project, rows)
    ensure_online(project)
    from mlops.serving import client

    return client.predict(project, rows)


def _predict_local(project: Project, rows: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from mlops.models.scores import labels_from_proba
    from mlops.registry import Registry

    alias = project.spec.serving.online.model_alias if project.spec.serving and project.spec.serving.online else "champion"
    bundle = Registry(absolute_tracking_uri(project.spec.tracking.uri)).load(project.spec.name, alias=alias)
    missing = sorted({c for c in bundle.input_columns for row in rows if c not in row})
    if missing:
        raise DataError(Problem("--input", f"rows lack input columns {missing}"))
    frame = pd.DataFrame(rows)[bundle.input_columns]
    proba = bundle.predict_proba(frame)
    out: dict[str, Any] = {"model_version": bundle.meta.get("registered_version")}
    if proba is not None:
        out["predictions"] = np.asarray(labels_from_proba(bundle.model.classes_, proba)).tolist()
        out["classes"] = np.asarray(bundle.model.classes_).tolist()
        out["probabilities"] = proba.tolist()
    else:
        out["predictions"] = np.asarray(bundle.predict(frame)).tolist()
    return out


def stop(name: str | None) -> str:
    """Delete one app (or all) on mlops' local head; stop the head when nothing is left on it."""
    from mlops.cluster.local_head import read_state, stop_head

    state = read_state()
    if state is None:
        return "no local mlops Ray head is running"
    if name is not None and name not in state.apps:
        _refuse_unknown_app(name, state)
    others = [app for app in state.apps if app != name] if name else []
    if not others:  # nothing else runs there: stopping the head stops every app on it, at once
        stop_head(state)
        return f"stopped {name or ', '.join(state.apps) or 'nothing'} and the local Ray head"
    with _on_cluster(state.gcs):
        if name in _running_apps():
            _delete_app(name)
    state.apps.pop(name, None)
    state.save()
    return f"stopped {name}; still running: {', '.join(others)}"
