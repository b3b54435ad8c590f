"""register (runs in the driver, the only MLflow writer): log the evaluation, save the bundle, register it."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.metrics import better
from mlops.models.bundle import save_bundle
from mlops.registry import CHAMPION, Registry


@dataclass
class Registration:
    version: str
    sha256: str
    promoted: bool
    decision: str  # why the champion alias moved or stayed


def run(registry: Registry, run_id: str, name: str, trained: Any, evaluation: Any, extra_meta: dict[str, Any],
        monitoring: Any = None, auto_promote: bool = True) -> Registration:
    """Log the evaluation, register the bundle; with auto_promote, decide the champion alias on the test split."""
    registry.log_metrics(run_id, evaluation.metrics)
    for file_name, png in evaluation.plots.items():
        registry.log_bytes(run_id, png, f"plots/{file_name}")
    meta = {**trained.meta, **extra_meta, "metric": evaluation.metric, "metrics": evaluation.metrics, "name": name}
    with tempfile.TemporaryDirectory(prefix="mlops-bundle-") as tmp:
        sha = save_bundle(trained.model, meta, Path(tmp) / "model", monitoring)
        source = registry.log_dir(run_id, Path(tmp) / "model", "model")
    version = registry.register(name, source, run_id, sha, tags={"mlops.metric": evaluation.metric,
                                                                   "mlops.score": evaluation.score})
    if auto_promote:
        promoted, decision = _champion_decision(registry, name, version.version, evaluation)
    else:
        promoted, decision = False, "registered as a challenger; the champion/challenger comparison decides"

    registry.set_tags(run_id, {"mlops.model_version": version.version, "mlops.promoted": promoted,
                               "mlops.decision": decision})
    return Registration(version.version, sha, promoted, decision)


def _champion_decision(registry: Registry, name: str, version: str, evaluation: Any) -> tuple[bool, str]:
    """The first version becomes champion; later ones only when they score at least as well."""
    from mlops.errors import RegistryError

    try:
        champion = registry.by_alias(name, CHAMPION)
    except RegistryError:
        registry.promote(name, version)
        return True, "first version: promoted to champion"
    old = champion.tags.get("mlops.score")
    if champion.tags.get("mlops.metric") != evaluation.metric or old is None:
        registry.promote(name, version)
        return True, f"champion v{champion.version} has no comparable {evaluation.metric}: promoted"
    if better(evaluation.metric, evaluation.score, float(old)) or evaluation.score == float(old):
        registry.promote(name, version)
        return True, f"{evaluation.metric} {evaluation.score:.4f} vs champion v{champion.version} {float(old):.4f}: promoted"
    return False, f"{evaluation.metric} {evaluation.score:.4f} vs champion v{champion.version} {float(old):.4f}: kept champion"
