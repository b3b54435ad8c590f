"""Versioned contracts and bundle integrity: spec_version upgrades and refusals, the model manifest hash
that a re-split of the same bytes cannot forge, and formats this mlops does not read refused clearly."""
from __future__ import annotations

import json

import pytest

from mlops.errors import RegistryError, SpecError
from mlops.spec.versions import CURRENT, migrate


def test_a_spec_without_spec_version_is_current():
    assert migrate({"name": "x"})["spec_version"] == CURRENT


def test_an_older_spec_is_upgraded_one_version_at_a_time():
    steps = {1: lambda d: {**{k: v for k, v in d.items() if k != "old"}, "renamed": d["old"]},
             2: lambda d: {**d, "added": True}}
    out = migrate({"spec_version": 1, "old": 5}, current=3, migrations=steps)
    assert out == {"spec_version": 3, "renamed": 5, "added": True}


@pytest.mark.parametrize("version", [CURRENT + 1, 0, "two", True])
def test_a_newer_or_malformed_spec_version_is_refused_at_the_field(version):
    with pytest.raises(SpecError) as caught:
        migrate({"spec_version": version})
    text = caught.value.problems[0].render()
    assert text.startswith("spec_version") and ("newer mlops" in text if version == CURRENT + 1 else "whole number" in text)


def test_validate_reports_a_newer_spec_version(tmp_path):
    from typer.testing import CliRunner

    from mlops.cli import app

    (tmp_path / "spec.yaml").write_text(f"spec_version: {CURRENT + 1}\nname: x\ndata: {{source: {{type: sklearn, name: iris}}, "
                                        "target: target}\nmodel: {task: classification, type: sklearn, estimator: knn}\n")
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "spec.yaml")])
    assert result.exit_code == 2 and "spec_version" in result.output and "newer mlops" in result.output


def test_the_manifest_hash_sees_a_re_split_of_the_same_bytes(tmp_path):
    """The old scheme hashed path + NUL + content with no lengths: {a: "12", b: "34"} and one file
    {a: "12" + "b\\0" + "34"} give the same byte stream. The manifest (path, size, sha256) tells them apart."""
    from mlops.models.bundle import legacy_directory_sha256, manifest_sha256

    split, joined = tmp_path / "split", tmp_path / "joined"
    split.mkdir()
    joined.mkdir()
    (split / "a").write_bytes(b"12")
    (split / "b").write_bytes(b"34")
    (joined / "a").write_bytes(b"12b\x0034")
    assert legacy_directory_sha256(split) == legacy_directory_sha256(joined)  # the forgery the old scheme allowed
    assert manifest_sha256(split) != manifest_sha256(joined)


def test_a_bundle_of_a_newer_format_is_refused_clearly(tmp_path):
    from mlops.models.bundle import BUNDLE_FORMAT, META_FILE, check_format

    with pytest.raises(RegistryError, match="newer mlops"):
        check_format({"format": BUNDLE_FORMAT + 1, "mlops_version": "9.0"}, tmp_path)
    check_format({"flavor": "sklearn"}, tmp_path)  # bundles from before formats were recorded still load
    assert META_FILE.endswith(".json")
    assert json.loads(json.dumps({"format": BUNDLE_FORMAT}))["format"] == BUNDLE_FORMAT
