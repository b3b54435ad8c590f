"""`tuning`: hyperparameter search with Ray Tune (search space, search algorithm, scheduler, budget)."""
from __future__ import annotations

import math
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from mlops.errors import did_you_mean
from mlops.spec.base import StrictModel

# Top-level keys of the model section a search-space key may start with, by model type.
SPACE_ROOTS = {"sklearn": ("params", "preprocessing"), "torch": ("training", "architecture")}
DOMAIN_KINDS = ("choice", "grid", "uniform", "loguniform", "randint", "lograndint", "qrandint")
DEFAULT_SAMPLES = 10
AUTO_DEFAULTS = {"num_samples": 30, "time_budget_s": 300.0}  # `model.type: auto` without a tuning section
# cpus_per_trial: auto runs at most this many trials at once and gives each the rest of the CPUs as threads:
# more trials at once make a model-based search (TPE) propose blindly, and 2 single-thread trials did at
# least as well as one 2-thread trial on 2 cores (docs/automl.md, "Threads per trial").
AUTO_TRIALS_AT_ONCE = 4
# folds: auto cross-validates (AUTO_FOLDS folds) when the training split is small for the search's time: at most
# AUTO_CV_CELLS_PER_S cells (rows x columns) per second of time_budget_s (a search without a budget counts as
# AUTO_CV_UNBUDGETED_S), and fewer than AUTO_CV_MAX_ROWS rows. On small data a hold-out's score is noise enough
# to pick the wrong family (digits, 1,347 training rows: a 270-row hold-out's accuracy has a standard error of
# about 0.01); on large data a hold-out is precise and k folds would cost k fits per trial.
AUTO_FOLDS = 5
AUTO_CV_CELLS_PER_S = 2_000
AUTO_CV_UNBUDGETED_S = 60.0
AUTO_CV_MAX_ROWS = 100_000


class Domain(StrictModel):
    """One searched value: exactly one of choice, grid, uniform, loguniform, randint, lograndint, qrandint."""

    choice: Optional[list[Any]] = Field(None, min_length=1, description="sample one of these values")
    grid: Optional[list[Any]] = Field(None, min_length=1, description="try every value (search: grid)")
    uniform: Optional[list[float]] = Field(None, description="[low, high]: a float, uniformly")
    loguniform: Optional[list[float]] = Field(None, description="[low, high], 0 < low: a float, uniformly in log space")
    randint: Optional[list[int]] = Field(None, description="[low, high]: an integer, low <= x < high")
    lograndint: Optional[list[int]] = Field(None, description="[low, high], 0 < low: an integer, low <= x < high, "
                                            "uniformly in log space (as many draws in 16-32 as in 512-1024)")
    qrandint: Optional[list[int]] = Field(None, description="[low, high, q]: an integer multiple of q, low <= x <= high")

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_kind(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or len(raw) != 1:
            raise ValueError(f"a domain is a mapping with exactly one of {', '.join(DOMAIN_KINDS)} "
                             f"(e.g. {{randint: [50, 500]}})")
        kind = next(iter(raw))
        if kind not in DOMAIN_KINDS:
            hint = did_you_mean(str(kind), DOMAIN_KINDS)
            raise ValueError(f"unknown domain '{kind}'" + (f"; {hint}" if hint else "") +
                             f" (expected one of {', '.join(DOMAIN_KINDS)})")
        return raw

    @field_validator("uniform", "randint")
    @classmethod
    def _ordered_bounds(cls, bounds: Optional[list]) -> Optional[list]:
        if bounds is not None and (len(bounds) != 2 or not bounds[0] < bounds[1]):
            raise ValueError("expected [low, high] with low < high")
        return bounds

    @field_validator("loguniform", "lograndint")
    @classmethod
    def _positive_bounds(cls, bounds: Optional[list]) -> Optional[list]:
        if bounds is not None and (len(bounds) != 2 or not 0 < bounds[0] < bounds[1] or not math.isfinite(bounds[1])):
            raise ValueError("expected [low, high] with 0 < low < high")
        return bounds

    @field_validator("qrandint")
    @classmethod
    def _quantized_bounds(cls, bounds: Optional[list]) -> Optional[list]:
        if bounds is None:
            return bounds
        if len(bounds) != 3 or not bounds[0] < bounds[1]:
            raise ValueError("expected [low, high, q] with low < high")
        if bounds[2] <= 0:
            raise ValueError(f"q={bounds[2]}: expected [low, high, q] with q > 0")
        return bounds

    @property
    def kind(self) -> str:
        """The domain's kind: the one of DOMAIN_KINDS that is set."""
        return next(k for k in DOMAIN_KINDS if getattr(self, k) is not None)

    @property
    def args(self) -> list[Any]:
        """The values given for the domain's kind (choices, or bounds)."""
        return getattr(self, self.kind)


SearchSpace = dict[str, Domain]


class TuningSpec(StrictModel):
    """Ray Tune over the model's hyperparameters; the best trial is retrained on the whole training split."""

    num_samples: Optional[int] = Field(None, ge=1, description=f"trials to run (default {DEFAULT_SAMPLES}; search: grid runs each grid point once)")
    time_budget_s: Optional[float] = Field(None, gt=0, description="the whole search's time: no trial starts after it, and running trials are stopped (killed "
                                                     "after a second's grace), not awaited")
    time_budget_covers: Literal["search", "apply"] = Field(
        "search", description="search: time_budget_s is the search's, and the refit, evaluation and registration come "
        "after it (apply reports how long they took); apply: the whole apply ends about time_budget_s after it started "
        "(as FLAML's budget does): the search stops early enough for what follows it, estimated from the best trial's "
        "fit time")
    search: Literal["random", "grid", "optuna"] = Field("random", description="optuna needs `pip install mlops[tune]`")
    scheduler: Literal["fifo", "asha"] = Field("fifo", description="asha stops weak trials early at each reported step (folds or epochs)")
    search_space: SearchSpace = Field(default_factory=dict, description="dotted path into `model` -> domain, e.g. params.max_depth: {choice: [4, 8]}")
    validation_size: float = Field(0.2, gt=0, lt=1, description="share of the training split each trial holds out to score on")
    folds: Union[Literal["auto"], int, None] = Field(
        "auto", description=f"score trials by k-fold cross-validation on the training split instead of a hold-out. auto: "
        f"{AUTO_FOLDS} folds when the split has at most {AUTO_CV_CELLS_PER_S:,} cells (rows x columns) per second of "
        f"time_budget_s and under {AUTO_CV_MAX_ROWS:,} rows, else the hold-out; null: always the hold-out")
    seed: int = Field(0, description="seed of the search algorithm and the validation split")
    cpus_per_trial: Union[Literal["auto"], float] = Field(
        "auto", description="CPUs (and threads) each trial uses. auto: hardware.cpus_per_task, widened at run time so "
        f"that at most {AUTO_TRIALS_AT_ONCE} trials (or hardware.max_concurrent_trials) share the machine's CPUs")

    @field_validator("cpus_per_trial")
    @classmethod
    def _positive_cpus(cls, cpus: Union[str, float]) -> Union[str, float]:
        if cpus != "auto" and not cpus > 0:
            raise ValueError("expected auto or a number of CPUs > 0")
        return cpus

    @field_validator("folds")
    @classmethod
    def _at_least_two_folds(cls, folds: Union[str, int, None]) -> Union[str, int, None]:
        if isinstance(folds, int) and folds < 2:
            raise ValueError("expected auto, null (the hold-out) or at least 2 folds")
        return folds

    @field_validator("search_space", mode="before")
    @classmethod
    def _flatten_nested_keys(cls, raw: Any) -> Any:
        """`params: {C: {loguniform: ...}}` (what Hydra's dotted overrides build) means `params.C`."""
        if not isinstance(raw, dict):
            return raw
        flat: dict[str, Any] = {}

        def walk(key: str, value: Any) -> None:
            nested = isinstance(value, dict) and value and not set(value) & set(DOMAIN_KINDS) \
                and all(isinstance(v, dict) for v in value.values())
            if nested:
                for sub, inner in value.items():
                    walk(f"{key}.{sub}", inner)
            else:
                flat[key] = value

        for key, value in raw.items():
            walk(str(key), value)
        return flat

    @field_validator("search_space")
    @classmethod
    def _keys_are_dotted_paths(cls, space: SearchSpace) -> SearchSpace:
        roots = sorted({r for rs in SPACE_ROOTS.values() for r in rs})
        for key in space:
            root, _, rest = key.partition(".")
            if root not in roots or not rest:
                raise ValueError(f"key '{key}' is not a dotted path into `model`; expected {' or '.join(f'{r}.NAME' for r in roots)}"
                                 f" (e.g. params.max_depth)")
        return space

    @model_validator(mode="after")
    def _search_fits_domains(self):
        kinds = {key: domain.kind for key, domain in self.search_space.items()}
        if self.search == "grid":
            sampled = [f"{k} ({v})" for k, v in kinds.items() if v not in ("grid", "choice")]
            if sampled:
                raise ValueError(f"search: grid enumerates grid and choice domains only; sampled domains: {', '.join(sampled)}")
            if not kinds:
                raise ValueError("search: grid needs a search_space of grid or choice domains")
            if self.num_samples not in (None, 1):
                raise ValueError(f"search: grid runs each grid point exactly once; num_samples={self.num_samples} must be omitted")
        else:
            grids = [k for k, v in kinds.items() if v == "grid"]
            if grids:
                raise ValueError(f"grid domains ({', '.join(grids)}) need search: grid; use choice to sample from a list")
        return self

    def trials(self) -> int:
        """How many trials the search will start at most (the time budget may stop it sooner)."""
        if self.search == "grid":
            return math.prod(len(d.args) for d in self.search_space.values())
        return self.num_samples or DEFAULT_SAMPLES


def domain_contains(domain: dict[str, list[Any]], value: Any) -> bool:
    """`value` is one the plain-data domain ({kind: args}) can produce."""
    (kind, args), = domain.items()
    if kind in ("choice", "grid"):
        return value in args
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind in ("uniform", "loguniform"):
        return args[0] <= value <= args[1]
    if kind in ("randint", "lograndint"):
        return isinstance(value, int) and args[0] <= value < args[1]
    return isinstance(value, int) and args[0] <= value <= args[1] and (value - args[0]) % args[2] == 0


def check_space_roots(space: SearchSpace, model_type: str, where: str) -> list[str]:
    """Messages for keys whose root does not fit the model type (params.* is sklearn, training.* is torch)."""
    roots = SPACE_ROOTS.get(model_type, SPACE_ROOTS["sklearn"])
    return [f"{where}.{key}: a model.type {next(t for t, rs in SPACE_ROOTS.items() if key.split('.')[0] in rs)} setting, "
            f"but model.type is {model_type}; expected keys under {', '.join(r + '.' for r in roots)}"
            for key in space if key.split(".")[0] not in roots]
