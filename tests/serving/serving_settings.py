"""Endpoint settings for tests that build an endpoint's config by hand: as the compiler makes them for a
spec with `serving.mode: online` and every default (so no default is repeated here), with changes."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def settings_for(name: str, **changes: Any):
    """The EndpointSettings of a default online endpoint named `name`, with `changes` (field: value)."""
    from mlops.plan.endpoint import endpoint_settings
    from mlops.spec.hardware import HardwareSpec
    from mlops.spec.serving import ServingSpec

    spec = SimpleNamespace(name=name, serving=ServingSpec(mode="online"), monitoring=None, retraining=None,
                           hardware=HardwareSpec(), validation=None)
    return endpoint_settings(spec).model_copy(update=changes)
