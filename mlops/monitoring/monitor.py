"""`mlops monitor`: judge the alerts over served traffic and every retraining trigger once; when a trigger
fires, retrain and decide champion/challenger."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from mlops.errors import Problem, SpecError


@dataclass
class MonitorOutcome:
    name: str
    champion_version: str | None = None
    new_rows: int = 0
    labelled_rows: int = 0
    results: list[Any] = field(default_factory=list)  # TriggerResult per configured trigger
    drift: Any = None  # DriftReport of the new rows, when tested
    decision: Any = None  # retrain.Decision when a trigger fired
    followed: str | None = None  # what the online endpoint did after a promotion
    alerts: Any = None  # alerts.AlertCheck when monitoring.alerts are configured

    @property
    def fired(self) -> list[Any]:
        """The trigger results that fired."""
        return [r for r in self.results if r.fired]


def monitor_once(project: Any, *, retrain: bool = True, address: str | None = None,
                 on_done: Callable | None = None, on_judged: Callable | None = None) -> MonitorOutcome:
    """Judge alerts and triggers; if a trigger fired (and `retrain`), retrain and decide.

    `on_judged(outcome)` is called once everything is judged, before any retraining starts.
    """
    spec = project.spec
    if spec.retraining is None and (spec.monitoring is None or not spec.monitoring.alerts):
        raise SpecError(Problem("retraining", "mlops monitor needs a retraining section (triggers) or monitoring.alerts",
                                hint="retraining: {data: {source: ...}, triggers: [...]} (see docs/monitoring.md)"))
    outcome = MonitorOutcome(spec.name)
    if spec.monitoring is not None and spec.monitoring.alerts:
        from mlops.monitoring.alerts import check_alerts

        outcome.alerts = check_alerts(project, deliver=retrain)  # --dry-run judges, delivers nothing
    if spec.retraining is None:
        if on_judged:
            on_judged(outcome)
        return outcome
    return _judge_triggers(project, outcome, retrain, address, on_done, on_judged)


def _judge_triggers(project: Any, outcome: MonitorOutcome, retrain: bool, address: str | None,
                    on_done: Callable | None, on_judged: Callable | None) -> MonitorOutcome:
    from mlops.monitoring import trigger_evidence as ev
    from mlops.monitoring.triggers import Evidence, evaluate
    from mlops.registry import Registry

    spec = project.spec
    retraining = spec.retraining
    registry = Registry(spec.tracking.uri)
    champion, version, since, seen = ev.champion_state(registry, spec.name)
    new = ev.read_new_data(project)
    unseen = new.iloc[seen:] if len(new) > seen else new.iloc[0:0]
    labelled_all = ev.labelled_rows(project, new, champion)
    recent = ev.recent_labelled(labelled_all, seen, since)
    needs_drift = any(t.on == "drift" for t in retraining.triggers)
    drift = ev.drift_of(champion, unseen, spec) if needs_drift and len(unseen) else None
    evidence = Evidence(spec, champion, version, since, unseen, recent, drift)
    outcome.champion_version, outcome.new_rows, outcome.labelled_rows = version.version, len(unseen), len(recent)
    outcome.results, outcome.drift = evaluate(retraining.triggers, evidence), drift
    if on_judged:
        on_judged(outcome)
    if outcome.fired and retrain:
        from mlops.monitoring.retrain import retrain_and_decide

        outcome.decision = retrain_and_decide(project, registry, evidence, labelled_all, outcome.fired, len(new),
                                              address=address, on_done=on_done)
        if outcome.decision.promoted and outcome.decision.rollout:
            outcome.followed = _roll_out(project, outcome.decision)
        elif outcome.decision.promoted:
            outcome.followed = _follow(spec.name, spec.tracking.uri)
        _tell_sink(project, outcome)
    return outcome


def _tell_sink(project: Any, outcome: MonitorOutcome) -> None:
    """A retrain is an event on the alert sink (as alerts, rollout steps and controller restarts are)."""
    from mlops.monitoring.alerts import send_event
    from mlops.spec.monitoring import MonitoringSpec

    d = outcome.decision
    verdict = f"promoted v{d.challenger_version}" if d.promoted else f"kept v{d.champion_version}"
    sink = (project.spec.monitoring or MonitoringSpec()).sink
    send_event(sink, project.base_dir, "mlops.retrain", project.spec.name,
               f"{project.spec.name}: retrained ({', '.join(d.triggers)}): {verdict}; {d.reason}",
               promoted=bool(d.promoted), champion_version=d.champion_version, challenger_version=d.challenger_version,
               triggers=list(d.triggers), endpoint=outcome.followed)


def _roll_out(project: Any, decision: Any) -> str:
    """Start the endpoint's rollout of the winner (canary, shadow or ab) instead of a hot swap."""
    from mlops.monitoring.rollout import begin_rollout

    try:
        return begin_rollout(project, decision.champion_version, decision.challenger_version)
    except Exception as exc:  # noqa: BLE001 - the decision stands (the winner keeps its challenger alias)
        return f"rollout not started: {exc}"


def _follow(name: str, uri: str) -> str | None:
    """A running endpoint follows the alias (no downtime); nothing to do when none runs."""
    from mlops.serving.control import follow_alias

    try:
        return follow_alias(name, uri)
    except Exception as exc:  # noqa: BLE001 - the decision stands even if no endpoint can be reached
        return f"endpoint not updated: {exc}"
