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


def auth_headers(settings: Any) -> dict[str, str]:
    """The bearer token header when the endpoint wants one and the environment has it."""
    if settings.auth is not None and os.environ.get(settings.auth.token_env):
        return {"Authorization": f"Bearer {os.environ[settings.auth.token_env]}"}
    return {}


def predict(project: Project, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """POST the rows to the spec's running endpoint; its answer, or an MlopsError saying why there is none."""
    import httpx

    settings = endpoint_settings(project)
    url = f"{endpoint_url(settings)}/predict"
    try:
        response = httpx.post(url, json={"rows": rows}, headers=auth_headers(settings), timeout=settings.timeout_s + 5)
    except httpx.HTTPError as exc:
        raise MlopsError(f"cannot reach the endpoint at {url}: {exc}; is it running (`mlops status`)?") from None
    if response.status_code != 200:
        raise MlopsError(f"endpoint answered {response.status_code}: {response.text}")
    return response.json()


def stats(project: Project, window_s: float) -> dict[str, Any]:
    """GET {route}/stats of the spec's running endpoint; raises ConnectionError when it cannot be read."""
    import httpx

    settings = endpoint_settings(project)
    url = f"{endpoint_url(settings)}/stats"
    try:
        response = httpx.get(url, params={"window_s": window_s}, headers=auth_headers(settings), timeout=10)
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
    token_env = app.token_env
    token = os.environ.get(token_env) if token_env else None
    try:
        ready = httpx.get(f"{url}/readyz", timeout=2).json()
        out["serving_version"], out["refused_version"] = ready.get("model_version"), ready.get("refused_version")
        if token_env and not token:
            out["stats_hint"] = f"auth on: export {token_env} to see traffic"
            return out
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.get(f"{url}/stats", params={"window_s": STATUS_WINDOW_S}, headers=headers, timeout=5)
        out["stats"] = answer.json() if answer.status_code == 200 else None
        if answer.status_code == 401:
            out["stats_hint"] = f"the token in {token_env} was refused" if token_env else "stats need a token"
    except (httpx.HTTPError, ValueError):
        out["serving_version"] = None
    return out
