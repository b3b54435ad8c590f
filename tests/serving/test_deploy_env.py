"""The environment mlops starts a serving Ray with: throughput mode, free HAProxy ports, a short drain."""
from mlops.serving.deploy import DRAIN_ENV, throughput_env


def test_throughput_env_shortens_the_replica_drain_to_what_the_local_haproxy_needs(monkeypatch):
    monkeypatch.delenv(DRAIN_ENV, raising=False)
    env = throughput_env()
    assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    assert float(env[DRAIN_ENV]) <= 5  # Ray's own default (30 s) made every delete and redeploy wait 30 s
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] != env["RAY_SERVE_HAPROXY_METRICS_PORT"]


def test_a_drain_period_set_by_the_operator_wins(monkeypatch):
    monkeypatch.setenv(DRAIN_ENV, "45")
    assert throughput_env()[DRAIN_ENV] == "45"
