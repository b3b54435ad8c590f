"""skops.io, imported in a fraction of what its own import costs.

On import, skops lists scikit-learn's estimators (its default trust list, by name) with sklearn's
`all_estimators()`, which walks and imports every sklearn package and inspects every module: about a
second of CPU in every process that saves or loads a model (each Serve replica as it starts, each
`mlops predict --local`, `promote` and `rollback`, each fresh Ray worker of a plan), for a list that only
changes with scikit-learn or skops. The first import in an environment walks as skops does and keeps the
names it found (in the user's cache folder, owner-only, keyed by both versions); later imports hand skops
those names (as stand-in classes of the same module and name, which is all skops reads from them) and
skip the walk. The trust list is the same list of names either way; a cache file that is not the user's
own, is writable by others, or holds anything but sklearn class names is ignored and written again.

skops writes its schema.json indented, which Python's json encodes in Python rather than C: mlops' writer
gets it unindented (the same document, read by skops' own loader, at half the bytes and time).

skops also names every numpy and scipy ufunc it trusts by searching all of sys.modules, in import order,
for the first module holding each one (they have no __module__): ~300 scipy ufuncs times the thousands of
modules a process with Ray and MLflow has loaded before scipy.special, about a second more. Its search is
given a faster version of itself (a module's own namespace read directly instead of a failing getattr on
each module) that returns the same module: modules that compute attributes (a module __getattr__, a module
of another type) still go through getattr, in the same order.

The walk also meets array_api_compat.torch, which imports torch when it is installed: 1.2 s, and in a Ray
job's driver a crash in torch's MKL start-up (tests/e2e/test_multinode.py met it). It skips a package that
cannot be imported, and no estimator lives in that one, so the walk runs with torch hidden unless torch is
imported already (a torch model).
"""
from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, Optional

from mlops.files import write_atomic

_NAME = re.compile(r"^sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class _FasterSearch:
    """An import hook that, once skops.io._utils has run, gives it the faster `whichmodule` (module docstring)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "skops.io._utils":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        run = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            search = getattr(module, "whichmodule", None)
            if callable(search):
                module.whichmodule = _faster(search)

        spec.loader.exec_module = exec_module
        return spec


def _faster(search: Any) -> Any:
    """skops' `whichmodule(obj, name)`, returning the same module: the first in sys.modules (import order)
    whose attribute `name` is `obj`. A plain module's attribute is read from its namespace (a dict lookup);
    any other module, and any name the fast path does not cover, goes through skops' own search."""
    snapshot: list = [(), []]  # sys.modules' names when last listed, and its modules as listed then

    def whichmodule(obj: Any, name: str) -> str:
        if getattr(obj, "__module__", None) is not None or "." in name or name.startswith("__"):
            return search(obj, name)
        names = tuple(sys.modules)
        if names != snapshot[0]:  # listed again whenever a module came or went
            snapshot[:] = [names, _listed(sys.modules.copy())]
        for module_name, module, namespace in snapshot[1]:
            found = namespace.get(name) if namespace is not None else _getattr_quietly(module, name)
            if found is obj:
                return module_name
        return "__main__"

    return whichmodule


def _listed(modules: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, module, its namespace when a plain lookup there is what getattr would find, else None), in order."""
    import types

    listed = []
    for module_name, module in modules.items():
        if module_name in ("__main__", "__mp_main__") or module is None:
            continue
        namespace = module.__dict__ if type(module) is types.ModuleType else None
        listed.append((module_name, module, None if namespace is None or "__getattr__" in namespace else namespace))
    return listed


def _getattr_quietly(module: Any, name: str) -> Any:
    """getattr as skops' search does it: deprecation warnings silenced, a failing attribute is None."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return getattr(module, name, None)
        except (AttributeError, ImportError):
            return None


class _WithoutTorch:
    """An import hook that answers "not installed" for torch (see the module's docstring)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (not imported while skops lists sklearn's estimators)")
        return None


def skops_io() -> Any:
    """skops.io, imported without sklearn's walk when this environment's estimator names are cached."""
    if "skops.io" in sys.modules:
        import skops.io

        _compact_schema()
        return skops.io
    cache = cache_file()
    names = read_names(cache) if cache is not None else None
    finder = _FasterSearch()
    sys.meta_path.insert(0, finder)
    try:
        module = _import_with_names(names) if names is not None else _import_walking()
    finally:
        sys.meta_path.remove(finder)
    if names is None and cache is not None:  # walked: keep what the walk found for the next import
        write_names(cache, list(getattr(sys.modules.get("skops.io._trusted_types"), "SKLEARN_ESTIMATOR_TYPE_NAMES", [])))
    _compact_schema()
    return module


class _CompactJson:
    """json for skops' writer: its schema.json without indentation. Indented, Python's json encodes in Python,
    not C: a 200-tree forest's schema took 0.2 s of a 0.45 s save, and twice the bytes. skops reads either."""

    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(obj: Any, **options: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))


def _compact_schema() -> None:
    """skops' writer (skops.io._persist, which calls json.dumps and json.loads only) given _CompactJson."""
    persist = sys.modules.get("skops.io._persist")
    if persist is not None and getattr(persist, "json", None) is json:
        persist.json = _CompactJson


def cache_file() -> Optional[Path]:
    """Where this environment's names are kept: one file per scikit-learn and skops version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        versions = f"{version('scikit-learn')}-{version('skops')}"
    except PackageNotFoundError:
        return None
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops"
    return folder / f"skops-sklearn-estimators-{versions}.json"


def read_names(path: Path) -> Optional[list[str]]:
    """The names kept at `path`, or None when the file is missing, not the user's own, writable by others, or
    holds anything but sklearn class names (then skops walks, and the file is written again)."""
    try:
        info = path.stat()
        folder = path.parent.stat()
        if any(i.st_uid != os.getuid() or i.st_mode & (stat.S_IWGRP | stat.S_IWOTH) for i in (info, folder)):
            return None
        names = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and _NAME.match(n) for n in names):
        return None
    return names


def write_names(path: Path, names: list[str]) -> None:
    """Keep `names` at `path` (owner-only; written whole, so a reader never sees half a file)."""
    if not names or not all(_NAME.match(n) for n in names):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, json.dumps(names), mode=0o600)
    except OSError:
        pass  # a read-only home: every import walks, as skops does


def _import_with_names(names: list[str]) -> Any:
    """Import skops.io with sklearn's `all_estimators` answering the kept names for the one call skops makes."""
    import sklearn.utils

    def kept(type_filter: Any = None) -> list[tuple[str, type]]:
        listed = []
        for name in names:
            module, _, cls = name.rpartition(".")
            listed.append((cls, type(cls, (), {"__module__": module})))
        return listed

    real = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = kept
    try:
        import skops.io
    finally:
        sklearn.utils.all_estimators = real
    return skops.io


def _import_walking() -> Any:
    """Import skops.io as it imports itself (sklearn's walk), with torch hidden unless it is imported already."""
    if "torch" in sys.modules:
        import skops.io

        return skops.io
    hook = _WithoutTorch()
    sys.meta_path.insert(0, hook)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(hook)
    return skops.io
