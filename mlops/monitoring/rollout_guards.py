"""The rollout's decisions, as pure functions of its state, its settings, the per-version numbers and the
clock: whether a guard is breached, and whether a step advances, the challenger is promoted, the bake ends
or traffic goes back. No Ray, no MLflow: mlops.monitoring.rollout reads the numbers and carries out what
is decided here."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

MIN_SHIFT_ROWS = 30  # predictions each version needs before their distributions are compared
ACTIVE = ("canary", "shadow", "bake", "ab")  # phases a tick acts on; the others are finished rollouts


@dataclass
class RolloutState:
    """A rollout in progress or finished, as persisted beside the node cache (a restarted controller resumes
    from it). `champion` is the version that answered before the rollout, `challenger` the new one."""

    name: str
    strategy: str
    champion: str
    challenger: str
    phase: str  # canary | shadow | bake | ab | done | rolled_back | restored | ended (by a command)
    step: int = 0  # canary: index into steps
    epoch: int = 1  # the routing table's epoch: per-version numbers are counted under it
    started: float = 0.0
    phase_started: float = 0.0  # when the current step (or the shadow, or the bake) began
    reason: str = ""  # the last decision's reason
    routing: dict[str, Any] = field(default_factory=dict)  # the routing table in force
    settings: dict[str, Any] = field(default_factory=dict)  # the RolloutSpec it began with (fixed for its life)
    history: list[dict[str, Any]] = field(default_factory=list)  # every decision: at, action, reason
    # champion's and challenger's files (mlops.registry.version_record), in every table: replicas load them
    # without opening the store
    models: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutState:
        """A persisted state read back."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data."""
        return asdict(self)

    @property
    def active(self) -> bool:
        """A tick still has something to decide."""
        return self.phase in ACTIVE


@dataclass
class Decision:
    action: str  # wait | advance | promote | rollback | finish | restore
    reason: str
    breaches: list[str] = field(default_factory=list)


def prediction_shift(mine: dict[str, Any], theirs: dict[str, Any]) -> Optional[float]:
    """How far apart two versions' predictions are: total variation distance of class shares (0..1), or the
    Kolmogorov-Smirnov distance of numeric samples (0..1); None with too few predictions to say."""
    if mine.get("classes") and theirs.get("classes"):
        a, b = mine["classes"], theirs["classes"]
        na, nb = sum(a.values()), sum(b.values())
        if min(na, nb) < MIN_SHIFT_ROWS:
            return None
        return 0.5 * sum(abs(a.get(k, 0) / na - b.get(k, 0) / nb) for k in {*a, *b})
    x, y = sorted(mine.get("values") or []), sorted(theirs.get("values") or [])
    if min(len(x), len(y)) < MIN_SHIFT_ROWS:
        return None
    return ks_distance(x, y)


def ks_distance(x: list[float], y: list[float]) -> float:
    """The largest gap between two sorted samples' empirical distribution functions."""
    i = j = 0
    gap = 0.0
    while i < len(x) and j < len(y):
        value = min(x[i], y[j])
        while i < len(x) and x[i] == value:
            i += 1
        while j < len(y) and y[j] == value:
            j += 1
        gap = max(gap, abs(i / len(x) - j / len(y)))
    return gap


def breaches(guards: Any, judged: dict[str, Any], baseline: dict[str, Any],
             metrics: Optional[dict[str, tuple[float, int]]] = None, metric: str = "", greater_is_better: bool = True,
             versions: tuple[str, str] = ("", ""), min_requests: int = 0) -> list[str]:
    """Each guard the `judged` version breaches against the `baseline` version's numbers (of the same step),
    as a sentence; empty when every guard holds. `metrics`: version -> (score on feedback labels, labels).
    Errors and latency count from the first request; the prediction shift, a statistic of a sample, only
    once the judged version has `min_requests` (a few dozen predictions differ by chance alone)."""
    out = []
    if guards.error_rate_above is not None and judged.get("errors") and judged["error_rate"] > guards.error_rate_above:
        out.append(f"error_rate {judged['error_rate']:.3g} ({judged['errors']} of {judged['requests']} requests) "
                   f"above {guards.error_rate_above:g}")
    p99, base_p99 = judged.get("latency_p99_ms"), baseline.get("latency_p99_ms")
    if guards.latency_p99_ms_above is not None and p99 is not None and p99 > guards.latency_p99_ms_above:
        out.append(f"latency_p99_ms {p99:.1f} above {guards.latency_p99_ms_above:g}")
    if guards.latency_p99_ratio_above is not None and p99 is not None and base_p99:
        if p99 / base_p99 > guards.latency_p99_ratio_above:
            out.append(f"latency_p99_ms {p99:.1f} is {p99 / base_p99:.2f}x the champion's {base_p99:.1f} "
                       f"(above {guards.latency_p99_ratio_above:g}x)")
    if guards.prediction_shift_above is not None and judged.get("requests", 0) >= min_requests:
        shift = prediction_shift(judged, baseline)
        if shift is not None and shift > guards.prediction_shift_above:
            out.append(f"prediction_shift {shift:.3f} against the champion's predictions above {guards.prediction_shift_above:g}")
    if guards.metric_drop_above is not None and metrics:
        mine, theirs = metrics.get(versions[0]), metrics.get(versions[1])
        if mine and theirs and min(mine[1], theirs[1]) >= guards.min_labels:
            drop = (theirs[0] - mine[0]) if greater_is_better else (mine[0] - theirs[0])
            if drop > guards.metric_drop_above:
                out.append(f"{metric} {mine[0]:.4f} on {mine[1]} feedback labels is {drop:.4f} worse than the champion's "
                           f"{theirs[0]:.4f} (above {guards.metric_drop_above:g})")
    return out


def decide(state: RolloutState, spec: Any, by_version: dict[str, dict[str, Any]], now: float,
           metrics: Optional[dict[str, tuple[float, int]]] = None, metric: str = "",
           greater_is_better: bool = True) -> Decision:
    """What a tick does now. Canary: advance a step once `step_every` has passed and the challenger has
    `min_requests` on it, with every guard holding; promote after the last step below 100. Shadow: promote
    after `step_every` and `min_requests` of the champion's (all of them shadowed). Bake: finish after
    `bake`. Any breach: rollback (canary, shadow) or restore the previous champion (bake)."""
    if state.phase == "ab":
        return Decision("wait", "a/b split: fixed until changed")
    judged, baseline = (state.challenger, state.champion)
    if state.phase not in ("canary", "shadow", "bake"):
        return Decision("wait", f"rollout {state.phase}")
    empty = {"requests": 0, "errors": 0, "error_rate": 0.0}
    mine, theirs = by_version.get(judged, empty), by_version.get(baseline, empty)
    found = breaches(spec.guards, mine, theirs, metrics, metric, greater_is_better, (judged, baseline), spec.min_requests)
    if found:
        return Decision("restore" if state.phase == "bake" else "rollback", "; ".join(found), found)
    elapsed = now - state.phase_started
    if state.phase == "bake":
        if elapsed >= spec.bake:
            return Decision("finish", f"bake of {spec.bake:g}s passed with every guard holding")
        return Decision("wait", f"baking: {elapsed:.0f}s of {spec.bake:g}s")
    counted = theirs if state.phase == "shadow" else mine
    if elapsed < spec.step_every or counted.get("requests", 0) < spec.min_requests:
        return Decision("wait", f"{state.phase} step {state.step}: {elapsed:.0f}s of {spec.step_every:g}s, "
                                f"{counted.get('requests', 0)} of {spec.min_requests} requests")
    if state.phase == "shadow" or spec.steps[state.step + 1] == 100:
        return Decision("promote", f"every guard held over {counted.get('requests', 0)} requests")
    return Decision("advance", f"every guard held over {counted.get('requests', 0)} requests at {spec.steps[state.step]}%")
