"""Fitted scikit-learn objects saved in skops' format, which loads without running pickled code.

skops rebuilds an object from a description of its types and state; only types on a trust list are
rebuilt. The list here is scikit-learn, numpy, scipy and mlops' own model classes, plus the module
prefixes an estimator plugin declares (`trusted_types=("lightgbm.",)` in its registration). A file that
names any other type is refused before anything in it is built: the error names the type.

Bundles written before this format (`*.pkl`, joblib) still load, after their hash and signature checks;
docs/security.md says so.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.errors import RegistryError

# Types skops lists as "untrusted" for ordinary scikit-learn pipelines, accepted here by module prefix or
# exact name. builtins (eval, exec, getattr...) and everything else are refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "mlops.models.")
TRUSTED_NAMES = frozenset({"collections.OrderedDict"})


def plugin_trusted_prefixes() -> tuple[str, ...]:
    """Module prefixes that installed estimator plugins declare as safe to rebuild."""
    from mlops.plugins import estimators

    prefixes: list[str] = []
    for entry in estimators:
        prefixes.extend(entry.meta.get("trusted_types", ()))
    return tuple(prefixes)


def is_trusted(type_name: str, extra_prefixes: tuple[str, ...] = ()) -> bool:
    """`type_name` is on the trust list or starts with a trusted (or an extra) module prefix."""
    return type_name in TRUSTED_NAMES or type_name.startswith(TRUSTED_PREFIXES + extra_prefixes)


def save(obj: Any, path: Path) -> None:
    """Write `obj` to `path` in skops' format."""
    import skops.io as sio

    sio.dump(obj, path)


def load(path: Path) -> Any:
    """Rebuild the object in `path`, refusing a file that names a type outside the trust list."""
    import skops.io as sio

    try:
        listed = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a damaged or foreign file: say which, never a traceback from inside skops
        raise RegistryError(f"{path} is not a readable skops file: {exc}") from None
    extra = plugin_trusted_prefixes()
    refused = [name for name in listed if not is_trusted(name, extra)]
    if refused:
        raise RegistryError(f"{path} names types mlops does not trust to rebuild: {', '.join(refused)}; "
                            "an estimator plugin declares its own modules with trusted_types=(...) in its registration")
    return sio.load(path, trusted=listed)
