"""`mlops report NAME [VERSION]`: a model card per version, Markdown and self-contained HTML, stored with the
version in MLflow, with every section (metrics with bootstrap intervals, named importance, lineage, champion
history with each decision's reason, intended use from the spec's model.card)."""
from __future__ import annotations

import re

from typer.testing import CliRunner

from mlops.cli import app
from mlops.reports.card import SECTIONS
from mlops.reports.store import CARD_DIR


def test_the_card_has_every_section_in_both_formats_and_is_stored_with_the_version(two_versions, tmp_path):
    from mlflow import MlflowClient

    uri, first, _ = two_versions
    out = tmp_path / "pages"
    result = CliRunner().invoke(app, ["report", "iris_cards", first, "--out", str(out), "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    page = (out / "model_card.html").read_text()
    markdown = (out / "model_card.md").read_text()
    for section in SECTIONS:
        assert f"id='{section}'" in page and f'<a id="{section}"></a>' in markdown
    assert not re.search(r"(src|href)=['\"]https?://", page)  # self-contained: nothing fetched from the network
    assert "data:image/png;base64," in page and "permutation_importance.png" in page
    # named columns, never the placeholders f0..fN (as whole words: a hash in the lineage may hold "f0")
    assert "petal_length_cm" in markdown and "petal_ratio" in markdown and not re.search(r"\bf\d+\b", markdown)
    assert re.search(r"\| f1_macro \| [0-9.]+ \| \[[0-9.]+, [0-9.]+\] \|", markdown)  # a value and its interval
    assert "Teaching and tests" in markdown and "ml-platform@example.com" in markdown
    assert "first version: promoted to champion" in markdown  # the champion history names the decision
    assert "scikit-learn version" in markdown and "data fingerprint" in markdown
    client = MlflowClient(uri)
    run_id = client.get_model_version("iris_cards", first).run_id
    stored = {f.path for f in client.list_artifacts(run_id, CARD_DIR)}
    assert {f"{CARD_DIR}/model_card.md", f"{CARD_DIR}/model_card.html"} <= stored


def test_without_a_version_the_champion_is_carded_and_a_missing_version_is_named(two_versions):
    uri, first, second = two_versions
    result = CliRunner().invoke(app, ["report", "iris_cards", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert re.search(r"iris_cards v\d+: model card", result.output)
    missing = CliRunner().invoke(app, ["report", "iris_cards", "99", "--tracking-uri", uri])
    assert missing.exit_code == 2 and "VERSION" in missing.output and "no version 99" in missing.output
