"""End to end: apply the churn-features example on the shared local Ray; the training rows are the
point-in-time join, the join node is cached by the next apply, and a change of a view's data reruns it."""
from __future__ import annotations

import importlib.util
import os

import pytest

from mlops import api

pytestmark = pytest.mark.slow


def test_apply_churn_features_trains_on_the_joined_rows_and_caches_the_join(ray_local, tracking_uri, example):
    spec = example("churn-features") / "spec.yaml"
    first = api.apply(spec)
    assert first.metrics["roc_auc"] > 0.75, first.metrics  # churn is decided by the features as of label time
    again = api.apply(spec)
    assert again.up_to_date
    activity = spec.parent / "data" / "activity.parquet"
    os.utime(activity, (activity.stat().st_atime, activity.stat().st_mtime + 10))
    actions = api.explain(api.plan(spec))
    assert actions["load"]["action"] == "cached" and actions["join_features"]["action"] == "run"


def test_batch_scoring_joins_the_views_as_of_each_rows_time(ray_local, tracking_uri, example, tmp_path):
    """Rows to score carry only the entity key and their time: the views fill the features exactly as the
    training join would, so batch predictions equal the model's on the offline join of the same rows."""
    import pandas as pd
    from typer.testing import CliRunner

    from mlops.cli import app
    from mlops.feature_store.offline_join import point_in_time_join
    from mlops.feature_store.views import read_views
    from mlops.plan.features import view_params
    from mlops.project import load_project

    spec = example("churn-features") / "spec.yaml"
    api.apply(spec)
    rows = pd.read_csv(spec.parent / "data" / "labels.csv").head(40)[["customer_id", "label_time"]]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = CliRunner().invoke(app, ["predict", str(spec), "--batch", "--input", str(tmp_path / "rows.csv"),
                                   "--output", str(tmp_path / "scored.parquet")])
    assert out.exit_code == 0, out.output
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    project = load_project(spec, [], check_data=False)
    joined = point_in_time_join(rows, "label_time", read_views(view_params(project), spec.parent))
    bundle = api.load_model("churn_features", uri=tracking_uri)
    assert scored["prediction"].tolist() == bundle.predict(joined[bundle.input_columns]).tolist()

    # `mlops check` joins the views the same way: the checked rows carry the model's inputs, and the keys
    # and label times are not "unexpected columns".
    _, checked, result = api.check(spec, [], str(tmp_path / "rows.csv"))
    assert set(bundle.input_columns) <= set(checked.columns)
    assert not [a for a in result.report.anomalies if a.kind in ("missing_column", "unexpected_column")], result.to_dict()

    rows[["customer_id"]].to_csv(tmp_path / "keys.csv", index=False)  # no time: scored as of now
    out = CliRunner().invoke(app, ["predict", str(spec), "--batch", "--input", str(tmp_path / "keys.csv"),
                                   "--output", str(tmp_path / "now.parquet")])
    assert out.exit_code == 0 and len(pd.read_parquet(tmp_path / "now.parquet")) == 40, out.output
    pd.DataFrame({"label_time": rows["label_time"]}).to_csv(tmp_path / "nokey.csv", index=False)
    out = CliRunner().invoke(app, ["predict", str(spec), "--batch", "--input", str(tmp_path / "nokey.csv"),
                                   "--output", str(tmp_path / "x.parquet")])
    assert out.exit_code != 0 and "customer_id" in out.output and "Traceback" not in out.output, out.output


def test_the_endpoint_fills_requests_from_the_online_store(ray_local, tracking_uri, example):
    """serving.online.features_from_store on real Serve over HTTP: a request may send only the entity key;
    values it sends win; stale values (older than the TTL) are missing and take the view's defaults; a key
    no view without defaults can serve is a 404 naming it; the schema shows the store-supplied fields as
    optional; /invocations and /v2 take keys alone too. Deploying before materializing is refused."""
    import httpx
    import pandas as pd
    from ray import serve

    from conftest import SERVE_PORT, wait_ready
    from mlops.errors import SpecError

    spec = example("churn-features") / "online.yaml"
    overrides = [f"serving.online.port={SERVE_PORT}", "serving.online.auth=none"]  # open: no header below
    with pytest.raises(SpecError, match="mlops features materialize SPEC"):  # trains and registers; refuses the deploy
        api.apply(spec, overrides)
    api.materialize_features(spec, overrides)
    try:
        result = api.apply(spec, overrides)  # only the deploy runs now
        assert result.endpoint is not None
        url = f"http://127.0.0.1:{SERVE_PORT}/churn"
        wait_ready(url)
        bundle = api.load_model("churn_features", uri=tracking_uri)

        def model_on(vector: dict) -> dict:
            frame = pd.DataFrame([vector])[bundle.input_columns]
            return {"predictions": bundle.predict(frame).tolist(), "probabilities": bundle.predict_proba(frame).tolist()}

        # The generated events end in June 2026: at "now" customer 12's activity is older than its 30d TTL.
        found = {f.view: f for f in api.online_features(spec, overrides, {"customer_id": 12})}
        assert found["customer_activity"].status == "stale" and found["customer_profile"].status == "ok"
        online = {**found["customer_activity"].values, **found["customer_profile"].values}
        assert online["sessions_7d"] == 0 and online["plan"] == "none"  # the view's defaults, not the stale values

        answer = httpx.post(f"{url}/predict", json={"rows": [{"customer_id": 12}]}, timeout=10).json()
        assert {k: answer[k] for k in ("predictions", "probabilities")} == model_on(online)
        sent = {"sessions_7d": 9, "spend_30d": 420.0, "plan": "pro"}
        answer = httpx.post(f"{url}/predict", json={"rows": [{"customer_id": 12, **sent}]}, timeout=10).json()
        assert {k: answer[k] for k in ("predictions", "probabilities")} == model_on({**online, **sent})

        unknown = httpx.post(f"{url}/predict", json={"rows": [{"customer_id": 12}, {"customer_id": 9999}]}, timeout=10)
        assert unknown.status_code == 404, unknown.text
        (detail,) = unknown.json()["detail"]
        assert detail["field"] == "rows.1.customer_id"
        assert detail["message"].startswith("customer_id=9999: no row in feature view 'customer_profile'")
        # /explain fills the rows from the store as /predict does, and refuses the unknown key the same way
        if importlib.util.find_spec("shap") is not None:
            explained = httpx.post(f"{url}/explain", json={"rows": [{"customer_id": 12}]}, timeout=60)
            assert explained.status_code == 200, explained.text
            (row,) = explained.json()["explanations"]
            assert row["prediction"] == model_on(online)["predictions"][0]
            assert {c["feature"] for c in row["contributions"]} <= set(bundle.input_columns)
            refused = httpx.post(f"{url}/explain", json={"rows": [{"customer_id": 12}, {"customer_id": 9999}]}, timeout=60)
            assert refused.status_code == 404 and refused.json() == unknown.json()

        invocations = httpx.post(f"{url}/invocations", json={"dataframe_records": [{"customer_id": 12}]}, timeout=10)
        assert invocations.json()["predictions"] == model_on(online)["predictions"], invocations.text
        infer = httpx.post(f"{url}/v2/models/churn_features/infer", timeout=10, json={"inputs": [
            {"name": "customer_id", "datatype": "INT64", "shape": [1], "data": [12]}]})
        assert infer.json()["outputs"][0]["data"] == model_on(online)["predictions"], infer.text

        row = httpx.get(f"{url}/openapi.json", timeout=10).json()["components"]["schemas"]["Row"]
        assert not set(row.get("required", [])) & {"sessions_7d", "spend_30d", "plan", "tenure_months"}
        assert "online store supplies it" in row["properties"]["sessions_7d"]["description"]
        assert "customer_id" in row["properties"]
    finally:
        serve.delete("churn_features")


def test_a_partitioned_join_runs_one_ray_task_per_partition_and_gives_the_same_rows(ray_local, example):
    import pandas as pd

    from mlops.feature_store.offline_join import ViewFrame, point_in_time_join
    from mlops.stages.join_features import join_partitions, ray_map

    data = example("churn-features") / "data"
    labels = pd.read_csv(data / "labels.csv")
    activity = pd.read_parquet(data / "activity.parquet")
    view = ViewFrame("customer_activity", activity, "customer_id", "event_time", ["sessions_7d", "spend_30d", "plan"],
                     30 * 86400, {"sessions_7d": 0})
    whole = point_in_time_join(labels, "label_time", [view])
    spread = point_in_time_join(labels, "label_time", [view], 3, ray_map)
    pd.testing.assert_frame_equal(spread, whole)
    assert os.getpid() not in ray_map(lambda _: os.getpid(), range(3))  # ray_map's calls run as Ray tasks
    assert join_partitions("auto", 10**6) == 1  # below AUTO_ROWS
    assert join_partitions("auto", 10**7) == 2 and join_partitions(5, 10) == 5  # the shared Ray has 2 CPUs
