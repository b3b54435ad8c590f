"""The one door from a run to MLflow: every tag, param, text artifact and recorded state passes
mlops.redact on its way in, whichever node or stage writes it.

The plan keeps what nodes need to run (a tracking URI with its password, an override with a webhook's
token: the plan is the contract, nodes decide from their params); only what is written is redacted.
"""
from __future__ import annotations

from typing import Any

from mlops.redact import redact, redact_text


def _values(items: dict[str, Any] | None) -> dict[str, Any]:
    """Tags or params with secret values hidden, each judged by its own (dotted) key."""
    return {k: redact(v, str(k).rsplit(".", 1)[-1]) for k, v in (items or {}).items()}


class RedactedRegistry:
    """A mlops.registry.Registry whose writes are redacted; reads and everything else pass through."""

    def __init__(self, registry: Any):
        self._registry = registry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)

    def start_run(self, experiment: str, run_name: str | None = None, tags: dict[str, Any] | None = None,
                  parent_run_id: str | None = None) -> str:
        """Registry.start_run with redacted tags."""
        return self._registry.start_run(experiment, run_name, _values(tags), parent_run_id)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Registry.log_params with redacted values."""
        self._registry.log_params(run_id, _values(params))

    def log_batch(self, run_id: str, params: dict[str, Any], metrics: dict[str, float]) -> None:
        """Registry.log_batch with redacted params."""
        self._registry.log_batch(run_id, _values(params), metrics)

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        """Registry.set_tags with redacted values."""
        self._registry.set_tags(run_id, _values(tags))

    def log_text(self, run_id: str, text: str, path: str) -> None:
        """Registry.log_text with every URL in the text redacted (structured text is redacted before)."""
        self._registry.log_text(run_id, redact_text(text), path)

    def record_applied_state(self, experiment: str, run_id: str, name: str, state: dict[str, Any]) -> None:
        """Registry.record_applied_state with the nodes' params redacted."""
        self._registry.record_applied_state(experiment, run_id, name, redact(state))

    def register(self, name: str, source: str, run_id: str, sha256: str, tags: dict[str, Any] | None = None) -> Any:
        """Registry.register with redacted version tags."""
        return self._registry.register(name, source, run_id, sha256, _values(tags))
