"""Fitted scikit-learn objects saved in skops' format, which loads without running pickled code.

skops rebuilds an object from a description of its types and state, and a file may ask it to call what
the file names with arguments from the file (a "reduce" node). So beyond skops' own defaults only exact,
reviewed type names are rebuilt: TRUSTED_TYPES (what the files mlops writes name) plus the exact names
an estimator family of an extra or a plugin declares (`trusted_types=("lightgbm.sklearn.LGBMClassifier", ...)`,
see mlops/builtin_types.py's BOOSTING_FAMILIES). Never a module
prefix, never a function. A file that names anything else is refused before anything in it is built, and
a model that would need anything else is refused when it is saved, so no version is registered that
cannot load. Pickles from before skops: mlops.models.legacy_pickle.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import RegistryError
from mlops.models.skops_import import skops_io

# What skops.io.get_untrusted_types reports for the pipelines mlops saves: every built-in estimator, both
# tasks, every preprocessing option and the estimators' common structural parameters (knn's algorithm and
# metric, mlp's solver). tests/models/test_trusted_types.py saves each family and checks it names nothing
# else. Every entry is a class (none is a function: a reduce node calls what it names). skops itself adds
# scikit-learn's estimators, numpy's dtypes and ufuncs, and builtin containers.
TRUSTED_TYPES = frozenset({
    "mlops.models.preprocessing.DerivedColumns",  # every pipeline's first step
    "mlops.models.datetime_parts.DatetimeParts",  # the numeric branch's first step (dates -> parts)
    "mlops.models.preprocessing.DistinctValues",  # high_cardinality.encoding: target (which columns each branch takes)
    "mlops.models.preprocessing.PresenceFlags",  # which categorical columns are flags ('yes' or blank)
    "mlops.models.preprocessing.FilledOrEmpty",  # a flag's cells as text, an empty one as 'missing'
    "sklearn.model_selection._split.KFold",  # ... and the TargetEncoder's cross-fitting folds (shuffled, seeded)
    "numpy.dtype",  # imputers' _fit_dtype/_fill_dtype, rebuilt from an empty array's header
    "sklearn.tree._tree.Tree",  # random_forest, extra_trees, gradient_boosting
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # hist_gradient_boosting
    "sklearn.neighbors._kd_tree.KDTree",  # knn
    "sklearn.neighbors._ball_tree.BallTree",  # knn, algorithm: ball_tree
    "sklearn.metrics._dist_metrics.EuclideanDistance64",  # knn's metric (and minkowski with p=2)
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",  # mlp (solver: adam, the default)
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",  # mlp, solver: sgd
    "sklearn.utils._bunch.Bunch",  # voting ensembles' named_estimators_ (a dict of the members)
    "mlops.models.stacking.CheckedStackingClassifier",  # model.ensemble's stacking, both tasks
    "mlops.models.stacking.CheckedStackingRegressor",
})


def plugin_trusted_types() -> frozenset[str]:
    """Exact type names that installed estimator plugins declare as safe to rebuild."""
    from mlops.plugins import estimators

    return frozenset(name for entry in estimators for name in entry.meta.get("trusted_types", ()))


def is_trusted(type_name: str, extra: frozenset[str] | tuple[str, ...] = ()) -> bool:
    """`type_name` is exactly on the trust list, or exactly one of `extra` (a plugin's names)."""
    return type_name in TRUSTED_TYPES or type_name in extra


def _listed(path: Path) -> list[str]:
    """The types skops does not trust by default that `path` names (RegistryError if it is not skops')."""
    sio = skops_io()

    try:
        return sio.get_untrusted_types(file=path)
    except Exception as exc:  # a damaged or foreign file: say which, never a traceback from inside skops
        raise RegistryError(f"{path} is not a readable skops file: {exc}") from None


def _refused(listed: list[str]) -> tuple[list[str], str]:
    """The names not trusted, and a hint for plugins that still declare module prefixes."""
    extra = plugin_trusted_types()
    refused = [name for name in listed if not is_trusted(name, extra)]
    prefixes = sorted(name for name in extra if name.endswith("."))
    hint = ("an estimator plugin declares the exact classes its models hold with trusted_types=(...) in its "
            "registration" + (f"; module prefixes such as {', '.join(prefixes)} trust nothing" if prefixes else ""))
    return refused, hint


def save(obj: Any, path: Path) -> None:
    """Write `obj` to `path` in skops' format; refuse an object that would not load back."""
    sio = skops_io()

    sio.dump(obj, path)
    refused, hint = _refused(_listed(Path(path)))
    if refused:
        Path(path).unlink()
        raise RegistryError(f"the fitted model holds types mlops does not trust to load back: {', '.join(refused)}; "
                            f"it is not saved ({hint})")


def load(path: Path) -> Any:
    """Rebuild the object in `path`, refusing a file that names a type outside the trust list."""
    sio = skops_io()

    listed = _listed(path)
    refused, hint = _refused(listed)
    if refused:
        raise RegistryError(f"{path} names types mlops does not trust to rebuild: {', '.join(refused)}; "
                            f"nothing in it was loaded ({hint})")
    return sio.load(path, trusted=listed)
