"""What the controller does each tick: a list of duties, each `duty(project, state, now) -> [events]`.

An event is a dict; one with a `decision` (and its `reason`) becomes the controller's last decision that
`mlops status` shows. Each duty imports what it needs when the tick runs.
"""
from __future__ import annotations

from typing import Any

from mlops.monitoring.controller_state import ControllerState, Duty


def monitor_duty(project: Any, state: ControllerState, now: float) -> list[dict]:
    """Judge alerts and retraining triggers; when one fires, retrain and promote the challenger if it wins."""
    spec = project.spec
    if spec.retraining is None and (spec.monitoring is None or not spec.monitoring.alerts):
        return []
    from mlops.monitoring.monitor import monitor_once

    outcome = monitor_once(project, retrain=True, address=_this_cluster())
    return [monitor_event(outcome)]


def monitor_event(outcome: Any) -> dict:
    """The decision a monitor outcome stands for, with its reason, as one event."""
    firing = [r.metric for r in (outcome.alerts.results if outcome.alerts is not None else []) if r.fired]
    alerts = f"; alerts firing: {', '.join(firing)}" if firing else ""
    d = outcome.decision
    if d is not None:
        what = f"promoted v{d.challenger_version}" if d.promoted else f"kept v{d.champion_version}"
        followed = f"; endpoint: {outcome.followed}" if outcome.followed else ""
        return {"decision": f"retrained ({', '.join(d.triggers)}): {what}", "reason": f"{d.reason}{followed}{alerts}",
                "promoted": bool(d.promoted), "version": d.challenger_version if d.promoted else d.champion_version}
    if outcome.champion_version is None:
        return {"decision": "alerts judged", "reason": (alerts[2:] or "no alert firing")}
    reasons = "; ".join(r.reason for r in outcome.results) or "no trigger configured"
    return {"decision": f"v{outcome.champion_version} stays", "reason": f"no trigger fired: {reasons}{alerts}"}


def _this_cluster() -> str | None:
    """The GCS address of the Ray this process is part of (the controller retrains where it runs)."""
    import ray

    return ray.get_runtime_context().gcs_address if ray.is_initialized() else None


def _rollout(project: Any, state: ControllerState, now: float) -> list[dict]:
    from mlops.monitoring.rollout import rollout_tick

    return rollout_tick(project, now)


def _scheduled_scoring(project: Any, state: ControllerState, now: float) -> list[dict]:
    from mlops.monitoring.scheduled_scoring import scoring_duty

    return scoring_duty(project, state, now)


def traffic_explanations_duty(project: Any, state: ControllerState, now: float) -> list[dict]:
    """Every `monitoring.explain.every` (counted from the controller's start, then from the last run):
    explain a sample of the traffic served since, log it, and keep the drivers comparison in the state for
    `mlops status --drivers`. Nothing without the explain extra, or without traffic (tried next tick)."""
    explain = project.spec.monitoring.explain if project.spec.monitoring is not None else None
    from mlops.extras import EXPLAIN, installed

    if explain is None or explain.every is None or not installed(EXPLAIN):
        return []
    from mlops.monitoring.traffic_explanations import explain_traffic

    last = (state.drivers or {}).get("at") or state.started or now
    if now - last < explain.every:
        return []
    summary = explain_traffic(project, window_s=max(now - last, explain.every), sample_rows=explain.sample_rows, now=now)
    if summary is None:
        return []
    state.drivers = {k: summary[k] for k in ("at", "version", "rows", "served_rows", "method")}
    state.drivers["drivers"] = summary["drivers"][:10]
    top = ", ".join(f"{d['feature']} {d['today']:.0%}" for d in summary["drivers"][:3] if d["today"] is not None)
    return [{"event": "traffic explained", "version": summary["version"], "rows": summary["rows"], "top_drivers": top}]


def duties() -> list[tuple[str, Duty]]:
    """The duties of one tick, in order: judge and retrain first, so a promotion starts its rollout at once;
    then the scheduled batch scoring, then the rollout's step, then (when due) the traffic explanations."""
    return [("monitor", monitor_duty), ("scheduled_scoring", _scheduled_scoring), ("rollout", _rollout),
            ("traffic_explanations", traffic_explanations_duty)]
