"""`serving`: batch files and/or an online endpoint on Ray Serve, declared entirely in the spec."""
from __future__ import annotations

import ipaddress
import warnings
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from mlops.errors import SpecWarning  # noqa: F401  (raised here; tests import it from here too)
from mlops.spec.base import StrictModel
from mlops.spec.batch_schedule import BatchSchedule
from mlops.spec.data import SourceSpec
from mlops.spec.hardware import HardwareSpec
from mlops.spec.rollout import RolloutSpec


class BatchServing(StrictModel):
    input: Union[str, SourceSpec] = Field(
        description="a csv/parquet path (relative to the spec), 'sklearn:NAME', or a source like data.source"
    )
    output: str = Field("out/predictions.parquet", description="a .parquet or .csv file to write")
    executor: Literal["auto", "local", "ray_data"] = Field(
        "auto", description="auto: Ray Data on a multi-node cluster, else threads in one process"
    )
    batch_size: int = Field(65536, ge=1, description="rows scored per batch (bounds the memory of one scoring task)")
    include_proba: bool = Field(True, description="write each class's probability beside the prediction (classification)")
    model_alias: str = Field("champion", description="the registered version that scores: the champion (after this "
                                                     "apply's decision), or another alias")
    on_error: Literal["fail", "skip", "null"] = Field(
        "fail", description="rows with a bad cell (a value its column cannot take, refused online too): fail names the "
                            "first 20 by row and column and writes nothing; skip drops those rows; null scores them "
                            "with the cell imputed (where the model imputes the column)")
    schedule: Optional[BatchSchedule] = Field(
        None, description="score on a schedule with the model_alias version, by the always-on controller: {every: 1d} "
                          "or a cron string in UTC ('0 6 * * *'); each due run scores the input files not scored "
                          "before (a glob input picks up new files) into a dated output beside `output`")

    @field_validator("on_error", mode="before")
    @classmethod
    def _null_as_written(cls, value: object) -> object:
        return "null" if value is None else value  # `on_error: null` unquoted is YAML's null: the option meant

    @field_validator("output")
    @classmethod
    def _known_output_format(cls, path: str) -> str:
        if not path.endswith((".parquet", ".csv")):
            raise ValueError("output must end in .parquet or .csv")
        return path


class AutoscalingReplicas(StrictModel):
    min: int = Field(1, ge=0, description="fewest replicas kept running (0: scale to zero when idle)")
    max: int = Field(1, ge=1, description="most replicas the endpoint scales up to")
    target_ongoing_requests: float = Field(8, gt=0, description="requests in flight per replica that autoscaling aims for")

    @model_validator(mode="after")
    def _min_below_max(self):
        if self.min > self.max:
            raise ValueError(f"replicas.min={self.min} is above replicas.max={self.max}")
        return self


class FixedReplicas(StrictModel):
    fixed: int = Field(ge=1, description="a fixed number of replicas, no autoscaling")


class Batching(StrictModel):
    max_batch_size: int = Field(32, ge=1, description="most requests one replica scores together in one model call")
    wait_ms: float = Field(5, ge=0, description="how long a replica waits for more requests to fill a batch, in milliseconds")


class Auth(StrictModel):
    """Bearer-token authentication of an endpoint: the token in an environment variable, or (no variable
    named) a token mlops generates on the first deploy and keeps in `.mlops/tokens/<name>` beside the spec."""

    token_env: Optional[str] = Field(None, description="environment variable holding the bearer token (read when "
                                                       "deploying); omitted: a generated token, kept in "
                                                       ".mlops/tokens/<name> beside the spec (mode 0600)")

    def secret_env(self) -> list[str]:
        """The environment variables that hold the token (kept from every process of the endpoint)."""
        return [self.token_env] if self.token_env else []


def is_loopback(host: str) -> bool:
    """The bind address is this machine only: a loopback address, or `localhost`."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


class OnlineServing(StrictModel):
    route: Optional[str] = Field(None, description="route prefix, default '/<name>'")
    host: str = Field("127.0.0.1", description="bind address; loopback by default")
    port: int = Field(8000, ge=1, le=65535, description="HTTP port of the Serve proxy")
    model_alias: str = Field("champion", description="the registered alias the endpoint serves (and follows when it moves)")
    replicas: Union[FixedReplicas, AutoscalingReplicas] = Field(AutoscalingReplicas(), description="a fixed number of replicas, or autoscaling bounds")
    batching: Batching = Field(Batching(), description="how requests are batched inside a replica")
    max_ongoing_requests: int = Field(64, ge=1, description="requests one replica takes at once; more wait in the proxy's queue")
    timeout_s: float = Field(10, gt=0, description="seconds a request may take before it is answered with an error")
    # `none` is read as None by _none_is_open (it is in the type for the JSON Schema's sake)
    auth: Union[Auth, Literal["none"], None] = Field(
        Auth(), description="bearer-token authentication of every path but the probes: on by default "
                                          "with a generated token (.mlops/tokens/<name>, which `mlops predict` and "
                                          "`mlops status` send); {token_env: NAME} for a token you hold; `none`: "
                                          "open to whoever reaches the address")
    max_queued_requests: int = Field(256, ge=1, description="requests waiting for a replica beyond this are refused "
                                                             "at once with 503 and Retry-After, instead of timing out")
    max_request_bytes: int = Field(1_000_000, ge=1024, description="larger bodies get 413")
    max_rows: int = Field(1000, ge=1, description="rows per request")
    throughput_mode: bool = Field(True, description="Ray Serve's HAProxy ingress + throughput-optimized mode")
    fast_path: bool = Field(True, description="serve scikit-learn forests by calling their trees directly (about 4x "
                                              "cheaper per call on small batches; used only when bit-identical to the "
                                              "model's own output on sample rows)")
    features_from_store: bool = Field(False, description="fill each request's view features from the online "
                                                         "store by entity key (values sent in the request win)")
    rollout: RolloutSpec = Field(default_factory=RolloutSpec, description="how a new champion reaches traffic: direct "
                                 "(at once), canary, shadow or ab (docs/serving.md, Progressive rollout)")

    @field_validator("route")
    @classmethod
    def _route_is_a_path(cls, route: Optional[str]) -> Optional[str]:
        if route is not None and (not route.startswith("/") or route == "/" or " " in route):
            raise ValueError("route must look like /name (a path prefix other than '/')")
        return route.rstrip("/") if route else route

    @field_validator("auth", mode="before")
    @classmethod
    def _none_is_open(cls, value: object) -> object:
        if value is True:  # `auth: true`: on, which is the default
            return {}
        if value is False or (isinstance(value, str) and value.strip().lower() in ("none", "off", "false")):
            return None  # `auth: none` (YAML's null, `auth: null`, means the same)
        if value is not None and not isinstance(value, (dict, Auth)):
            raise ValueError(f"auth must be a mapping like {{token_env: NAME}}, {{}} (a generated token) or none, "
                             f"not {value!r}")
        return value

    @model_validator(mode="after")
    def _warn_when_open_to_the_network(self):
        if self.auth is None and not is_loopback(self.host):
            warnings.warn(f"serving.online.host={self.host} with serving.online.auth: none: anyone who reaches this "
                          f"address can score, read the metadata and post feedback; remove `auth: none` (a generated "
                          f"token) or set serving.online.auth.token_env", SpecWarning)
        return self


class Backpressure(StrictModel):
    """What a request past the replicas' queue gets at once, instead of a timeout."""

    status_code: int = 503
    retry_after_s: float = 1


class ReplicaResources(StrictModel):
    """What each replica holds on the cluster (hardware.cpus_per_replica / gpus_per_replica)."""

    num_cpus: float
    num_gpus: float = 0

    def resources(self) -> dict[str, float]:
        """As Ray resources: CPU, and GPU when any."""
        return {"CPU": self.num_cpus, **({"GPU": self.num_gpus} if self.num_gpus else {})}


class DeploymentOptions(StrictModel):
    """The endpoint deployment's Serve options, built once from the spec (not user-facing): part of the
    endpoint's settings (mlops.plan.endpoint.EndpointSettings), which the deploy node carries whole."""

    replicas: Union[FixedReplicas, AutoscalingReplicas]
    max_ongoing_requests: int
    max_queued_requests: int
    backpressure: Backpressure = Backpressure()
    ray_actor_options: ReplicaResources

    @classmethod
    def of(cls, online: OnlineServing, hardware: HardwareSpec) -> DeploymentOptions:
        """The options of `serving.online` with the replicas' `hardware`."""
        return cls(replicas=online.replicas, max_ongoing_requests=online.max_ongoing_requests,
                   max_queued_requests=online.max_queued_requests,
                   ray_actor_options=ReplicaResources(num_cpus=hardware.cpus_per_replica,
                                                      num_gpus=hardware.gpus_per_replica))

    @property
    def fixed_replicas(self) -> Optional[int]:
        """The fixed replica count, or None when the replicas autoscale."""
        return getattr(self.replicas, "fixed", None)

    def serve_options(self) -> dict[str, Any]:
        """Keyword arguments of Serve's `deployment(...)` / `.options(...)`."""
        options: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "max_queued_requests": self.max_queued_requests,
            "backpressure_config": self.backpressure.model_dump(),
            "ray_actor_options": self.ray_actor_options.model_dump(),
        }
        if self.fixed_replicas is not None:
            options["num_replicas"] = self.fixed_replicas
        else:
            options["autoscaling_config"] = {"min_replicas": self.replicas.min, "max_replicas": self.replicas.max,
                                             "target_ongoing_requests": self.replicas.target_ongoing_requests}
        return options


class ServingSpec(StrictModel):
    mode: Literal["batch", "online", "both"] = Field("batch", description="batch: score a file after training; online: an HTTP endpoint; both")
    batch: Optional[BatchServing] = Field(None, description="the batch scoring job (mode batch or both)")
    online: Optional[OnlineServing] = Field(None, description="the HTTP endpoint on Ray Serve (mode online or both)")

    @model_validator(mode="after")
    def _sections_match_mode(self):
        if self.mode in ("batch", "both") and self.batch is None:
            raise ValueError(f"serving.mode={self.mode} needs serving.batch: {{input: ..., output: ...}}")
        if self.mode in ("online", "both") and self.online is None:
            self.online = OnlineServing()
        if self.mode == "batch" and self.online is not None:
            raise ValueError("serving.online is set but serving.mode=batch; use mode: online or both")
        if self.mode == "online" and self.batch is not None:
            raise ValueError("serving.batch is set but serving.mode=online; use mode: both")
        return self
