"""What the endpoint's replicas are built from: the endpoint's settings (as the deploy node carries them)
plus what is only known at deploy time. One plain dataclass that travels to the replicas."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from mlops.plan.endpoint import EndpointSettings


@dataclass(frozen=True)
class EndpointConfig:
    """The deploy node's settings, read as is, and the deploy-time facts: the version served, the input
    schema recorded with it, the token's sha256 and where things are on this machine."""

    settings: EndpointSettings
    tracking_uri: str
    version: str
    input_schema: list[dict[str, Any]]
    id_column: Optional[str] = None  # data.id_column: accepted on every route and echoed, never a feature
    takes_null: list[str] = field(default_factory=list)  # input columns the model imputes: null accepted
    token_sha256: Optional[str] = None  # of the endpoint's token (generated or token_env's); None with auth: none
    monitoring_dir: Optional[str] = None  # prediction log + feedback (when settings.keeps_feedback)
    target_column: Optional[str] = None  # data.target: accepted on every route and ignored (batch files carry it)
    online_store: Optional[str] = None  # the online store's SQLite file (with settings.feature_views)
    # Columns of the training data the model does not read (features.drop, ids, free text, constants): a row
    # of the training or a batch file carries them, so every route accepts and ignores them.
    ignored_columns: list[str] = field(default_factory=list)
    # version -> where its files are (mlops.registry.version_record), resolved by the deployer: replicas load
    # from there without MLflow when the files are on their machine. Per version, like `version`: not code.
    model_records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The endpoint's (and its registered model's) name."""
        return self.settings.name

    @property
    def columns(self) -> list[str]:
        """The input columns, in the order the model takes them."""
        return [c["name"] for c in self.input_schema]

    @property
    def entity_keys(self) -> list[str]:
        """The views' entity keys that requests may send beside the input columns (and the id column)."""
        taken = {*self.columns, self.id_column}
        return list(dict.fromkeys(v["key"] for v in self.settings.feature_views if v["key"] not in taken))

    @property
    def row_fields(self) -> list[str]:
        """The request row's fields in the row model's order: inputs, id column, entity keys, target, ignored."""
        fields = [*self.columns, *([self.id_column] if self.id_column else []), *self.entity_keys,
                  *([self.target_column] if self.target_column else [])]
        return [*fields, *(c for c in dict.fromkeys(self.ignored_columns) if c not in fields)]

    def code_version(self) -> str:
        """What the replicas' code is built from (and mlops' own version): a change restarts them. Not the
        model version (a `reconfigure`) nor the deployment options, which Serve applies itself: replica
        counts and request limits in place, resources by replacing replicas."""
        from dataclasses import asdict
        from importlib.metadata import version as installed

        facts = {k: v for k, v in asdict(self).items() if k not in ("settings", "version", "model_records")}
        settings = self.settings.params()
        settings.pop("deployment_options")
        payload = {**facts, "settings": settings, "mlops": installed("mlops")}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
