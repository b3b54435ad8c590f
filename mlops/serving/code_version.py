"""Stable code versions for Serve deployments, so that a model swap reconfigures replicas in place."""
from __future__ import annotations

from typing import Any


def with_code_version(deployment: Any, code_version: str) -> Any:
    """The deployment with a stable code version. Serve otherwise gives every `serve.run` a random one and
    restarts every replica; with it, a redeploy that changes only the model version is a user_config
    update, which Serve applies in place by calling reconfigure on the live replicas. (Serve 2.60 keeps
    this option internal; without it, swaps still work, by replacing replicas.)"""
    try:
        return deployment.options(version=code_version, _internal=True)
    except (TypeError, ValueError):
        return deployment
