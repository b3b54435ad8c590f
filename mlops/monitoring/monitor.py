"""`mlops monitor`: judge every trigger once; when any fires, retrain and decide champion/challenger."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class MonitorOutcome:
    name: str
    champion_version: str
    new_rows: int
    labelled_rows: int
    results: list[Any]  # TriggerResult per configured trigger
    drift: Any = None  # DriftReport of the new rows, when tested
    decision: Any = None  # retrain.Decision when a trigger fired
    followed: str | None = None  # what the online endpoint did after a promotion

    @property
    def fired(self) -> list[Any]:
        return [r for r in self.results if r.fired]


def monitor_once(project: Any, *, retrain: bool = True, address: str | None = None,
                 on_done: Callable | None = None, on_judged: Callable | None = None) -> MonitorOutcome:
    """Gather evidence, evaluate the triggers and, if one fired (and `retrain`), retrain and decide.

    `on_judged(outcome)` is called once the triggers are judged, before any retraining starts.
    """
    from mlops.monitoring import evidence as ev
    from mlops.monitoring.triggers import Evidence, evaluate
    from mlops.registry import Registry

    spec = project.spec
    retraining = ev.require_retraining(spec)
    registry = Registry(spec.tracking.uri)
    champion, version, since, seen = ev.champion_state(registry, spec.name)
    new = ev.read_new_data(project)
    unseen = new.iloc[seen:] if len(new) > seen else new.iloc[0:0]
    labelled_all = ev.labelled_rows(project, new, champion)
    recent = ev.recent_labelled(labelled_all, seen, since)
    needs_drift = any(t.on == "drift" for t in retraining.triggers)
    drift = ev.drift_of(champion, unseen, spec) if needs_drift and len(unseen) else None
    evidence = Evidence(spec, champion, version, since, unseen, recent, drift)
    results = evaluate(retraining.triggers, evidence)
    outcome = MonitorOutcome(spec.name, version.version, len(unseen), len(recent), results, drift)
    if on_judged:
        on_judged(outcome)
    if outcome.fired and retrain:
        from mlops.monitoring.retrain import retrain_and_decide

        outcome.decision = retrain_and_decide(project, registry, evidence, labelled_all, outcome.fired, len(new),
                                              address=address, on_done=on_done)
        if outcome.decision.promoted:
            outcome.followed = _follow(spec.name, spec.tracking.uri)
    return outcome


def _follow(name: str, uri: str) -> str | None:
    """A running endpoint follows the alias (no downtime); nothing to do when none runs."""
    from mlops import api

    try:
        return api.follow_alias(name, uri)
    except Exception as exc:  # the decision stands even if no endpoint can be reached
        return f"endpoint not updated: {exc}"
