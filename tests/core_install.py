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
# Imported once after the install, to write their bytecode (those not installed are skipped).
WARM_MODULES = ("mlops.cli", "ray.serve", "ray.data", "sklearn.ensemble", "sklearn.linear_model", "mlflow.tracking",
                "mlflow.pyfunc", "pandas", "pyarrow.parquet", "skops.io", "matplotlib.pyplot", "fastapi", "httpx")


class CoreInstall:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mlops-core-"))
        self.venv = self.root / "venv"
        self.log = self.root / "install.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        pip, python = self.venv / "bin" / "pip", self.venv / "bin" / "python"
        # --no-compile: byte-compiling every installed module was about half the install. What the README's
        # commands import is compiled here instead, still in the background (about 8 s of one core that the
        # test's first apply, its Ray workers compiling the same modules at once, would otherwise spend).
        warm = f"import importlib.util as u\nfor m in {list(WARM_MODULES)!r}: u.find_spec(m.split('.')[0]) and __import__(m)"
        script = (f"{sys.executable} -m venv {self.venv} && "
                  f"{pip} install -q --no-compile -e {REPO} -c {REPO / 'constraints.txt'} && "
                  f'{python} -c "{warm}"')
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
