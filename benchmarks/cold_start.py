"""Cold start of `mlops validate` and `mlops plan` of the iris example, against the floor they stand on:
a fresh interpreter that imports Hydra and pydantic (`python -c "import hydra, pydantic"`), in the same run.

    python benchmarks/cold_start.py [--repeat 15] [--floor]

Every command runs in a new interpreter, round-robin (so a busy machine slows all of them alike); the
median of N runs and its ratio to the baseline are printed, then the heavy libraries each command imported
(none is the goal: the deep data checks are `mlops validate --check-data` and `apply`). Goal: validate <= 0.35 s.
"Cold" is a new process with the OS file cache and Python's bytecode caches warm, as after an install.
CPU s (user + system) is printed beside the wall time: it moves less when other work shares the cores.
--floor adds what this stack costs before any of mlops' own work: Hydra, typer and rich imported, one
pydantic model built, and Hydra composing the iris spec.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "examples" / "iris" / "spec.yaml"
GOAL_S = 0.35
HEAVY = ("sklearn", "pandas", "numpy", "scipy", "pyarrow", "ray", "mlflow", "torch")
FLOOR = ("import hydra, pydantic, typer, rich.table, rich.console\n"
         "class Model(pydantic.BaseModel):\n    a: int = 1\n"
         "from hydra import compose, initialize_config_dir\nfrom omegaconf import OmegaConf\n"
         "with initialize_config_dir(config_dir={folder!r}, version_base=None, job_name='mlops'):\n"
         "    cfg = compose(config_name='spec', overrides=['hydra.searchpath=[file://{specs}]'])\n"
         "OmegaConf.to_container(cfg, resolve=True)\n")


def cases(floor: bool) -> dict[str, list[str]]:
    """The commands timed, the baseline first."""
    py = sys.executable
    found = {"python -c 'import hydra, pydantic'": [py, "-c", "import hydra, pydantic"]}
    if floor:
        code = FLOOR.format(folder=str(SPEC.parent), specs=str(SPEC.parents[2] / "specs"))
        found["stack floor (typer, rich, compose)"] = [py, "-c", code]
    return {**found, "mlops validate": [py, "-m", "mlops", "validate", str(SPEC)],
            "mlops plan": [py, "-m", "mlops", "plan", str(SPEC)]}


def timed_round_robin(commands: dict[str, list[str]], repeat: int, env: dict[str, str]) -> dict[str, list[tuple]]:
    """(wall s, CPU s) of each run of each command (a fresh interpreter every time; one warm-up round untimed)."""
    times: dict[str, list[tuple]] = {name: [] for name in commands}
    for round_ in range(repeat + 1):
        for name, cmd in commands.items():
            before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            if round_:  # the first round fills the OS file cache and the bytecode caches
                times[name].append((wall, cpu))
    return times


def heavy_imports(cmd: list[str], env: dict[str, str]) -> str:
    """The heavy libraries a command imports (from `python -X importtime`)."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, check=True, env=env)
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    found = {line.split("|")[-1].strip().split(".")[0] for line in lines}
    return ",".join(m for m in HEAVY if m in found) or "none"


def main() -> None:
    """Print the medians, their ratios to the baseline and the heavy imports."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--floor", action="store_true", help="also time the stack's floor (see the docstring)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as store:  # a store of its own: plan reads no earlier apply's state
        env = {**os.environ, "MLOPS_TRACKING_URI": f"sqlite:///{store}/mlflow.db", "COLUMNS": "120"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode: the warm-up writes it
        commands = cases(args.floor)
        times = timed_round_robin(commands, args.repeat, env)
        heavy = {name: heavy_imports(cmd, env) for name, cmd in commands.items() if name.startswith("mlops")}
    base = statistics.median(wall for wall, _ in next(iter(times.values())))
    print(f"cold start, median of {args.repeat} runs each ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    print(f"{'command':<38}{'median s':>9}{'min s':>8}{'x baseline':>12}{'CPU s':>8}  heavy imports")
    for name, runs in times.items():
        median = statistics.median(wall for wall, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<38}{median:>9.3f}{min(w for w, _ in runs):>8.3f}{median / base:>11.2f}x{cpu:>8.3f}  "
              f"{heavy.get(name, '')}")
    validate = statistics.median(wall for wall, _ in times["mlops validate"])
    print(f"goal: validate <= {GOAL_S} s: {'met' if validate <= GOAL_S else 'NOT met'} ({validate:.3f} s)")


if __name__ == "__main__":
    main()
