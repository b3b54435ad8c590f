"""The register stage's other decisions, pinned (what benchmarks/mutation.py found no test for): a new
Registration is unsettled; a challenger-only registration never promotes; the input example; a champion
that cannot score the rows is compared by its recorded score, or promoted over when it has none."""
from __future__ import annotations

import pandas as pd

from mlops import tracking_tags
from mlops.registry import CHAMPION, Registry
from mlops.stages import register as stage
from mlops.stages.evaluate import Evaluation
from stages.test_champion_gate import STRONG, WEAK, _register


def test_a_new_registration_is_unsettled_until_apply_carries_it_out():
    assert stage.Registration("1", "abc", True, "why").settled is False


def test_the_first_version_is_champion_and_its_bundle_names_the_model(example, tmp_path):
    uri = f"sqlite:///{tmp_path / 'r.db'}"
    first, champion = _register(example("iris") / "spec.yaml", uri, WEAK)
    assert first.decision == "first version: promoted to champion" and first.compared_with is None
    assert Registry(uri).load("iris", version=champion).meta["name"] == "iris"


def test_without_auto_promote_a_version_is_a_challenger_whatever_it_scores(example, tmp_path):
    from mlops import api

    uri = f"sqlite:///{tmp_path / 'c.db'}"
    spec = example("iris") / "spec.yaml"
    _register(spec, uri, WEAK)
    plan = api.plan(spec, [f"model.params={STRONG}", f"tracking.uri={uri}"])
    registry = Registry(uri)
    trained = type("T", (), {"model": registry.load("iris", version="1").model, "meta": registry.load("iris", version="1").meta})
    evaluation = Evaluation({"f1_macro": 1.0}, "f1_macro")
    registration = stage.run(trained, evaluation, None, None, {"name": "iris", "auto_promote": False}, registry=registry,
                             run_id=registry.start_run(plan.name))
    assert registration.promoted is False
    assert registration.decision == "registered as a challenger; the champion/challenger comparison decides"


def test_the_input_example_is_a_few_rows_of_the_input_columns_or_none():
    split = type("S", (), {"X_test": pd.DataFrame({"a": range(9), "b": range(9), "extra": range(9)})})
    meta = {"input_schema": [{"name": "a"}, {"name": "b"}]}
    rows = stage.example_rows(split, meta)
    assert list(rows.columns) == ["a", "b"] and len(rows) == stage.EXAMPLE_ROWS
    assert stage.example_rows(None, meta) is None
    assert stage.example_rows(split, {"input_schema": [{"name": "a"}, {"name": "missing"}]}) is None
    assert stage.example_rows(split, {"input_schema": []}) is None


def test_a_champion_that_cannot_score_the_rows_is_compared_by_its_recorded_score(example, tmp_path):
    uri = f"sqlite:///{tmp_path / 'd.db'}"
    _register(example("iris") / "spec.yaml", uri, STRONG)  # v1, its test f1_macro recorded on the version
    registry = Registry(uri)
    recorded = float(registry.by_alias("iris", CHAMPION).tags[tracking_tags.SCORE])
    run_id = registry.start_run("iris")
    assert stage.score_on(registry, "iris", "1", "f1_macro", None) is None  # no rows: nothing to score
    worse = Evaluation({"f1_macro": recorded - 0.1}, "f1_macro")
    promoted, decision, compared = stage._champion_decision(registry, run_id, "iris", worse, None)
    assert (promoted, compared) == (False, "1") and "champion's own recorded score" in decision
    better = Evaluation({"f1_macro": recorded + 0.01}, "f1_macro")
    assert stage._champion_decision(registry, run_id, "iris", better, None)[0] is True


def test_a_champion_with_no_comparable_score_is_replaced(example, tmp_path):
    uri = f"sqlite:///{tmp_path / 'e.db'}"
    _register(example("iris") / "spec.yaml", uri, STRONG)
    registry = Registry(uri)
    registry.client.set_model_version_tag("iris", "1", tracking_tags.METRIC, "accuracy")  # scored on another metric
    evaluation = Evaluation({"f1_macro": 0.1}, "f1_macro")
    promoted, decision, compared = stage._champion_decision(registry, registry.start_run("iris"), "iris", evaluation, None)
    assert (promoted, compared) == (True, "1")
    assert decision == "champion v1 has no comparable f1_macro: promoted"
