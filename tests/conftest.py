"""Shared fixtures: example projects copied to temp dirs; Ray and MLflow fixtures live in mlops.testing."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# ray_local and tracking_uri come from mlops.testing (loaded with -p mlops.testing in pyproject.toml).
from mlops.cluster.processes import free_port, stable_port  # noqa: E402,F401  (tests import them from here)


# Serve's HTTP options are fixed per Ray instance, and the session shares one Ray: every test module that
# deploys on it serves on this port (apps differ by route).
SERVE_PORT = stable_port()  # chosen now, bound when Serve starts: outside the range Ray's servers are handed


@pytest.fixture
def example(tmp_path):
    """Copy an example project into a temp dir so outputs never land in the repo."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns("out", ".mlops"))
        return target

    return copy


def write_spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    """Write a spec file for a test and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def wait_ready(url: str, timeout: float = 60) -> None:
    """Poll {url}/readyz until the endpoint has loaded its model."""
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never became ready")


def scrape_metric_names(model: str, wanted: set[str], timeout: float = 60) -> set[str]:
    """Poll this node's Ray metrics export port until every `wanted` metric of `model` shows (Ray exports
    every few seconds); return the names seen."""
    import httpx
    import ray

    port = ray._private.worker.global_worker.node.metrics_export_port
    deadline, found = time.time() + timeout, set()
    while time.time() < deadline and not wanted <= found:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        found = {line.split("{")[0] for line in text.splitlines() if line.startswith("ray_mlops_") and f'model="{model}"' in line}
        time.sleep(2)
    return found
