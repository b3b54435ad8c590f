"""What the endpoint's replicas are built from: one plain dataclass that travels to them."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from mlops.spec.serving import DeploymentOptions


@dataclass
class EndpointConfig:
    """Everything a replica needs, as plain data (it travels to the replicas)."""

    name: str
    tracking_uri: str
    route: str
    version: str
    input_schema: list[dict[str, Any]]
    id_column: Optional[str] = None  # data.id_column: accepted on every route and echoed, never a feature
    takes_null: list[str] = field(default_factory=list)  # input columns the model imputes: null accepted
    max_rows: int = 1000
    max_request_bytes: int = 1_000_000
    max_batch_size: int = 32
    wait_ms: float = 5.0
    token_sha256: Optional[str] = None
    deployment_options: Optional[DeploymentOptions] = None  # None: Serve's defaults
    monitoring_dir: Optional[str] = None  # prediction log + feedback (when the spec has retraining/monitoring)
    drift_window_rows: int = 1000
    log_rotate_bytes: int = 64 * 2**20  # monitoring.logs: a new log file past this size
    log_keep_s: Optional[float] = None  # log files older than this are deleted
    monitor: Optional[dict[str, Any]] = None  # MonitorConfig fields; None: no monitor deployment
    fast_path: bool = True  # serve sklearn forests through mlops.serving.fast_path when verified
    target_column: Optional[str] = None  # data.target: accepted on every route and ignored (batch files carry it)
    feature_views: list[dict[str, Any]] = field(default_factory=list)  # features_from_store: name, key, features, ttl_s, defaults
    online_store: Optional[str] = None  # the online store's SQLite file (with feature_views)
    # Columns of the training data the model does not read (features.drop, ids, free text, constants): a row
    # of the training or a batch file carries them, so every route accepts and ignores them.
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """The input columns, in the order the model takes them."""
        return [c["name"] for c in self.input_schema]

    @property
    def entity_keys(self) -> list[str]:
        """The views' entity keys that requests may send beside the input columns (and the id column)."""
        taken = {*self.columns, self.id_column}
        return list(dict.fromkeys(v["key"] for v in self.feature_views if v["key"] not in taken))

    @property
    def row_fields(self) -> list[str]:
        """The request row's fields in the row model's order: inputs, id column, entity keys, target, ignored."""
        fields = [*self.columns, *([self.id_column] if self.id_column else []), *self.entity_keys,
                  *([self.target_column] if self.target_column else [])]
        return [*fields, *(c for c in dict.fromkeys(self.ignored_columns) if c not in fields)]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (the deployment options as a dict too)."""
        out = asdict(self)
        if self.deployment_options is not None:
            out["deployment_options"] = self.deployment_options.model_dump(mode="json")
        return out

    def code_version(self) -> str:
        """What the replicas' code is built from (and mlops' own version): a change restarts them. Not the
        model version (a `reconfigure`) nor the deployment options, which Serve applies itself: replica
        counts and request limits in place, resources by replacing replicas."""
        from importlib.metadata import version as installed

        settings = {**self.to_dict(), "version": None, "deployment_options": None, "mlops": installed("mlops")}
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
