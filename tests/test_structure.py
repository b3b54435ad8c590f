"""The layers hold: import-linter's contracts (pyproject.toml) are kept, and no module imports another in
a circle (lazy imports inside functions included)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"  # import-linter's command, in this venv
    done = subprocess.run([str(lint_imports), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_imports_another_in_a_circle():
    graph = grimp.build_graph("mlops", include_external_packages=False)
    cycles = [(module, imported) for module in sorted(graph.modules)
              for imported in graph.find_modules_directly_imported_by(module)
              if imported != module and graph.find_shortest_chain(importer=imported, imported=module) is not None]
    assert cycles == []
