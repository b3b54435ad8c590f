"""Progressive rollout of a new champion (serving.online.rollout): begin it, and on each controller tick read
the per-version numbers, let mlops.monitoring.rollout_guards decide, and carry the decision out: a routing
table to the replicas (a weight, not a redeploy), the registry's aliases and tags, an event to the sink.

The settings come from the recorded deploy node (what was applied), the state from a JSON file beside the
node cache, so a restarted controller resumes where the last one stopped.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from mlops.monitoring.rollout_guards import RolloutState, decide

ROLLOUT_TAG = "mlops.rollout"  # version tag: what the rollout did with this version
ROLLOUT_REASON_TAG = "mlops.rollout_reason"  # version tag: why


def _uri(project: Any) -> str:
    from mlops import stores

    return stores.absolute(project.spec.tracking.uri)


def state_file(project: Any) -> Path:
    """Where the project's rollout state lives: beside the node cache (one per store, like the cache)."""
    return state_file_at(_uri(project), project.base_dir, project.spec.name)


def state_file_at(tracking_uri: str, base_dir: str | Path, name: str) -> Path:
    """The rollout state of endpoint `name` whose spec lives in `base_dir` and tracks to `tracking_uri`."""
    from mlops.monitoring.state_files import state_path

    return state_path(tracking_uri, Path(base_dir), "rollouts", name)


def load_state(project: Any) -> Optional[RolloutState]:
    """The project's last rollout (None when it never had one)."""
    return _read_at(state_file(project))


def _read_at(path: Path) -> Optional[RolloutState]:
    from mlops.monitoring.state_files import read_state

    data = read_state(path)
    return RolloutState.from_dict(data) if data else None


def save_state(project: Any, state: RolloutState) -> None:
    """Persist the rollout's state (atomically)."""
    from mlops.monitoring.state_files import write_state

    write_state(state_file(project), state.to_dict())


def rollout_settings(project: Any) -> Any:
    """The rollout settings of the endpoint as applied (its recorded deploy node), else the spec's."""
    from mlops.errors import MlopsError
    from mlops.plan.endpoint import EndpointSettings
    from mlops.serving.app_records import recorded_node

    try:
        node = recorded_node(project.spec.name)
    except MlopsError:  # recorded by an older mlops, without its node: the spec's settings
        node = None
    if node is not None:
        return EndpointSettings.of(node).rollout
    return project.spec.serving.online.rollout


def settings_of(state: RolloutState, project: Any) -> Any:
    """The settings the rollout began with (the endpoint's as applied, for a state without them)."""
    from mlops.spec.rollout import RolloutSpec

    return RolloutSpec.model_validate(state.settings) if state.settings else rollout_settings(project)


def table_for(state: RolloutState, spec: Any, now: float) -> dict[str, Any]:
    """The routing table of the state's phase, under a new epoch (so this phase's numbers are its own)."""
    from mlops.serving.traffic_split import Routing

    sticky = {"sticky_key": spec.sticky.key, "sticky_header": spec.sticky.header} if spec.sticky else {}
    champion, challenger = state.champion, state.challenger
    if state.phase == "canary":
        share = float(spec.steps[state.step])  # the challenger first: a sticky caller moved to it stays there
        routing = Routing(champion, {challenger: share, champion: 100 - share}, mode="canary", **sticky)
    elif state.phase == "shadow":
        routing = Routing(champion, {champion: 100.0}, shadow=challenger, mode="shadow")
    elif state.phase == "bake":  # the new champion answers; the previous one scores a copy, for the guards
        routing = Routing(challenger, {challenger: 100.0}, shadow=champion, mode="bake")
    elif state.phase == "ab":
        routing = Routing.from_dict(state.routing, champion)
    else:  # rolled back, restored: the old champion alone; done: the new one
        winner = challenger if state.phase == "done" else champion
        routing = Routing(winner, {winner: 100.0}, mode=state.phase)
    data = routing.to_dict()
    data.update(epoch=state.epoch, at=now, models=state.models)
    return data


def begin_rollout(project: Any, champion_version: str, challenger_version: str, settings: Any = None) -> str:
    """Start rolling `challenger_version` out against `champion_version` with the endpoint's rollout settings
    as applied, or `settings` (a RolloutSpec) (canary: steps[0] of traffic; shadow: a copy of it; ab: the split
    between aliases); returns what it did. The rollout keeps these settings until it ends."""
    from mlops.registry import Registry, version_record
    from mlops.serving.routing_control import on_local_head, push_routing

    spec, name, now = settings or rollout_settings(project), project.spec.name, time.time()
    phase = {"canary": "canary", "shadow": "shadow", "ab": "ab"}.get(spec.strategy)
    if phase is None:
        raise ValueError(f"serving.online.rollout.strategy={spec.strategy}: nothing to roll out progressively")
    from mlops.monitoring.state_files import locked

    registry = Registry(_uri(project))
    with locked(state_file(project)):
        running = load_state(project)
        if running is not None and running.active and running.phase != "ab":
            raise RuntimeError(f"a rollout of v{running.challenger} is in progress ({running.phase}): it ends first")
        state = RolloutState(name, spec.strategy, str(champion_version), str(challenger_version), phase, started=now,
                             phase_started=now, settings=spec.model_dump(mode="json"),
                             models={v: version_record(registry.version(name, v)) for v in (str(champion_version),
                                                                                            str(challenger_version))})
        if phase == "ab":
            state.routing = ab_table(registry, name, spec)
        elif phase == "canary" and spec.steps[0] == 100:
            state.phase = "bake"  # one step of 100%: the challenger takes over at once, the bake still guards it
        state.routing = table_for(state, spec, now)
        with on_local_head() as connected:
            if not connected:
                raise RuntimeError(f"no Ray runs the endpoint '{name}': start it (mlops apply / mlops serve) first")
            push_routing(name, state.routing)  # the replicas load the challenger beside the champion, then route
        if state.phase == "bake":
            registry.promote(name, state.challenger)
        state.reason = describe(state, spec)
        _record(project, registry, state, "rollout.started", state.reason, now)
    return state.reason


def ab_table(registry: Any, name: str, spec: Any) -> dict[str, Any]:
    """The a/b routing table: each alias of `split` resolved to its version, with its share."""
    from mlops.serving.traffic_split import Routing

    weights: dict[str, float] = {}
    for alias, share in spec.split.items():
        version = registry.by_alias(name, alias).version
        weights[version] = weights.get(version, 0.0) + share
    champion = registry.by_alias(name, "champion").version
    sticky = {"sticky_key": spec.sticky.key, "sticky_header": spec.sticky.header} if spec.sticky else {}
    return Routing(champion, weights, mode="ab", **sticky).to_dict()


def describe(state: RolloutState, spec: Any) -> str:
    """The rollout's phase in words."""
    if state.phase == "canary":
        return f"canary: v{state.challenger} takes {spec.steps[state.step]}% of traffic, v{state.champion} the rest"
    if state.phase == "shadow":
        return f"shadow: v{state.challenger} scores a copy of v{state.champion}'s traffic, its answers discarded"
    if state.phase == "bake":
        return f"bake: v{state.challenger} is champion; v{state.champion} stays loaded for {spec.bake:g}s"
    if state.phase == "ab":
        return f"a/b split {state.routing.get('weights')}"
    if state.phase == "done":
        return f"done: v{state.challenger} is champion and takes all traffic; v{state.champion} unloaded"
    return state.reason


def end_by_hand(tracking_uri: str, base_dir: str | Path, name: str, command: str, force: bool) -> Optional[str]:
    """Before a command moves the champion alias by hand (`mlops promote`, `mlops rollback`): with a rollout
    of endpoint `name` in progress, refuse, naming it (its guards decide the champion, and a tick would go
    on judging a version the command replaced); with `force`, end it first, recorded as ended by the
    command (its state, history and the challenger's tags), so no tick acts on it again. Returns the
    rollout it ended in words; None when none was in progress."""
    from mlops.errors import MlopsError
    from mlops.monitoring.state_files import locked, write_state

    path = state_file_at(tracking_uri, base_dir, name)
    with locked(path):  # against a controller's tick deciding at the same moment
        state = _read_at(path)
        if state is None or not state.active:
            return None
        what = _in_progress(state)
        if not force:
            raise MlopsError(f"{name}: {what} is in progress; its guards decide the champion (`mlops status` "
                             f"shows it). `{command} --force` ends the rollout first")
        now = time.time()
        state.phase, state.phase_started, state.reason = "ended", now, f"ended by `{command}`"
        state.history.append({"kind": "rollout.ended", "at": now, "phase": state.phase, "champion": state.champion,
                              "challenger": state.challenger, "message": state.reason})
        write_state(path, state.to_dict())
    from mlops.registry import Registry

    _tag(Registry(tracking_uri), name, {state.challenger: ("ended", f"{what}: {state.reason}")})
    return what


def in_progress(tracking_uri: str, base_dir: str | Path, name: str) -> Optional[str]:
    """The rollout of endpoint `name` in progress, in words; None when none is."""
    state = _read_at(state_file_at(tracking_uri, base_dir, name))
    return _in_progress(state) if state is not None and state.active else None


def _in_progress(state: RolloutState) -> str:
    """The rollout in progress, in words, for a command that must not act behind its back."""
    if state.phase == "ab":
        return f"an a/b experiment (split {state.routing.get('weights')})"
    if state.phase == "bake":
        return f"the bake of v{state.challenger} (v{state.champion} kept loaded to take over on a breach)"
    share = (state.routing.get("weights") or {}).get(state.challenger)
    traffic = f" (v{state.challenger} takes {share:g}% of traffic)" if state.phase == "canary" and share is not None else ""
    return f"a {state.phase} rollout of v{state.challenger} against v{state.champion}{traffic}"


def rollout_tick(project: Any, now: float) -> list[dict[str, Any]]:
    """One controller tick of the project's rollout: judge the guards on this step's numbers and advance,
    promote, finish, roll back or restore; returns the events sent (none while it waits)."""
    from mlops.monitoring.state_files import locked

    with locked(state_file(project)):  # one decision at a time, against begin_rollout from a CLI too
        return _tick(project, now)


def _tick(project: Any, now: float) -> list[dict[str, Any]]:
    from mlops.serving.routing_control import push_routing, version_stats

    state = load_state(project)
    if state is None:
        return []
    if not state.active:
        return []
    spec = settings_of(state, project)
    push_routing(state.name, state.routing)  # a restarted monitor gets the table in force again (idempotent)
    by_version = version_stats(state.name, state.epoch).get("by_version", {})
    metric, greater, scores = served_scores(project, state, spec)
    decision = decide(state, spec, by_version, now, scores, metric, greater)
    if decision.action == "wait":
        return []
    return [carry_out(project, state, spec, decision, by_version, now)]


def carry_out(project: Any, state: RolloutState, spec: Any, decision: Any, by_version: dict, now: float) -> dict[str, Any]:
    """Move traffic first (the fast path: every answer follows within a poll), then the registry, the
    state file and the sink; a finished rollout is then deployed plain, with the version that stays."""
    from mlops.registry import Registry
    from mlops.serving.routing_control import end_routing, push_routing

    registry = Registry(_uri(project))
    action, name = decision.action, state.name
    state.phase = {"advance": "canary", "promote": "bake", "finish": "done", "rollback": "rolled_back",
                   "restore": "restored"}[action]
    if action == "advance":
        state.step += 1
    state.epoch += 1
    state.phase_started = now
    state.routing = table_for(state, spec, now)
    push_routing(name, state.routing)
    if action == "promote":
        registry.promote(name, state.challenger)
    elif action == "restore":
        restore_champion(registry, name, state.champion)
    state.reason = decision.reason if action in ("rollback", "restore") else describe(state, spec)
    if action == "finish":  # what ended the bake, after what it leaves
        state.reason += f" ({decision.reason})"
    if action in ("rollback", "restore"):
        why = f"{'rolled back' if action == 'rollback' else 'restored'}: v{state.challenger} {decision.reason}"
        _tag(registry, name, {state.challenger: ("rejected", why), state.champion: ("kept" if action == "rollback"
                                                                                 else "restored", why)})
    event = _record(project, registry, state, f"rollout.{action}", state.reason, now, numbers=by_version)
    if not state.active:  # one version stays: a plain deploy of it (loaded already) makes that durable
        try:
            event["deployed"] = end_routing(name, state.routing["champion"])
        except Exception as exc:  # noqa: BLE001 - traffic moved already; the next deploy records it
            event["deploy_error"] = f"{type(exc).__name__}: {exc}"
        save_state(project, state)  # the event is the history's last entry: keep how its deploy went
    return event


def restore_champion(registry: Any, name: str, version: str) -> None:
    """Point the champion alias back at `version`: a rollback of the registry's champion history when that
    is where it leads, else a promotion."""
    from mlops.errors import RegistryError

    try:
        if registry.rollback(name) == version:
            return
    except RegistryError:
        pass
    registry.promote(name, version)


def _tag(registry: Any, name: str, tags: dict[str, tuple[str, str]]) -> None:
    for version, (status, why) in tags.items():
        registry.client.set_model_version_tag(name, version, ROLLOUT_TAG, status)
        registry.client.set_model_version_tag(name, version, ROLLOUT_REASON_TAG, why[:5000])


def _record(project: Any, registry: Any, state: RolloutState, kind: str, message: str, now: float,
            numbers: Optional[dict] = None) -> dict[str, Any]:
    """The decision in the state's history and file, on the challenger's tags, and to the sink."""
    from mlops.monitoring.alerts import send_event
    from mlops.spec.monitoring import MonitoringSpec

    event = {"kind": kind, "at": now, "phase": state.phase, "champion": state.champion, "challenger": state.challenger,
             "message": message}
    state.history.append(event)
    save_state(project, state)
    if kind in ("rollout.started", "rollout.advance", "rollout.promote", "rollout.finish"):
        _tag(registry, state.name, {state.challenger: (state.phase, message)})
    sink = (project.spec.monitoring or MonitoringSpec()).sink
    summary = {v: {k: n.get(k) for k in ("requests", "errors", "latency_p99_ms", "agreement")} for v, n in (numbers or {}).items()}
    event["problems"] = send_event(sink, project.base_dir, kind, state.name, f"{state.name}: {message}",
                                   phase=state.phase, champion=state.champion, challenger=state.challenger,
                                   versions=summary)
    return event


def served_scores(project: Any, state: RolloutState, spec: Any) -> tuple[str, bool, Optional[dict]]:
    """(metric, greater is better, version -> (metric on the feedback labels of its answers since the rollout
    began, labels)); no scores when the guard is off or no labels came back."""
    from mlops.metrics import METRICS

    metric = project.spec.model.metric
    greater = METRICS[metric].greater_is_better if metric in METRICS else True
    if spec.guards.metric_drop_above is None or not project.spec.monitoring and not project.spec.retraining:
        return metric, greater, None
    from mlops.monitoring.served_metric import scores_by_version

    return metric, greater, scores_by_version(project, state.started, metric)


def rollout_status(project: Any) -> Optional[dict[str, Any]]:
    """The project's rollout for `mlops status`: strategy, phase, versions, traffic, the last decision."""
    state = load_state(project)
    if state is None:
        return None
    last = state.history[-1] if state.history else {}
    return {"strategy": state.strategy, "phase": state.phase, "champion": state.champion, "challenger": state.challenger,
            "step": state.step, "weights": state.routing.get("weights"), "shadow": state.routing.get("shadow"),
            "since": state.phase_started, "reason": state.reason, "last_event": last.get("kind"),
            "last_event_at": last.get("at"), "active": state.active}
