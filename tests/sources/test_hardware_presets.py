"""The hardware presets ship inside the package: `hardware=local_2cpu` (local_cpu, cluster_cpu, cluster_gpu)
composes from any directory, with no specs/ folder in sight; a project's own specs/hardware/*.yaml beside the
spec adds presets or overrides the shipped ones."""
from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest

from conftest import REPO, write_spec
from mlops.config import PRESETS, load_config

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own TOML reader
    import tomli as tomllib

SPEC = """
name: presets
data: {source: {type: sklearn, name: iris}, target: target}
model: {task: classification, type: sklearn, estimator: logistic_regression}
"""
SHIPPED = {"local_cpu": {"cluster": "local", "cpus_per_task": 1},
           "local_2cpu": {"cluster": "local", "local_cpus": 2, "cpus_per_task": 2},
           "cluster_cpu": {"cluster": "auto", "cpus_per_task": 1},
           "cluster_gpu": {"cluster": "auto", "cpus_per_task": 1, "accelerator": "gpu", "gpus_per_worker": 1}}


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A spec in a folder far from the repository, run from another such folder: no specs/ anywhere."""
    monkeypatch.delenv("MLOPS_SPECS_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    spec = write_spec(tmp_path / "project", SPEC)
    assert not (tmp_path / "specs").exists() and not (spec.parent / "specs").exists()
    return spec


@pytest.mark.parametrize("preset", sorted(SHIPPED))
def test_every_shipped_preset_composes_from_any_directory(elsewhere, preset):
    assert load_config(elsewhere, [f"hardware={preset}"]).data["hardware"] == SHIPPED[preset]


def test_a_projects_own_presets_add_and_override(elsewhere):
    write_spec(elsewhere.parent / "specs" / "hardware", "cluster: local\nlocal_cpus: 1\n", name="local_2cpu.yaml")
    write_spec(elsewhere.parent / "specs" / "hardware", "cluster: auto\ncpus_per_task: 8\n", name="big.yaml")
    assert load_config(elsewhere, ["hardware=local_2cpu"]).data["hardware"] == {"cluster": "local", "local_cpus": 1}
    assert load_config(elsewhere, ["hardware=big"]).data["hardware"]["cpus_per_task"] == 8
    assert load_config(elsewhere, ["hardware=cluster_gpu"]).data["hardware"]["accelerator"] == "gpu"  # still shipped


def test_the_presets_are_package_data_and_the_repositorys_specs_link_to_them():
    shipped = sorted(p.name for p in PRESETS.glob("hardware/*.yaml"))
    assert shipped == sorted(f"{name}.yaml" for name in SHIPPED)
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mlops"]
    for name in shipped:  # each file is in the wheel
        assert any(fnmatch(f"presets/hardware/{name}", pattern) for pattern in package_data), name
    for name in shipped:  # one copy: specs/hardware/ (the README's layout) points at the package's files
        assert (REPO / "specs" / "hardware" / name).samefile(PRESETS / "hardware" / name)
    assert Path(PRESETS).is_relative_to(REPO / "mlops")
