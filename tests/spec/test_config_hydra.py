"""Hydra loading: overrides, config groups, interpolation, env interpolation, + and ~."""
from __future__ import annotations

import os

import pytest

from conftest import write_spec
from mlops.config import load_config

SPEC = """
defaults:
  - hardware: local_cpu
  - _self_
name: hydra-demo
data:
  source: {type: sklearn, name: iris}
  target: target
  id_column: ${data.target}_id
model:
  task: classification
  type: sklearn
  estimator: ${oc.env:MLOPS_TEST_ESTIMATOR,random_forest}
  params: {n_estimators: 10, max_depth: 4}
"""


@pytest.fixture
def spec(tmp_path):
    return write_spec(tmp_path, SPEC)


def test_defaults_list_pulls_the_group_from_specs(spec):
    data = load_config(spec).data
    assert data["hardware"] == {"cluster": "local", "cpus_per_task": 1}
    assert "defaults" not in data


def test_group_selection_override(spec):
    assert load_config(spec, ["hardware=local_2cpu"]).data["hardware"]["local_cpus"] == 2


def test_group_beside_the_spec_wins_over_specs_dir(spec):
    write_spec(spec.parent / "hardware", "cluster: local\ncpus_per_task: 0.5\n", name="tiny.yaml")
    assert load_config(spec, ["hardware=tiny"]).data["hardware"]["cpus_per_task"] == 0.5


def test_value_override_and_type(spec):
    data = load_config(spec, ["model.params.max_depth=8"]).data
    assert data["model"]["params"]["max_depth"] == 8


def test_append_and_delete(spec):
    data = load_config(spec, ["+model.params.min_samples_leaf=3", "~model.params.n_estimators"]).data
    assert data["model"]["params"] == {"max_depth": 4, "min_samples_leaf": 3}


def test_interpolation_resolves(spec):
    assert load_config(spec).data["data"]["id_column"] == "target_id"


def test_env_interpolation_default_and_set(spec, monkeypatch):
    monkeypatch.delenv("MLOPS_TEST_ESTIMATOR", raising=False)
    assert load_config(spec).data["model"]["estimator"] == "random_forest"
    monkeypatch.setenv("MLOPS_TEST_ESTIMATOR", "extra_trees")
    assert load_config(spec).data["model"]["estimator"] == "extra_trees"


def test_override_of_a_key_left_to_its_default_sets_it(spec):
    """`a.b=1` where the file leaves `a.b` to the schema's default acts as `++a.b=1`; pydantic checks the name."""
    loaded = load_config(spec, ["model.params.min_samples_leaf=3", "hardware.workers=2"])
    assert loaded.data["model"]["params"]["min_samples_leaf"] == 3
    assert loaded.data["hardware"]["workers"] == 2
    assert loaded.overrides == ["model.params.min_samples_leaf=3", "hardware.workers=2"]


def test_hydra_leaves_the_working_directory_alone(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    load_config(spec, ["model.params.max_depth=2"])
    assert os.getcwd() == str(tmp_path)
    assert set(os.listdir(tmp_path)) == before  # no outputs/ or .hydra/ folders


def test_yml_suffix_and_groups_beside_it(tmp_path):
    spec = write_spec(tmp_path, SPEC, name="project.yml")
    write_spec(tmp_path / "hardware", "cluster: local\ncpus_per_task: 0.5\n", name="tiny.yaml")
    assert load_config(spec, ["hardware=tiny"]).data["hardware"]["cpus_per_task"] == 0.5
