"""The one place mlops unpickles a model file: format-1 bundles from before skops, when the user allows it.

Unpickling runs whatever code the file holds, so it happens only for a bundle whose recorded format
predates skops-only bundles, only after its hash (and signature) checks, and only with
MLOPS_ALLOW_PICKLE=1 in the environment of the process that loads it (serving replicas and
`mlflow.pyfunc.load_model` read the same variable). A bundle of a later format never holds a pickle,
so one there is refused whatever the variable says.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlops.errors import RegistryError

ALLOW_PICKLE_ENV = "MLOPS_ALLOW_PICKLE"
PICKLE_FREE_FORMAT = 2  # the first bundle format written with skops files only


def pickle_allowed() -> bool:
    """The user set MLOPS_ALLOW_PICKLE=1 for this process."""
    return os.environ.get(ALLOW_PICKLE_ENV) == "1"


def load(path: Path, meta: dict[str, Any], instead_of: str) -> Any:
    """Unpickle the legacy file `path` of a bundle whose skops file `instead_of` is missing, if allowed."""
    path = Path(path)
    found = meta.get("format", 1)  # bundles without a format are format 1
    if not isinstance(found, int) or found >= PICKLE_FREE_FORMAT:
        raise RegistryError(f"the model bundle at {path.parent} (format {found!r}) has no {instead_of}; bundles of "
                            f"format {PICKLE_FREE_FORMAT} and later never hold a pickle, so {path.name} is not loaded "
                            f"(not even with {ALLOW_PICKLE_ENV}=1)")
    if not path.is_file():
        raise RegistryError(f"the model bundle at {path.parent} has neither {instead_of} nor {path.name}")
    if not pickle_allowed():
        raise RegistryError(f"{path} is a pickle, from a bundle written before mlops used skops (format 1): "
                            f"unpickling runs any code it holds, so it loads only with {ALLOW_PICKLE_ENV}=1 in the "
                            f"environment of the process that loads it (for a store you trust); or register it again "
                            f"(mlops apply SPEC --force register) to rewrite it in skops' format")
    import joblib

    return joblib.load(path)
