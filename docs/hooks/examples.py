"""mkdocs hook: the how-to pages are the runnable examples' READMEs (examples/<name>/README.md) with their spec,
generated at build time so they never drift; links between the docs and the examples point at those pages."""
from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
TO_EXAMPLE = re.compile(r"\]\((?:\.\./)+examples/([\w-]+)/README\.md\)")
TO_DOCS = re.compile(r"\]\(\.\./\.\./docs/([\w/-]+\.md)\)")


def examples() -> list[Path]:
    """The example folders that have a README."""
    return sorted(p.parent for p in (ROOT / "examples").glob("*/README.md"))


def howto_page(folder: Path) -> str:
    """An example's README as a docs page: its links to docs/ rewritten, its spec shown, how to run it."""
    text = TO_DOCS.sub(lambda m: f"](../{m.group(1)})", (folder / "README.md").read_text())
    text = TO_EXAMPLE.sub(lambda m: f"]({m.group(1)}.md)", text)
    spec = folder / "spec.yaml"
    tail = f"\n\n## The spec\n\nRun it from the repository root: `mlops apply examples/{folder.name}/spec.yaml`\n\n"
    if spec.is_file():
        tail += f"```yaml\n{spec.read_text().rstrip()}\n```\n"
    return text.rstrip() + tail


def on_files(files, config):
    """Add howto/<example>.md for every example."""
    for folder in examples():
        files.append(File.generated(config, f"howto/{folder.name}.md", content=howto_page(folder)))
    return files


def on_page_markdown(markdown, page, config, files):
    """A page's link to an example's README goes to its how-to page."""
    prefix = "../" * page.file.src_uri.count("/")
    return TO_EXAMPLE.sub(lambda m: f"]({prefix}howto/{m.group(1)}.md)", markdown)
