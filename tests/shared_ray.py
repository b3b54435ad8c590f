"""The suite on two pytest-xdist workers (`-n 2` in pyproject.toml's addopts) with one shared Ray.

Most of the suite's time is one process at a time on one core: a CLI importing, a replica starting, a
worker waiting for Serve. The modules that need no shared Ray use the other core meanwhile. The modules on
the session's Ray and those on the two-node cluster (tests/conftest.py's groups 1 and 2) are one unit of
work, run by one worker in the collected order: one Ray per test session, as the suite was written for (one
Serve port, one two-node cluster, whose temporary root is fixed). Every other module is a unit of its own,
given to whichever worker is free. (The cluster's modules as a unit of their own, beside the session Ray's:
1,177 s against 1,085 s, both Rays and their tests slower than the core they gained.)

pytest-xdist's own `--dist loadgroup` cannot do this with pytest 9 (it renames each test id to carry its
group, and pytest 9's ids can no longer be renamed), so the controller gets this scheduler instead: the
workers, which collect, write each module's group to a file the controller reads when it schedules. Run
with `-n 0` for one process (every module in that process, in the same order).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

GROUPS_FILE_ENV = "MLOPS_TEST_MODULE_UNITS"  # set by the controller, inherited by the workers it starts
SHARED_RAY_UNIT = "shared-ray"


def on_controller(config) -> None:
    """pytest_configure of xdist's controller (it collects nothing): where the workers write the groups."""
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        os.environ[GROUPS_FILE_ENV] = str(Path(tempfile.mkdtemp(prefix="mlops-xdist-")) / "groups.json")


def record_groups(groups: dict[str, int]) -> None:
    """On a worker, after collection: {module: its group (tests/conftest.py)}. Each worker collects the same tests."""
    path = os.environ.get(GROUPS_FILE_ENV)
    if path and os.environ.get("PYTEST_XDIST_WORKER"):
        fd, partial = tempfile.mkstemp(dir=Path(path).parent)
        with os.fdopen(fd, "w") as out:
            json.dump({module: SHARED_RAY_UNIT if group else module for module, group in groups.items()}, out)
        os.replace(partial, path)  # whole: the other worker may be writing the same content


def claim() -> None:
    """Before a test on the shared Ray or the cluster: the first worker to run one owns them for the session;
    another worker running one (a scheduler that split the unit) fails it, naming both."""
    path, worker = os.environ.get(GROUPS_FILE_ENV), os.environ.get("PYTEST_XDIST_WORKER")
    if not (path and worker):
        return
    owner, mine = Path(path).parent / "shared-ray-worker", Path(path).parent / f"claim-{worker}"
    mine.write_text(worker)
    try:
        os.link(mine, owner)  # whole or not at all: the other worker never reads a half-written name
        return
    except FileExistsError:
        holder = owner.read_text()
    if holder != worker:
        import pytest

        pytest.fail(f"a test on the shared Ray runs on {worker}, while {holder} has the session's Ray: "
                    "tests/shared_ray.py's unit was split", pytrace=False)


def make_scheduler(config, log):
    """xdist's scope scheduling with the units above (scheduling starts once every worker has collected)."""
    from xdist.scheduler import LoadScopeScheduling

    path = Path(os.environ[GROUPS_FILE_ENV])

    class SharedRayScheduling(LoadScopeScheduling):
        _units: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._units is None:
                self._units = json.loads(path.read_text())
            module = nodeid.split("::")[0]
            return self._units.get(module, module)

    return SharedRayScheduling(config, log)


def cleanup() -> None:
    path = os.environ.get(GROUPS_FILE_ENV)
    if path and not os.environ.get("PYTEST_XDIST_WORKER"):
        import shutil

        shutil.rmtree(Path(path).parent, ignore_errors=True)
