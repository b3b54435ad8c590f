"""`model.params` is checked from the committed table of scikit-learn's parameters (no import of scikit-learn):
the table is what scikit-learn says now, its verdicts and words are scikit-learn's own, and what it
cannot answer for (a plugin's estimator, another scikit-learn release) is checked by the estimator itself."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops.errors import SpecError
from mlops.models import param_table
from mlops.models.estimators import check_params
from mlops.spec import estimator_params, sklearn_params

COMMITTED = Path(sklearn_params.__file__)
VALUES = [None, True, False, 0, 1, 2, -1, 10**10, 0.0, 0.5, 1.0, 1.5, -0.5, float("inf"), float("nan"), "x", "auto",
          "sqrt", [1, 2], [], {"a": 1}]


def test_the_committed_table_is_what_scikit_learn_says_now():
    assert COMMITTED.read_text() == param_table.render(param_table.generate()), (
        "mlops/spec/sklearn_params.py is stale: regenerate it with "
        "`python -m mlops.models.param_table > mlops/spec/sklearn_params.py`")


def test_every_builtin_scikit_learn_estimator_is_in_the_table():
    from mlops.plugins import estimators

    for entry in estimators:
        for task, reference in (getattr(entry.target, "classes", None) or {}).items():
            found = estimator_params.recorded_params(reference)
            assert (found is not None) == (entry.origin == "builtin"), (entry.name, task)


def _braces_sorted(message: str) -> str:
    """scikit-learn prints options from a set, in any order; the table sorts them."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


def _sklearn_verdict(cls: type, name: str, value) -> str | None:
    """What scikit-learn's own validation says of `value` for parameter `name` (None: accepted), in the
    words the spec check keeps of it."""
    try:
        cls(**{name: value})._validate_params()
    except (TypeError, ValueError) as exc:
        message = str(exc).split(" Got ")[0].rstrip(".")
        return _braces_sorted(re.sub(r"^The '\w+' parameter of \w+ ", "", message))
    return None


def _table_verdict(table: dict, name: str, value) -> str | None:
    problems = estimator_params.param_problems("x", table, {name: value}, {name: value})
    assert problems is not None
    return problems[0].message if problems else None


@pytest.mark.parametrize("reference", sorted(sklearn_params.CLASSES))
def test_the_table_judges_every_parameter_as_scikit_learn_does(reference):
    from mlops.models.sklearn_estimators import SklearnFactory

    cls = SklearnFactory({"any": reference}).estimator_class("any")
    table = sklearn_params.CLASSES[reference]
    for name, constraints in table.items():
        options = [v for _, _, test in constraints or [] if test[0] == "options" for v in test[2]]
        for value in VALUES + options:
            assert _table_verdict(table, name, value) == _sklearn_verdict(cls, name, value), (reference, name, value)


def test_unknown_names_and_bad_values_are_reported_together_by_field():
    model = {"estimator": "random_forest", "task": "classification", "type": "sklearn",
             "params": {"max_dept": 3, "n_estimators": "many", "criterion": "foo"}}
    with pytest.raises(SpecError) as caught:
        check_params(model)
    found = {p.path: p for p in caught.value.problems}
    assert set(found) == {"model.params.max_dept", "model.params.n_estimators", "model.params.criterion"}
    assert "did you mean 'max_depth'" in found["model.params.max_dept"].render()
    assert found["model.params.n_estimators"].message == "must be an int in the range [1, inf)"
    assert found["model.params.n_estimators"].value == "many"
    assert found["model.params.criterion"].message == "must be a str among {'entropy', 'gini', 'log_loss'}"


def test_the_registrys_default_params_are_checked_too(monkeypatch):
    from mlops.plugins import estimators

    # svm's classification default is probability=True: valid, so only the spec's own value is reported.
    model = {"estimator": "svm", "task": "classification", "type": "sklearn", "params": {"C": -1.0}}
    with pytest.raises(SpecError, match=r"model.params.C.*range \(0.0, inf\]"):
        check_params(model)
    check_params({**model, "params": {"C": 2.0}})
    # A default scikit-learn would refuse is reported at its field, as the spec's own value would be.
    monkeypatch.setitem(estimators.get("svm").meta, "default_params", {"classification": {"probability": "yes"}})
    with pytest.raises(SpecError, match=r"model.params.probability"):
        check_params({**model, "params": {"C": 2.0}})


def test_another_scikit_learn_release_is_checked_by_the_estimator_itself(monkeypatch):
    monkeypatch.setattr(estimator_params, "_installed_sklearn", lambda: "0.1.0")
    assert estimator_params.recorded_params("sklearn.ensemble:RandomForestClassifier") is None
    model = {"estimator": "random_forest", "task": "classification", "type": "sklearn", "params": {"max_dept": 3}}
    with pytest.raises(SpecError, match="did you mean 'max_depth'"):
        check_params(model)
    with pytest.raises(SpecError, match="must be an int in the range"):
        check_params({**model, "params": {"n_estimators": "many"}})


def test_a_plugins_estimator_is_checked_by_importing_it():
    pytest.importorskip("lightgbm")
    from mlops.plugins import estimators

    if "lightgbm" not in estimators:
        pytest.skip("the mlops-lightgbm plugin is not installed")
    assert estimator_params.recorded_params("lightgbm:LGBMClassifier") is None
    model = {"estimator": "lightgbm", "task": "classification", "type": "sklearn", "params": {"num_leafs": 15}}
    with pytest.raises(SpecError, match=r"model.params.num_leafs.*num_leaves"):
        check_params(model)
