"""The torch MLP as an AutoML family (neural architecture search): its spec, its trials' model sections, and
ASHA per family, so a network is judged on its epochs against other networks only."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from conftest import EXAMPLES
from mlops import api
from mlops.errors import SpecError
from mlops.spec.torch_training import shape_architecture, shaped_hidden
from mlops.stages.search_space import FAMILY_KEY

AUTO = EXAMPLES / "automl" / "spec.yaml"


def test_a_searched_shape_becomes_the_hidden_layers():
    assert shaped_hidden(3, 256, 0.5) == [256, 128, 64]
    assert shaped_hidden(1, 100) == [100]
    assert shaped_hidden(4, 16, 0.25) == [16, 4, 4, 4]  # never narrower than 4 units
    assert shaped_hidden(2, 2, 0.5) == [2, 2]  # ... unless the first layer already is
    shaped = shape_architecture({"type": "torch", "architecture": {"hidden": [64, 32], "depth": 3, "width": 90,
                                                                   "shrink": 0.5, "dropout": 0.1}})
    assert shaped["architecture"] == {"hidden": [90, 45, 22], "dropout": 0.1}
    assert shape_architecture({"architecture": {"width": 16}})["architecture"] == {"hidden": [16, 16]}  # spec's depth
    plain = {"architecture": {"hidden": [8]}}
    assert shape_architecture(plain) is plain


def test_torch_is_a_default_candidate_when_installed_and_its_plan_says_so():
    pytest.importorskip("torch")
    tune = api.plan(AUTO, ["~model.candidates"]).node("tune")
    assert "torch" in tune.params["space"]
    assert set(tune.params["space"]["torch"]) >= {"architecture.depth", "architecture.width", "architecture.dropout",
                                                  "architecture.activation", "training.lr", "training.batch_size",
                                                  "training.weight_decay"}
    assert "torch" in [point["family"] for point in tune.params["start"]]


def test_a_torch_family_space_takes_architecture_and_training_keys_only(tmp_path):
    ok = api.plan(AUTO, ["model.candidates=[torch,knn]",
                         "+model.search_space.torch={architecture.depth: {randint: [1, 3]}, training.lr: {loguniform: [0.001, 0.1]}}"])
    assert ok.node("tune").params["space"]["torch"] == {"architecture.depth": {"randint": [1, 3]},
                                                          "training.lr": {"loguniform": [0.001, 0.1]}}
    with pytest.raises(SpecError, match=r"search_space.torch: keys must be training.NAME or architecture.NAME"):
        api.plan(AUTO, ["model.candidates=[torch,knn]", "+model.search_space.torch={params.alpha: {uniform: [0, 1]}}"])
    with pytest.raises(SpecError, match=r"search_space.knn: keys must be params.NAME"):
        api.plan(AUTO, ["model.candidates=[torch,knn]", "+model.search_space.knn={training.lr: {uniform: [0, 1]}}"])


def test_torch_as_an_estimator_is_refused_with_the_model_type_to_write():
    with pytest.raises(SpecError) as caught:
        api.plan(EXAMPLES / "iris" / "spec.yaml", ["model.estimator=torch"])
    assert "model.estimator" in str(caught.value) and "write model.type: torch" in str(caught.value)


def test_a_torch_model_tuned_without_a_space_searches_the_architecture_space():
    from mlops.plugins import estimators

    torch_spec = EXAMPLES / "tabular-torch" / "spec.yaml"
    tune = api.plan(torch_spec, ["+tuning={num_samples: 3}"]).node("tune")
    assert tune.params["space"] == estimators.get("torch").meta["search_space"]
    own = api.plan(torch_spec, ["+tuning={num_samples: 3, search_space: {training.lr: {choice: [0.01]}}}"]).node("tune")
    assert own.params["space"] == {"training.lr": {"choice": [0.01]}}  # a spec's own space replaces it


def _trial(family, trial_id):
    return SimpleNamespace(trial_id=trial_id, config={FAMILY_KEY: family})


def test_each_family_has_its_own_asha_and_unscheduled_ones_run_to_the_end():
    from ray.tune.schedulers import TrialScheduler

    from mlops.stages.family_scheduler import FamilyScheduler

    scheduler = FamilyScheduler({"torch": 16}, "rmse", "min")
    forest, nets = _trial("random_forest", "f"), [_trial("torch", f"t{i}") for i in range(4)]
    for trial in (forest, *nets):
        scheduler.on_trial_add(None, trial)
    # a forest's finished fit is far better than any network after one epoch; networks are not judged by it
    assert scheduler.on_trial_result(None, forest, {"step": 1, "rmse": 0.01}) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, nets[0], {"step": 1, "rmse": 0.9}) == TrialScheduler.CONTINUE
    assert scheduler.on_trial_result(None, nets[1], {"step": 1, "rmse": 0.5}) == TrialScheduler.CONTINUE
    # a network worse than the better half of the networks at the same epoch stops
    assert scheduler.on_trial_result(None, nets[2], {"step": 1, "rmse": 3.0}) == TrialScheduler.STOP
    assert scheduler.on_trial_result(None, nets[3], {"step": 16, "rmse": 0.2}) == TrialScheduler.STOP  # its max_t
    assert scheduler.on_trial_result(None, forest, {"step": 99, "rmse": 9.0}) == TrialScheduler.CONTINUE


def _tune_params(overrides):
    return api.plan(AUTO, overrides).node("tune").params


def test_an_auto_search_with_torch_always_stops_networks_on_their_epochs():
    pytest.importorskip("torch")
    from mlops.stages.family_scheduler import FamilyScheduler
    from mlops.stages.tune import _scheduler

    fifo = _scheduler(_tune_params(["model.candidates=[torch,knn]", "tuning.scheduler=fifo"]))
    assert isinstance(fifo, FamilyScheduler) and fifo.max_steps == {"torch": 64}  # the family's epochs
    asha = _scheduler(_tune_params(["model.candidates=[torch,knn]", "tuning.scheduler=asha"]))
    assert asha.max_steps["torch"] == 64 and asha.max_steps["knn"] >= 1
    assert _scheduler(_tune_params(["model.candidates=[knn,logistic_regression]", "tuning.scheduler=fifo"])) is None
    searched = _scheduler(_tune_params(["model.candidates=[torch,knn]", "tuning.scheduler=fifo",
                                        "+model.search_space.torch={training.epochs: {randint: [10, 200]}}"]))
    assert searched.max_steps == {"torch": 200}  # the most epochs a trial can draw  # fifo without torch


def test_what_a_trial_settled_goes_to_its_dotted_path_for_the_refit():
    pytest.importorskip("torch")
    from mlops.stages.tune import _trial as trial_of

    params = _tune_params(["model.candidates=[torch,knn]"])
    params = {**params, "tuning": {**params["tuning"], "folds": None}}
    config = {FAMILY_KEY: "torch", "torch:architecture.depth": 2, "torch:architecture.width": 40, "torch:training.lr": 0.01}
    result = SimpleNamespace(metrics={"roc_auc": 0.9, "step": 7, "fitted.training.epochs": 5, "trial_id": "a",
                                      "timestamp": 1_000_007}, config=config, error=None, path="/x/a")
    trial = trial_of(result, params, started_at=1_000_000.5)
    assert trial.ended_s == 6.5  # when its last report came, from the search's start (time to the best trial)
    assert trial.family == "torch" and trial.status == "ok"  # early stopping may end a network at any epoch
    assert trial.model["training"]["epochs"] == 5 and trial.model["architecture"]["hidden"] == [40, 40]
    assert trial.params == {FAMILY_KEY: "torch", "architecture.depth": 2, "architecture.width": 40, "training.lr": 0.01}
    boosted = SimpleNamespace(metrics={"roc_auc": 0.8, "step": 1, "fitted.n_estimators": 31, "trial_id": "b"},
                              config={FAMILY_KEY: "knn", "knn:params.n_neighbors": 5}, error=None, path="/x/b")
    assert trial_of(boosted, params).model["params"] == {"n_neighbors": 5, "n_estimators": 31}  # bare names: params.


def test_in_an_auto_search_only_network_trials_hold_the_gpus():
    pytest.importorskip("torch")
    from mlops.stages.tune import _per_family, _tune_resources

    params = _tune_params(["model.candidates=[torch,knn]", "hardware.gpus_per_task=1"])
    resources = _tune_resources(params)
    assert resources["gpu"] == 1
    per_trial = _per_family(resources, params)
    network, neighbours = per_trial({FAMILY_KEY: "torch"}), per_trial({FAMILY_KEY: "knn"})
    assert network.required_resources.get("GPU") == 1 and "GPU" not in neighbours.required_resources
    assert network.required_resources["CPU"] == neighbours.required_resources["CPU"] == resources["cpu"]
    no_gpu = _tune_params(["model.candidates=[torch,knn]"])
    assert _per_family({"cpu": 1.0}, no_gpu) == {"cpu": 1.0}  # one size for every trial
    only_networks = _tune_params(["model.candidates=[torch]", "hardware.gpus_per_task=1"])
    assert _per_family(resources, only_networks) == resources


def test_fp16_without_a_gpu_is_refused_at_validation_naming_the_field():
    torch_spec = EXAMPLES / "tabular-torch" / "spec.yaml"
    with pytest.raises(SpecError) as caught:
        api.plan(torch_spec, ["model.training.precision=fp16"])
    assert "model.training.precision" in str(caught.value) and "fp16 needs a GPU" in str(caught.value)
    assert api.plan(torch_spec, ["model.training.precision=bf16"])  # CPUs run bf16
    planned = api.plan(torch_spec, ["model.training.precision=fp16", "hardware.gpus_per_worker=1"])
    assert planned.node("train").params["model"]["training"]["precision"] == "fp16"


def test_ray_data_scorers_ask_for_the_gpus_the_spec_gives_each_task():
    iris = EXAMPLES / "iris" / "spec.yaml"
    plain = api.plan(iris).node("batch_predict")
    assert "scorer_gpus" not in plain.params  # only when asked for: earlier plans keep their hashes
    gpus = api.plan(iris, ["hardware.gpus_per_task=0.5"]).node("batch_predict")
    assert gpus.params["scorer_gpus"] == 0.5 and gpus.hash != plain.hash
