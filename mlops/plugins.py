"""The one registry mechanism for every pluggable type (data sources, estimators, detectors, triggers).

Built-ins and plugins register the same way:

    from mlops.plugins import estimators

    @estimators.register("lightgbm", tasks=("classification", "regression"))
    def make_lightgbm(task, params): ...

Installed packages expose an entry point in the group ``mlops.plugins``; loading it (once, lazily, the
first time a registry is looked up) imports the module, whose decorators fill the registries. A spec can
only name registered types: nothing in a spec ever imports code by path.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from mlops.errors import UnknownName, did_you_mean

ENTRY_POINT_GROUP = "mlops.plugins"


@dataclass
class Entry:
    """A registered type: its name, the object (or a lazy 'module:attr' reference) and metadata."""

    name: str
    target: Any
    meta: dict[str, Any] = field(default_factory=dict)
    origin: str = "builtin"
    package: str | None = None  # the installed distribution of a plugin's entry (None: mlops itself)

    def load(self) -> Any:
        """The registered object; lazy references are imported on first use (built-ins only)."""
        if isinstance(self.target, str):
            self.target = import_reference(self.target)
        return self.target

    def resolve(self, key: str) -> Any:
        """A metadata value that may be a lazy 'module:attr' reference (a config model, a probe)."""
        value = self.meta.get(key)
        if isinstance(value, str) and ":" in value:
            value = self.meta[key] = import_reference(value)
        return value


def import_reference(reference: str) -> Any:
    """The object a 'module:attr' reference names, its module imported (the one resolver: plugins' lazy
    entries and the node kinds' functions alike)."""
    module, _, attr = reference.partition(":")
    return getattr(importlib.import_module(module), attr)


class Registry:
    """Named entries of one pluggable kind."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, **meta: Any) -> Callable[[Any], Any]:
        """Decorator: register the decorated function or class under `name`."""

        def decorate(target: Any) -> Any:
            self.add(name, target, **meta)
            return target

        return decorate

    def add(self, name: str, target: Any, *, origin: str | None = None, **meta: Any) -> None:
        """Register `target` (an object, or a 'module:attr' string for lazy built-ins)."""
        if name in self._entries and self._entries[name].target is not target:
            raise ValueError(f"{self.kind} '{name}' is already registered by {self._entries[name].origin}")
        self._entries[name] = Entry(name, target, meta, origin or _current_origin, _current_package)

    def get(self, name: str) -> Entry:
        """The entry for `name`; an UnknownName error lists the known names and a close match."""
        load_plugins()
        if name not in self._entries:
            hint = did_you_mean(name, self._entries)
            known = ", ".join(sorted(self._entries))
            raise UnknownName(f"unknown {self.kind} '{name}'" + (f"; {hint}" if hint else "") + f" (known: {known})")
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        load_plugins()
        return iter(list(self._entries.values()))


data_sources = Registry("data source")
estimators = Registry("estimator")
model_flavors = Registry("model flavor")
detectors = Registry("detector")
triggers = Registry("trigger")

_current_origin = "builtin"
_current_package: str | None = None
_plugins_loaded = False


def package_version(package: str) -> str:
    """The installed version of a distribution ('unknown' when it has no metadata, e.g. a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def load_plugins() -> None:
    """Import every installed `mlops.plugins` entry point once, so their registrations take effect."""
    global _plugins_loaded, _current_origin, _current_package
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    # mlops' own entry point (the built-in types) first, so a plugin can never take a built-in name.
    ours = lambda ep: ep.dist is not None and ep.dist.name == "mlops"  # noqa: E731
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: not ours(ep)):
        builtin = ours(ep)
        _current_origin = "builtin" if builtin else f"plugin {ep.value}"
        _current_package = None if builtin else (ep.dist.name if ep.dist is not None else None)
        try:
            loaded = ep.load()
            if callable(loaded):
                loaded()
        finally:
            _current_origin, _current_package = "builtin", None

