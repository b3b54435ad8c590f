"""Model work an apply's driver hands to a worker process on its own node (mlops.runtime.model_work)."""
from __future__ import annotations

import os

import pytest

from mlops.errors import DataError, Problem
from mlops.runtime.model_work import in_process, on_driver_node


def functions() -> tuple:
    """(where, fail_with), made inside a function: a worker cannot import this test module, so they travel
    by value."""

    def where() -> tuple[int, str]:
        import os

        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id()

    def fail_with(exc: Exception) -> None:
        raise exc

    return where, fail_with


def test_in_process_runs_the_work_here():
    assert in_process(os.getpid) == os.getpid()


def test_the_work_runs_in_a_worker_on_the_drivers_node(ray_local):
    ray = ray_local
    where, _ = functions()
    pid, node = on_driver_node(where)
    assert pid != os.getpid() and node == ray.get_runtime_context().get_node_id()


def test_a_failure_comes_back_as_the_exception_it_was(ray_local):
    _, fail_with = functions()
    sent = DataError(Problem("serving.batch.input", "input has no rows"))
    with pytest.raises(DataError) as raised:
        on_driver_node(fail_with, sent)
    # itself, not Ray's wrapper (a subclass of it whose message carries the worker's traceback)
    assert type(raised.value) is DataError and str(raised.value) == str(sent)
    with pytest.raises(ValueError) as raised:
        on_driver_node(fail_with, ValueError("columns differ"))
    assert type(raised.value) is ValueError and str(raised.value) == "columns differ"


@pytest.mark.timeout(120)
def test_the_work_reserves_no_cpu(ray_local):
    """A head that lends no CPU to tasks (KubeRay's `num-cpus: 0`), or every CPU held by an endpoint: the work
    the driver did itself still runs (a request for a CPU would wait forever)."""
    ray = ray_local
    where, _ = functions()

    @ray.remote
    class Holder:
        def ready(self) -> bool:
            return True

    cpus = int(ray.available_resources().get("CPU", 0))
    holder = Holder.options(num_cpus=cpus).remote()
    try:
        assert ray.get(holder.ready.remote())  # it holds every CPU now
        assert on_driver_node(where)[1] == ray.get_runtime_context().get_node_id()
    finally:
        ray.kill(holder)


def test_a_spec_error_survives_pickling_as_it_was():
    import pickle

    sent = DataError([Problem("data.source", "no such file", value="x.csv"), Problem("data.target", "missing")])
    back = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(sent))))
    assert type(back) is DataError and str(back) == str(sent) and back.problems == sent.problems
