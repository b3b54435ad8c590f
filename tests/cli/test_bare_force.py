"""`--force` with or without a node, wherever it stands: Typer has no option with an optional value, so the
command line writes a bare one out before Typer parses it (tests/e2e/test_incremental.py runs the real CLI)."""
from __future__ import annotations

import pytest

from mlops.cli.training import FORCE_ALL, bare_force

ALL = f"--force={FORCE_ALL}"


@pytest.mark.parametrize("args, expected", [
    (["apply", "s.yaml", "--force"], ["apply", "s.yaml", ALL]),  # last
    (["apply", "--force", "s.yaml"], ["apply", ALL, "s.yaml"]),  # before the spec: not a node named s.yaml
    (["apply", "s.yaml", "--force", "train"], ["apply", "s.yaml", "--force", "train"]),  # a node
    (["apply", "s.yaml", "--force", "a.b=1"], ["apply", "s.yaml", ALL, "a.b=1"]),  # before an override
    (["apply", "s.yaml", "--force", "--address", "x:1"], ["apply", "s.yaml", ALL, "--address", "x:1"]),
    (["apply", "s.yaml", "--force=train"], ["apply", "s.yaml", "--force=train"]),
    (["plan", "s.yaml"], ["plan", "s.yaml"]),
])
def test_a_bare_force_means_every_node_and_a_named_one_that_node(args, expected):
    assert bare_force(args) == expected


def test_a_spec_file_of_another_name_is_not_taken_for_a_node(tmp_path):
    spec = tmp_path / "project.spec"
    spec.write_text("name: x\n")
    assert bare_force(["apply", "--force", str(spec)]) == ["apply", ALL, str(spec)]
