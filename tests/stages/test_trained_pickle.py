"""A Trained handed through Ray rebuilds its model only when asked for it (mlops.stages.train.Trained): the
apply's driver caches and forwards the trained model without importing the model's library."""
from __future__ import annotations

import pickle

from mlops.stages.train import Trained


class Counted:
    """A model stand-in that counts how often it was rebuilt from a pickle."""

    rebuilt = 0

    def __init__(self, weights: list[float]):
        self.weights = weights

    def __setstate__(self, state: dict) -> None:
        Counted.rebuilt += 1
        self.__dict__.update(state)


def test_the_model_is_rebuilt_on_first_use_and_its_bytes_travel_on_unchanged():
    Counted.rebuilt = 0
    sent = pickle.dumps(Trained(Counted([0.5, 1.5]), {"estimator": "stand-in"}))
    received = pickle.loads(sent)
    assert Counted.rebuilt == 0 and received.meta == {"estimator": "stand-in"}
    assert "not unpickled yet" in repr(received)
    forwarded = pickle.dumps(received)  # the driver caches it and hands it to the next task
    assert Counted.rebuilt == 0 and forwarded == sent
    assert received.model.weights == [0.5, 1.5] and received.model is received.model and Counted.rebuilt == 1
    again = pickle.loads(forwarded)
    assert again.model.weights == [0.5, 1.5] and Counted.rebuilt == 2


def test_a_fresh_model_is_pickled_as_it_is_now():
    model = Counted([1.0])
    trained = Trained(model, {})
    model.weights.append(2.0)  # a model changed before it first travels travels changed
    assert trained.model is model and pickle.loads(pickle.dumps(trained)).model.weights == [1.0, 2.0]
