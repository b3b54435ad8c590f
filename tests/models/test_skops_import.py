"""skops.io imported through mlops (the estimator names kept per environment, skops' ufunc search made
faster) trusts exactly what skops' own import trusts; a kept file that is not the user's alone, or that holds
anything but sklearn class names, is ignored."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from mlops.models.skops_import import read_names, write_names

# A process as a replica or a CLI command has it when it loads a model: MLflow (thousands of modules) first.
DUMP = """
import json, sys
import mlflow.tracking
{how}
import skops.io._trusted_types as t
lists = {{k: v for k, v in vars(t).items() if k.endswith("_NAMES") and isinstance(v, list)}}
print(json.dumps({{"lists": lists, "sklearn_modules": sum(m.startswith("sklearn.") for m in sys.modules)}}))
"""
THROUGH_MLOPS = "from mlops.models.skops_import import skops_io; skops_io()"
SKOPS_ITSELF = "import skops.io"


def trust_lists(how: str, cache_home) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    done = subprocess.run([sys.executable, "-c", DUMP.format(how=how)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_the_trust_lists_are_skops_own_on_the_first_import_and_from_the_kept_names(tmp_path):
    own = trust_lists(SKOPS_ITSELF, tmp_path / "unused")
    first = trust_lists(THROUGH_MLOPS, tmp_path / "cache")  # walks as skops does, keeps the names
    kept = list((tmp_path / "cache" / "mlops").glob("skops-sklearn-estimators-*.json"))
    assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == "0o600"
    again = trust_lists(THROUGH_MLOPS, tmp_path / "cache")  # from the kept names: no walk
    assert len(own["lists"]) >= 5 and own["lists"]["SKLEARN_ESTIMATOR_TYPE_NAMES"]
    assert first["lists"] == own["lists"] and again["lists"] == own["lists"]
    assert first["sklearn_modules"] > again["sklearn_modules"]  # the walk imports every sklearn package


def test_a_kept_file_others_could_write_or_with_other_names_is_ignored(tmp_path):
    folder = tmp_path / "mlops"
    path = folder / "skops-sklearn-estimators-x.json"
    write_names(path, ["sklearn.ensemble._forest.RandomForestClassifier"])
    assert read_names(path) == ["sklearn.ensemble._forest.RandomForestClassifier"]
    path.chmod(0o666)
    assert read_names(path) is None  # anyone could have added a name to it
    path.chmod(0o600)
    folder.chmod(0o777)
    assert read_names(path) is None  # anyone could have replaced it
    folder.chmod(0o700)
    for names in (["os.system"], ["sklearn.x; import os"], [], {"a": 1}, "sklearn.base.BaseEstimator"):
        path.write_text(json.dumps(names))
        path.chmod(0o600)
        assert read_names(path) is None, names
    write_names(path, ["builtins.eval"])  # never written either
    assert read_names(path) is None
    path.write_text("{not json")
    assert read_names(path) is None
