"""Secrets stay out of what mlops writes: the spec logged to MLflow, alert messages, and URLs in both."""
from __future__ import annotations

from mlops.redact import redact, redact_text, redact_url


def test_urls_lose_credentials_and_query_strings():
    assert redact_url("https://user:s3cret@hooks.example/path?token=abc") == "https://***@hooks.example/path?***"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert redact_url("not a url") == "not a url"


def test_secrets_in_a_url_path_are_hidden_but_ordinary_paths_stay():
    # known webhook services: the path after the service's own prefix is the credential
    assert redact_url("https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX") == \
        "https://hooks.slack.com/services/***"
    assert redact_url("https://discord.com/api/webhooks/1234/abcDEF-ghi_JKL") == "https://discord.com/api/webhooks/***"
    assert redact_url("https://acme.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d") == \
        "https://acme.webhook.office.com/webhookb2/***"
    assert redact_url("https://api.telegram.org/bot123:AAH/sendMessage") == "https://api.telegram.org/***"
    # any web URL of a webhook/sink/url key: long opaque segments (tokens, UUIDs) go, words and file names stay
    hook = "https://alerts.example/v1/hooks/9f8e7d6c5b4a39281706f5e4/notify"
    assert redact_url(hook, path_secrets=True) == "https://alerts.example/v1/hooks/***/notify"
    assert redact_url(hook) == hook  # not known to be a webhook: only credentials and queries go
    uuid = "https://alerts.example/in/0b6f2c1e-4a7d-4c1b-9f3e-2d8a7c6b5e4f"
    assert redact_url(uuid, path_secrets=True) == "https://alerts.example/in/***"
    for ordinary in ("https://data.example/files/2024-01-15_sales_v2.csv", "https://alerts.example/hooks/team-alerts",
                     "sqlite:////abs/path/9f8e7d6c5b4a39281706f5e4/mlflow.db", "file:///srv/models/9f8e7d6c5b4a39281706f5e4"):
        assert redact_url(ordinary, path_secrets=True) == ordinary
    # keyed trees: a sink's url is judged as a webhook, a tracking URI keeps its path
    assert redact({"sink": {"url": hook}, "tracking_uri": "https://u:pw@mlflow.example/9f8e7d6c5b4a39281706f5e4"}) == \
        {"sink": {"url": "https://alerts.example/v1/hooks/***/notify"},
         "tracking_uri": "https://***@mlflow.example/9f8e7d6c5b4a39281706f5e4"}
    assert redact({"overrides": ["monitoring.sink.url='https://hooks.slack.com/services/T/B/S'", "+db.password=x"]}) == \
        {"overrides": ["monitoring.sink.url='https://hooks.slack.com/services/***'", "+db.password=***"]}
    assert redact({"tokenizer": "bpe", "max_tokens": 5, "authToken": "t"}) == {"tokenizer": "bpe", "max_tokens": 5, "authToken": "***"}
    assert redact_text("POST https://u:pw@h.example/x?k=1, then http://h/y.") == "POST https://***@h.example/x?***, then http://h/y."


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


def test_overrides_logged_with_a_run_hide_secret_values():
    from mlops.redact import redact_override

    assert redact_override("monitoring.sink.url=https://h/x?token=1") == "monitoring.sink.url=https://h/x?***"
    assert redact_override("+db.password=hunter2") == "+db.password=***"
    assert redact_override("model.params.max_depth=3") == "model.params.max_depth=3"
