"""What the last apply of a spec ran, as the project's store records it (the node-cache state beside the
tracking store): read by the commands that act on an applied endpoint instead of the spec file."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from mlops.plan.graph import Node


def applied_deploy_node(project: Any) -> Optional[Node]:
    """The deploy node the last apply of the project's spec ran (its recorded params and hash), with this
    machine's runtime (locations are not settings); None when no apply deployed an endpoint of it, or the
    last apply's plan had none."""
    from pydantic import ValidationError

    from mlops.plan.endpoint import EndpointSettings, deploy_node
    from mlops.runtime.node_cache import NodeCache, cache_dir

    compiled = deploy_node(project)
    state = NodeCache(cache_dir(compiled.runtime["tracking_uri"], Path(project.base_dir))).read_state(project.spec.name)
    entry = state.get("nodes", {}).get(compiled.id)
    plan = state.get("plan")
    if entry is None or entry.get("kind") != compiled.kind:
        return None
    if plan is not None and compiled.id not in {node["id"] for node in plan.get("nodes", [])}:
        return None  # an earlier apply's endpoint: the last applied plan serves none
    try:
        EndpointSettings.model_validate(entry["params"])
    except ValidationError:  # recorded by an older mlops, whose deploy params were laid out otherwise
        return None
    return replace(compiled, params=entry["params"], hash=entry["hash"])
