"""The model card and the comparison page render in a real headless browser (Chromium from Debian's packages):
the page loads offline, every section is in the rendered DOM with its images decoded, and a screenshot of each
page is kept as a test artifact ($MLOPS_TEST_ARTIFACTS, default .test-artifacts/ at the repository root)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops.cli import app
from mlops.reports import card, compare

ROOT = Path(__file__).resolve().parents[2]
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium (apt-get install chromium)")
# Every image has loaded with a real size: the page's title becomes the count of broken ones.
CHECK_IMAGES = ("<script>addEventListener('load',()=>{document.title='broken:'+[...document.images]"
                ".filter(i=>!i.complete||i.naturalWidth===0).length})</script>")


def browse(page: Path, screenshot: Path, profile: Path) -> str:
    """The DOM Chromium renders for `page` (scripts run, no network), after saving a full-page screenshot."""
    flags = [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=5000"]
    url = page.as_uri()
    subprocess.run([*flags, f"--screenshot={screenshot}", "--window-size=1280,2400", url], check=True,
                   capture_output=True, timeout=120)
    done = subprocess.run([*flags, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=120)
    return done.stdout


@pytest.mark.parametrize("kind", ["card", "comparison"])
def test_the_pages_render_in_chromium_with_every_section(two_versions, tmp_path, kind):
    uri, first, second = two_versions
    args = ["report", "iris_cards", first] if kind == "card" else ["report", "iris_cards", "--compare", first, second]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    stem = "model_card" if kind == "card" else f"compare_v{first}_v{second}"
    page = tmp_path / f"{stem}.html"
    page.write_text(page.read_text().replace("</body>", CHECK_IMAGES + "</body>"))
    artifacts = Path(os.environ.get("MLOPS_TEST_ARTIFACTS", ROOT / ".test-artifacts")) / "reports"
    artifacts.mkdir(parents=True, exist_ok=True)
    screenshot = artifacts / f"{stem}.png"
    dom = browse(page, screenshot, tmp_path / "chromium-profile")
    sections = card.SECTIONS if kind == "card" else compare.SECTIONS
    rendered = re.findall(r'<section id="([\w-]+)"><h2>', dom)
    assert rendered == list(sections)
    assert "<title>broken:0</title>" in dom  # every plot decoded from its data URI
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
