"""Alerts: `monitoring.alerts` thresholds judged over the online endpoint's recent traffic, and the sinks
that receive an event for each one that fires (an alert is an event, never a crash)."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlops.durations import format_duration


@dataclass
class AlertResult:
    metric: str
    fired: bool
    reason: str
    value: float | None = None
    threshold: float | None = None
    window_s: float | None = None


@dataclass
class AlertEvent:
    """What a sink receives: one JSON object per fired alert."""

    model: str
    metric: str
    value: float
    condition: str  # e.g. "above 0.01"
    window_s: float | None
    version: str | None
    message: str
    at: float = field(default_factory=time.time)
    kind: str = "mlops.alert"


def value_of(metric: str, stats: dict[str, Any]) -> float | None:
    """The alert metric out of the endpoint's /stats answer (None when there was no traffic to measure)."""
    if metric == "drift_share":
        drift = stats.get("drift") or {}
        return drift.get("drift_share")
    return stats.get(metric)


def judge(alerts: list[Any], stats_for: Callable[[float], dict[str, Any]]) -> list[AlertResult]:
    """Each alert against the stats over its own window (`stats_for(window_s)`)."""
    results = []
    for alert in alerts:
        window = None if alert.metric == "drift_share" else alert.window
        stats = stats_for(window or 300.0)  # drift_share is the last check's, whatever the window
        value = value_of(alert.metric, stats)
        side, bound = ("above", alert.above) if alert.above is not None else ("below", alert.below)
        span = "the last drift check" if window is None else f"the last {format_duration(window)}"
        if value is None:
            results.append(AlertResult(alert.metric, False, f"no data over {span}", None, bound, window))
            continue
        fired = value > bound if side == "above" else value < bound
        results.append(AlertResult(alert.metric, fired, f"{alert.metric}={value:.4g} over {span}; fires {side} {bound:g}",
                                   float(value), bound, window))
    return results


def events_of(name: str, version: str | None, results: list[AlertResult], alerts: list[Any]) -> list[AlertEvent]:
    """An event per fired alert."""
    events = []
    for result, alert in zip(results, alerts):
        if result.fired:
            side = "above" if alert.above is not None else "below"
            events.append(AlertEvent(name, result.metric, result.value, f"{side} {result.threshold:g}", result.window_s,
                                     version, f"{name}: {result.reason}"))
    return events


def emit(events: list[AlertEvent], sink: Any, base_dir: Path) -> list[str]:
    """Send events to the sink; returns delivery problems (a sink that fails is reported, not raised)."""
    problems = []
    for event in events:
        line = json.dumps(asdict(event), default=str)
        if sink.type == "log":
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            if sink.path:
                path = Path(sink.path) if Path(sink.path).is_absolute() else Path(base_dir) / sink.path
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "a") as fh:
                    fh.write(line + "\n")
        else:
            import httpx

            from mlops.redact import redact_url

            try:
                response = httpx.post(sink.url, content=line, headers={"content-type": "application/json"},
                                      timeout=sink.timeout_s)
                if response.status_code >= 400:
                    problems.append(f"webhook {redact_url(sink.url)} answered {response.status_code} for the {event.metric} alert")
            except httpx.HTTPError as exc:
                problems.append(f"webhook {redact_url(sink.url)} unreachable for the {event.metric} alert: "
                                f"{type(exc).__name__}")  # the exception's text repeats the URL
    return problems


@dataclass
class AlertCheck:
    results: list[AlertResult]
    events: list[AlertEvent]
    problems: list[str]
    note: str | None = None  # why alerts could not be judged


def check_alerts(project: Any, deliver: bool = True) -> AlertCheck:
    """Judge `monitoring.alerts` over the running endpoint and (with `deliver`) send an event per fired
    alert to the sink; a dry run only judges."""
    spec = project.spec
    alerts = spec.monitoring.alerts
    if spec.serving is None or spec.serving.online is None:
        return AlertCheck([], [], [], "monitoring.alerts need an online endpoint (serving.mode: online or both)")
    from mlops.serving import client

    fetched: dict[float, dict[str, Any]] = {}

    def stats_for(window: float) -> dict[str, Any]:
        if window not in fetched:  # one request per distinct window
            fetched[window] = client.stats(project, window)
        return fetched[window]

    try:
        results = judge(alerts, stats_for)
    except ConnectionError as exc:
        return AlertCheck([], [], [], f"alerts not judged: {exc}; is it running (`mlops status`)?")
    version = next(iter(fetched.values()), {}).get("version")
    events = events_of(spec.name, version, results, alerts)
    if not deliver:
        return AlertCheck(results, events, [], "dry run: alerts judged, none delivered" if events else None)
    return AlertCheck(results, events, emit(events, spec.monitoring.sink, project.base_dir))
