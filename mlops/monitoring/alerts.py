"""Alerts: `monitoring.alerts` thresholds judged over the online endpoint's recent traffic, and the sinks
that receive their events (an alert is an event, never a crash).

Alertmanager semantics: an alert fires ONCE per breach, is re-sent only every `repeat_every` while it
keeps firing, and sends a `resolved` event when its metric recovers. The firing state (per alert: since
when, when last sent) is a JSON file beside the node cache, shared by `mlops monitor` runs and the
always-on controller. An alert whose metric has no data neither fires nor resolves (nothing was
measured); an event the sink did not take is not recorded as sent, so the next check sends it again.
`send_event` puts the controller's other events (rollout steps, rollbacks, retrains) on the same sink."""
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
    """What a sink receives: one JSON object when an alert fires, is repeated or resolves."""

    model: str
    metric: str
    value: float
    condition: str  # e.g. "above 0.01"
    window_s: float | None
    version: str | None
    message: str
    at: float = field(default_factory=time.time)
    kind: str = "mlops.alert"
    status: str = "firing"  # or "resolved"
    since: float | None = None  # when this breach began
    repeat: bool = False  # a reminder of a breach already sent (repeat_every)


# Judged on the latest replica samples, not over a window of traffic (like drift_share: the last check's).
INFRA_METRICS = ("replica_cpu_percent", "replica_memory_mb", "gpu_util_percent", "gpu_memory_mb")
LATEST = {"drift_share": "the last drift check", **{m: "the latest replica samples" for m in INFRA_METRICS}}


def value_of(metric: str, stats: dict[str, Any]) -> float | None:
    """The alert metric out of the endpoint's /stats answer (None when there was no traffic to measure)."""
    if metric == "drift_share":
        drift = stats.get("drift") or {}
        return drift.get("drift_share")
    if metric in INFRA_METRICS:  # the busiest replica's latest sample (serving/infra_metrics.merge_infra)
        return (stats.get("infra") or {}).get(metric)
    return stats.get(metric)


def judge(alerts: list[Any], stats_for: Callable[[float], dict[str, Any]]) -> list[AlertResult]:
    """Each alert against the stats over its own window (`stats_for(window_s)`)."""
    results = []
    for alert in alerts:
        window = None if alert.metric in LATEST else alert.window
        stats = stats_for(window or 300.0)  # drift_share and infra metrics are the latest, whatever the window
        value = value_of(alert.metric, stats)
        side, bound = ("above", alert.above) if alert.above is not None else ("below", alert.below)
        span = LATEST[alert.metric] if window is None else f"the last {format_duration(window)}"
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
        problems += _deliver(json.dumps(asdict(event), default=str), sink, base_dir, f"the {event.metric} alert")
    return problems


def send_event(sink: Any, base_dir: Path, kind: str, model: str, message: str, **fields: Any) -> list[str]:
    """One JSON event (a rollout step, a rollback, a retrain, a restart...) to the alert sink, as alerts go;
    returns delivery problems. Secret-named fields and URL credentials are hidden."""
    from mlops.redact import redact, redact_text

    head = {"kind": kind, "model": model, "message": redact_text(message), "at": time.time()}
    event = {**head, **redact(fields), **{k: v for k, v in head.items() if k != "at"}}  # fields never rename the event
    return _deliver(json.dumps(event, default=str), sink, base_dir, f"the {kind} event")


def _deliver(line: str, sink: Any, base_dir: Path, what: str) -> list[str]:
    """One JSON line to a log sink (stdout, and the file when set) or a webhook; problems as text."""
    if sink.type == "log":
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        if sink.path:
            path = Path(sink.path) if Path(sink.path).is_absolute() else Path(base_dir) / sink.path
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as fh:
                fh.write(line + "\n")
        return []
    import httpx

    from mlops.redact import redact_url

    try:
        response = httpx.post(sink.url, content=line, headers={"content-type": "application/json"},
                              timeout=sink.timeout_s)
    except httpx.HTTPError as exc:  # the exception's text repeats the URL
        return [f"webhook {redact_url(sink.url, path_secrets=True)} unreachable for {what}: {type(exc).__name__}"]
    if response.status_code >= 400:
        return [f"webhook {redact_url(sink.url, path_secrets=True)} answered {response.status_code} for {what}"]
    return []


STATE_KIND = "alert-state"  # the state files' folder beside the node cache


def alert_key(alert: Any) -> str:
    """The alert's identity in the state file: metric, side, threshold and window (an edited threshold is a new alert)."""
    side, bound = ("above", alert.above) if alert.above is not None else ("below", alert.below)
    return f"{alert.metric} {side} {bound:g} over {alert.window:g}s"


@dataclass
class Transition:
    """One event to send, and the alert's state once it is delivered (None: no longer firing)."""

    key: str
    event: AlertEvent
    entry: dict[str, Any] | None


def transitions(name: str, version: str | None, alerts: list[Any], results: list[AlertResult],
                state: dict[str, Any], now: float, default_repeat: float | None) -> list[Transition]:
    """The events this check sends, given what was firing before (`state`: key -> {since, sent, value})."""
    out = []
    for alert, result in zip(alerts, results):
        key = alert_key(alert)
        before = state.get(key)
        side = "above" if alert.above is not None else "below"
        condition = f"{side} {result.threshold:g}"
        if result.value is None:
            continue  # not measured: neither a breach nor a recovery
        if result.fired:
            repeat = alert.repeat_every if alert.repeat_every is not None else default_repeat
            if before is not None and (repeat is None or now - float(before["sent"]) < repeat):
                continue  # still firing, already told
            since = float(before["since"]) if before else now
            event = AlertEvent(name, result.metric, result.value, condition, result.window_s, version,
                               f"{name}: {result.reason}", at=now, status="firing", since=since,
                               repeat=before is not None)
            out.append(Transition(key, event, {"since": since, "sent": now, "value": result.value}))
        elif before is not None:
            event = AlertEvent(name, result.metric, result.value, condition, result.window_s, version,
                               f"{name}: resolved: {result.reason}", at=now, status="resolved",
                               since=float(before["since"]))
            out.append(Transition(key, event, None))
    return out


def after_delivery(state: dict[str, Any], done: list[Transition], alerts: list[Any]) -> dict[str, Any]:
    """The state after the delivered transitions; alerts no longer in the spec are forgotten."""
    keys = {alert_key(a) for a in alerts}
    new = {k: v for k, v in state.items() if k in keys}
    for t in done:
        if t.entry is None:
            new.pop(t.key, None)
        else:
            new[t.key] = t.entry
    return new


def sink_id(sink: Any, base_dir: Path) -> str:
    """Which receiver the state is about (as Alertmanager keeps it per receiver): a new sink has been told
    nothing yet. A webhook is named by a digest of its URL, which may hold a secret."""
    import hashlib

    if sink.type == "log":
        return f"log:{(Path(base_dir) / sink.path).resolve() if sink.path else 'stdout'}"
    return f"webhook:{hashlib.sha256(sink.url.encode()).hexdigest()[:16]}"


def run_lifecycle(project: Any, version: str | None, results: list[AlertResult],
                  deliver: bool, now: float | None = None) -> tuple[list[AlertEvent], list[str]]:
    """Decide and (with `deliver`) send this check's events under the shared state's lock; a dry run
    returns what would be sent and changes nothing."""
    from mlops.monitoring.state_files import locked, read_state, state_path, write_state

    spec = project.spec
    monitoring = spec.monitoring
    path = state_path(spec.tracking.uri, Path(project.base_dir), STATE_KIND, spec.name)
    now = time.time() if now is None else now
    receiver = sink_id(monitoring.sink, project.base_dir)
    with locked(path):
        whole = read_state(path)
        state = whole.get(receiver) or {}
        pending = transitions(spec.name, version, monitoring.alerts, results, state, now, monitoring.repeat_every)
        if not deliver:
            return [t.event for t in pending], []
        done, problems = [], []
        for t in pending:
            failed = emit([t.event], monitoring.sink, project.base_dir)
            problems += failed
            if not failed:
                done.append(t)
        write_state(path, {**whole, receiver: after_delivery(state, done, monitoring.alerts)})
    return [t.event for t in done], problems


@dataclass
class AlertCheck:
    results: list[AlertResult]
    events: list[AlertEvent]
    problems: list[str]
    note: str | None = None  # why alerts could not be judged


def check_alerts(project: Any, deliver: bool = True, stats: Callable[[float], dict[str, Any]] | None = None,
                 now: float | None = None) -> AlertCheck:
    """Judge `monitoring.alerts` over the running endpoint and (with `deliver`) send the events of alerts
    that began firing, are due a repeat or resolved; a dry run only judges and changes no state.
    `stats(window_s)` replaces the endpoint's /stats (a replay, a test); `now` the clock."""
    spec = project.spec
    alerts = spec.monitoring.alerts
    if spec.serving is None or spec.serving.online is None:
        return AlertCheck([], [], [], "monitoring.alerts need an online endpoint (serving.mode: online or both)")
    from mlops.serving import client

    fetched: dict[float, dict[str, Any]] = {}

    def stats_for(window: float) -> dict[str, Any]:
        if window not in fetched:  # one request per distinct window
            fetched[window] = stats(window) if stats is not None else client.stats(project, window)
        return fetched[window]

    try:
        results = judge(alerts, stats_for)
    except ConnectionError as exc:
        return AlertCheck([], [], [], f"alerts not judged: {exc}; is it running (`mlops status`)?")
    version = next(iter(fetched.values()), {}).get("version")
    events, problems = run_lifecycle(project, version, results, deliver, now)
    if not deliver:
        return AlertCheck(results, events, [], "dry run: alerts judged, none delivered" if events else None)
    return AlertCheck(results, events, problems)
