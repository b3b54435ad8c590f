"""Write docs/reliability.md from the figures the last reliability run left in `.reliability/`.

    python -m pytest -m reliability          # or the whole suite: CI runs the reliability tests too
    python tests/reliability/report.py       # regenerates docs/reliability.md

The table of faults lists every reliability test with its outcome and time in that run; the fuzzing
sections give case counts by kind and outcome. Nothing here is written by hand.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIGURES = REPO / ".reliability"
DOC = REPO / "docs" / "reliability.md"


def _load(name: str) -> dict | None:
    path = FIGURES / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _counts_table(by_kind: dict[str, dict[str, int]]) -> list[str]:
    outcomes = sorted({o for counts in by_kind.values() for o in counts})
    lines = ["| input class | " + " | ".join(outcomes) + " |", "|---|" + "---|" * len(outcomes)]
    for kind, counts in by_kind.items():
        lines.append(f"| {kind} | " + " | ".join(str(counts.get(o, 0)) for o in outcomes) + " |")
    return lines


def render() -> str:
    out = ["# Reliability", "",
           "Figures from the last run of the reliability tests (`pytest -m reliability`; CI runs a bounded",
           "version), written by `tests/reliability/report.py`. Every row is a test that injects the input or",
           "the fault and checks the outcome; a failed test would show here as failed.", ""]
    spec = _load("spec_fuzz")
    if spec:
        out += [f"## Spec fuzzing ({spec['at']})", "",
                f"**{spec['cases']:,} mutated specs, files and override lists; {spec['tracebacks']} tracebacks** (counted "
                "before they fail the test). Each case either validated or was refused with exit 2, every problem "
                "located at a field, an override or the file; a refused mutation is counted by whether a problem names "
                "the mutated field (or its section) or only another field (`tests/reliability/test_spec_fuzz.py`).", ""]
        out += _counts_table(spec["by_kind"]) + [""]
        if spec.get("named_elsewhere"):
            out += ["Mutations refused at another field (mutated -> named): "
                    + "; ".join(f"`{case}`" for case in spec["named_elsewhere"]), ""]
    endpoint = _load("endpoint_fuzz")
    if endpoint:
        out += [f"## Endpoint fuzzing ({endpoint['at']})", "",
                f"**{endpoint['requests']:,} requests, {endpoint['server_errors']} answered 5xx, "
                f"{endpoint['schema_mismatches']} answers off the OpenAPI schema** "
                "(`tests/reliability/test_endpoint_fuzz.py`).", ""]
        out += _counts_table(endpoint["by_kind"]) + [""]
    soak = _load("soak")
    if soak:
        out += [f"## Load ({soak['at']})", "", soak["summary"], ""]
    outcomes = json.loads((FIGURES / "outcomes.json").read_text()) if (FIGURES / "outcomes.json").is_file() else {}
    if outcomes:
        out += ["## Every reliability test of the last run", "", "| test | what it injects and checks | outcome | seconds |",
                "|---|---|---|---|"]
        for nodeid, result in sorted(outcomes.items()):
            name = nodeid.replace("tests/", "", 1)
            out.append(f"| `{name}` | {result.get('doc') or ''} | {result['outcome']} | {result['seconds']} |")
        out.append("")
    for name, title in (("fault_store_locked", "SQLite store locked by another writer"),
                        ("fault_kill_during_register", "kill -9 while registering"),
                        ("fault_replica_killed", "a Serve replica killed under load")):
        figures = _load(name)
        if figures:
            details = ", ".join(f"{k} = {v}" for k, v in figures.items() if k not in ("suite", "at"))
            out += [f"- **{title}** ({figures['at']}): {details}"]
    out += ["", "The table lists every test marked `reliability` that ran: the suites here and the e2e fault tests",
            "(a Ray Train worker killed, `kill -9` during training, a tampered artifact, a failed hot swap, load",
            "beyond capacity, a user error inside Ray). A re-split artifact is refused by",
            "`tests/spec/test_contracts.py`.", ""]
    return "\n".join(out + _mutation_section())


def _mutation_section() -> list[str]:
    """benchmarks/mutation.py's section, from the figures of its latest runs (benchmarks/mutation_figures.json)."""
    import importlib.util

    script = REPO / "benchmarks" / "mutation.py"
    spec = importlib.util.spec_from_file_location("mutation_benchmark", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    modules = module.load_results(module.OUT)
    return [module.render_section(modules), ""] if modules else []


if __name__ == "__main__":
    if not FIGURES.is_dir():
        sys.exit(f"no figures in {FIGURES}: run `python -m pytest -m reliability` first")
    DOC.write_text(render())
    print(f"wrote {DOC}")
