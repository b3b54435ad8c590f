"""`mlops report NAME --compare CHAMPION CHALLENGER`: two versions side by side on the same rows (metrics
with intervals, where their predictions disagree, importance changes), stored with the challenger; the
champion gate's decision links to it."""
from __future__ import annotations

import re

from typer.testing import CliRunner

from mlops import tracking_tags
from mlops.cli import app
from mlops.reports.compare import SECTIONS


def test_the_comparison_has_every_section_and_the_gate_links_to_it(two_versions, tmp_path):
    from mlflow import MlflowClient

    uri, first, second = two_versions
    out = tmp_path / "pages"
    result = CliRunner().invoke(app, ["report", "iris_cards", "--compare", first, second, "--out", str(out),
                                      "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    stem = f"compare_v{first}_v{second}"
    page, markdown = (out / f"{stem}.html").read_text(), (out / f"{stem}.md").read_text()
    for section in SECTIONS:
        assert f"id='{section}'" in page and f'<a id="{section}"></a>' in markdown
    assert re.search(r"\| f1_macro \| [0-9.]+ \[[0-9.]+, [0-9.]+\] \| [0-9.]+ \[[0-9.]+, [0-9.]+\] \|", markdown)
    assert re.search(r"\d+ of \d+ rows \([0-9.]+%\) get a different class", markdown)
    assert "| petal_length_cm |" in markdown  # importance changes, by column name
    client = MlflowClient(uri)
    challenger_run = client.get_run(client.get_model_version("iris_cards", second).run_id)
    link = challenger_run.data.tags[tracking_tags.COMPARISON]
    assert f"--compare {first} {second}" in link and f"card/{stem}.html" in link
    assert f"card/{stem}.html" in {f.path for f in client.list_artifacts(challenger_run.info.run_id, "card")}


def test_compare_needs_two_known_versions(two_versions):
    uri, first, _ = two_versions
    result = CliRunner().invoke(app, ["report", "iris_cards", "--compare", first, "42", "--tracking-uri", uri])
    assert result.exit_code == 2 and "no version 42" in result.output
