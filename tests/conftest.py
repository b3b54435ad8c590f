"""Shared fixtures: example projects copied to temp dirs; Ray and MLflow fixtures live in mlops.testing."""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The suite writes bytecode, whatever the environment says: the README's test command installs without
# byte-compiling (half the install), and with PYTHONDONTWRITEBYTECODE set every process (each Ray worker,
# each CLI the tests start) would compile Ray, torch and scikit-learn from source again: a CI run went from
# 24 to well over 30 minutes. Popped before any Ray or subprocess starts, so they inherit it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False
# pytest-xdist's workers run with COLUMNS=80, and rich fixes a console's width from COLUMNS when it is made
# (mlops.cli's, on import): the tests that give a CLI invocation its own COLUMNS would get 80 columns instead.
os.environ.pop("COLUMNS", None)
EXAMPLES = REPO / "examples"

# ray_local and tracking_uri come from mlops.testing (loaded with -p mlops.testing in pyproject.toml).
from mlops.cluster.processes import free_port, stable_port  # noqa: E402,F401  (tests import them from here)
from report_versions import two_versions  # noqa: E402,F401  (tests/reports' two registered versions, made once)
from cluster_fixtures import mlflow_server, ray_two_nodes  # noqa: E402,F401  (session: beyond one machine)
import shared_ray  # noqa: E402  (two xdist workers, one shared Ray)


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


def session_ray_env(ray) -> dict[str, str]:
    """The environment for a CLI or driver subprocess that runs on the test session's Ray (RAY_ADDRESS, as
    inside a Ray job) instead of starting one of its own: for tests of what an apply does, not of a Ray's start."""
    return {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}


def delete_app(name: str) -> None:
    """A module's endpoint, deleted at the module's end without waiting through its replicas' drain (2 s,
    mlops.serving.deploy.LOCAL_DRAIN_S) and Serve's once-a-second wait: no other test module deploys an
    application of the same name, and Serve finishes the deletion while the next module sets up."""
    from ray import serve

    serve.delete(name, _blocking=False)


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
    """New MLflow stores made in this process take their tables from one migrated template (tests/fresh_stores.py);
    under xdist, a test on a shared Ray runs on the one worker that has it."""
    import fresh_stores

    fresh_stores.install()
    if _module_group([item]):
        shared_ray.claim()


# -- reliability figures: every test marked `reliability` leaves its outcome for docs/reliability.md --
_RELIABILITY: dict[str, dict] = {}


# The session's shared services cost CPU while they run, not only while a test uses them: the embedded Ray
# (GCS, raylet, agents, log monitor, Serve's controller and proxies once a module deployed) about 0.1 core,
# the two-node cluster as much again. Modules run in their collected order within three groups: those that
# need no shared Ray first, then those on the session's Ray, then those on the two-node cluster (started by
# the first of them, stopped at the end of the session). On two xdist workers (tests/shared_ray.py) one
# worker runs groups 1 and 2, in that order, and the modules of group 0 go to whichever worker is free.
RAY_FIXTURES = ("ray_local",)
CLUSTER_FIXTURES = ("ray_two_nodes", "mlflow_server")


def _module_group(items) -> int:
    used = {name for item in items for name in getattr(item, "fixturenames", ())}
    return 2 if used.intersection(CLUSTER_FIXTURES) else 1 if used.intersection(RAY_FIXTURES) else 0


def _modules(items: list) -> dict[str, list]:
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    return modules


def _in_groups(items: list) -> list:
    """`items` with whole modules moved into their group (a module's tests stay together and in order)."""
    ordered = sorted(_modules(items).values(), key=_module_group)  # stable: the collected order within a group
    return [item for module in ordered for item in module]


def pytest_configure(config):
    shared_ray.on_controller(config)


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # a hook of pytest-xdist (a dev dependency)
def pytest_xdist_make_scheduler(config, log):
    return shared_ray.make_scheduler(config, log) if os.environ.get(shared_ray.GROUPS_FILE_ENV) else None


def pytest_collection_modifyitems(items):
    items[:] = _in_groups(items)
    shared_ray.record_groups({module: _module_group(module_items) for module, module_items in _modules(items).items()})
    gpu_tests = [item for item in items if item.get_closest_marker("gpu") is not None]
    if gpu_tests and not _cuda_available():
        for item in gpu_tests:
            item.add_marker(pytest.mark.skip(reason="no CUDA device here (the same test runs with device=cpu)"))
    for item in items:
        if item.get_closest_marker("reliability") is not None:
            _RELIABILITY[item.nodeid] = {"doc": " ".join((getattr(item.function, "__doc__", None) or "").split()) or item.name}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_finish(session):
    """The core install of the README test starts now, in the background, when that test is selected."""
    import core_install

    # Each xdist worker collects every test: there, the test's fixture starts the install when the test runs
    # (on the worker without the shared Ray, which has the time).
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        core_install.start_if_collected([item.nodeid for item in session.items])


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    entry = _RELIABILITY.get(report.nodeid)
    if entry is not None and (report.when == "call" or (report.when == "setup" and report.outcome != "passed")):
        entry.update(outcome=report.outcome, seconds=round(report.duration, 2))


def pytest_sessionfinish(session):
    import fcntl
    import json

    import core_install

    core_install.close()
    shared_ray.cleanup()

    ran = {k: v for k, v in _RELIABILITY.items() if "outcome" in v}
    if ran:
        figures = REPO / ".reliability"  # tests/reliability/figures.py writes the suites' figures here too
        figures.mkdir(exist_ok=True)
        path = figures / "outcomes.json"
        with open(figures / ".outcomes.lock", "w") as lock:  # xdist's workers end their sessions on their own
            fcntl.flock(lock, fcntl.LOCK_EX)
            kept = json.loads(path.read_text()) if path.is_file() else {}
            path.write_text(json.dumps({**kept, **ran}, indent=1, sort_keys=True))


# -- PostgreSQL: a real database for the sql source (Debian's `postgresql` package; .ci/run installs it) --
def _postgres_bin() -> Path:
    """Debian's PostgreSQL 15 binaries, else the newest version installed (MLOPS_TEST_POSTGRES_BIN: elsewhere)."""
    if os.environ.get("MLOPS_TEST_POSTGRES_BIN"):
        return Path(os.environ["MLOPS_TEST_POSTGRES_BIN"])
    version = lambda initdb: int(initdb.parts[-3]) if initdb.parts[-3].isdigit() else 0  # noqa: E731
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=version)
    preferred = Path("/usr/lib/postgresql/15/bin")
    return preferred if (preferred / "initdb").is_file() or not installed else installed[-1].parent


POSTGRES_BIN = _postgres_bin()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the whole session, on 127.0.0.1 at a free port, with a password-authenticated
    user and database for the tests: {host, port, user, password, database}. initdb and pg_ctl run as the
    `postgres` OS user when the tests run as root (PostgreSQL refuses root); the server is stopped at the end
    of the session, failed tests or not. Skipped when PostgreSQL or psycopg is not installed."""
    import secrets
    import subprocess
    import tempfile

    if not (POSTGRES_BIN / "initdb").is_file():
        pytest.skip(f"PostgreSQL is not installed ({POSTGRES_BIN}/initdb; apt-get install postgresql, as .ci/run does)")
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install -e '.[dev]')")
    as_root = os.geteuid() == 0
    if as_root:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PostgreSQL refuses to run as root and there is no `postgres` user to run it as")
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
    data, sockets, port = root / "data", root / "sockets", free_port()
    sockets.mkdir()
    if as_root:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")

    def pg(*args: str) -> None:
        done = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{args[0]} failed: {done.stdout}{done.stderr}"

    info = {"host": "127.0.0.1", "port": port, "user": "mlops_test", "password": secrets.token_urlsafe(18),
            "database": "mlops_test", "mlflow_database": "mlops_mlflow"}
    started = False
    try:
        # Local (socket) connections trust the OS user, so the fixture sets up without a password; TCP ones,
        # which the tests make, need the user's password.
        pg(str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
           "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        started = True
        pg(str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "-o",
           f"-k {sockets} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off", "start")
        with psycopg.connect(host=str(sockets), port=port, user="postgres", dbname="postgres",
                             autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {info['user']} LOGIN PASSWORD '{info['password']}'")
            admin.execute(f"CREATE DATABASE {info['database']} OWNER {info['user']}")
            admin.execute(f"CREATE DATABASE {info['mlflow_database']} OWNER {info['user']}")  # cluster_fixtures.mlflow_server
        yield info
    finally:
        if started:
            subprocess.run([*run_as, str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
