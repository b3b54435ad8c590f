"""The core install that tests/e2e/test_install_profiles.py runs the README's commands on: `pip install -e .
-c constraints.txt` in a new venv, no extras. It takes about 40 s, most of it waiting on downloads and the
disk, so the session starts it in the background as soon as it has collected those tests (tests/conftest.py)
and the tests before them overlap it; the fixture then waits for it. Removed when the session ends."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_FILE = "tests/e2e/test_install_profiles.py"


class CoreInstall:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mlops-core-"))
        self.venv = self.root / "venv"
        self.log = self.root / "install.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        pip = self.venv / "bin" / "pip"
        # --no-compile: byte-compiling every installed module was about half the install; the commands the
        # test runs write the bytecode of what they import instead (PYTHONDONTWRITEBYTECODE is dropped for them).
        script = (f"{sys.executable} -m venv {self.venv} && "
                  f"{pip} install -q --no-compile -e {REPO} -c {REPO / 'constraints.txt'}")
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(["bash", "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait(self, timeout: float = 900) -> Path:
        """The venv, once installed; an AssertionError with pip's output when the install failed."""
        if self.proc is None:
            self.start()
        code = self.proc.wait(timeout)
        assert code == 0, self.log.read_text()[-3000:]
        return self.venv

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(30)
        shutil.rmtree(self.root, ignore_errors=True)


_INSTALL: CoreInstall | None = None


def core_install() -> CoreInstall:
    """The session's core install (started now when collection did not start it)."""
    global _INSTALL
    if _INSTALL is None:
        _INSTALL = CoreInstall()
    return _INSTALL


def start_if_collected(nodeids: list[str]) -> None:
    if any(nodeid.startswith(TEST_FILE) for nodeid in nodeids):
        core_install().start()


def close() -> None:
    if _INSTALL is not None:
        _INSTALL.close()
