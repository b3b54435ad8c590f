"""What `mlops submit` ships with a job (mlops.runtime.job_env): mlops' code and its plugins' with their
metadata, the pip requirements of the parts of mlops the spec uses, and the project's requirements.txt."""
from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

import pytest

from conftest import write_spec
from mlops import api
from mlops.errors import SpecError
from mlops.runtime.job_env import job_runtime_env, requirements, shipped_code, spec_extras

SPEC = """
name: shipped
data:
  source: {source}
  target: target
model: {{task: classification, type: sklearn, estimator: logistic_regression}}
{tuning}
"""


def project(tmp_path: Path, source: str = "{type: sklearn, name: iris}", tuning: str = ""):
    return api.load(write_spec(tmp_path, SPEC.format(source=source, tuning=tuning)), [], check_data=False)


def test_the_code_of_mlops_and_its_plugins_travels_with_its_metadata():
    shipped = [Path(folder) for folder in shipped_code()]
    import mlops

    assert shipped[0] == Path(mlops.__file__).parent
    names = {folder.name for folder in shipped}
    assert any(name.endswith((".dist-info", ".egg-info")) and name.startswith("mlops") for name in names)
    assert "mlops_lightgbm" in names  # the repository's plugin, installed by the test command
    assert all(folder.is_dir() for folder in shipped)


def test_requirements_are_the_core_and_the_extras_the_spec_uses(tmp_path):
    core = requirements(project(tmp_path / "a"))
    assert any(r.startswith("mlflow") for r in core) and any(r.startswith("scikit-learn") for r in core)
    assert not any(r.split("[")[0].split("<")[0].split(">")[0].split("=")[0] in ("ray", "mlops") for r in core)
    assert not any(r.startswith(("optuna", "torch", "sqlalchemy", "s3fs")) for r in core)  # extras it does not use
    assert "lightgbm>=4" in core  # the installed plugin's own requirement
    tuned = project(tmp_path / "b", tuning="tuning: {search: optuna, num_samples: 2, search_space: {params.C: {loguniform: [0.1, 1]}}}")
    assert "tune" in spec_extras(tuned.spec) and "optuna" in requirements(tuned)
    remote = project(tmp_path / "c", source="{type: csv, path: 's3://bucket/rows.csv'}")
    assert spec_extras(remote.spec) == {"s3"} and "s3fs" in requirements(remote)


def test_the_projects_requirements_txt_is_added(tmp_path):
    (tmp_path / "requirements.txt").write_text("# the project's own\nscipy>=1.10  # for a plugin\n-r other.txt\n\npolars\n")
    listed = requirements(project(tmp_path))
    assert listed[-2:] == ["scipy>=1.10", "polars"]


def test_what_each_runtime_sends(tmp_path):
    spec = project(tmp_path)
    ship = job_runtime_env(spec, tmp_path / "staged", "ship")
    assert ship["working_dir"] == str(tmp_path / "staged") and ship["py_modules"] == shipped_code()
    assert ship["pip"] == requirements(spec) and "__pycache__/" in ship["excludes"]
    code = job_runtime_env(spec, None, "code")
    assert "pip" not in code and "working_dir" not in code and code["py_modules"] == shipped_code()
    assert job_runtime_env(spec, None, "installed") is None
    assert job_runtime_env(spec, tmp_path, "installed") == {"working_dir": str(tmp_path)}
    with pytest.raises(SpecError, match=r"--runtime: not a runtime mlops knows \(got 'conda'; expected ship or code or installed\)"):
        job_runtime_env(spec, None, "conda")


def test_metadata_says_the_plugin_is_installed():
    """The plugin this suite ships is found through its entry points (what the job finds in its metadata)."""
    from mlops.runtime.job_env import plugin_distributions

    assert "mlops-lightgbm" in {dist.metadata["Name"] for dist in plugin_distributions()}
    assert metadata.distribution("mlops-lightgbm").entry_points
