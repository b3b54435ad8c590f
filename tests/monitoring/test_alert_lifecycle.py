"""Alertmanager semantics of `monitoring.alerts`: fire once per breach, `resolved` on recovery, re-send every
`repeat_every`, state shared across calls through the file beside the node cache. Real log files and a real
webhook server on loopback; the endpoint's /stats is replaced by hand-made numbers (no Ray), the clock by `now`."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import write_spec
from mlops import api
from mlops.monitoring.alerts import STATE_KIND, check_alerts, send_event
from mlops.monitoring.state_files import state_path

SPEC = """
name: shop
data: {{source: {{type: sklearn, name: iris}}, target: target}}
model: {{task: classification, type: sklearn, estimator: logistic_regression}}
serving: {{mode: online}}
monitoring:
  alerts:
    - {{metric: error_rate, above: 0.05, window: 5m}}
    - {{metric: replica_cpu_percent, above: 90, repeat_every: 10m}}
  sink: {sink}
tracking: {{uri: "${{oc.env:MLOPS_TRACKING_URI}}"}}
"""


class Webhook:
    """A loopback HTTP server keeping every JSON body POSTed to it; answers `status`."""

    def __init__(self, status: int = 204) -> None:
        received = self.received = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/team"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def project(tmp_path, sink: str):
    return api.load(write_spec(tmp_path, SPEC.format(sink=sink)), check_data=False)


def stats(error_rate=None, cpu=None):
    """What the endpoint's /stats would answer (None: no traffic / no sample)."""
    return lambda window: {"error_rate": error_rate, "version": "3",
                           "infra": {} if cpu is None else {"replica_cpu_percent": cpu}}


def events(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_fires_once_per_breach_then_resolves(tmp_path, tracking_uri):
    log = tmp_path / "alerts.jsonl"
    shop = project(tmp_path, "{type: log, path: alerts.jsonl}")
    first = check_alerts(shop, stats=stats(error_rate=0.2), now=1000)
    assert [(e.metric, e.status) for e in first.events] == [("error_rate", "firing")]
    assert check_alerts(shop, stats=stats(error_rate=0.3), now=1060).events == []  # still firing: told once
    assert check_alerts(shop, stats=stats(error_rate=None), now=1120).events == []  # no traffic: not a recovery
    resolved = check_alerts(shop, stats=stats(error_rate=0.01), now=1180).events
    assert [(e.metric, e.status, e.since) for e in resolved] == [("error_rate", "resolved", 1000)]
    again = check_alerts(shop, stats=stats(error_rate=0.5), now=1240).events  # a new breach fires again
    assert [(e.status, e.since) for e in again] == [("firing", 1240)]
    lines = events(log)
    assert [(e["status"], e["at"]) for e in lines] == [("firing", 1000), ("resolved", 1180), ("firing", 1240)]
    assert all(e["kind"] == "mlops.alert" and e["model"] == "shop" and e["version"] == "3" for e in lines)
    assert "resolved: error_rate=0.01" in lines[1]["message"]


def test_repeat_every_resends_a_breach_that_keeps_firing(tmp_path, tracking_uri):
    shop = project(tmp_path, "{type: log, path: alerts.jsonl}")
    sent = [check_alerts(shop, stats=stats(cpu=97.0), now=t).events for t in (0, 300, 599, 601, 900, 1202)]
    assert [[(e.metric, e.repeat) for e in batch] for batch in sent] == [
        [("replica_cpu_percent", False)], [], [], [("replica_cpu_percent", True)], [], [("replica_cpu_percent", True)]]
    assert all(e.since == 0 for batch in sent for e in batch)
    assert "the latest replica samples" in sent[0][0].message


def test_monitoring_repeat_every_is_the_default_of_each_alert(tmp_path, tracking_uri):
    text = SPEC.format(sink="{type: log}").replace("  sink:", "  repeat_every: 1m\n  sink:")
    shop = api.load(write_spec(tmp_path, text), check_data=False)
    assert [len(check_alerts(shop, stats=stats(error_rate=0.2, cpu=95), now=t).events) for t in (0, 30, 61)] == [2, 0, 1]


def test_state_is_shared_across_loads_in_a_file_beside_the_node_cache(tmp_path, tracking_uri):
    first = project(tmp_path, "{type: log, path: alerts.jsonl}")
    assert len(check_alerts(first, stats=stats(error_rate=0.2), now=10).events) == 1
    path = state_path(tracking_uri, tmp_path, STATE_KIND, "shop")
    assert path.parent == tmp_path / STATE_KIND and path.exists()  # beside node-cache/ of the SQLite store
    restarted = project(tmp_path, "{type: log, path: alerts.jsonl}")  # another process: a CLI run, the controller
    assert check_alerts(restarted, stats=stats(error_rate=0.2), now=20).events == []
    assert [e.status for e in check_alerts(restarted, stats=stats(error_rate=0.0), now=30).events] == ["resolved"]


def test_a_dry_run_changes_nothing(tmp_path, tracking_uri):
    shop = project(tmp_path, "{type: log, path: alerts.jsonl}")
    dry = check_alerts(shop, deliver=False, stats=stats(error_rate=0.2), now=10)
    assert len(dry.events) == 1 and "dry run" in dry.note and not (tmp_path / "alerts.jsonl").exists()
    assert len(check_alerts(shop, stats=stats(error_rate=0.2), now=20).events) == 1


def test_webhook_gets_firing_and_resolved_and_a_failed_delivery_is_retried(tmp_path, tracking_uri, webhook):
    shop = project(tmp_path, f"{{type: webhook, url: '{webhook.url}'}}")
    webhook.status = 500
    failed = check_alerts(shop, stats=stats(error_rate=0.2), now=10)
    assert failed.events == [] and "answered 500" in failed.problems[0] and "/hooks/team" in failed.problems[0]
    webhook.status = 204
    assert len(check_alerts(shop, stats=stats(error_rate=0.2), now=20).events) == 1  # not told yet: sent now
    check_alerts(shop, stats=stats(error_rate=0.2), now=30)
    check_alerts(shop, stats=stats(error_rate=0.0), now=40)
    assert [(e["status"], e["at"]) for e in webhook.received] == [("firing", 10), ("firing", 20), ("resolved", 40)]


def test_a_new_sink_is_told_about_what_is_already_firing(tmp_path, tracking_uri, webhook):
    assert len(check_alerts(project(tmp_path, "{type: log}"), stats=stats(error_rate=0.2), now=10).events) == 1
    hooked = project(tmp_path, f"{{type: webhook, url: '{webhook.url}'}}")
    assert len(check_alerts(hooked, stats=stats(error_rate=0.2), now=20).events) == 1
    assert [e["metric"] for e in webhook.received] == ["error_rate"]


def test_send_event_goes_to_the_same_sinks_without_secrets(tmp_path, tracking_uri, webhook):
    shop = project(tmp_path, "{type: log, path: events/sink.jsonl}")
    assert send_event(shop.spec.monitoring.sink, shop.base_dir, "mlops.rollout.step", "shop", "canary at 25%",
                      step=25, version="4", api_token="s3cret", source="https://u:pw@example.com/x?key=1") == []
    hooked = project(tmp_path, f"{{type: webhook, url: '{webhook.url}'}}")
    assert send_event(hooked.spec.monitoring.sink, hooked.base_dir, "mlops.rollout.rollback", "shop",
                      "rolled back: error_rate 0.2 above 0.05", version="4", to="3") == []
    (logged,) = events(tmp_path / "events" / "sink.jsonl")
    assert logged["kind"] == "mlops.rollout.step" and logged["step"] == 25 and logged["message"] == "canary at 25%"
    assert "s3cret" not in json.dumps(logged) and "pw" not in logged["source"]
    assert webhook.received[0]["kind"] == "mlops.rollout.rollback" and webhook.received[0]["to"] == "3"
    webhook.close()
    problems = send_event(hooked.spec.monitoring.sink, hooked.base_dir, "mlops.retrain", "shop", "retrained")
    assert problems and "unreachable for the mlops.retrain event" in problems[0]
