"""With a cluster (hardware.cluster an address or `auto`, as the cluster_cpu/cluster_gpu presets set it), every
node must reach the data and the tracking store: relative paths and a SQLite store are refused when the spec
is loaded, each at its field with the fix. On one machine nothing changes."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import write_spec
from mlops import api
from mlops.errors import SpecError

SPEC = """
name: reach
data: {{source: {{type: csv, path: {data}}}, target: target}}
model: {{task: classification, type: sklearn, estimator: logistic_regression}}
retraining:
  data: {{source: {{type: csv, path: "{new}"}}}}
  triggers: [{{on: new_data, min_rows: 10}}]
serving:
  batch: {{input: {batch}, output: out/scored.parquet}}
tracking: {{uri: "{uri}"}}
"""


def project_dir(tmp_path, data="data/rows.csv", new="data/new/*.csv", batch="data/rows.csv",
                uri="sqlite:///.mlops/mlflow.db"):
    (tmp_path / "data" / "new").mkdir(parents=True)
    rows = pd.DataFrame({"x": [0.1, 0.9, 0.2, 0.8, 0.3, 0.7], "target": [0, 1, 0, 1, 0, 1]})
    rows.to_csv(tmp_path / "data" / "rows.csv", index=False)
    rows.to_csv(tmp_path / "data" / "new" / "1.csv", index=False)
    return write_spec(tmp_path, SPEC.format(data=data, new=new, batch=batch, uri=uri))


def refused(spec, *overrides) -> dict[str, str]:
    with pytest.raises(SpecError) as raised:
        api.load(spec, list(overrides), check_data=False)
    return {p.path: p.render() for p in raised.value.problems}


@pytest.mark.parametrize("cluster", ["hardware.cluster=auto", "hardware.cluster=10.0.0.5:6379", "hardware=cluster_cpu",
                                     "hardware=cluster_gpu"])
def test_relative_paths_and_sqlite_are_refused_with_a_cluster(tmp_path, cluster):
    problems = refused(project_dir(tmp_path), cluster)
    assert sorted(problems) == ["data.source.path", "retraining.data.source.path", "serving.batch.input", "tracking.uri"]
    assert "every node must reach the data" in problems["data.source.path"]
    assert "absolute path on storage every node mounts" in problems["data.source.path"]
    assert "s3://" in problems["data.source.path"] and "sql source" in problems["data.source.path"]
    assert "SQLite store is a file on one machine" in problems["tracking.uri"]
    assert "mlflow server" in problems["tracking.uri"] and "http://" in problems["tracking.uri"]


def test_a_relative_file_url_is_as_relative_as_a_path(tmp_path):
    problems = refused(project_dir(tmp_path, data="file://data/rows.csv", uri="http://mlflow.internal:5000"),
                       "hardware=cluster_cpu")
    assert sorted(problems) == ["data.source.path", "retraining.data.source.path", "serving.batch.input"]


def test_shared_paths_urls_and_a_tracking_server_pass_with_a_cluster(tmp_path):
    spec = project_dir(tmp_path, data=str(tmp_path / "data" / "rows.csv"), new="s3://bucket/new/*.csv",
                       batch=f"file://{tmp_path}/data/rows.csv", uri="http://mlflow.internal:5000")
    project = api.load(spec, ["hardware=cluster_cpu"], check_data=False)
    assert project.spec.hardware.cluster == "auto"


def test_one_machine_keeps_relative_paths_and_sqlite(tmp_path):
    project = api.load(project_dir(tmp_path), ["retraining.data.source.path=data/new/1.csv"])
    assert project.spec.hardware.cluster == "local" and project.data_probe.columns == ["x", "target"]


def test_storage_must_be_shared_with_a_cluster(tmp_path):
    spec = project_dir(tmp_path, data=str(tmp_path / "data" / "rows.csv"), new="s3://bucket/new/*.csv",
                       batch=f"file://{tmp_path}/data/rows.csv", uri="http://mlflow.internal:5000")
    problems = refused(spec, "hardware=cluster_cpu", "hardware.storage=.mlops/shared")
    assert list(problems) == ["hardware.storage"]
    assert "every node writes Tune results and checkpoints" in problems["hardware.storage"]
    assert "/mnt/shared/mlops" in problems["hardware.storage"] and "s3://" in problems["hardware.storage"]
    for shared in ("/mnt/shared/mlops", "s3://bucket/mlops", "file:///mnt/shared/mlops"):
        assert api.load(spec, ["hardware=cluster_cpu", f"hardware.storage={shared}"], check_data=False)
    # A torch model's workers write checkpoints: on a cluster it needs shared storage (or its own checkpoint_dir).
    torch = ["hardware=cluster_cpu", "model.type=torch", "~model.estimator"]
    assert "Ray Train workers write checkpoints" in refused(spec, *torch)["hardware.storage"]
    assert api.load(spec, [*torch, "hardware.storage=s3://bucket/mlops"], check_data=False)


def test_where_ray_keeps_its_files():
    from mlops.plan.storage import storage_location

    assert storage_location(None, "/proj", "tune") == "/proj/.mlops/tune"
    assert storage_location("shared/runs", "/proj", "tune") == "/proj/shared/runs/tune"
    assert storage_location("/mnt/shared/", "/proj", "ray_train") == "/mnt/shared/ray_train"
    assert storage_location("file:///mnt/shared", "/proj", "tune") == "/mnt/shared/tune"
    assert storage_location("s3://bucket/mlops/", "/proj", "tune") == "s3://bucket/mlops/tune"
    assert storage_location("gs://bucket", "/proj") == "gs://bucket"
    assert storage_location("s3://bucket/BOX//", "/proj", "tune") == "s3://bucket/BOX/tune"  # only slashes go
