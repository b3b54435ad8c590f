"""Spec file + Hydra defaults list + overrides -> a plain dict. No pydantic here, no working-dir changes."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from mlops.errors import Problem, SpecError


@dataclass
class LoadedConfig:
    """The composed, interpolated spec as plain data, and where it came from."""

    data: dict[str, Any]
    spec_file: Path
    overrides: list[str]

    @property
    def base_dir(self) -> Path:
        """Relative paths in the spec are relative to the spec's own directory."""
        return self.spec_file.parent


# The hardware presets shipped in the wheel (local_cpu, local_2cpu, cluster_cpu, cluster_gpu): found from any
# directory. The repository's specs/hardware/ links to these files, so there is one copy of each.
PRESETS = Path(__file__).resolve().parent / "presets"


def search_path(spec_file: Path) -> list[Path]:
    """Where config groups are looked up, first match first: beside the spec, the spec's own `specs/`, each
    MLOPS_SPECS_PATH folder, the working directory's `specs/`, then the presets mlops ships."""
    dirs = [spec_file.parent]
    extra = [Path(p) for p in os.environ.get("MLOPS_SPECS_PATH", "").split(os.pathsep) if p]
    for candidate in [spec_file.parent / "specs", *extra, Path.cwd() / "specs", PRESETS]:
        if candidate.is_dir() and candidate.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(candidate)
    return dirs


def load_config(spec_path: str | Path, overrides: Sequence[str] = ()) -> LoadedConfig:
    """Compose the spec with Hydra (defaults, groups, overrides) and resolve interpolations. A spec without
    overrides whose defaults list only names plain group options (`- hardware: local_cpu`) is composed as
    Hydra composes it, without importing Hydra (`plain_composition`): `mlops validate` on every save."""
    spec_file = Path(spec_path).expanduser()
    if not spec_file.is_file():
        raise SpecError(Problem("", "spec file not found", value=str(spec_file)))
    spec_file = spec_file.resolve()
    doc = _check_yaml(spec_file)
    groups = None if overrides else plain_composition(spec_file, doc)
    data = _compose_plain(spec_file, groups) if groups is not None else _compose_with_hydra(spec_file, overrides)
    if not isinstance(data, dict):
        raise SpecError(Problem("", "spec must be a mapping of sections", value=type(data).__name__))
    return LoadedConfig(_yaml11_keys(data), spec_file, list(overrides))


def plain_composition(spec_file: Path, doc: dict[str, Any]) -> list[tuple[str, Path]] | None:
    """The group files a spec's defaults list names, in order, when Hydra's composition of it is plain:
    every entry `group: option` (no `optional`, `override`, package `@`, null or `_self_` before the
    end), each option a file on the search path with no defaults list or `@package` header of its own.
    None when anything else is there: Hydra composes those."""
    import re

    defaults = doc.get("defaults", [])
    if not isinstance(defaults, list) or _hydra_resolvers(spec_file.read_text()):
        return None
    found = []
    dirs = search_path(spec_file)
    for i, entry in enumerate(defaults):
        if entry == "_self_" and i == len(defaults) - 1:
            continue  # where Hydra puts the spec's own values anyway: last, over its defaults
        if not (isinstance(entry, dict) and len(entry) == 1):
            return None
        (group, option), = entry.items()
        if not (isinstance(group, str) and re.fullmatch(r"[A-Za-z_]\w*", group) and isinstance(option, str)
                and re.fullmatch(r"[\w.-]+", option)):
            return None
        path = next((d / group / f"{option}.yaml" for d in dirs if (d / group / f"{option}.yaml").is_file()), None)
        if path is None:
            return None  # Hydra names the missing option and the search path
        text = path.read_text()
        if "@package" in text or re.search(r"^defaults\s*:", text, re.MULTILINE) or _hydra_resolvers(text):
            return None
        found.append((group, path))
    return found


def _hydra_resolvers(text: str) -> bool:
    """An interpolation through a resolver Hydra registers (`${now:...}`, `${hydra:...}`); OmegaConf's own
    (`${oc.env:...}`, `${oc.select:...}`) and plain references need no Hydra."""
    import re

    return re.search(r"\$\{\s*(?!oc\.)[\w.]+\s*:", text) is not None


def _compose_plain(spec_file: Path, groups: list[tuple[str, Path]]) -> Any:
    """Each group file under its group's key, in order, then the spec's own values over them (Hydra's
    `_self_` last), interpolations resolved: what `compose` returns for such a spec."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        composed = OmegaConf.create()
        for group, path in groups:
            composed = OmegaConf.merge(composed, {group: OmegaConf.load(path)})
        own = OmegaConf.load(spec_file)
        own.pop("defaults", None)
        composed = OmegaConf.merge(composed, own)
        return OmegaConf.to_container(composed, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as exc:
        raise SpecError(_hydra_problem(exc, spec_file, [])) from None


def _compose_with_hydra(spec_file: Path, overrides: Sequence[str]) -> Any:
    import yaml
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    _check_override_syntax(overrides)
    pending = list(overrides)
    try:
        with _as_yaml(spec_file) as primary, initialize_config_dir(
            config_dir=str(primary.parent), version_base=None, job_name="mlops"
        ):
            extra_dirs = ",".join(f"file://{d}" for d in search_path(spec_file) if d != primary.parent)
            hydra_overrides = [f"hydra.searchpath=[{extra_dirs}]"] if extra_dirs else []
            while True:
                try:
                    cfg = compose(config_name=primary.stem, overrides=[*pending, *hydra_overrides])
                    break
                except HydraException as exc:
                    if not _add_defaulted_key(exc, pending, search_path(spec_file)):
                        raise
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise SpecError(_hydra_problem(exc, spec_file, overrides)) from None
    except (ValueError, yaml.YAMLError) as exc:  # Hydra's own checks (a group override's type, its YAML loader)
        raise SpecError(Problem(str(spec_file), f"cannot compose the spec: {str(exc).strip().splitlines()[0]}",
                                hint="check the overrides and the defaults list")) from None


def _check_override_syntax(overrides: Sequence[str]) -> None:
    """Each override parsed on its own, so a grammar error names the override and how to quote it
    (Hydra's own message is a parser's: "mismatched input ' ' expecting <EOF>")."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    problems = []
    for override in overrides:
        if not override.partition("=")[0].lstrip("+~").strip():
            problems.append(Problem(override or "overrides", f"override `{override}` names no key",
                                    hint="write KEY=VALUE with a dotted spec field, e.g. model.params.max_depth=8"))
            continue
        try:
            parser.parse_overrides([override])
        except HydraException as exc:
            key, _, value = override.partition("=")
            reason = str(exc).splitlines()[0].removeprefix("Error parsing override '").split("'\n")[0]
            quoted = value.replace("'", "\\'")
            problems.append(Problem(key.lstrip("+~") or override, f"override `{override}` is not valid override syntax ({reason})",
                                    hint=f"quote the value, and the whole argument for the shell: \"{key}='{quoted}'\""))
    if problems:
        raise SpecError(problems)


def _add_defaulted_key(exc: Exception, pending: list[str], groups_in: Sequence[Path] = ()) -> bool:
    """`hardware.workers=2` on a spec that leaves `hardware` to its defaults: the key exists in the
    schema, not in the file, so set it with `++` (add or override). pydantic still rejects unknown keys,
    naming them with a close match. `hardware=local_2cpu` on a spec without a defaults list: a preset of a
    config group (a `hardware/local_2cpu.yaml` on the search path `groups_in`), added with `+`.
    Returns False when `exc` is some other error."""
    import re

    found = re.search(r"Could not override '([^']+)'", str(exc))
    if not found:
        return False
    for i, override in enumerate(pending):
        key, _, value = override.partition("=")
        if key == found.group(1):
            preset = "." not in key and any((d / key / f"{value}.yaml").is_file() for d in groups_in)
            pending[i] = f"+{override}" if preset else f"++{override}"
            return True
    return False


def _yaml11_keys(node: Any) -> Any:
    """YAML 1.1 reads the key `on` (as in `- {on: drift}`) as the boolean true; the spec means the word."""
    if isinstance(node, dict):
        return {("on" if k is True else "off" if k is False else k): _yaml11_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_yaml11_keys(v) for v in node]
    return node


@contextmanager
def _as_yaml(spec_file: Path) -> Iterator[Path]:
    """Hydra only reads `.yaml`: other names (spec.yml) are linked under that suffix in a temp dir."""
    if spec_file.suffix == ".yaml":
        yield spec_file
        return
    with tempfile.TemporaryDirectory(prefix="mlops-spec-") as tmp:
        link = Path(tmp) / f"{spec_file.stem}.yaml"
        link.symlink_to(spec_file)
        yield link


def _check_yaml(spec_file: Path) -> dict[str, Any]:
    """The spec parsed once by us (YAML errors then name the file, line and column instead of a Hydra
    trace), refused when empty, not a mapping, or an alias bomb."""
    import yaml

    class UniqueKeys(yaml.SafeLoader):
        """YAML that refuses a key written twice in one mapping (plain YAML keeps the last silently;
        Hydra's loader fails with a trace)."""

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: the normal constructor says so
                break
            if first != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}' (first at line {first + 1})",
                                                        key_node.start_mark)
        return loader.construct_mapping(node, deep)

    UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        text = spec_file.read_text()
        doc = yaml.load(text, Loader=UniqueKeys)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(Problem(str(spec_file), f"invalid YAML{where}: {problem}")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(Problem(str(spec_file), f"cannot read spec: {exc}")) from None
    if doc is None:
        raise SpecError(Problem(str(spec_file), "spec file is empty"))
    if not isinstance(doc, dict):
        raise SpecError(Problem(str(spec_file), "spec must be a mapping of sections", value=type(doc).__name__))
    try:
        size = _expanded_size(doc, {})
    except _SelfReference:
        raise SpecError(Problem(str(spec_file), "a YAML alias refers to the node that contains it (a value that would "
                                                "never end)", hint="remove the alias from inside its own anchor")) from None
    if size > MAX_SPEC_VALUES:
        raise SpecError(Problem(str(spec_file), f"YAML aliases expand this spec to {size:,} values (more than "
                                                f"{MAX_SPEC_VALUES:,}): an alias bomb?",
                                hint="write the values out, or use ${...} interpolation for repeated ones"))
    return doc


# A real spec has a few hundred values. PyYAML shares aliased nodes, but OmegaConf copies every one: nested
# aliases ("billion laughs") would take minutes and gigabytes to compose, so they are refused up front.
MAX_SPEC_VALUES = 100_000


class _SelfReference(Exception):
    """A YAML alias inside its own anchor: the value is infinite (OmegaConf would recurse until it crashes)."""


def _expanded_size(node: Any, seen: dict[int, int]) -> int:
    """How many values `node` holds once its aliases are copied out (shared nodes counted once per use,
    each computed once)."""
    key = id(node)
    if key not in seen:
        if isinstance(node, dict):
            children = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            return 1
        seen[key] = -1  # in progress: meeting it again below means the node contains itself
        seen[key] = 1 + sum(_expanded_size(child, seen) for child in children)
    if seen[key] < 0:
        raise _SelfReference()
    return seen[key]


def _hydra_problem(exc: Exception, spec_file: Path, overrides: Sequence[str] = ()) -> Problem:
    """Hydra/OmegaConf errors carry the key in their text or attributes; keep the useful first line, located
    at the key, else at the override the message quotes, else at the spec file."""
    import re

    key = getattr(exc, "full_key", None) or ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and "Error parsing override" in message:
        message = f"{message}: {str(cause).strip().splitlines()[0]}"
    hint = None
    if "Could not override" in message or "Could not append" in message or "Could not delete" in message:
        hint = "use +key=value to add a key, ~key to delete one, key=value to change one"
    elif "Cannot find primary config" in message or "Could not find" in message:
        hint = f"config groups are looked up in: {', '.join(str(d) for d in search_path(spec_file))}"
    if not key:
        quoted = set(re.findall(r"'([^']+)'", message))
        key = next((o for o in overrides if o.partition("=")[0].lstrip("+~") in quoted), "")
    if not key:
        key = "overrides" if "override" in message.lower() else str(spec_file)
    return Problem(key, message, hint=hint)
