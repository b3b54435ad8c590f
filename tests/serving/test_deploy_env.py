"""The environment mlops starts a serving Ray with: throughput mode, its own ports, a short drain."""
from mlops.serving.deploy import DRAIN_ENV, OWN_PORTS, throughput_env


def test_throughput_env_shortens_the_replica_drain_to_what_the_local_haproxy_needs(monkeypatch):
    monkeypatch.delenv(DRAIN_ENV, raising=False)
    env = throughput_env()
    assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    assert float(env[DRAIN_ENV]) <= 5  # Ray's own default (30 s) made every delete and redeploy wait 30 s


def test_each_cluster_gets_its_own_ports_for_what_serve_binds_at_fixed_defaults():
    """HAProxy's stats and metrics ports and the fallback proxy's (which binds with SO_REUSEPORT: two clusters
    on its default 8500 shared their requests) differ within one cluster and from the next cluster's."""
    first, second = throughput_env(), throughput_env()
    assert set(OWN_PORTS) >= {"RAY_SERVE_FALLBACK_PROXY_HTTP_PORT", "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT"}
    ports = [first[name] for name in OWN_PORTS] + [second[name] for name in OWN_PORTS]
    assert len(set(ports)) == len(ports) and "8500" not in ports and "9500" not in ports


def test_a_drain_period_set_by_the_operator_wins(monkeypatch):
    monkeypatch.setenv(DRAIN_ENV, "45")
    assert throughput_env()[DRAIN_ENV] == "45"


def test_stable_port_never_hands_out_a_port_twice_in_a_process(monkeypatch):
    """A port picked now is bound later: the same free port drawn again must be skipped, not promised twice."""
    import random

    from mlops.cluster.processes import stable_port

    first = stable_port()
    draw, draws = random.randint, iter([first, first])  # the same port, twice; then the real draws
    monkeypatch.setattr(random, "randint", lambda low, high: next(draws, None) or draw(low, high))
    assert stable_port() != first
