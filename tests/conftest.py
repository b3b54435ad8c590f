"""Shared fixtures: example projects copied to temp dirs; Ray and MLflow fixtures live in mlops.testing."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# ray_local and tracking_uri come from mlops.testing (loaded with -p mlops.testing in pyproject.toml).
from mlops.cluster.processes import free_port, stable_port  # noqa: E402,F401  (tests import them from here)
from report_versions import two_versions  # noqa: E402,F401  (tests/reports' two registered versions, made once)


# Hypothesis: the same examples on every CI run, so a mutation a property test catches is caught every time;
# HYPOTHESIS_PROFILE=nightly draws new, more examples (run it on a schedule to find what the fixed ones miss).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
_hypothesis_settings.register_profile("nightly", derandomize=False, max_examples=2000)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
        if not wanted <= found:  # not after the scrape that found them all
            time.sleep(1)
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """New MLflow stores made in this process take their tables from one migrated template (tests/fresh_stores.py)."""
    import fresh_stores

    fresh_stores.install()


# -- reliability figures: every test marked `reliability` leaves its outcome for docs/reliability.md --
_RELIABILITY: dict[str, dict] = {}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("reliability") is not None:
            _RELIABILITY[item.nodeid] = {"doc": " ".join((getattr(item.function, "__doc__", None) or "").split()) or item.name}


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    entry = _RELIABILITY.get(report.nodeid)
    if entry is not None and (report.when == "call" or (report.when == "setup" and report.outcome != "passed")):
        entry.update(outcome=report.outcome, seconds=round(report.duration, 2))


def pytest_sessionfinish(session):
    import json

    ran = {k: v for k, v in _RELIABILITY.items() if "outcome" in v}
    if ran:
        figures = REPO / ".reliability"  # tests/reliability/figures.py writes the suites' figures here too
        figures.mkdir(exist_ok=True)
        path = figures / "outcomes.json"
        kept = json.loads(path.read_text()) if path.is_file() else {}
        path.write_text(json.dumps({**kept, **ran}, indent=1, sort_keys=True))
