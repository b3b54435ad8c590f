"""The spec validators' decisions, pinned where benchmarks/mutation.py found no test for them: each bad input
is refused at the dotted field it names, and each good one is accepted as written (or normalised)."""
from __future__ import annotations

import copy
import typing
import warnings

import numpy as np

import pytest
from pydantic import TypeAdapter, ValidationError

from mlops.errors import SpecWarning
from mlops.plugins import Registry
from mlops.spec import Spec
from mlops.spec import data as data_section
from mlops.spec import expressions, retraining
from mlops.spec.errors import problems_from
from mlops.spec.features import FeaturesSpec
from mlops.spec.hardware import HardwareSpec
from mlops.spec.serving import BatchServing, DeploymentOptions, OnlineServing, is_loopback
from mlops.spec.sources import CsvSource, ParquetSource, SklearnSource
from mlops.spec.triggers import DriftTrigger, MetricDropTrigger, NewDataTrigger, ScheduleTrigger
from mlops.spec.tuning import Domain, TuningSpec, domain_contains
from mlops.spec.validation import effective_validation

BASE = {
    "name": "demo",
    "data": {"source": {"type": "csv", "path": "data.csv"}, "target": "label"},
    "model": {"task": "classification", "type": "sklearn", "estimator": "random_forest"},
}


def spec_with(**sections) -> dict:
    raw = copy.deepcopy(BASE)
    raw.update(copy.deepcopy(sections))
    return raw


def problems(raw: dict) -> list[tuple[str, str]]:
    """(dotted path, message) of each problem the spec has; [] when it validates."""
    try:
        Spec.model_validate(raw)
    except ValidationError as exc:
        return [(p.path, p.message) for p in problems_from(exc, raw, Spec)]
    return []


def paths(raw: dict) -> list[str]:
    return [path for path, _ in problems(raw)]


# ------------------------------------------------------------------------------------ Spec: tuning vs model

def test_a_search_space_key_of_another_model_type_is_refused_at_tuning():
    found = problems(spec_with(tuning={"search_space": {"training.lr": {"uniform": [0.1, 1.0]}}}))
    assert [p for p, _ in found] == ["tuning"]
    assert found[0][1].startswith("search_space.training.lr: a model.type torch setting, but model.type is sklearn")


def test_a_search_space_key_of_the_model_type_is_accepted():
    raw = spec_with(tuning={"search_space": {"params.max_depth": {"choice": [2, 4]}}})
    assert problems(raw) == []
    assert Spec.model_validate(raw).tuning.search_space["params.max_depth"].args == [2, 4]


def test_auto_models_refuse_grid_search_and_a_top_level_search_space_at_tuning():
    auto = {"task": "classification", "type": "auto"}
    grid = problems(spec_with(model=auto, tuning={"search": "grid", "search_space": {"params.x": {"grid": [1, 2]}}}))
    assert [p for p, _ in grid] == ["tuning"] and "search: grid is not available for model.type auto" in grid[0][1]
    space = problems(spec_with(model=auto, tuning={"search_space": {"params.x": {"choice": [1, 2]}}}))
    assert [p for p, _ in space] == ["tuning"] and "search_space is per family for model.type auto" in space[0][1]
    assert problems(spec_with(model=auto, tuning={"search": "random"})) == []


# --------------------------------------------------------------------------------------- tuning.search


def test_sampled_search_accepts_choice_and_sampled_domains():
    space = {"params.max_depth": {"choice": [2, 4]}, "params.min_samples_leaf": {"randint": [1, 5]}}
    assert problems(spec_with(tuning={"search": "random", "search_space": space})) == []
    assert problems(spec_with(tuning={"search": "optuna", "search_space": space})) == []


def test_a_grid_domain_outside_grid_search_is_refused_naming_the_key():
    space = {"params.max_depth": {"grid": [2, 4]}, "params.n_estimators": {"choice": [10, 20]}}
    found = problems(spec_with(tuning={"search": "random", "search_space": space}))
    assert [p for p, _ in found] == ["tuning"]
    assert found[0][1] == "grid domains (params.max_depth) need search: grid; use choice to sample from a list"


def test_grid_search_takes_grid_and_choice_domains_once_each():
    space = {"params.max_depth": {"grid": [2, 4]}, "params.n_estimators": {"choice": [10, 20, 30]}}
    tuning = TuningSpec.model_validate({"search": "grid", "search_space": space})
    assert tuning.trials() == 6
    assert TuningSpec.model_validate({"search": "grid", "search_space": space, "num_samples": 1}).trials() == 6
    found = problems(spec_with(tuning={"search": "grid", "search_space": space, "num_samples": 3}))
    assert [p for p, _ in found] == ["tuning"] and "num_samples=3 must be omitted" in found[0][1]
    sampled = problems(spec_with(tuning={"search": "grid", "search_space": {"params.max_depth": {"randint": [1, 5]}}}))
    assert [p for p, _ in sampled] == ["tuning"] and "sampled domains: params.max_depth (randint)" in sampled[0][1]
    empty = problems(spec_with(tuning={"search": "grid"}))
    assert [p for p, _ in empty] == ["tuning"] and "needs a search_space" in empty[0][1]


# ------------------------------------------------------------------------------------------- qrandint


@pytest.mark.parametrize("bounds", [[1, 10, 2], [0, 10, 1], [-5, 5, 5]])
def test_a_quantized_domain_with_low_below_high_and_a_positive_step_is_accepted(bounds):
    domain = Domain.model_validate({"qrandint": bounds})
    assert (domain.kind, domain.args) == ("qrandint", bounds)
    assert problems(spec_with(tuning={"search_space": {"params.max_depth": {"qrandint": bounds}}})) == []


@pytest.mark.parametrize("bounds, message", [
    ([1, 10, 0], "q=0: expected [low, high, q] with q > 0"),
    ([1, 10, -2], "q=-2: expected [low, high, q] with q > 0"),
    ([10, 1, 2], "expected [low, high, q] with low < high"),
    ([5, 5, 1], "expected [low, high, q] with low < high"),
    ([1, 10], "expected [low, high, q] with low < high"),
])
def test_a_bad_quantized_domain_is_refused_at_its_field(bounds, message):
    found = problems(spec_with(tuning={"search_space": {"params.max_depth": {"qrandint": bounds}}}))
    assert found == [("tuning.search_space.params.max_depth.qrandint", message)]


# ------------------------------------------------------------------------------------------- features


def test_join_partitions_and_online_store_are_not_node_params():
    spread = FeaturesSpec.model_validate({"join_partitions": 4, "online_store": "elsewhere.db", "scale": "minmax"})
    params = spread.as_params()
    assert "join_partitions" not in params and "online_store" not in params
    assert params["scale"] == "minmax" and params == FeaturesSpec.model_validate({"scale": "minmax"}).as_params()
    assert set(params) == set(FeaturesSpec.model_fields) - {"join_partitions", "online_store"}


# ------------------------------------------------------------------------------------ serving.online.route


@pytest.mark.parametrize("route, kept", [("/api/", "/api"), ("/api", "/api"), ("/a/b//", "/a/b"), (None, None)])
def test_a_route_is_kept_without_its_trailing_slash(route, kept):
    assert OnlineServing(route=route).route == kept
    raw = spec_with(serving={"mode": "online", "online": {"route": route}})
    assert Spec.model_validate(raw).serving.online.route == kept


@pytest.mark.parametrize("route", ["/", "api", "/my api"])
def test_a_route_that_is_not_a_path_prefix_is_refused_at_its_field(route):
    found = problems(spec_with(serving={"mode": "online", "online": {"route": route}}))
    assert found == [("serving.online.route", "route must look like /name (a path prefix other than '/')")]


# ----------------------------------------------------------------------------------- retraining.triggers


def test_the_trigger_union_is_discriminated_by_on_over_every_registered_trigger():
    union = retraining._trigger_union()
    assert typing.get_origin(union) is typing.Annotated
    adapter = TypeAdapter(union)
    assert isinstance(adapter.validate_python({"on": "drift"}), DriftTrigger)
    assert isinstance(adapter.validate_python({"on": "metric_drop", "below": 0.8}), MetricDropTrigger)
    assert isinstance(adapter.validate_python({"on": "new_data", "min_rows": 10}), NewDataTrigger)
    assert isinstance(adapter.validate_python({"on": "schedule", "every": "7d"}), ScheduleTrigger)
    with pytest.raises(ValidationError):
        adapter.validate_python({"on": "lunar_phase"})


def test_with_one_trigger_registered_the_union_is_its_config(monkeypatch):
    only = Registry("trigger")
    only.add("new_data", "mlops.triggers:unused", config=NewDataTrigger)
    monkeypatch.setattr(retraining, "triggers", only)
    assert retraining._trigger_union() is NewDataTrigger


def test_a_retraining_section_takes_each_trigger_kind_once_at_its_field():
    data = {"source": {"type": "csv", "path": "new/*.csv"}}
    raw = spec_with(retraining={"data": data, "triggers": [{"on": "schedule", "every": "7d"}, {"on": "new_data", "min_rows": 5}]})
    triggers = Spec.model_validate(raw).retraining.triggers
    assert [type(t) for t in triggers] == [ScheduleTrigger, NewDataTrigger]
    twice = spec_with(retraining={"data": data, "triggers": [{"on": "drift"}, {"on": "drift"}]})
    assert problems(twice) == [("retraining.triggers", "trigger 'on: drift' is listed twice; keep one")]


# ---------------------------------------------------------------------------------------- data.source


def test_the_source_union_is_discriminated_by_type_over_every_registered_source():
    union = data_section._source_union()
    assert typing.get_origin(union) is typing.Annotated
    adapter = TypeAdapter(union)
    assert isinstance(adapter.validate_python({"type": "csv", "path": "a.csv"}), CsvSource)
    assert isinstance(adapter.validate_python({"type": "parquet", "path": "a.parquet"}), ParquetSource)
    assert isinstance(adapter.validate_python({"type": "sklearn", "name": "iris"}), SklearnSource)
    with pytest.raises(ValidationError):
        adapter.validate_python({"type": "excel", "path": "a.xlsx"})


def test_with_one_source_registered_the_union_is_its_config(monkeypatch):
    only = Registry("data source")
    only.add("csv", "mlops.sources:unused", config=CsvSource)
    monkeypatch.setattr(data_section, "data_sources", only)
    assert data_section._source_union() is CsvSource


# ---------------------------------------------------------------------------------- features.entities/views

VIEW = {"entity": "customer", "source": {"type": "csv", "path": "v.csv"}, "timestamp": "ts"}


def features_with(views: list[dict], entities: list[dict] | None = None) -> dict:
    return spec_with(data={**BASE["data"], "timestamp": "at", "entity_keys": ["customer_id"]},
                     features={"entities": entities or [{"name": "customer", "key": "customer_id"}], "views": views})


def test_views_with_distinct_names_and_features_are_accepted():
    raw = features_with([{**VIEW, "name": "spend", "features": ["total"]}, {**VIEW, "name": "visits", "features": ["n"]}])
    assert problems(raw) == []


def test_a_feature_listed_twice_in_a_view_is_refused_at_the_views_features():
    found = problems(features_with([{**VIEW, "name": "spend", "features": ["total", "total"]}]))
    assert found == [("features.views.0.features", "listed more than once: ['total']")]


def test_entity_names_must_be_unique_at_features_entities():
    entities = [{"name": "customer", "key": "customer_id"}, {"name": "customer", "key": "other_id"}]
    found = problems(features_with([{**VIEW, "name": "spend", "features": ["total"]}], entities))
    assert found == [("features.entities", "entity names must be unique")]


def test_view_names_must_be_unique_and_the_message_lists_only_the_repeated_ones():
    views = [{**VIEW, "name": "spend", "features": ["a"]}, {**VIEW, "name": "spend", "features": ["b"]},
             {**VIEW, "name": "visits", "features": ["c"]}]
    assert problems(features_with(views)) == [("features.views", "view names must be unique: ['spend']")]


def test_a_feature_of_two_views_is_refused_at_the_second_views_features():
    views = [{**VIEW, "name": "spend", "features": ["total"]}, {**VIEW, "name": "visits", "features": ["n", "total"]}]
    assert problems(features_with(views)) == [
        ("features.views.1.features", "'total' is also a feature of view 'spend' (joined columns must be unique)")]


def test_a_column_in_two_roles_is_refused_at_the_later_role():
    found = problems(spec_with(features={"numeric": ["a"], "categorical": ["a"]}))
    assert found == [("features.categorical", "'a' is also listed in features.numeric; a column has one role")]
    assert problems(spec_with(features={"drop": ["a"], "numeric": ["a"]})) == [
        ("features.numeric", "'a' is also listed in features.drop; a column has one role")]
    assert problems(spec_with(features={"numeric": ["a", "a"], "categorical": ["b"]})) == []  # same role twice


# ------------------------------------------------------------------------------------------ model: auto


def test_auto_candidates_must_cover_every_family_of_its_search_space():
    model = {"task": "classification", "type": "auto", "candidates": ["random_forest", "logistic_regression"],
             "search_space": {"extra_trees": {"params.max_depth": {"choice": [2]}},
                              "gradient_boosting": {"params.max_depth": {"choice": [2]}}}}
    found = problems(spec_with(model=model))
    assert found == [("model", "search_space names families that are not candidates: extra_trees, gradient_boosting "
                               "(candidates: random_forest, logistic_regression)")]


def test_auto_without_candidates_and_no_auto_family_registered_is_refused(monkeypatch):
    from mlops.spec import model as model_section

    monkeypatch.setattr(model_section, "estimators", Registry("estimator"))  # nothing registered with auto=True
    found = problems(spec_with(model={"task": "regression", "type": "auto"}))
    assert found == [("model", "no estimator is registered with auto=True for task 'regression'; list model.candidates")]


# ------------------------------------------------------------------------------------- monitoring.alerts


@pytest.mark.parametrize("alert", [{"metric": "error_rate", "above": 0.1}, {"metric": "requests", "below": 1}])
def test_an_alert_with_one_threshold_is_accepted(alert):
    raw = spec_with(serving={"mode": "online"}, monitoring={"alerts": [alert]})
    assert problems(raw) == []
    (parsed,) = Spec.model_validate(raw).monitoring.alerts
    assert (parsed.above, parsed.below) == (alert.get("above"), alert.get("below"))


@pytest.mark.parametrize("alert", [{"metric": "error_rate"}, {"metric": "error_rate", "above": 0.1, "below": 0.01}])
def test_an_alert_needs_exactly_one_threshold_at_its_field(alert):
    found = problems(spec_with(serving={"mode": "online"}, monitoring={"alerts": [alert]}))
    assert found == [("monitoring.alerts.0", "alert on error_rate needs exactly one of 'above' or 'below'")]


# ------------------------------------------------------------------------------------------- triggers


@pytest.mark.parametrize("bounds", [{}, {"below": 0.8, "above": 0.3}])
def test_metric_drop_needs_exactly_one_bound_at_its_field(bounds):
    data = {"source": {"type": "csv", "path": "new/*.csv"}}
    found = problems(spec_with(retraining={"data": data, "triggers": [{"on": "metric_drop", **bounds}]}))
    assert found == [("retraining.triggers.0",
                      "metric_drop needs exactly one of 'below' (for scores) or 'above' (for errors)")]


# -------------------------------------------------------------------------------------------- serving


def test_on_error_null_unquoted_in_yaml_means_the_null_option():
    raw = spec_with(serving={"mode": "batch", "batch": {"input": "in.csv", "on_error": None}})
    assert Spec.model_validate(raw).serving.batch.on_error == "null"
    assert BatchServing(input="in.csv").on_error == "fail"
    assert problems(spec_with(serving={"mode": "batch", "batch": {"input": "in.csv", "on_error": "drop"}}))[0][0] == \
        "serving.batch.on_error"


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True), ("LocalHost", True),
    ("0.0.0.0", False), ("10.0.0.5", False), ("example.com", False), ("my-host", False),
])
def test_is_loopback_only_for_this_machine(host, loopback):
    assert is_loopback(host) is loopback


def test_an_endpoint_open_to_the_network_without_auth_warns_naming_the_field():
    with pytest.warns(SpecWarning, match=r"serving\.online\.host=0\.0\.0\.0 with serving\.online\.auth: none"):
        OnlineServing(host="0.0.0.0", auth="none")
    with pytest.warns(SpecWarning, match=r"serving\.online\.host=example\.com"):
        OnlineServing(host="example.com", auth=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OnlineServing(host="127.0.0.1", auth="none")
        OnlineServing(host="0.0.0.0")  # the default: a generated token
        OnlineServing(host="0.0.0.0", auth={"token_env": "TOKEN"})


@pytest.mark.parametrize("written,auth", [(None, None), ("none", None), ("None", None), (False, None), ({}, {"token_env": None}),
                                          (True, {"token_env": None}),
                                          ({"token_env": "T"}, {"token_env": "T"})])
def test_auth_is_on_unless_the_spec_says_none(written, auth):
    assert OnlineServing().auth.token_env is None  # omitted: a generated token
    online = OnlineServing(auth=written, host="127.0.0.1")
    assert (online.auth.model_dump() if online.auth is not None else None) == auth


def test_auth_as_another_word_is_refused_naming_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="auth must be a mapping like"):
        OnlineServing(auth="token")


def test_serve_options_carry_the_queue_and_the_autoscaling_bounds():
    online = OnlineServing(max_ongoing_requests=7, max_queued_requests=99,
                           replicas={"min": 0, "max": 3, "target_ongoing_requests": 2.5})
    options = DeploymentOptions.of(online, HardwareSpec(cpus_per_replica=2, gpus_per_replica=0.5)).serve_options()
    assert options == {
        "max_ongoing_requests": 7, "max_queued_requests": 99,
        "backpressure_config": {"status_code": 503, "retry_after_s": 1},
        "ray_actor_options": {"num_cpus": 2, "num_gpus": 0.5},
        "autoscaling_config": {"min_replicas": 0, "max_replicas": 3, "target_ongoing_requests": 2.5},
    }
    fixed = DeploymentOptions.of(OnlineServing(replicas={"fixed": 4}), HardwareSpec()).serve_options()
    assert fixed["num_replicas"] == 4 and "autoscaling_config" not in fixed
    assert fixed["max_queued_requests"] == 256 and fixed["max_ongoing_requests"] == 64


# ---------------------------------------------------------------------------------------------- tuning


def test_an_unknown_domain_kind_is_refused_at_its_key_with_a_hint():
    found = problems(spec_with(tuning={"search_space": {"params.max_depth": {"randomint": [1, 5]}}}))
    assert found == [("tuning.search_space.params.max_depth",
                      "unknown domain 'randomint'; did you mean 'randint'? (expected one of choice, grid, uniform, "
                      "loguniform, randint, lograndint, qrandint)")]


@pytest.mark.parametrize("bounds", [[0, 1], [-1, 1], [2, 1], [1, float("inf")], [1]])
def test_log_domains_need_positive_ordered_bounds_at_their_field(bounds):
    found = problems(spec_with(tuning={"search_space": {"params.C": {"loguniform": bounds}}}))
    assert found == [("tuning.search_space.params.C.loguniform", "expected [low, high] with 0 < low < high")]


def test_log_domains_with_positive_ordered_bounds_are_accepted():
    assert Domain.model_validate({"loguniform": [0.001, 10]}).args == [0.001, 10]
    assert Domain.model_validate({"lograndint": [1, 1024]}).args == [1, 1024]


def test_a_nested_search_space_means_dotted_keys():
    """What Hydra's dotted overrides build (`params: {C: {...}}`) is the same space as `params.C`."""
    nested = TuningSpec.model_validate({"search_space": {"params": {"C": {"loguniform": [0.1, 10]},
                                                                    "penalty": {"choice": ["l1", "l2"]}}}})
    assert list(nested.search_space) == ["params.C", "params.penalty"]
    assert nested.search_space["params.penalty"].args == ["l1", "l2"]
    found = problems(spec_with(tuning={"search_space": ["params.C"]}))
    assert [p for p, _ in found] == ["tuning.search_space"]


@pytest.mark.parametrize("domain, value, contained", [
    ({"choice": [1, "a"]}, "a", True), ({"choice": [1, "a"]}, 2, False), ({"grid": [3, 4]}, 4, True),
    ({"uniform": [0.5, 1.5]}, 1.5, True), ({"uniform": [0.5, 1.5]}, 1.6, False), ({"uniform": [0.5, 1.5]}, True, False),
    ({"loguniform": [0.1, 1.0]}, 0.1, True), ({"loguniform": [0.1, 1.0]}, "0.5", False),
    ({"randint": [1, 5]}, 4, True), ({"randint": [1, 5]}, 5, False), ({"randint": [1, 5]}, 2.0, False),
    ({"lograndint": [1, 8]}, 1, True), ({"lograndint": [1, 8]}, 0, False),
    ({"qrandint": [0, 10, 2]}, 4, True), ({"qrandint": [0, 10, 2]}, 10, True), ({"qrandint": [1, 9, 4]}, 5, True),
    ({"qrandint": [1, 10, 4]}, 1, True), ({"qrandint": [1, 10, 4]}, 9, True),
    ({"qrandint": [1, 10, 4]}, 5, True), ({"qrandint": [1, 10, 4]}, 6, False), ({"qrandint": [1, 10, 4]}, 10, False),
    ({"qrandint": [0, 10, 2]}, 5, False), ({"qrandint": [0, 10, 2]}, 12, False), ({"qrandint": [0, 10, 2]}, 4.0, False),
])
def test_domain_contains_the_values_the_domain_can_produce(domain, value, contained):
    assert domain_contains(domain, value) is contained


# ------------------------------------------------------------------------------------------- validation


def test_a_detector_of_the_other_kind_is_refused_listing_those_of_the_right_kind():
    found = problems(spec_with(validation={"drift": {"detector": "iforest"}}))
    assert found == [("validation.drift.detector",
                      "'iforest' detects outliers, not drift; expected one of ['chi2', 'ks', 'mmd', 'tabular']")]
    found = problems(spec_with(validation={"outliers": {"detector": "ks"}}))
    assert found == [("validation.outliers.detector",
                      "'ks' detects drifts, not outlier; expected one of ['iforest', 'mahalanobis']")]


def test_the_validation_in_force_is_the_sections_or_the_defaults_without_outliers():
    written = Spec.model_validate(spec_with(validation={"drift": None, "outliers": {"detector": "mahalanobis"}}))
    effective = effective_validation(written)
    assert effective is written.validation and effective.drift is None and effective.outliers.detector == "mahalanobis"
    default = effective_validation(Spec.model_validate(spec_with()))
    assert default.outliers is None and default.drift.detector == "tabular"


# ------------------------------------------------------------------------------------------ expressions


def test_derived_expressions_evaluate_unary_signs_and_functions_over_columns():
    columns = {"a": np.array([1.0, -2.0, 0.0]), "b": np.array([4.0, 9.0, 0.0])}
    assert np.allclose(expressions.evaluate("-a + sqrt(b)", columns), [1.0, 5.0, 0.0])
    assert np.allclose(expressions.evaluate("+a * -2", columns), [-2.0, 4.0, 0.0])
    out = expressions.evaluate("a / b", columns)  # 0/0 is NaN, and so is x/0 (inf is no value)
    assert np.allclose(out[:2], [0.25, -2.0 / 9.0]) and np.isnan(out[2])
    assert expressions.column_names("log1p(a) - -b") == {"a", "b"}
