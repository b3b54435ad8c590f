"""`monitoring`: alert thresholds over served traffic, and where alert events go."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator

from mlops.spec.base import StrictModel
from mlops.durations import Duration

AlertMetric = Literal["error_rate", "latency_p50_ms", "latency_p99_ms", "drift_share", "outlier_rate", "requests",
                      # the endpoint's replicas (the busiest one), from their latest samples
                      "replica_cpu_percent", "replica_memory_mb", "gpu_util_percent", "gpu_memory_mb"]


class Alert(StrictModel):
    metric: AlertMetric = Field(description="the served metric the alert watches")
    above: Optional[float] = Field(None, description="fire when the metric rises above this value")
    below: Optional[float] = Field(None, description="fire when the metric falls below this value")
    window: Duration = Field(300, description="look-back over served traffic, e.g. 5m or 1h")
    repeat_every: Optional[Duration] = Field(None, description="re-send this alert while it keeps firing, e.g. 1h; "
                                             "default: monitoring.repeat_every")

    @model_validator(mode="after")
    def _one_threshold(self):
        if (self.above is None) == (self.below is None):
            raise ValueError(f"alert on {self.metric} needs exactly one of 'above' or 'below'")
        return self


class LogSink(StrictModel):
    type: Literal["log"] = Field("log", description="log: alerts are written to the controller's log")
    path: Optional[str] = Field(None, description="append JSON lines here (relative to the spec); default: stdout only")


class WebhookSink(StrictModel):
    type: Literal["webhook"] = Field("webhook", description="webhook: alerts are POSTed as JSON to a URL")
    url: str = Field(pattern=r"^https?://", description="each alert is POSTed here as JSON")
    timeout_s: float = Field(5, gt=0, description="seconds a webhook call may take")


class LogsSpec(StrictModel):
    """The endpoint's prediction log and posted feedback (.mlops/monitoring/<name>/)."""

    rotate_mb: float = Field(64, gt=0, description="each writer starts a new log file once its file reaches this size")
    keep: Duration = Field("30d", description="log files untouched for longer than this are deleted, e.g. 7d")


class ControllerSpec(StrictModel):
    """The always-on controller on the cluster that runs the endpoint (docs/monitoring.md#the-controller)."""

    tick: Duration = Field(60, description="how often the controller judges alerts and triggers, runs due schedules "
                           "and advances rollouts, e.g. 1m; ticks missed while it was down run once, not once each")
    start_on_apply: bool = Field(True, description="an online apply of a spec with retraining or monitoring starts "
                                 "the controller; false: only `mlops monitor --detach` starts it")


class TrafficExplanations(StrictModel):
    """Explanations of a sample of served traffic (docs/explain.md#what-drives-todays-predictions)."""

    every: Optional[Duration] = Field("1d", description="how often the controller explains a sample of the traffic "
                                      "served since the last time, e.g. 1h; null: never (`mlops explain SPEC --traffic` "
                                      "still does it by hand)")
    sample_rows: int = Field(200, ge=10, le=10_000, description="served rows explained each time (the cost: one SHAP "
                             "explanation per row)")


class MonitoringSpec(StrictModel):
    logs: LogsSpec = Field(default_factory=LogsSpec, description="what the endpoint logs of its requests and predictions")
    controller: ControllerSpec = Field(default_factory=ControllerSpec, description="the always-on controller that judges alerts and retraining triggers")
    alerts: list[Alert] = Field(default_factory=list, description="conditions on the served metrics that raise an alert")
    sink: Annotated[Union[LogSink, WebhookSink], Field(discriminator="type")] = Field(LogSink(), description="where alerts go: the log, or a webhook")
    explain: TrafficExplanations = Field(default_factory=TrafficExplanations, description="explanations of a sample of "
                                         "served traffic, and which features drive it against training (needs the explain extra)")
    drift_window_rows: int = Field(1000, ge=50, description="recent online inputs kept for the endpoint's drift check")
    drift_every_s: Duration = Field(60, description="how often the endpoint runs the drift check on its window")
    repeat_every: Optional[Duration] = Field(None, description="re-send an alert that keeps firing this often, e.g. 4h; "
                                             "default: once per breach, then a resolved event")
