"""The online endpoint's monitoring over real HTTP: outlier scores in answers, feedback, the recent-input
window's drift check exported as Prometheus metrics, /stats, alerts to webhook and log sinks, status."""
from __future__ import annotations

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pandas as pd
import pytest

from conftest import delete_app, EXAMPLES, SERVE_PORT, scrape_metric_names, wait_ready, write_spec
from mlops import api

pytestmark = pytest.mark.slow

_gen = importlib.util.spec_from_file_location("drift_generate", EXAMPLES / "drift" / "generate.py")
generate = importlib.util.module_from_spec(_gen)
_gen.loader.exec_module(generate)
START = pd.Timestamp("2026-01-01")
INPUTS = ["tenure_months", "monthly_charges", "support_calls", "data_gb", "age", "plan"]

SPEC = """
name: churnol
data:
  source: {{type: csv, path: train.csv}}
  target: churned
  id_column: id
  timestamp: ts
model: {{task: classification, type: sklearn, estimator: logistic_regression, metric: roc_auc}}
validation:
  drift: {{detector: tabular, p_val: 0.05}}
  outliers: {{detector: iforest, threshold_percentile: 99}}
serving:
  mode: online
  online: {{route: /churnol, port: {port}, replicas: {{fixed: 1}}, batching: {{max_batch_size: 64, wait_ms: 2}}, auth: none}}
monitoring:
  alerts:
    - {{metric: error_rate, above: 0.01, window: 5m}}
    - {{metric: latency_p99_ms, above: 60000, window: 5m}}
    - {{metric: drift_share, above: 0.25}}
    - {{metric: outlier_rate, above: 0.5, window: 1h}}
  sink: {{type: webhook, url: "{webhook}"}}
  drift_window_rows: 300
  drift_every_s: 1
tracking: {{uri: "{uri}"}}
"""


class Webhook:
    """A tiny HTTP server on loopback that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def rows(n: int, seed: int, shifted: bool) -> list[dict]:
    return generate.make_rows(n, seed, shifted, 0, START)[INPUTS].to_dict(orient="records")


@pytest.fixture(scope="module")
def endpoint(ray_local, tmp_path_factory):
    root = tmp_path_factory.mktemp("online") / "churnol"
    root.mkdir()
    generate.make_rows(1500, 0, False, 0, START).to_csv(root / "train.csv", index=False)
    hook = Webhook()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    spec = write_spec(root, SPEC.format(port=SERVE_PORT, webhook=hook.url, uri=uri))
    result = api.apply(spec)
    url = f"http://127.0.0.1:{SERVE_PORT}/churnol"
    wait_ready(url)
    yield {"url": url, "spec": spec, "hook": hook, "uri": uri, "version": result.version}
    delete_app("churnol")
    hook.server.shutdown()


def test_answers_carry_outlier_scores_and_flags(endpoint):
    normal = rows(20, 1, False)
    extreme = [{**normal[0], "monthly_charges": 5000.0, "tenure_months": 900.0, "data_gb": 10_000.0}]
    body = httpx.post(f"{endpoint['url']}/predict", json={"rows": normal + extreme}, timeout=10).json()
    assert len(body["outlier_scores"]) == 21 and body["outliers"][-1] is True
    assert sum(body["outliers"][:-1]) <= 2  # ~1% of normal rows


def test_feedback_endpoint_stores_labels_and_names_bad_fields(endpoint):
    from mlops.serving.traffic_log import monitoring_dir, read_feedback

    answer = httpx.post(f"{endpoint['url']}/predict", json={"rows": rows(3, 2, False)}, timeout=10).json()
    labels = [{"request_id": answer["request_id"], "row": i, "label": 1} for i in range(3)]
    stored = httpx.post(f"{endpoint['url']}/feedback", json={"labels": labels}, timeout=10)
    assert stored.status_code == 200 and stored.json() == {"stored": 3}
    feedback = read_feedback(monitoring_dir(endpoint["spec"].parent, "churnol"))
    assert set(feedback["key"]) == {answer["request_id"]} and sorted(feedback["row"]) == [0, 1, 2]
    # The labels join the served rows by request id: they are the labelled data metric_drop scores.
    from mlops.monitoring.trigger_evidence import labelled_rows
    from mlops.project import load_project

    champion = api.load_model("churnol", uri=endpoint["uri"])
    joined = labelled_rows(load_project(endpoint["spec"]), pd.DataFrame(), champion)
    mine = joined.tail(3)
    assert list(mine["churned"]) == [1, 1, 1]
    sent = pd.DataFrame(rows(3, 2, False))
    assert list(mine["monthly_charges"]) == list(sent["monthly_charges"])
    bad = httpx.post(f"{endpoint['url']}/feedback", json={"labels": [{"request_id": "x", "lable": 1}]}, timeout=10)
    assert bad.status_code == 422
    assert {d["field"] for d in bad.json()["detail"]} == {"labels.0.label", "labels.0.lable"}
    # A label the model could never predict (not one of its classes, or NaN) would poison metric_drop.
    for wrong in ("yes", 7, "NaN"):
        body = '{"labels": [{"request_id": "x", "label": 1}, {"request_id": "y", "label": %s}]}' % (
            wrong if wrong == "NaN" else json.dumps(wrong))
        refused = httpx.post(f"{endpoint['url']}/feedback", content=body, headers={"content-type": "application/json"},
                             timeout=10)
        assert refused.status_code == 422, (wrong, refused.text)
        assert [d["field"] for d in refused.json()["detail"]] == ["labels.1.label"], refused.text


def test_window_drift_is_exported_and_alerts_reach_the_webhook_and_the_log(endpoint, tmp_path):

    url = endpoint["url"]
    for seed in range(4):  # 400 shifted rows fill the 300-row window
        assert httpx.post(f"{url}/predict", json={"rows": rows(100, 10 + seed, True)}, timeout=10).status_code == 200
    for _ in range(3):  # errors: 422s count against the error rate
        httpx.post(f"{url}/predict", json={"rows": [{"plan": "basic"}]}, timeout=10)
    deadline, stats = time.time() + 60, {}
    while time.time() < deadline:
        stats = httpx.get(f"{url}/stats", params={"window_s": 300}, timeout=10).json()
        if (stats.get("drift") or {}).get("drift_share"):
            break
        httpx.post(f"{url}/predict", json={"rows": rows(10, 99, True)}, timeout=10)  # a delta wakes the monitor
        time.sleep(1)
    assert stats["drift"]["drift_share"] >= 2 / 6 and "monthly_charges" in stats["drift"]["drifted_features"]
    assert stats["errors"]["validation"] >= 3 and 0 < stats["error_rate"] < 0.75  # + the feedback test's 422s
    assert stats["latency_p50_ms"] > 0 and stats["version"] == endpoint["version"]
    wanted = {"ray_mlops_drift_share", "ray_mlops_drift_detected", "ray_mlops_window_error_rate",
              "ray_mlops_window_latency_p99_ms", "ray_mlops_window_outlier_rate"}
    found = scrape_metric_names("churnol", wanted)
    assert wanted <= found, found

    dry = api.monitor(endpoint["spec"], retrain=False)  # --dry-run: judged, not delivered
    assert {r.metric for r in dry.alerts.results if r.fired} == {"error_rate", "drift_share"}
    assert endpoint["hook"].received == [] and "dry run" in dry.alerts.note

    outcome = api.monitor(endpoint["spec"])
    fired = {r.metric: r.fired for r in outcome.alerts.results}
    assert fired == {"error_rate": True, "latency_p99_ms": False, "drift_share": True, "outlier_rate": False}
    assert {e["metric"] for e in endpoint["hook"].received} == {"error_rate", "drift_share"}
    assert all(e["model"] == "churnol" and e["kind"] == "mlops.alert" for e in endpoint["hook"].received)

    log = tmp_path / "alerts.jsonl"
    outcome = api.monitor(endpoint["spec"], ["monitoring.sink.type=log", "~monitoring.sink.url", f"+monitoring.sink.path={log}"])
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {e["metric"] for e in lines} == {"error_rate", "drift_share"} and not outcome.alerts.problems


def test_unreachable_webhook_is_reported_not_raised(endpoint):
    outcome = api.monitor(endpoint["spec"], ["monitoring.sink.url=http://127.0.0.1:9/nowhere"])
    assert outcome.alerts.problems and "unreachable" in outcome.alerts.problems[0]


def test_status_shows_version_traffic_latency_drift_and_outliers(endpoint):
    from typer.testing import CliRunner

    from mlops.cli import app

    result = CliRunner().invoke(app, ["status", "churnol"], terminal_width=240)
    assert result.exit_code == 0, result.output
    assert "health (last 5 min)" in result.output and "churnol" in result.output
    row = next(r for r in api.endpoint_status("churnol", uri=endpoint["uri"]) if r["deployment"] == "endpoint")
    assert row["stats"]["requests"] > 0 and row["stats"]["drift"]["drift_share"] > 0
    assert row["stats"]["outlier_rate"] is not None and row["champion"] == endpoint["version"]


@pytest.mark.reliability
def test_unseen_and_hostile_categories_are_answered_never_a_5xx(endpoint):
    """Categories never seen in training (and hostile ones: empty, 10k characters, emoji, a number in a
    category column): the encoder ignores them, so each is answered as the registered model answers it
    in-process; nothing becomes a 5xx, and a value of the wrong type is a 422 naming its field."""
    base = rows(1, 5, False)[0]
    unseen = ["enterprise-plus", "", "x" * 10_000, "🙂 unicode plan", "PREMIUM", " basic"]
    bundle = api.load_model("churnol", uri=endpoint["uri"])
    for value in unseen:
        row = {**base, "plan": value}
        answer = httpx.post(f"{endpoint['url']}/predict", json={"rows": [row]}, timeout=30)
        assert answer.status_code == 200, (value[:20], answer.text[:300])
        local = bundle.predict(pd.DataFrame([row])[bundle.input_columns]).tolist()
        assert answer.json()["predictions"] == local
    for wrong in ([1, 2], {"a": 1}):
        answer = httpx.post(f"{endpoint['url']}/predict", json={"rows": [{**base, "plan": wrong}]}, timeout=30)
        assert answer.status_code == 422 and "rows.0.plan" in answer.text, answer.text[:300]
    number = httpx.post(f"{endpoint['url']}/predict", json={"rows": [{**base, "plan": 7}]}, timeout=30)
    assert number.status_code in (200, 422) and number.status_code < 500, number.text[:300]
