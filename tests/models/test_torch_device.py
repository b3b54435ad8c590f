"""Torch on a device: training, mixed precision, prediction and placement. Every test runs on the CPU; the
same tests marked `gpu` run on CUDA where there is one (tests/conftest.py skips them cleanly elsewhere)."""
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mlops.errors import MlopsError  # noqa: E402
from mlops.models.device import Precision, device_of, held_device, place  # noqa: E402
from mlops.models.torch_mlp import TorchFlavor, TorchMLP, fit_in_process  # noqa: E402

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
# Predictions of one model on two devices agree within these (float32 matmuls are summed in another order
# on a GPU): class probabilities absolutely, regression values relative to the target's spread.
PROBA_TOLERANCE = 1e-4
VALUE_TOLERANCE = 1e-4


def rows(task: str, n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    signal = X[:, 0] - 2 * X[:, 1] + np.sin(3 * X[:, 2])
    y = (signal > 0).astype(int) if task == "classification" else signal + 0.05 * rng.normal(size=n)
    return X[:480], y[:480], X[480:], y[480:]


def section(task: str, **training):
    return {"task": task, "metric": "accuracy" if task == "classification" else "rmse",
            "architecture": {"hidden": [32, 16]},
            "training": {"epochs": 12, "batch_size": 64, "lr": 0.01, **training}}


def outputs_of(model, X, task):
    return model.predict_proba(X) if task == "classification" else model.predict(X)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_model_trained_on_a_device_predicts_alike_after_saving_on_every_device(device, task, tmp_path):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X_tr, y_tr, X_val, y_val = rows(task)
    fitted = fit_in_process(section(task), X_tr, y_tr, X_val, y_val, device=device)
    assert next(fitted.net_.parameters()).device.type == "cpu"  # models travel on the CPU, whatever trained them
    assert fitted.history_[-1]["val_loss"] < fitted.history_[0]["val_loss"]  # it learned on that device
    reference = outputs_of(fitted, X_val, task)
    pipeline = Pipeline([("scale", StandardScaler().fit(X_tr)), ("model", fitted)])
    TorchFlavor.save(pipeline, tmp_path)
    spread = float(np.std(y_tr)) if task == "regression" else 1.0
    targets = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for target in targets:
        loaded = place(TorchFlavor.load(tmp_path, {}), target)
        model = loaded.steps[-1][1]
        assert model.device_ == target and next(model.net_.parameters()).device.type == target
        assert device_of(loaded) == target  # what the replica's /metadata says
        got = outputs_of(model, X_val, task)
        tolerance = PROBA_TOLERANCE if task == "classification" else VALUE_TOLERANCE * spread
        assert np.max(np.abs(got - reference)) <= tolerance, target
        if task == "classification":  # the same labels, through the saved preprocessing
            assert list(loaded.predict(np.asarray(X_val))) == list(pipeline.predict(np.asarray(X_val)))


@pytest.mark.parametrize("device", DEVICES)
def test_a_placed_model_pickles_onto_the_cpu_and_keeps_predicting(device):
    X_tr, y_tr, X_val, y_val = rows("classification")
    model = fit_in_process(section("classification"), X_tr, y_tr, X_val, y_val).to_device(device)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.device_ == "cpu" and next(copy.net_.parameters()).device.type == "cpu"
    assert model.device_ == device and next(model.net_.parameters()).device.type == device  # the original stays put
    assert np.allclose(copy.predict_proba(X_val), model.predict_proba(X_val), atol=PROBA_TOLERANCE)


def test_outside_ray_nothing_holds_a_gpu_so_models_stay_on_the_cpu():
    assert held_device() == "cpu"
    X_tr, y_tr, X_val, y_val = rows("regression")
    model = TorchMLP(section("regression")).fit(X_tr, y_tr)
    assert model.device_ == "cpu" and place(model).device_ == "cpu"
    assert place("not a torch model") == "not a torch model"  # other models pass through untouched
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    assert device_of(model) == "cpu" and device_of(make_pipeline(Ridge())) == "cpu"


def test_a_replica_without_a_gpu_keeps_the_specs_batch_cap():
    from mlops.models.device import GPU_MIN_BATCH, batch_size_for_device

    assert batch_size_for_device(32) == 32 and batch_size_for_device(1000) == 1000
    assert GPU_MIN_BATCH == 256  # a GPU replica's (tests/e2e/test_nas.py, marked gpu, checks it on a GPU)


def test_fp16_on_the_cpu_is_refused_by_name_before_training():
    X_tr, y_tr, X_val, y_val = rows("regression")
    with pytest.raises(MlopsError, match=r"training.precision=fp16 needs a CUDA device; this training runs on cpu"):
        fit_in_process(section("regression", precision="fp16"), X_tr, y_tr, X_val, y_val, device="cpu")


@pytest.mark.parametrize("device,precision", [("cpu", "bf16"), pytest.param("cuda", "bf16", marks=pytest.mark.gpu),
                                              pytest.param("cuda", "fp16", marks=pytest.mark.gpu)])
def test_mixed_precision_trains_in_half_precision_and_learns(device, precision):
    X_tr, y_tr, X_val, y_val = rows("regression")
    seen = []
    net = torch.nn.Linear(6, 1).to(device)
    hook = net.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    with Precision(precision, device).autocast():
        net(torch.as_tensor(X_tr[:4], device=device))
    hook.remove()
    assert seen == [torch.bfloat16 if precision == "bf16" else torch.float16]
    mixed = fit_in_process(section("regression", precision=precision), X_tr, y_tr, X_val, y_val, device=device)
    full = fit_in_process(section("regression"), X_tr, y_tr, X_val, y_val, device=device)
    # it learned, and about as well as in fp32 (half precision rounds, it does not break the fit)
    assert mixed.history_[-1]["val_rmse"] < 0.5 * mixed.history_[0]["val_rmse"] + 0.5 * float(np.std(y_val))
    assert min(h["val_rmse"] for h in mixed.history_) < 1.5 * min(h["val_rmse"] for h in full.history_)


def test_one_part_of_a_trial_trains_exactly_as_a_single_fit():
    """train_parts (a search trial's lockstep over folds) with one part is the in-process fit, epoch by epoch."""
    from mlops.models.torch_loop import Part, train_parts
    from mlops.models.torch_mlp import complete_section

    X_tr, y_tr, X_val, y_val = rows("classification")
    model = complete_section({**section("classification"), "type": "torch"})
    reported = []
    state = train_parts(model, [Part(X_tr, y_tr, X_val, y_val)], "cpu", lambda s, m: reported.append((s.epoch, m)))
    single = fit_in_process(model, X_tr, y_tr, X_val, y_val)
    assert [epoch for epoch, _ in reported] == list(range(1, 13))
    for (_, metrics), row in zip(reported, single.history_):
        assert metrics["val_accuracy"] == pytest.approx(row["val_accuracy"]) and metrics["val_loss"] == pytest.approx(row["val_loss"], rel=1e-5)
    assert state.best_epoch == single.best_epoch_


def test_parts_report_the_mean_over_folds_and_stop_on_the_mean():
    from mlops.models.torch_loop import Part, train_parts
    from mlops.models.torch_mlp import complete_section

    X_tr, y_tr, X_val, y_val = rows("regression")
    parts = [Part(X_tr[:240], y_tr[:240], X_val, y_val), Part(X_tr[240:], y_tr[240:], X_val, y_val)]
    model = complete_section({**section("regression", epochs=40, lr=0.5, optimizer="sgd",
                                        early_stopping={"patience": 2}), "type": "torch"})
    reported = []
    state = train_parts(model, parts, "cpu", lambda s, m: reported.append(m))
    assert len(reported) < 40 and state.stopped_early  # sgd at lr 0.5 diverges: patience ends it
    assert state.bad_epochs == 2 and state.best_epoch == len(reported) - 2
    assert all(set(m) >= {"val_rmse", "val_r2", "val_loss"} for m in reported)
    # the mean over the parts: one part scored on its own rows (rmse well under 1), the other on labels of
    # spread 100 the nets never saw (rmse about 100): every epoch reports about half of that
    noisy = np.random.default_rng(1).normal(scale=100.0, size=len(y_val))
    easy_and_hard = [Part(X_tr, y_tr, X_tr, y_tr), Part(X_tr, y_tr, X_val, noisy)]
    means = []
    train_parts(complete_section({**section("regression", epochs=3), "type": "torch"}), easy_and_hard, "cpu",
                lambda s, m: means.append(m["val_rmse"]))
    assert len(means) == 3 and all(35 < rmse < 65 for rmse in means), means
