"""The feature store's plan data, pinned (benchmarks/mutation.py found no test reading these keys): the
join node's params, each view as the join and the endpoint read it, and where the online store lives."""
from __future__ import annotations

from pathlib import Path

from mlops import api
from mlops.plan.features import DEFAULT_ONLINE_STORE, online_store_path, serving_views


def churn(example):
    return api.load(example("churn-features") / "spec.yaml", check_data=False)


def test_the_join_node_carries_each_view_as_the_join_reads_it(example, monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    project = churn(example)
    from mlops.plan import compile_plan

    join = compile_plan(project).node("join_features")
    assert (join.kind, join.inputs, join.resources) == ("join_features", {"loaded": "load"}, {"CPU": 1.0})
    assert join.params["timestamp"] == "label_time" and join.params["entity_keys"] == ["customer_id"]
    assert set(join.params["code"]) and join.runtime["base_dir"] == str(Path(project.base_dir).resolve())
    activity, profile = join.params["views"]
    assert activity["name"] == "customer_activity" and activity["entity"] == "customer" and activity["key"] == "customer_id"
    assert activity["timestamp"] == "event_time" and activity["ttl_s"] == 30 * 86400
    assert activity["features"] == ["sessions_7d", "spend_30d", "plan"]
    assert activity["defaults"] == {"sessions_7d": 0, "spend_30d": 0.0, "plan": "none"}
    assert activity["source"]["type"] == "parquet" and activity["field"] == "features.views.0"
    assert profile["ttl_s"] is None and profile["defaults"] == {} and profile["field"] == "features.views.1"


def test_the_endpoint_gets_what_it_fills_requests_with_and_no_sources(example):
    views = serving_views(churn(example).spec)
    assert views[0] == {"name": "customer_activity", "key": "customer_id", "features": ["sessions_7d", "spend_30d", "plan"],
                        "ttl_s": 30 * 86400, "defaults": {"sessions_7d": 0, "spend_30d": 0.0, "plan": "none"}}
    assert views[1]["name"] == "customer_profile" and views[1]["ttl_s"] is None


def test_the_online_store_is_beside_the_spec_unless_the_spec_says_where(example, tmp_path):
    project = churn(example)
    assert online_store_path(project) == (Path(project.base_dir) / DEFAULT_ONLINE_STORE).resolve()
    assert DEFAULT_ONLINE_STORE == ".mlops/feature_store.db"
    project.spec.features.online_store = "stores/online.db"
    assert online_store_path(project) == (Path(project.base_dir) / "stores" / "online.db").resolve()
    project.spec.features.online_store = str(tmp_path / "abs.db")
    assert online_store_path(project) == (tmp_path / "abs.db").resolve()


def test_a_views_data_is_in_the_join_nodes_hash_and_partitions_only_in_how_it_runs(example, monkeypatch, tmp_path):
    """Editing a view's file changes the join node (its fingerprint is a parameter), so the cache reruns it;
    features.join_partitions says how the join runs (runtime), not what it returns."""
    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    from mlops.plan import compile_plan

    project = churn(example)
    before = compile_plan(project).node("join_features")
    assert before.runtime["partitions"] == "auto"
    profiles = Path(project.base_dir) / "data" / "profiles.csv"
    fingerprints = [view["fingerprint"] for view in before.params["views"]]
    assert all(isinstance(f, str) and f for f in fingerprints)
    profiles.write_text(profiles.read_text() + profiles.read_text().splitlines()[1] + "\n")  # one more row
    after = compile_plan(api.load(Path(project.base_dir) / "spec.yaml", check_data=False)).node("join_features")
    assert after.params["views"][1]["fingerprint"] != fingerprints[1] and after.hash != before.hash
    assert after.params["views"][0]["fingerprint"] == fingerprints[0]
    project = api.load(Path(project.base_dir) / "spec.yaml", ["features.join_partitions=3"], check_data=False)
    three = compile_plan(project).node("join_features")
    assert three.runtime["partitions"] == 3 and three.hash == after.hash
