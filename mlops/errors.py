"""User-facing errors. Each names what is wrong (a spec field, a file, a request field) and a hint."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass
class Problem:
    """One thing wrong with the user's input, located by a dotted path (or a file)."""

    path: str
    message: str
    value: Any = None
    expected: str | None = None
    hint: str | None = None

    def render(self) -> str:
        """One readable line: `path: message (got X; expected Y) hint`."""
        text = f"{self.path or '<spec>'}: {self.message}"
        details = []
        if self.value is not None:
            details.append(f"got {_short(self.value)}")
        if self.expected:
            details.append(f"expected {self.expected}")
        if details:
            text += f" ({'; '.join(details)})"
        if self.hint:
            text += f" — {self.hint}"
        return text


class MlopsError(Exception):
    """Base of every error meant for a user; the CLI prints it without a traceback."""

    exit_code = 1


class SpecError(MlopsError):
    """The spec (or its data) is invalid; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem] | Problem | str, *, path: str = ""):
        if isinstance(problems, str):
            problems = [Problem(path, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Rebuilt from its problems: Ray pickles an error raised in a task (twice on its way back), and the
        default, from the rendered message, made each pass prefix another '<spec>: '."""
        return type(self), (self.problems,)


class DataError(SpecError):
    """Data named by the spec is missing, unreadable, empty or lacks a needed column."""


class SpecWarning(UserWarning):
    """A spec that is valid but probably not what its author wants (the CLI prints `warning: ...`)."""


class ResourceError(MlopsError):
    """The plan asks for resources no node of the cluster can provide."""

    exit_code = 2


class RegistryError(MlopsError):
    """A model version is missing, or its artifact fails the integrity check."""


class UnreachableStore(RegistryError):
    """The tracking server did not answer (refused, or no answer within seconds)."""


class ScoreError(MlopsError):
    """A model could not be scored on labelled rows (monitoring): which metric, which rows, and why."""


class DeployError(MlopsError):
    """Serve could not start the endpoint's replicas: the cause, without Serve's whole traceback."""


class FieldValueError(ValueError):
    """Raised by a model-level validator about one of its fields: the error is reported at that field
    (`model.metric`), not at the model (`model`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownName(ValueError):
    """A registry lookup failed; the message lists the known names and a close match."""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean X?' hint for a misspelt name, or None when nothing is close."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


def elide(text: str, limit: int) -> str:
    """`text` in at most `limit` characters for a message: a long one loses its middle, not its end (a path
    keeps its file name; two long values that differ only near the end still differ)."""
    head = limit // 3
    return text if len(text) <= limit else text[:head] + "..." + text[len(text) - (limit - head - 3):]


def _short(value: Any, limit: int = 80) -> str:
    return elide(repr(value), limit)


@dataclass
class Collector:
    """Accumulates problems so one run reports all of them at once."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, path: str, message: str, **kw: Any) -> None:
        """Record a problem at `path`; keywords go to Problem."""
        self.problems.append(Problem(path, message, **kw))

    def raise_if_any(self, cls: type[SpecError] = SpecError) -> None:
        """Raise `cls` with every recorded problem, if there are any."""
        if self.problems:
            raise cls(self.problems)
