"""Hydra multirun: expand sweep overrides (a=1,2 b=x,y) into combinations and apply each, concurrently on Ray.

All combinations share one Ray session and run as threads of this driver process: their stages are Ray
tasks, so Ray packs them onto the cluster as resources allow, while every MLflow write stays in this
process (mlops.registry serializes them).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from mlops.errors import MlopsError, Problem, SpecError

DEFAULT_PARALLEL = 4


@dataclass
class Combination:
    """One combination of the sweep and what applying it gave."""

    overrides: list[str]
    metric: str = ""            # the spec's model.metric, which decides between combinations
    result: Any = None          # ApplyResult
    error: str | None = None
    same_as: int | None = None  # index of an earlier combination that compiles to the identical plan

    @property
    def ok(self) -> bool:
        """Applying this combination raised no error."""
        return self.error is None


def expand_sweeps(overrides: Sequence[str]) -> list[list[str]]:
    """Hydra's own parser and BasicSweeper: `a=1,2 b=x,y` -> the 4 override lists, in Hydra's order."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise SpecError(Problem("overrides", str(exc).strip().splitlines()[0],
                                hint="sweep syntax: key=a,b,c | key=range(1,4) | key=choice(a,b)")) from None
    return [combo for batch in BasicSweeper.split_arguments(parsed, max_batch_size=None) for combo in batch]


def multirun(spec_path: str | Path, overrides: Sequence[str], *, address: str | None = None, force: bool = False,
             max_parallel: int | None = None, on_done: Callable[[int, Any, float], None] | None = None) -> list[Combination]:
    """Validate every combination first (nothing runs if one is invalid), then apply them concurrently."""
    from mlops.project import load_project
    from mlops.stages.preflight import check_model
    from mlops.plan import compile_plan
    from mlops.registry import Registry
    from mlops.runtime.apply import apply_plan
    from mlops.cluster.session import ray_session

    combos = [Combination(c) for c in expand_sweeps(overrides)]
    compiled, problems = [], []
    for combo in combos:
        try:
            project = load_project(spec_path, combo.overrides)
            check_model(project.spec)
            compiled.append((project, compile_plan(project)))
            combo.metric = project.spec.model.metric
        except SpecError as exc:
            where = " ".join(combo.overrides) or "(no overrides)"
            problems += [Problem(p.path, f"{p.message} [combination: {where}]", p.value, p.expected, p.hint) for p in exc.problems]
    if problems:
        raise SpecError(problems)
    first_of: dict[str, int] = {}
    for i, (_, plan) in enumerate(compiled):  # identical plans (a swept key no stage reads) run once
        if plan.hash in first_of:
            combos[i].same_as = first_of[plan.hash]
        else:
            first_of[plan.hash] = i
    todo = [i for i, c in enumerate(combos) if c.same_as is None]
    for project, _ in compiled:  # created up front: concurrent first runs would race to create the experiment
        spec = project.spec
        Registry(spec.tracking.uri).experiment_id(spec.tracking.experiment or spec.name)

    hardware = compiled[0][0].spec.hardware  # one Ray session for all: the first combination's cluster settings
    with ray_session(hardware.cluster, address, hardware.local_cpus), \
            ThreadPoolExecutor(max_workers=min(len(todo), max_parallel or DEFAULT_PARALLEL)) as pool:
        futures = {pool.submit(apply_plan, *compiled[i], address=address, force=force,
                               on_done=(lambda node, s, i=i: on_done(i, node, s)) if on_done else None): i for i in todo}
        for future in as_completed(futures):
            i = futures[future]
            try:
                combos[i].result = future.result()
            except MlopsError as exc:
                combos[i].error = str(exc)
            except Exception as exc:  # one failing combination must not hide the others' results
                combos[i].error = f"{type(exc).__name__}: {exc}"
    for combo in combos:
        if combo.same_as is not None:
            combo.result, combo.error = combos[combo.same_as].result, combos[combo.same_as].error
    return combos


def swept_keys(overrides: Sequence[str]) -> list[str]:
    """Keys that take several values in this sweep (the columns worth showing)."""
    return [o.split("=", 1)[0] for o in overrides if "," in o.split("=", 1)[-1] or "(" in o.split("=", 1)[-1]]
