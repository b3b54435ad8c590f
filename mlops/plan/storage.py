"""Where Ray keeps its own files for a plan (Tune results, Ray Train checkpoints): `hardware.storage`.

On one machine, .mlops/ beside the spec. On a cluster every node writes there (a trial's results, a
worker's checkpoint), so it must be a path every node mounts or a URL every node reaches; a relative one is
refused when the spec targets a cluster (mlops.sources.reach).
"""
from __future__ import annotations

from pathlib import Path

from mlops.sources.urls import local_part, scheme


def storage_location(storage: str | None, base_dir: Path | str, leaf: str = "") -> str:
    """The absolute path (or the URL, as written) for `leaf` under `storage`; a relative path is taken from
    the spec's directory; None means .mlops/ there."""
    if storage is None:
        root = (Path(base_dir) / ".mlops").resolve()
    elif scheme(storage) not in (None, "file"):
        url = storage.rstrip("/")
        return f"{url}/{leaf}" if leaf else url
    else:
        root = Path(local_part(storage)).expanduser()
        root = (root if root.is_absolute() else Path(base_dir) / root).resolve()
    return str(root / leaf) if leaf else str(root)
