"""The documentation site: `mkdocs build --strict` passes (every link resolves, every page is in the nav), the
spec reference page is the one generated from the committed schema, and every spec field has a description."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.spec import reference
from mlops.spec.schema import spec_schema

ROOT = Path(__file__).resolve().parents[2]


def undescribed(schema: dict) -> list[str]:
    """Every `Model.field` of the schema without a description."""
    models = [("Spec", schema), *schema.get("$defs", {}).items()]
    return [f"{name}.{field}" for name, model in models for field, node in (model.get("properties") or {}).items()
            if not node.get("description")]


def test_every_spec_field_has_a_description():
    assert undescribed(spec_schema(builtin_only=True)) == [], "give each of these fields a description= in mlops/spec/"


def test_a_field_without_a_description_is_found():
    schema = {"properties": {"name": {"type": "string", "description": "x"}},
              "$defs": {"DataSpec": {"properties": {"target": {"type": "string"}}}}}
    assert undescribed(schema) == ["DataSpec.target"]


def test_the_spec_reference_is_generated_from_the_committed_schema():
    committed = json.loads(reference.SCHEMA_FILE.read_text())
    page = ROOT / "docs" / "reference" / "spec.md"
    assert page.read_text() == reference.render(committed), \
        "regenerate it: python -m mlops.spec.reference > docs/reference/spec.md"
    for name, model in committed["$defs"].items():  # every model and field is on the page
        assert f"## {name}\n" in page.read_text()
        for field in model.get("properties") or {}:
            assert f"| `{field}` |" in page.read_text()


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("material", reason="mkdocs-material (the docs extra) is not installed")
    mkdocs = shutil.which("mkdocs") or f"{sys.executable} -m mkdocs"
    done = subprocess.run([*mkdocs.split(), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    site = tmp_path / "site"
    for page in ("index.html", "getting-started/index.html", "concepts/index.html", "explain/index.html",
                 "reference/spec/index.html", "howto/iris/index.html", "howto/drift/index.html"):
        assert (site / page).is_file(), page
    assert "examples/iris/spec.yaml" in (site / "howto/iris/index.html").read_text()
