"""`serving.online.rollout`: how a new champion reaches traffic. `direct` (the default) swaps it in at once;
`canary` moves traffic to it step by step while guards hold; `shadow` scores a copy of live traffic with it and
discards its answers; `ab` splits traffic between named aliases for an experiment."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from mlops.durations import Duration
from mlops.spec.base import StrictModel


class RolloutGuards(StrictModel):
    """Thresholds judged on the challenger's traffic of the current step; any breach rolls back at once.
    A guard set to null is not judged."""

    error_rate_above: Optional[float] = Field(0.01, ge=0, le=1, description="the challenger's share of failed requests "
                                              "(500s of the model; refused input is not its fault) above this breaches")
    latency_p99_ms_above: Optional[float] = Field(None, gt=0, description="the challenger's p99 latency in the replica "
                                                  "(ms) above this breaches")
    latency_p99_ratio_above: Optional[float] = Field(None, gt=0, description="the challenger's p99 latency above this "
                                                     "multiple of the champion's on the same step breaches")
    metric_drop_above: Optional[float] = Field(0.05, ge=0, description="once feedback labels arrive for both versions' "
                                               "answers: the challenger's model.metric worse than the champion's by more "
                                               "than this breaches")
    min_labels: int = Field(30, ge=1, description="labelled answers each version needs before metric_drop_above is judged")
    prediction_shift_above: Optional[float] = Field(0.25, gt=0, le=1, description="distance between the challenger's "
                                                    "and the champion's prediction distributions on the same traffic "
                                                    "(total variation for classes, Kolmogorov-Smirnov for numbers) above "
                                                    "this breaches")


class Sticky(StrictModel):
    """What keeps one caller on one variant: a field of the request's first row, or a request header."""

    key: Optional[str] = Field(None, description="a field of the request row (an entity key, a user id)")
    header: Optional[str] = Field(None, description="a request header, e.g. x-user-id")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.key is None) == (self.header is None):
            raise ValueError("sticky needs exactly one of 'key' (a row field) or 'header'")
        return self


class RolloutSpec(StrictModel):
    strategy: Literal["direct", "canary", "shadow", "ab"] = Field(
        "direct", description="direct: the new champion takes all traffic at once; canary: traffic moves by `steps`; "
                              "shadow: the challenger scores a copy of live traffic, answers discarded; ab: a fixed split")
    steps: list[int] = Field([5, 25, 50, 100], description="canary: percent of traffic to the challenger at each step, "
                                                           "increasing, ending at 100")
    step_every: Duration = Field("5m", description="canary: least time on a step before the next (shadow: the least "
                                                   "time before promotion)")
    min_requests: int = Field(100, ge=0, description="challenger requests a step (or the shadow) needs before it advances")
    guards: RolloutGuards = Field(default_factory=RolloutGuards, description="what rolls back a canary or a shadow")
    bake: Duration = Field("10m", description="after 100%, keep the previous champion loaded this long; a guard breach "
                                              "in that time restores it as champion")
    split: dict[str, int] = Field(default_factory=lambda: {"champion": 50, "challenger": 50},
                                  description="ab: percent of traffic per registry alias, summing to 100")
    sticky: Optional[Sticky] = Field(None, description="ab (and canary): the same caller always gets the same version")

    @field_validator("steps")
    @classmethod
    def _steps_climb_to_100(cls, steps: list[int]) -> list[int]:
        if not steps:
            raise ValueError("steps needs at least one percent, ending at 100")
        if any(s <= 0 or s > 100 for s in steps):
            raise ValueError("each step is a percent in 1..100")
        if any(b <= a for a, b in zip(steps, steps[1:])):
            raise ValueError("steps must increase")
        if steps[-1] != 100:
            raise ValueError(f"the last step must be 100 (the challenger takes all traffic), got {steps[-1]}")
        return steps

    @field_validator("split")
    @classmethod
    def _split_sums_to_100(cls, split: dict[str, int]) -> dict[str, int]:
        if len(split) < 2:
            raise ValueError(f"split needs at least two aliases, got {sorted(split)}")
        if any(p < 0 for p in split.values()) or sum(split.values()) != 100:
            raise ValueError(f"split percents must be >= 0 and sum to 100, got {split}")
        return split

    @property
    def progressive(self) -> bool:
        """A new champion goes through the rollout (canary or shadow) instead of taking traffic at once."""
        return self.strategy in ("canary", "shadow")
