"""Retrain through the same plan on the configured data window, then let the challenger replace the
champion only if it wins on the same holdout."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops import tracking_tags

MIN_HOLDOUT_ROWS = 10


@dataclass
class Decision:
    champion_version: str
    challenger_version: str
    metric: str
    champion_score: float
    challenger_score: float
    holdout: str  # what both were scored on
    promoted: bool
    reason: str
    triggers: list[str]
    run_id: str
    rollout: str | None = None  # serving.online.rollout.strategy when the winner is rolled out, not promoted at once


def split_holdout(labelled: Any, policy: Any) -> tuple[Any, Any]:
    """(rows to train on, newest labelled rows to judge on) for holdout: latest."""
    n = policy.holdout_rows or max(1, int(round(0.2 * len(labelled))))
    n = min(n, len(labelled))
    return labelled.iloc[: len(labelled) - n], labelled.iloc[len(labelled) - n:]


def training_frame(project: Any, new_labelled: Any) -> Any:
    """Original training data + new labelled rows, cut to retraining.data.window."""
    import pandas as pd

    from mlops.stages.load import read_source

    spec = project.spec
    original = read_source(spec.data.source.model_dump(mode="json"), str(project.base_dir))
    frame = pd.concat([original, new_labelled.drop(columns=["_ts"], errors="ignore")], ignore_index=True, sort=False)
    keep = [c for c in original.columns if c in frame.columns]
    frame = frame[keep]
    window = spec.retraining.data.window
    return frame if window == "all" else frame.tail(window.last_n_rows).reset_index(drop=True)


def retrain_plan(project: Any, data_file: Path) -> Any:
    """The apply plan fed the retraining window (a parquet file) and registering a challenger: the compiler's
    retrain plan, so its featurize, split and training are the apply's to the letter."""
    from mlops.plan.compile import compile_retrain_plan
    from mlops.spec.sources import ParquetSource

    return compile_retrain_plan(project, ParquetSource(path=str(data_file)))


def held_out_rows(plan: Any) -> Any:
    """The rows `plan` holds out for testing, with the target: its nodes up to `split` run again here, with
    their own params (the split is deterministic, so these are the rows the challenger was scored on)."""
    from mlops.runtime.node_calls import run_here

    parts = run_here(plan, "split")["split"]
    return parts.X_test.assign(**{plan.node("split").params["target"]: parts.y_test})


def retrain_and_decide(project: Any, registry: Any, evidence: Any, labelled_all: Any, fired: list[Any],
                       rows_seen: int, *, address: str | None = None, on_done: Any = None) -> Decision:
    """Train a challenger on the new rows, score it against the champion on a holdout, promote it if it wins."""
    from mlops.metrics import better
    from mlops.monitoring.scoring import score
    from mlops.serving.traffic_log import monitoring_dir
    from mlops.runtime.apply import apply_plan

    spec = project.spec
    policy = spec.retraining.promote
    metric = policy.metric or spec.model.metric
    use_latest = policy.holdout == "latest" and len(labelled_all) >= 2 * MIN_HOLDOUT_ROWS
    if use_latest:
        train_new, holdout = split_holdout(labelled_all, spec.retraining.data)
        holdout_name = f"latest {len(holdout)} labelled rows"
    else:
        train_new, holdout = labelled_all, None
    frame = training_frame(project, train_new)
    out_dir = monitoring_dir(project.base_dir, spec.name) / "retrain"
    out_dir.mkdir(parents=True, exist_ok=True)
    data_file = out_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6}.parquet"
    frame.to_parquet(data_file, index=False)
    plan = retrain_plan(project, data_file)
    result = apply_plan(project, plan, address=address, force=True, on_done=on_done)
    triggers = [r.on for r in fired]
    registry.client.set_model_version_tag(spec.name, result.version, tracking_tags.ROWS_SEEN, str(rows_seen))
    registry.client.set_model_version_tag(spec.name, result.version, tracking_tags.TRIGGER, ",".join(triggers))
    champion_bundle = evidence.champion
    challenger_bundle = registry.load(spec.name, version=result.version)
    if holdout is None:
        holdout = held_out_rows(plan)
        holdout_name = f"the retraining plan's test split ({len(holdout)} rows)"
        if policy.holdout == "latest":
            holdout_name += f"; only {len(labelled_all)} new labelled rows, too few for a 'latest' holdout"
    target = spec.data.target
    champion_score = score(champion_bundle, holdout, target, metric)
    challenger_score = score(challenger_bundle, holdout, target, metric)
    promoted = better(metric, challenger_score, champion_score, policy.min_improvement)
    verdict = "wins" if promoted else "does not win"
    reason = (f"challenger v{result.version} {metric}={challenger_score:.4f} vs champion v{evidence.champion_version.version} "
              f"{champion_score:.4f} on {holdout_name}: {verdict} (min_improvement {policy.min_improvement})")
    strategy = rollout_strategy(project)
    if promoted and strategy is not None:  # the rollout moves the champion alias once its guards held
        registry.promote(spec.name, result.version, alias="challenger")
        reason += f"; registered as challenger for a {strategy} rollout"
    elif promoted:
        registry.promote(spec.name, result.version)
    decision = Decision(evidence.champion_version.version, result.version, metric, champion_score, challenger_score,
                        holdout_name, promoted, reason, triggers, result.run_id, strategy if promoted else None)
    _record(registry, spec, decision, fired, rows_seen)
    return decision


def rollout_strategy(project: Any) -> str | None:
    """The endpoint's rollout strategy when a new champion goes through one (canary, shadow, ab); None for
    `direct` or without an online endpoint: the winner is promoted at once, as always."""
    serving = project.spec.serving
    if serving is None or serving.online is None:
        return None
    from mlops.monitoring.rollout import rollout_settings

    strategy = rollout_settings(project).strategy
    return None if strategy == "direct" else strategy


def _record(registry: Any, spec: Any, decision: Decision, fired: list[Any], rows_seen: int) -> None:
    """The decision, both scores and the triggers, on the challenger's run and on the registered model."""
    registry.log_metrics(decision.run_id, {"retrain.champion_score": decision.champion_score,
                                           "retrain.challenger_score": decision.challenger_score})
    registry.set_tags(decision.run_id, {tracking_tags.RUN_KIND: "retrain", tracking_tags.PROMOTED: decision.promoted,
                                        tracking_tags.DECISION: decision.reason, tracking_tags.TRIGGERS: ",".join(decision.triggers),
                                        tracking_tags.TRIGGER_REASONS: json.dumps({r.on: r.reason for r in fired}),
                                        tracking_tags.CHAMPION_VERSION: decision.champion_version})
    state = {**asdict(decision), "at": time.time(), "rows_seen": rows_seen}
    registry.client.set_registered_model_tag(spec.name, tracking_tags.LAST_RETRAIN, json.dumps(state, default=str))
