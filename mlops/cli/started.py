"""When the `mlops` command started: the first thing mlops.cli imports, so the command's own imports count.
An apply whose budget covers the whole apply (tuning.time_budget_covers: apply) counts from here."""
from __future__ import annotations

import time

STARTED_AT = time.time()
