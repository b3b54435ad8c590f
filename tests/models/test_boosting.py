"""LightGBM and XGBoost as built-in families (the `boosting` extra): the parameter names a spec may give them
are recorded (validation imports neither library), they stop boosting early on a trial's validation rows,
XGBoost takes any class labels, and without the extra a spec naming them is refused with the install line."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES, write_spec
from mlops import api
from mlops.cli import app
from mlops.errors import SpecError
from mlops.models import boosting
from mlops.models.boosting import BoostingFactory
from mlops.models.estimators import build_estimator, check_params
from mlops.plugins import estimators

lightgbm = pytest.importorskip("lightgbm")
xgboost = pytest.importorskip("xgboost")

SPEC = """
name: boosted
data:
  source: {type: sklearn, name: wine}
  target: target
model: {type: sklearn, task: classification, estimator: xgboost, params: {n_estimators: 20, max_depth: 3}}
"""


def _rows(n: int = 600, labels=("no", "yes")):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 4))
    y = np.where(X[:, 0] * X[:, 1] > 0, labels[1], labels[0])
    return X, y


@pytest.mark.parametrize("library,classes", [("lightgbm", ("LGBMClassifier", "LGBMRegressor")),
                                             ("xgboost", ("XGBClassifier", "XGBRegressor"))])
def test_the_recorded_names_are_the_installed_librarys(library, classes):
    module = sys.modules[library]
    recorded = set(boosting.PARAM_NAMES[library]) - (set(boosting.LIGHTGBM_KWARGS) if library == "lightgbm" else set())
    for name in classes:
        assert recorded == set(getattr(module, name)().get_params()), f"{library}.{name}: update mlops/models/boosting.py"


def test_the_lightgbm_keyword_parameters_are_lightgbms(capfd):
    values = {"max_bin": 63, "min_data_in_bin": 3, "extra_trees": False, "path_smooth": 0.0, "linear_tree": False,
              "feature_fraction_bynode": 1.0, "max_cat_to_onehot": 4, "cat_smooth": 10.0, "drop_rate": 0.1,
              "skip_drop": 0.5, "max_drop": 50, "top_rate": 0.2, "other_rate": 0.1}
    assert set(values) | {"verbose"} == set(boosting.LIGHTGBM_KWARGS)
    X, y = _rows()
    lightgbm.LGBMClassifier(n_estimators=2, verbose=0, **values).fit(X, y)
    assert "Unknown parameter" not in capfd.readouterr().out


def test_a_misspelt_parameter_is_named_without_importing_the_library():
    for family, wrong, right in (("lightgbm", "num_leafs", "num_leaves"), ("xgboost", "max_dept", "max_depth")):
        with pytest.raises(SpecError, match=rf"model.params.{wrong}.*{right}"):
            check_params({"type": "sklearn", "task": "classification", "estimator": family, "params": {wrong: 3}})
    code = textwrap.dedent(f"""
        import sys
        from mlops import api
        api.validate({str(EXAMPLES / 'automl' / 'spec.yaml')!r}, ["~model.candidates"])
        api.validate({str(EXAMPLES / 'automl' / 'spec.yaml')!r}, ["model.type=sklearn", "~model.candidates",
                     "+model.estimator=lightgbm", "+model.params={{num_leaves: 15}}"])
        print(sorted(m for m in ("lightgbm", "xgboost") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
def test_boosting_stops_when_the_validation_loss_stops_improving(family):
    X, y = _rows()
    estimator = build_estimator({"estimator": family, "task": "classification",
                                 "params": {"n_estimators": 2000, "learning_rate": 0.3}})
    fitted = estimators.get(family).target.fit_early_stopping(estimator, X[:400], y[:400], X[400:], y[400:])
    assert 1 <= fitted["n_estimators"] < 2000 - boosting.patience(2000)


def test_xgboost_takes_and_answers_in_any_labels():
    X, y = _rows(labels=("cold", "hot"))
    model = build_estimator({"estimator": "xgboost", "task": "classification", "params": {"n_estimators": 20}})
    model.fit(X, y)
    assert list(model.classes_) == ["cold", "hot"]
    assert set(model.predict(X)) <= {"cold", "hot"} and (model.predict(X) == y).mean() > 0.8
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 2) and (model.classes_[proba.argmax(axis=1)] == model.predict(X)).all()
    three = np.array([7, 3, 5])[np.arange(len(y)) % 3]  # labels need not be 0..n-1
    assert set(model.fit(X, three).predict(X)) <= {3, 5, 7}


def test_without_the_extra_a_spec_naming_them_is_refused_and_auto_leaves_them_out(tmp_path, monkeypatch):
    monkeypatch.setattr(BoostingFactory, "installed", property(lambda self: False))
    with pytest.raises(SpecError) as caught:
        api.load(write_spec(tmp_path, SPEC))
    problem = caught.value.problems[0]
    assert problem.path == "model.estimator" and "needs xgboost, which is not installed" in problem.message
    assert "mlops[boosting]" in problem.hint
    candidates = api.load(EXAMPLES / "automl" / "spec.yaml", ["~model.candidates"]).spec.model.candidates
    assert "lightgbm" not in candidates and "xgboost" not in candidates and "random_forest" in candidates
    listed = CliRunner().invoke(app, ["plugins"]).output
    assert "needs mlops[boosting]" in listed


def test_a_pipeline_with_a_boosting_model_saves_and_loads_in_the_safe_format(tmp_path):
    from mlops.models import safe_format
    from mlops.models.preprocessing import build_pipeline

    X, y = _rows()
    frame = pd.DataFrame(X, columns=list("abcd"))
    features = {"impute": {"numeric": "median", "categorical": "most_frequent"}, "scale": "standard",
                "encode": "onehot", "derived": None}
    for family in ("lightgbm", "xgboost"):
        model = build_estimator({"estimator": family, "task": "classification", "params": {"n_estimators": 10}})
        pipeline = build_pipeline(features, list("abcd"), [], model).fit(frame, y)
        safe_format.save(pipeline, tmp_path / f"{family}.skops")
        loaded = safe_format.load(tmp_path / f"{family}.skops")
        assert (loaded.predict(frame) == pipeline.predict(frame)).all()
        assert np.allclose(loaded.predict_proba(frame), pipeline.predict_proba(frame))
