"""Where reliability tests leave their figures: one JSON file per suite under `.reliability/` in the
repository (not committed), which `python tests/reliability/report.py` turns into docs/reliability.md."""
from __future__ import annotations

import json
import time
from pathlib import Path

FIGURES = Path(__file__).resolve().parents[2] / ".reliability"


def record(suite: str, figures: dict) -> None:
    """Write (replace) the figures of one suite, stamped with the time of the run."""
    FIGURES.mkdir(exist_ok=True)
    (FIGURES / f"{suite}.json").write_text(json.dumps({"suite": suite, "at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                      **figures}, indent=1, default=str))
