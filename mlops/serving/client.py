"""The HTTP client of a running endpoint, as the CLI, `mlops status` and alerts call it: where the
endpoint is (from the settings it runs with), the token to send, and its /predict, /readyz and /stats answers."""
from __future__ import annotations

import os
from typing import Any

from mlops.errors import MlopsError
from mlops.project import Project

STATUS_WINDOW_S = 300  # `mlops status` summarizes the last 5 minutes of traffic


def endpoint_settings(project: Project) -> Any:
    """The settings of the spec's endpoint as it runs: the deploy node recorded for its name (this process,
    or mlops' local head), else as the spec compiles (an endpoint deployed elsewhere)."""
    from mlops.plan.endpoint import endpoint_settings as compiled
    from mlops.serving.app_records import recorded_app

    app = recorded_app(project.spec.name)
    return app.settings if app is not None and app.node is not None else compiled(project.spec)


def endpoint_url(settings: Any) -> str:
    """http://host:port/route of an endpoint with these settings, as a client on this machine reaches it."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}{settings.route}"


def endpoint_token(settings: Any, base_dir: Any) -> str | None:
    """The bearer token to send to an endpoint with these settings: the variable's value (`token_env`), or
    the generated token beside the spec in `base_dir`; None when it is open or the token is not here."""
    from mlops.serving.endpoint_token import read_token

    if settings.auth is None:
        return None
    if settings.auth.token_env:
        return os.environ.get(settings.auth.token_env) or None
    return read_token(base_dir, settings.name)


def auth_headers(settings: Any, base_dir: Any) -> dict[str, str]:
    """The bearer token header when the endpoint wants one and this machine has it."""
    token = endpoint_token(settings, base_dir)
    return {"Authorization": f"Bearer {token}"} if token else {}


def token_hint(settings: Any, base_dir: Any) -> str:
    """Where the token an endpoint refused (or that is missing) comes from, for the error message."""
    from mlops.serving.endpoint_token import token_file

    if settings.auth is None:
        return ""
    if settings.auth.token_env:
        return f"export {settings.auth.token_env} (serving.online.auth.token_env) with the endpoint's token"
    return f"its generated token is read from {token_file(base_dir, settings.name)}, written when it was deployed"


def auth_note(name: str) -> str:
    """How a caller authenticates to the recorded endpoint `name`, for the line that says it serves: where its
    generated token is (relative to here when it can be), the variable holding it, or that it is open."""
    from pathlib import Path

    from mlops.serving.app_records import recorded_app
    from mlops.serving.endpoint_token import token_file

    app = recorded_app(name)
    if app is None or app.node is None:
        return ""
    auth = app.settings.auth
    if auth is None:
        return "open to all: auth none"
    if auth.token_env:
        return f"token: ${auth.token_env}"
    path = token_file(app.node.runtime["base_dir"], name)
    try:
        path = path.relative_to(Path.cwd())
    except ValueError:
        pass
    return f"token: {path}"


def predict(project: Project, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """POST the rows to the spec's running endpoint; its answer, or an MlopsError saying why there is none."""
    import httpx

    settings = endpoint_settings(project)
    url = f"{endpoint_url(settings)}/predict"
    try:
        response = httpx.post(url, json={"rows": rows}, headers=auth_headers(settings, project.base_dir),
                              timeout=settings.timeout_s + 5)
    except httpx.HTTPError as exc:
        raise MlopsError(f"cannot reach the endpoint at {url}: {exc}; is it running (`mlops status`)?") from None
    if response.status_code == 401:
        raise MlopsError(f"endpoint answered 401 (no valid token): {token_hint(settings, project.base_dir)}")
    if response.status_code != 200:
        raise MlopsError(f"endpoint answered {response.status_code}: {response.text}")
    return response.json()


def stats(project: Project, window_s: float) -> dict[str, Any]:
    """GET {route}/stats of the spec's running endpoint; raises ConnectionError when it cannot be read."""
    import httpx

    settings = endpoint_settings(project)
    url = f"{endpoint_url(settings)}/stats"
    try:
        response = httpx.get(url, params={"window_s": window_s}, headers=auth_headers(settings, project.base_dir),
                             timeout=10)
    except httpx.HTTPError as exc:
        raise ConnectionError(f"endpoint not reachable at {url} ({exc.__class__.__name__})") from None
    if response.status_code != 200:
        raise ConnectionError(f"{url} answered {response.status_code}: {response.text[:200]}")
    return response.json()


def served_version(url: str) -> str | None:
    """The version the endpoint at `url` serves, when it is up and ready; else None."""
    import httpx

    try:
        ready = httpx.get(f"{url}/readyz", timeout=2)
        return str(ready.json().get("model_version")) if ready.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def application_health(app: Any, uri: str | None) -> dict[str, Any]:
    """Route, served version and traffic stats of one application (from its record: mlops.serving.app_records;
    None when it is not recorded here). Without its token (auth on, variable not exported) the stats are
    not asked for, which would only count as auth errors in its error rate; the row says what to export instead."""
    import httpx

    out: dict[str, Any] = {"tracking": uri or (app.tracking_uri if app is not None else None), "route": None}
    if app is None or not app.url:
        return out
    url = app.url
    path = url.split(":", 2)[-1].split("/", 1)[-1]
    out["route"] = f"/{path}" if path else None
    if app.node is None:  # recorded by an older mlops: no settings to read its token from
        return out
    settings, base_dir = app.settings, app.node.runtime["base_dir"]
    token = endpoint_token(settings, base_dir)
    try:
        ready = httpx.get(f"{url}/readyz", timeout=2).json()
        out["serving_version"], out["refused_version"] = ready.get("model_version"), ready.get("refused_version")
        if settings.auth is not None and not token:
            out["stats_hint"] = f"auth on: {token_hint(settings, base_dir)} to see traffic"
            return out
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.get(f"{url}/stats", params={"window_s": STATUS_WINDOW_S}, headers=headers, timeout=5)
        out["stats"] = answer.json() if answer.status_code == 200 else None
        if answer.status_code == 401:
            out["stats_hint"] = f"the token was refused: {token_hint(settings, base_dir)}"
    except (httpx.HTTPError, ValueError):
        out["serving_version"] = None
    return out
