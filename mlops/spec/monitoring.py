"""`monitoring`: alert thresholds over served traffic, and where alert events go."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import Field, model_validator

from mlops.spec.base import StrictModel
from mlops.durations import Duration

AlertMetric = Literal["error_rate", "latency_p50_ms", "latency_p99_ms", "drift_share", "outlier_rate", "requests"]


class Alert(StrictModel):
    metric: AlertMetric
    above: Optional[float] = None
    below: Optional[float] = None
    window: Duration = Field(300, description="look-back over served traffic, e.g. 5m or 1h")

    @model_validator(mode="after")
    def _one_threshold(self):
        if (self.above is None) == (self.below is None):
            raise ValueError(f"alert on {self.metric} needs exactly one of 'above' or 'below'")
        return self


class LogSink(StrictModel):
    type: Literal["log"] = "log"
    path: Optional[str] = Field(None, description="append JSON lines here (relative to the spec); default: stdout only")


class WebhookSink(StrictModel):
    type: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://", description="each alert is POSTed here as JSON")
    timeout_s: float = Field(5, gt=0)


class LogsSpec(StrictModel):
    """The endpoint's prediction log and posted feedback (.mlops/monitoring/<name>/)."""

    rotate_mb: float = Field(64, gt=0, description="each writer starts a new log file once its file reaches this size")
    keep: Duration = Field("30d", description="log files untouched for longer than this are deleted, e.g. 7d")


class MonitoringSpec(StrictModel):
    logs: LogsSpec = Field(default_factory=LogsSpec)
    alerts: list[Alert] = Field(default_factory=list)
    sink: Annotated[Union[LogSink, WebhookSink], Field(discriminator="type")] = LogSink()
    drift_window_rows: int = Field(1000, ge=50, description="recent online inputs kept for the endpoint's drift check")
    drift_every_s: Duration = Field(60, description="how often the endpoint runs the drift check on its window")
