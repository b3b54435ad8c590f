"""The entry points `mlops report` calls: write a version's card, or a comparison of two versions, to
MLflow (the version's run, under card/) and, when asked, to a folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from mlops.reports import render, store


def write_card(registry: Any, name: str, version: Optional[str] = None, out_dir: Optional[Path] = None) -> dict[str, str]:
    """The model card of `version` (default: the champion) of model `name`; the paths written, and the version."""
    from mlops.reports.card import card_sections

    rec = store.record(registry, name, version)
    title = f"Model card: {name} v{rec.version.version}"
    sections = card_sections(rec)
    md, images = render.markdown(title, sections, image_dir="model_card_images")
    written = store.save(registry, rec, "model_card", md, images, render.page(title, sections), out_dir)
    return {**written, "version": str(rec.version.version)}


def write_comparison(registry: Any, name: str, champion: str, challenger: str,
                     out_dir: Optional[Path] = None) -> dict[str, str]:
    """The side-by-side page of two versions, stored with the challenger (card/compare_vA_vB.*); the paths written."""
    from mlops.reports.compare import compare_sections

    first, second = store.record(registry, name, champion), store.record(registry, name, challenger)
    stem = f"compare_v{first.version.version}_v{second.version.version}"
    title = f"{name}: v{first.version.version} (champion) vs v{second.version.version} (challenger)"
    sections = compare_sections(first, second)
    md, images = render.markdown(title, sections, image_dir=f"{stem}_images")
    return store.save(registry, second, stem, md, images, render.page(title, sections), out_dir)
