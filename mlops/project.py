"""A loaded project: the validated Spec, where it lives, and checks of the data it names."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from mlops.config import LoadedConfig, load_config
from mlops import stores
from mlops.errors import Collector, DataError, Problem, SpecError, SpecWarning, did_you_mean
from mlops.plugins import data_sources
from mlops.spec import Spec


@dataclass
class Project:
    """What every command works from: the Spec plus its directory and the resolved config."""

    spec: Spec
    config: LoadedConfig
    data_probe: Any = field(default=None, repr=False)
    roles: Any = field(default=None, repr=False)  # every column's role, decided on all rows (validate --check-data)

    @property
    def base_dir(self) -> Path:
        """The spec's directory, which relative paths in the spec are relative to."""
        return self.config.base_dir

    def resolved_yaml(self) -> str:
        """The spec as applied (after defaults, overrides and interpolation), secrets hidden: it goes to
        MLflow, and `${oc.env:...}` interpolations put tokens and passwords into it."""
        import yaml

        from mlops.redact import redact

        return yaml.safe_dump(redact(self.spec.model_dump(mode="json", by_alias=True)), sort_keys=False)


def validate_config(config: LoadedConfig) -> Spec:
    """Pydantic validation of the composed config, with errors in the user's terms."""
    spec, problems = validated_or_defaulted(config)
    if problems:
        raise SpecError(problems)
    return spec


def validated_or_defaulted(config: LoadedConfig) -> tuple[Spec | None, list[Problem]]:
    """The validated Spec and no problems; or, when fields are invalid, their problems and the Spec with
    those fields left to their defaults (None when that is no spec either, e.g. a required field): so the
    checks after this one (the data, the model's parameters) still run, and one run reports everything."""
    from pydantic import ValidationError

    from mlops.spec.errors import problems_from
    from mlops.spec.versions import migrate

    data = migrate(config.data)  # an older spec_version upgraded; a newer one refused, naming the field
    try:
        return Spec.model_validate(data), []
    except ValidationError as exc:
        problems = problems_from(exc, data, Spec)
        defaulted = _without(data, [err["loc"] for err in exc.errors()])
    if defaulted is None:
        return None, problems
    try:
        return Spec.model_validate(defaulted), problems
    except ValidationError:
        return None, problems


def _without(data: dict, locations: list[tuple]) -> dict | None:
    """A copy of `data` without the deepest key of each location that the data holds; None when a location
    holds none (a missing field: nothing to leave to its default)."""
    import copy

    out = copy.deepcopy(data)
    for loc in locations:
        node, parent, key = out, None, None
        for part in loc:
            if isinstance(node, dict) and part in node:
                parent, key, node = node, part, node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                parent, key, node = node, part, node[part]
            # else: a pydantic-only step (a union member's name); the data's path goes on below it
        if parent is None or not isinstance(parent, dict):
            return None
        parent.pop(key, None)
    return out


def load_project(spec_path: str | Path, overrides: Sequence[str] = (), check_data: bool = True) -> Project:
    """Load, compose, validate and (by default) probe the data: every user error surfaces here, all at once."""
    found = load_collecting(spec_path, overrides, check_data)
    found.raise_if_any()
    return found.project


@dataclass
class Findings:
    """What loading found: the project (invalid fields left to their defaults; None when there is no spec
    to make) and every problem, in the order of the checks."""

    project: Project | None
    problems: list[Problem] = field(default_factory=list)
    data_only: bool = True  # every problem is about the data (DataError), none about the spec itself

    def add(self, problems: Sequence[Problem], about_data: bool = False) -> None:
        """Problems of a later check, except those at (or inside) a field already reported."""
        seen = [p.path for p in self.problems]
        new = [p for p in problems if not any(p.path == s or p.path.startswith(s + ".") for s in seen)]
        self.problems += new
        self.data_only = self.data_only and (about_data or not new)

    def raise_if_any(self) -> None:
        """Raise every problem at once: DataError when all are about the data, else SpecError."""
        if self.problems:
            raise (DataError if self.data_only else SpecError)(self.problems)


def load_collecting(spec_path: str | Path, overrides: Sequence[str] = (), check_data: bool = True) -> Findings:
    """load_project without raising: the project and every problem its checks found."""
    from mlops.extras import spec_problems
    from mlops.sources.reach import cluster_problems

    config = load_config(spec_path, overrides)
    spec, problems = validated_or_defaulted(config)
    found = Findings(Project(spec, config) if spec is not None else None)
    found.add(problems)
    if found.project is None:
        return found
    project = found.project
    project.spec.tracking.uri = stores.absolute(project.spec.tracking.uri, project.base_dir)
    missing = spec_problems(project.spec)
    if missing:  # the extra a section needs is not installed: later checks would fail on the same thing
        found.add(list(missing))
        return found
    found.add(cluster_problems(project.spec))  # a cluster's nodes must all reach the data and the store
    if check_data:
        try:
            project.data_probe = probe_data(project)
        except SpecError as exc:
            found.add(exc.problems, about_data=isinstance(exc, DataError))
    return found


def probe_source(source: Any, base_dir: Path, field: str):
    """Cheap look at a data source (columns, emptiness, fingerprint) without loading it."""
    entry = data_sources.get(source.type)
    probe = entry.resolve("probe")
    if probe is None:
        return None
    return probe(source, base_dir, field)


def probe_data(project: Project):
    """Check that the training data exists, is readable and has every column the spec names."""
    spec = project.spec
    probe = probe_source(spec.data.source, project.base_dir, "data.source")
    if probe is None:
        return None
    # Feature views' columns join onto the labels before featurize (their own sources are checked by
    # mlops.feature_store.views.check_views).
    columns = set(probe.columns) | {f for view in spec.features.views for f in view.features}
    problems = Collector()
    named = {"data.target": [spec.data.target]}
    if spec.data.id_column:
        named["data.id_column"] = [spec.data.id_column]
    if spec.data.timestamp:
        named["data.timestamp"] = [spec.data.timestamp]
    for section in ("numeric", "categorical", "datetime", "drop"):
        named[f"features.{section}"] = getattr(spec.features, section) or []
    for path, names in named.items():
        for name in names:
            if name not in columns:
                problems.add(path, "column not in the data", value=name,
                             expected=f"one of {sorted(columns)[:12]}{'...' if len(columns) > 12 else ''}",
                             hint=did_you_mean(name, columns))
    from mlops.spec.expressions import column_names

    derived = set(spec.features.derived)
    for name, expr in spec.features.derived.items():
        for col in sorted(column_names(expr) - columns - derived):
            problems.add(f"features.derived.{name}", f"expression reads unknown column '{col}'", value=expr,
                         hint=did_you_mean(col, columns))
    if spec.serving is not None and spec.serving.batch is not None:
        _check_batch_input(project, columns, problems)
    if spec.data.split.method == "stratified" and spec.model.task == "regression":
        problems.add("data.split.method", "stratified split needs a classification task", value="stratified",
                     expected="random or time")
    problems.raise_if_any(DataError)
    return probe


def _check_batch_input(project: Project, train_columns: set[str], problems: Collector) -> None:
    """The batch input must exist and carry every column the model will read."""
    spec = project.spec
    try:
        batch = probe_source(batch_input_source(spec), project.base_dir, "serving.batch.input")
    except SpecError as exc:
        if spec.serving.batch.schedule is not None and all(p.message == "no such file" for p in exc.problems):
            return  # a scheduled input's files arrive later: the controller scores them as they come
        problems.problems.extend(exc.problems)
        return
    if batch is None or spec.data.target not in train_columns:
        return  # with the target wrong the feature set is unknown: data.target's own problem says it all
    features = spec.features
    if features.numeric is None and features.categorical is None:
        reserved = {spec.data.target, spec.data.id_column, spec.data.timestamp, *spec.data.entity_keys, *features.drop}
        needed = train_columns - reserved
    else:
        needed = set(features.numeric or []) | set(features.categorical or [])
    from mlops.spec.expressions import column_names

    needed |= {c for expr in features.derived.values() for c in column_names(expr)} - set(features.derived)
    # Feature views fill their features by entity key (as of the row's time), so the input needs the keys.
    needed -= {f for view in features.views for f in view.features}
    needed |= {features.entity_key(view) for view in features.views}
    # Columns the training data lacks are reported at the field that names them, not again here.
    missing = sorted((needed & train_columns) - set(batch.columns))
    if missing:  # the model's input contract decides at scoring: a column with missing values in training is imputed
        import warnings

        warnings.warn(f"serving.batch.input lacks feature columns {missing}: batch scoring imputes those that had missing "
                      "values in training and refuses the file otherwise (docs/serving.md#the-input-contract)", SpecWarning)


def batch_input_source(spec: Spec):
    """The batch-prediction input as a source config (a path or 'sklearn:NAME' becomes one)."""
    from mlops.spec.sources import CsvSource, ParquetSource, SklearnSource

    value = spec.serving.batch.input
    if not isinstance(value, str):
        return value
    if value.startswith("sklearn:"):
        from pydantic import ValidationError

        try:
            return SklearnSource(name=value.split(":", 1)[1])
        except ValidationError as exc:  # the data set's name is checked here, where the string is read
            expected = exc.errors()[0].get("ctx", {}).get("expected", "a data set scikit-learn ships")
            raise SpecError(Problem("serving.batch.input", "unknown scikit-learn data set", value=value,
                                    expected=f"sklearn:NAME with NAME one of {expected}")) from None
    if value.endswith(".csv") or value.endswith(".csv*"):
        return CsvSource(path=value)
    if value.endswith(".parquet") or Path(value).suffix == "":
        return ParquetSource(path=value)
    raise SpecError(Problem("serving.batch.input", "unknown input format", value=value,
                            expected="a .csv or .parquet path, a directory of parquet files, or sklearn:NAME"))
