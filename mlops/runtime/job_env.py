"""What a submitted job takes to a cluster that has only Ray installed (`mlops submit`, `--runtime ship`).

* py_modules: mlops' package and each installed plugin's, as they are here (an editable checkout included),
  each with its distribution's metadata folder (`*.dist-info`), so that the job finds the plugins' entry
  points and the versions mlops records, exactly as on this machine;
* pip: the requirements those distributions declare, for the parts of mlops this spec uses (the core, plus the
  extras its model, detectors, search and data sources need), and the project's own `requirements.txt` beside
  the spec. Ray itself is never in the list: the cluster's Ray runs the job. Ray installs the list into a
  virtualenv that sees the cluster's packages, so what is already there is not installed again.

`--runtime code` ships the code alone, for a cluster whose image has the libraries but not mlops (Ray builds
no virtualenv then: the job starts at once); `--runtime installed` ships none of it: the cluster's own mlops
runs the job.
"""
from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
from pathlib import Path
from typing import Any, Iterator

from mlops.errors import MlopsError, Problem, SpecError
from mlops.project import Project

RUNTIMES = ("ship", "code", "installed")
NEVER_SHIPPED = {"ray", "mlops"}  # the cluster's Ray runs the job; mlops travels as code
REMOTE_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}
EXCLUDES = ["__pycache__/", "*.pyc", "*.egg-info/"]


def job_runtime_env(project: Project, working_dir: Path | None, runtime: str) -> dict[str, Any] | None:
    """The job's runtime_env: the uploaded working_dir (if any), and with `ship`, code and requirements."""
    if runtime not in RUNTIMES:
        raise SpecError(Problem("--runtime", "not a runtime mlops knows", value=runtime, expected=" or ".join(RUNTIMES)))
    env: dict[str, Any] = {"working_dir": str(working_dir)} if working_dir is not None else {}
    if runtime in ("ship", "code"):
        env.update(py_modules=shipped_code(), excludes=EXCLUDES)
    if runtime == "ship":
        env["pip"] = requirements(project)
    return env or None


def plugin_distributions() -> list[metadata.Distribution]:
    """Installed distributions that register mlops plugins (entry point group `mlops.plugins`)."""
    from mlops.plugins import ENTRY_POINT_GROUP

    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        if any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points):
            found.setdefault(dist.metadata["Name"], dist)
    return list(found.values())


def shipped_code() -> list[str]:
    """Folders to ship: mlops' package and each plugin's top-level packages, with their metadata folders."""
    import mlops

    folders = [str(Path(mlops.__file__).parent), _metadata_folder(metadata.distribution("mlops"))]
    for dist in plugin_distributions():
        folders += [_package_folder(name, dist) for name in _top_level(dist)]
        folders.append(_metadata_folder(dist))
    return list(dict.fromkeys(folders))


def requirements(project: Project) -> list[str]:
    """pip requirements of mlops (core + the extras this spec uses) and of its plugins, then requirements.txt."""
    extras = spec_extras(project.spec)
    wanted = list(_declared(metadata.distribution("mlops"), extras))
    for dist in plugin_distributions():
        wanted += _declared(dist, set())
    listed = Path(project.base_dir) / "requirements.txt"
    if listed.is_file():
        wanted += [line.split("#", 1)[0].strip() for line in listed.read_text().splitlines()
                   if line.strip() and not line.lstrip().startswith(("#", "-"))]
    return list(dict.fromkeys(wanted))


def spec_extras(spec: Any) -> set[str]:
    """The mlops extras this spec's parts need: the model's, detectors', search's (mlops.extras), and its data
    sources' (a sql source, s3:// or gs:// URLs), found anywhere in the spec."""
    from mlops.extras import spec_needs

    names = {extra.name for extra in spec_needs(spec)}
    for value in _leaves(spec.model_dump(mode="json")):
        if isinstance(value, dict) and value.get("type") == "sql":
            names.add("sql")
        elif isinstance(value, str) and "://" in value:
            scheme = value.split("://", 1)[0].lower()
            if scheme in REMOTE_EXTRAS:
                names.add(REMOTE_EXTRAS[scheme])
    return names


def _leaves(value: Any) -> Iterator[Any]:
    """Every dict and string inside a dumped spec."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value


def _declared(dist: metadata.Distribution, extras: set[str]) -> Iterator[str]:
    """The distribution's requirements that apply without an extra or with one of `extras`, markers dropped."""
    from packaging.requirements import Requirement

    for line in dist.requires or []:
        req = Requirement(line)
        if req.name.lower() in NEVER_SHIPPED:
            continue
        if req.marker is not None and not any(req.marker.evaluate({"extra": extra}) for extra in (*sorted(extras), "")):
            continue
        yield f"{req.name}{'[' + ','.join(sorted(req.extras)) + ']' if req.extras else ''}{req.specifier}"


def _top_level(dist: metadata.Distribution) -> list[str]:
    """The top-level packages of a plugin: those its entry points import."""
    from mlops.plugins import ENTRY_POINT_GROUP

    return sorted({ep.value.split(":", 1)[0].split(".", 1)[0] for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP})


def _package_folder(name: str, dist: metadata.Distribution) -> str:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MlopsError(f"plugin {dist.metadata['Name']}: its package {name!r} is not a folder that can be shipped "
                         "(use --runtime installed, with the plugin installed on the cluster)")
    return str(Path(list(spec.submodule_search_locations)[0]))


def _metadata_folder(dist: metadata.Distribution) -> str:
    """The distribution's metadata folder (`*.dist-info`, or `*.egg-info` in a checkout): what importlib.metadata
    reads for entry points and versions. `_path` is where the standard path-based finder found it; importlib
    has no public name for it."""
    folder = getattr(dist, "_path", None)
    if folder is None or not Path(folder).is_dir():
        raise MlopsError(f"{dist.metadata['Name']} has no metadata folder to ship (use --runtime installed)")
    return str(Path(folder).resolve())
