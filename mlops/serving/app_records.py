"""What runs where: each deployed application's URL and the deploy node it runs, exactly as deployed.

The control plane (follow the alias after promote/rollback, status, an unchanged re-deploy) acts on this
recorded node and never reads the spec file again: editing the spec changes nothing that runs until it
is applied. Apps deployed from this process are kept in DEPLOYED_HERE; on mlops' local head, in the head's
state file too (owner-only), for later commands.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from mlops.errors import MlopsError
from mlops.plan.endpoint import EndpointSettings
from mlops.plan.graph import Node

PORTS_DIR = Path.home() / ".mlops" / "ports"  # port -> the project directory serving on it (see record_app)


@dataclass
class DeployedApp:
    """A running application: its URL and the deploy node it was deployed from (params, runtime, hash)."""

    url: str
    node: Optional[Node]  # None: recorded by an mlops before 2026-12 (it named a spec file instead)
    # the sha256 of the bearer token its replicas check (never the token): a redeploy from a process that
    # lacks the token (the controller on the head) keeps it (mlops.serving.deploy.token_sha256)
    token_sha256: Optional[str] = None

    @property
    def settings(self) -> EndpointSettings:
        """The endpoint's settings as deployed."""
        return EndpointSettings.of(self.node)

    @property
    def tracking_uri(self) -> Optional[str]:
        """The store its replicas load from."""
        return self.node.runtime["tracking_uri"] if self.node is not None else None

    @property
    def token_env(self) -> Optional[str]:
        """The variable holding its bearer token (None for a generated token, or with auth: none)."""
        auth = self.settings.auth if self.node is not None else None
        return auth.token_env if auth is not None else None

    def to_dict(self) -> dict[str, Any]:
        """As the head's state file keeps it."""
        return {"url": self.url, "node": asdict(self.node) if self.node is not None else None,
                "token_sha256": self.token_sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployedApp:
        """Read back from the head's state file."""
        node = data.get("node")
        return cls(data.get("url", ""), Node(**node) if node else None, data.get("token_sha256"))


# Apps deployed from this process (tests, notebooks, the CLI run itself).
DEPLOYED_HERE: dict[str, DeployedApp] = {}


def _head_apps() -> dict[str, DeployedApp]:
    from mlops.cluster.local_head import read_state

    state = read_state()
    return {name: DeployedApp.from_dict(info) for name, info in (state.apps if state else {}).items()}


def recorded_apps() -> dict[str, DeployedApp]:
    """Every recorded application: mlops' local head's, then this process' (which win)."""
    return {**_head_apps(), **DEPLOYED_HERE}


def recorded_app(name: str) -> Optional[DeployedApp]:
    """The record of application `name` (None when none is recorded here or on the local head)."""
    return DEPLOYED_HERE.get(name) or _head_apps().get(name)


def recorded_node(name: str) -> Optional[Node]:
    """The deploy node application `name` runs; None when none is recorded. An application recorded by
    an older mlops (a spec file, no node) is an error saying how to record it."""
    app = recorded_app(name)
    if app is None:
        return None
    if app.node is None:
        raise MlopsError(f"the endpoint '{name}' was deployed by an older mlops, which recorded its spec file "
                         f"instead of its deploy node: run `mlops apply` on its spec once, then try again")
    return app.node


def record_app(node: Node, deployed: Any, token_sha256: Optional[str] = None) -> None:
    """Remember the deploy node an app runs (follow-alias, status and re-deploys act on it) and the sha256
    of the token its replicas check, in this process and, when it runs on mlops' local head, in the head's
    state file (owner-only) for later commands."""
    from mlops.cluster.local_head import read_state

    app = DeployedApp(deployed.url, node, token_sha256)
    DEPLOYED_HERE[deployed.name] = app
    state = read_state()
    if state is not None:
        import ray

        if ray.is_initialized() and ray.get_runtime_context().gcs_address.endswith(state.gcs.rsplit(":", 1)[-1]):
            state.apps[deployed.name] = app.to_dict()
            state.save()
            try:  # so that another project asking for this port is told who holds it
                PORTS_DIR.mkdir(parents=True, exist_ok=True)
                (PORTS_DIR / str(node.params["port"])).write_text(str(Path.cwd()))
            except OSError:
                pass


def project_holding(port: int) -> str | None:
    """The directory of the mlops project whose endpoint serves on `port`, from the index of ports."""
    entry = PORTS_DIR / str(port)
    try:
        return entry.read_text().strip() or None
    except OSError:
        return None
