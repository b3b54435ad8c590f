"""Sections of a report rendered as Markdown (images as files beside it) and as one self-contained HTML
page (images inline as data URIs, CSS inline: it opens offline, from an MLflow artifact view or an email)."""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Section:
    """One titled part of a page: paragraphs, tables and images, in order."""

    id: str
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def text(self, line: str) -> "Section":
        """Add a paragraph."""
        self.blocks.append(("p", line))
        return self

    def table(self, headers: list[str], rows: list[list[Any]]) -> "Section":
        """Add a table (cells rendered with str; floats to 4 significant digits)."""
        self.blocks.append(("table", headers, rows))
        return self

    def image(self, name: str, png: bytes, caption: str = "") -> "Section":
        """Add a PNG image."""
        self.blocks.append(("img", name, png, caption))
        return self


def cell(value: Any) -> str:
    """A table cell's text."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown(title: str, sections: list[Section], image_dir: str = "images") -> tuple[str, dict[str, bytes]]:
    """The page as Markdown, and its images ({path relative to the page: PNG})."""
    lines, images = [f"# {title}", ""], {}
    lines += ["Contents: " + " · ".join(f"[{s.title}](#{s.id})" for s in sections), ""]
    for section in sections:
        lines += [f'<a id="{section.id}"></a>', f"## {section.title}", ""]
        for block in section.blocks:
            if block[0] == "p":
                lines += [block[1], ""]
            elif block[0] == "table":
                headers, rows = block[1], block[2]
                lines.append("| " + " | ".join(headers) + " |")
                lines.append("|" + "---|" * len(headers))
                lines += ["| " + " | ".join(cell(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |" for row in rows]
                lines.append("")
            else:
                path = f"{image_dir}/{block[1]}"
                images[path] = block[2]
                lines += [f"![{block[3] or block[1]}]({path})", ""]
    return "\n".join(lines), images


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;
padding:0 1rem}h1{font-size:1.6rem;border-bottom:2px solid #4c72b0;padding-bottom:.4rem}h2{font-size:1.2rem;margin-top:2rem;
color:#2c3e66}table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #d5d9e2;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#eef0f4}tr:nth-child(even) td{background:#fafbfc}img{max-width:100%;
border:1px solid #e2e6ee;margin:.4rem 0}nav a{margin-right:.8rem}figure{display:inline-block;margin:0 1rem 1rem 0}
figcaption{font-size:.8rem;color:#555}.columns{display:flex;gap:1.5rem;flex-wrap:wrap}"""


def page(title: str, sections: list[Section]) -> str:
    """The page as one self-contained HTML document (no network asset)."""
    e = html.escape
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{e(title)}</h1><nav>",
             *(f"<a href='#{s.id}'>{e(s.title)}</a>" for s in sections), "</nav>"]
    for section in sections:
        parts.append(f"<section id='{section.id}'><h2>{e(section.title)}</h2>")
        for block in section.blocks:
            if block[0] == "p":
                parts.append(f"<p>{e(block[1])}</p>")
            elif block[0] == "table":
                head = "".join(f"<th>{e(h)}</th>" for h in block[1])
                body = "".join("<tr>" + "".join(f"<td>{e(cell(v))}</td>" for v in row) + "</tr>" for row in block[2])
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            else:
                data = base64.b64encode(block[2]).decode()
                parts.append(f"<figure><img alt='{e(block[1])}' src='data:image/png;base64,{data}'>"
                             f"<figcaption>{e(block[3] or block[1])}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
