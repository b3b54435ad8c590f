"""ASHA per model family: one Tune run searches families whose steps mean different things.

A tree family reports once per fold or row rung, a torch trial once per epoch; one ASHA over all of them
would judge a network after its first epoch against a forest's finished fit and stop every network there.
So each family gets its own ASHA (its own rungs, its own `max_t`), or none: a family that is not scheduled
runs to its end (FIFO). Trials are told apart by their config's family key (`estimator`).
"""
from __future__ import annotations

from typing import Any, Optional

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from mlops.stages.search_space import FAMILY_KEY


def asha(max_t: int, metric: str | None = None, mode: str | None = None) -> ASHAScheduler:
    """ASHA on the reported `step`: rungs at 1, 2, 4, ... steps below max_t, the better half goes on. Without
    metric and mode, the Tuner's own (a scheduler given them refuses the Tuner's)."""
    return ASHAScheduler(time_attr="step", metric=metric, mode=mode, max_t=max(int(max_t), 1), grace_period=1,
                         reduction_factor=2)


class FamilyScheduler(FIFOScheduler):
    """Routes each trial to its family's ASHA (`max_steps`: family -> max_t); other families run to the end."""

    def __init__(self, max_steps: dict[str, int], metric: str, mode: str) -> None:
        super().__init__()
        self.max_steps = dict(max_steps)
        self.by_family: dict[str, ASHAScheduler] = {family: asha(steps, metric, mode) for family, steps in max_steps.items()}
        self._of_trial: dict[str, Optional[ASHAScheduler]] = {}

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], **spec: Any) -> bool:
        return True  # every family's ASHA was given the search's metric and mode when it was made

    def _scheduler(self, trial: Any) -> Optional[ASHAScheduler]:
        if trial.trial_id not in self._of_trial:
            self._of_trial[trial.trial_id] = self.by_family.get((trial.config or {}).get(FAMILY_KEY))
        return self._of_trial[trial.trial_id]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        scheduler = self._scheduler(trial)
        if scheduler is not None:
            scheduler.on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        scheduler = self._scheduler(trial)
        return scheduler.on_trial_result(tune_controller, trial, result) if scheduler else TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        scheduler = self._scheduler(trial)
        if scheduler is not None:
            scheduler.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        scheduler = self._scheduler(trial)
        if scheduler is not None:
            scheduler.on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        scheduler = self._scheduler(trial)
        if scheduler is not None:
            scheduler.on_trial_error(tune_controller, trial)

    def debug_string(self) -> str:
        return "ASHA per family: " + ", ".join(f"{f} (max {n} steps)" for f, n in self.max_steps.items())
