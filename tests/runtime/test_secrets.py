"""Secrets stay out of what mlops writes: the spec logged to MLflow, alert messages, and uploads."""
from __future__ import annotations

from mlops.redact import redact, redact_url


def test_urls_lose_credentials_and_query_strings():
    assert redact_url("https://user:s3cret@hooks.example/path?token=abc") == "https://***@hooks.example/path?***"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert redact_url("not a url") == "not a url"


def test_the_logged_spec_hides_secret_values_but_not_variable_names(tmp_path, monkeypatch):
    from mlops import api

    monkeypatch.setenv("HOOK", "https://hooks.example/x?key=abc123")
    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "spec.yaml").write_text(
        "name: s\ndata: {source: {type: sklearn, name: iris}, target: target}\n"
        "model: {task: classification, type: sklearn, estimator: knn}\n"
        "serving: {mode: online, online: {auth: {token_env: API_TOKEN}}}\n"
        "monitoring: {alerts: [{metric: error_rate, above: 0.1}], sink: {type: webhook, url: '${oc.env:HOOK}'}}\n"
        "tracking: {uri: '${oc.env:MLOPS_TRACKING_URI}'}\n")
    text = api.load(tmp_path / "spec.yaml").resolved_yaml()
    assert "abc123" not in text and "https://hooks.example/x?***" in text
    assert "token_env: API_TOKEN" in text  # a variable's name is no secret
    assert redact({"password": "p", "nested": {"api_key": "k", "ok": "v"}}) == {"password": "***",
                                                                                 "nested": {"api_key": "***", "ok": "v"}}


def test_upload_never_ships_environments_keys_or_dotenv():
    from mlops.runtime.submit import UPLOAD_EXCLUDES

    for pattern in (".env", "*.pem", "*.key", ".venv/", ".git/", ".mlops/"):
        assert pattern in UPLOAD_EXCLUDES


def test_overrides_logged_with_a_run_hide_secret_values():
    from mlops.redact import redact_override

    assert redact_override("monitoring.sink.url=https://h/x?token=1") == "monitoring.sink.url=https://h/x?***"
    assert redact_override("+db.password=hunter2") == "+db.password=***"
    assert redact_override("model.params.max_depth=3") == "model.params.max_depth=3"
