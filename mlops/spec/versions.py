"""`spec_version`: which format a spec is written in, and the upgrades from each older one.

A spec without `spec_version` is in the current format. An older one is upgraded before validation by
one small function per version (`MIGRATIONS[n]` turns a version-n dict into version n+1), so a spec
written for an older mlops keeps working; one newer than this mlops reads is refused, naming both.
"""
from __future__ import annotations

from typing import Any, Callable

from mlops.errors import Problem, SpecError

CURRENT = 1
# MIGRATIONS[n]: the raw dict of a version-n spec -> the same spec in version n+1. Each is tested with a
# spec of version n in tests/spec/test_contracts.py.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any], current: int = CURRENT,
            migrations: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The spec in the current format (a new dict), or a SpecError at `spec_version`."""
    steps = MIGRATIONS if migrations is None else migrations
    version = data.get("spec_version", current)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SpecError(Problem("spec_version", "must be a whole number from 1", value=version, expected=f"1..{current}"))
    if version > current:
        from mlops.plugins import package_version

        raise SpecError(Problem("spec_version", f"this spec is written for a newer mlops: mlops {package_version('mlops')} "
                                f"reads spec_version up to {current}", value=version, hint="upgrade mlops"))
    out = dict(data)
    while version < current:
        out = steps[version](out)
        version += 1
    out["spec_version"] = current
    return out
