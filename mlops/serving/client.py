"""The HTTP client of a running endpoint, as the CLI, `mlops status` and alerts call it: where the
endpoint is, the token to send, and its /predict, /readyz and /stats answers."""
from __future__ import annotations

import os
from typing import Any

from mlops.errors import MlopsError
from mlops.project import Project

STATUS_WINDOW_S = 300  # `mlops status` summarizes the last 5 minutes of traffic


def route_of(project: Project) -> str:
    """The route prefix of the spec's online endpoint."""
    return project.spec.serving.online.route or f"/{project.spec.name}"


def endpoint_url(project: Project) -> str:
    """http://host:port/route of the spec's online endpoint, as a client on this machine reaches it."""
    online = project.spec.serving.online
    host = "127.0.0.1" if online.host in ("0.0.0.0", "::") else online.host
    return f"http://{host}:{online.port}{route_of(project)}"


def auth_headers(project: Project) -> dict[str, str]:
    """The bearer token header when the endpoint wants one and the environment has it."""
    auth = project.spec.serving.online.auth
    if auth is not None and os.environ.get(auth.token_env):
        return {"Authorization": f"Bearer {os.environ[auth.token_env]}"}
    return {}


def predict(project: Project, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """POST the rows to the spec's running endpoint; its answer, or an MlopsError saying why there is none."""
    import httpx

    url = f"{endpoint_url(project)}/predict"
    try:
        response = httpx.post(url, json={"rows": rows}, headers=auth_headers(project),
                              timeout=project.spec.serving.online.timeout_s + 5)
    except httpx.HTTPError as exc:
        raise MlopsError(f"cannot reach the endpoint at {url}: {exc}; is it running (`mlops status`)?") from None
    if response.status_code != 200:
        raise MlopsError(f"endpoint answered {response.status_code}: {response.text}")
    return response.json()


def stats(project: Project, window_s: float) -> dict[str, Any]:
    """GET {route}/stats of the spec's running endpoint; raises ConnectionError when it cannot be read."""
    import httpx

    url = f"{endpoint_url(project)}/stats"
    try:
        response = httpx.get(url, params={"window_s": window_s}, headers=auth_headers(project), timeout=10)
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


def application_health(info: dict[str, Any], uri: str | None) -> dict[str, Any]:
    """Route, served version and traffic stats of one application (from its record: url, token_env,
    tracking_uri). Without its token (auth on, variable not exported) the stats are not asked for, which
    would only count as auth errors in its error rate; the row says what to export instead."""
    import httpx

    url = info.get("url")
    out: dict[str, Any] = {"tracking": uri or info.get("tracking_uri"), "route": None}
    if not url:
        return out
    path = url.split(":", 2)[-1].split("/", 1)[-1]
    out["route"] = f"/{path}" if path else None
    token_env = info.get("token_env")
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
