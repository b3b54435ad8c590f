"""Model files load without running pickled code: skops with an exact trust list (pickles: test_legacy_pickle.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mlops.errors import RegistryError
from mlops.models import safe_format
from mlops.models.bundle import load_bundle, save_bundle
from mlops.models.preprocessing import DerivedColumns


def _fitted_pipeline():
    X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7})
    y = (X["a"] > 20).astype(int)
    pipe = Pipeline([("derived", DerivedColumns({"ratio": "a / (b + 1)"})),
                     ("model", RandomForestClassifier(n_estimators=5, random_state=0))])
    return pipe.fit(X, y), X


def _meta():
    return {"flavor": "sklearn", "task": "classification", "classes": [0, 1],
            "input_schema": [{"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "float64"}]}


def test_a_bundle_is_written_in_skops_format_and_predicts_the_same(tmp_path):
    pipe, X = _fitted_pipeline()
    sha = save_bundle(pipe, _meta(), tmp_path / "model")
    assert (tmp_path / "model" / "pipeline.skops").is_file()
    assert not (tmp_path / "model" / "pipeline.pkl").exists()
    loaded = load_bundle(tmp_path / "model", sha)
    assert (loaded.predict(X) == pipe.predict(X)).all()


def test_a_file_naming_an_untrusted_type_is_refused_before_it_is_built(tmp_path):
    # FunctionTransformer(func=eval): a pickle would hand eval to whoever loads it; skops lists the type
    # and mlops refuses it, naming it.
    evil = Pipeline([("f", FunctionTransformer(func=eval))])
    sio.dump(evil, tmp_path / "evil.skops")
    with pytest.raises(RegistryError, match="builtins.eval"):
        safe_format.load(tmp_path / "evil.skops")


def test_a_model_that_would_not_load_back_is_refused_when_saved(tmp_path):
    with pytest.raises(RegistryError, match="does not trust to load back: builtins.eval"):
        safe_format.save(Pipeline([("f", FunctionTransformer(func=eval))]), tmp_path / "evil.skops")
    assert not (tmp_path / "evil.skops").exists()  # never registered, so never a version that cannot load


def test_a_damaged_skops_file_is_a_clear_error(tmp_path):
    (tmp_path / "broken.skops").write_bytes(b"not a zip file")
    with pytest.raises(RegistryError, match="not a readable skops file"):
        safe_format.load(tmp_path / "broken.skops")


def test_names_are_trusted_exactly_never_by_prefix():
    assert safe_format.is_trusted("sklearn.tree._tree.Tree")
    assert not safe_format.is_trusted("sklearn.tree._tree")  # neither a parent nor a sibling of a listed name
    assert not safe_format.is_trusted("sklearn.utils._testing.assert_run_python_script_without_output")
    assert not safe_format.is_trusted("numpy.testing._private.utils.runstring")
    assert not safe_format.is_trusted("builtins.exec")
    assert not safe_format.is_trusted("lightgbm.basic.Booster")  # a plugin's names only when it declares them
    assert safe_format.is_trusted("lightgbm.basic.Booster", ("lightgbm.basic.Booster",))
    assert not safe_format.is_trusted("lightgbm.basic._dump_pandas_categorical", ("lightgbm.",))  # prefixes trust nothing
