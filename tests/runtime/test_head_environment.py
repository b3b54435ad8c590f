"""The persistent local head's environment (which its replicas inherit) is built from a list, never copied
whole: an endpoint's token stays in the shell that deploys it (tests/e2e/test_serving_cli.py reads a live
replica's environment)."""
from __future__ import annotations


def test_the_head_gets_what_ray_and_a_replica_need_and_no_other_secret(monkeypatch):
    from mlops.cluster import local_head

    for name, value in {"EP_TOKEN": "t1", "MLOPS_EP_TOKEN": "t2", "GITHUB_TOKEN": "t3", "DB_PASSWORD": "t4",
                        "RANDOM_SETTING": "x", "PATH": "/usr/bin", "HOME": "/home/u", "LC_ALL": "C.UTF-8",
                        "RAY_AUTH_TOKEN_PATH": "/home/u/.ray/auth_token", "MLOPS_SIGNING_KEY": "k",
                        "MLFLOW_TRACKING_PASSWORD": "p", "AWS_SECRET_ACCESS_KEY": "a", "RAY_ADDRESS": "auto"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(local_head, "local_ray_env", lambda: {"RAY_AUTH_MODE": "token"})
    env = local_head.head_env({"RAY_SERVE_ENABLE_HA_PROXY": "1"}, hidden=["MLOPS_SIGNING_KEY"])
    assert {"PATH", "HOME", "LC_ALL", "RAY_AUTH_TOKEN_PATH", "MLFLOW_TRACKING_PASSWORD", "AWS_SECRET_ACCESS_KEY",
            "RAY_SERVE_ENABLE_HA_PROXY", "RAY_AUTH_MODE"} <= set(env)
    assert not {"EP_TOKEN", "MLOPS_EP_TOKEN", "GITHUB_TOKEN", "DB_PASSWORD", "RANDOM_SETTING", "RAY_ADDRESS"} & set(env)
    assert "MLOPS_SIGNING_KEY" not in env  # hidden by name wins over the list (the spec's token_env)
    assert "MLOPS_SIGNING_KEY" in local_head.head_env({})  # replicas verify signatures: the key is kept
