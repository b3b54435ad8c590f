"""A spec without overrides whose defaults list names plain group options is composed without Hydra, and the
result is exactly Hydra's (values and key order), for every spec the examples, the presets and these cases
hold; anything else (overrides, `_self_` first, a package header, a group file with its own defaults, a
Hydra resolver, a missing option) goes to Hydra."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlops import config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SPECS = sorted(p for p in (REPO / "examples").rglob("*.yaml") if "defaults" in p.read_text() or "name:" in p.read_text())


def both(spec: Path) -> tuple:
    doc = config._check_yaml(spec)
    groups = config.plain_composition(spec, doc)
    hydra = config._compose_with_hydra(spec, [])
    return groups, (config._compose_plain(spec, groups) if groups is not None else None), hydra


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_spec_composes_as_hydra_composes_it(spec):
    groups, plain, hydra = both(spec)
    if groups is None:  # the online specs include their training spec (`- spec`): Hydra composes those
        assert "- spec" in spec.read_text() and config.load_config(spec).data == hydra
        return
    assert plain == hydra and list(plain) == list(hydra)


CASES = {
    "preset then own values": ("defaults:\n  - hardware: local_2cpu\nname: a\nhardware: {workers: 3}\n", True),
    "explicit _self_ last": ("defaults:\n  - hardware: local_cpu\n  - _self_\nname: a\n", True),
    "no defaults": ("name: a\nmodel: {params: {x: '${oc.env:HOME}'}}\n", True),
    "interpolation across groups": ("defaults:\n  - hardware: local_cpu\nname: a\nnote: '${hardware.cpus_per_task}'\n", True),
    "_self_ first": ("defaults:\n  - _self_\n  - hardware: local_cpu\nname: a\nhardware: {workers: 3}\n", False),
    "override keyword": ("defaults:\n  - override hardware: local_cpu\nname: a\n", False),
    "optional": ("defaults:\n  - optional hardware: local_cpu\nname: a\n", False),
    "package": ("defaults:\n  - hardware@compute: local_cpu\nname: a\n", False),
    "a Hydra resolver": ("defaults:\n  - hardware: local_cpu\nname: '${now:%Y}'\n", False),
}


@pytest.mark.parametrize("name", CASES)
def test_plain_or_hydra_and_the_same_result(name, tmp_path):
    text, plain_expected = CASES[name]
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    doc = config._check_yaml(spec)
    groups = config.plain_composition(spec, doc)
    assert (groups is not None) == plain_expected
    if groups is not None:
        assert config._compose_plain(spec, groups) == config._compose_with_hydra(spec, [])


def test_a_group_file_with_its_own_defaults_or_package_header_goes_to_hydra(tmp_path):
    (tmp_path / "hardware").mkdir()
    (tmp_path / "hardware" / "mine.yaml").write_text("# @package _global_\nworkers: 2\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("defaults:\n  - hardware: mine\nname: a\n")
    assert config.plain_composition(spec, config._check_yaml(spec)) is None
    (tmp_path / "hardware" / "mine.yaml").write_text("defaults:\n  - base\nworkers: 2\n")
    assert config.plain_composition(spec, config._check_yaml(spec)) is None
    (tmp_path / "hardware" / "mine.yaml").write_text("workers: 2\n")
    groups = config.plain_composition(spec, config._check_yaml(spec))
    assert groups == [("hardware", tmp_path / "hardware" / "mine.yaml")]
    assert config.load_config(spec).data == config._compose_with_hydra(spec, [])


def test_a_missing_option_is_hydras_message(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("defaults:\n  - hardware: nope\nname: a\n")
    with pytest.raises(config.SpecError, match="nope"):
        config.load_config(spec)


def test_validate_without_overrides_imports_no_hydra(tmp_path):
    import subprocess

    code = ("import sys; from mlops import api; api.validate(sys.argv[1]); "
            "print('hydra' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(REPO / "examples" / "iris" / "spec.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
