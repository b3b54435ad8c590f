"""The sql source on a real PostgreSQL (the session's `postgres` fixture in tests/conftest.py): a table, or a
query with bound parameters, as training data, feature view, retraining data and batch input. The password
comes from the environment through ${oc.env:...} and never shows in a message, a log, the plan or MLflow;
every failure is one error naming the field, with the database's own words."""
from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES, free_port, write_spec
from mlops import api
from mlops.errors import SpecError
from mlops.stages.load import read_source

PASSWORD = "MLOPS_TEST_PG_PASSWORD"
FROM_ENV = "${oc.env:%s}" % PASSWORD


def url(db: dict, password: str = FROM_ENV, port: int | None = None, driver: str = "psycopg") -> str:
    """The test database's URL; its password from the environment unless given."""
    return f"postgresql+{driver}://{db['user']}:{password}@{db['host']}:{port or db['port']}/{db['database']}"


@pytest.fixture(scope="module")
def database(postgres):
    """Tables `iris` (with id and species) and `profiles` (a feature view's rows) in the session's database."""
    import pandas as pd
    import sqlalchemy

    from mlops.sources.loaders import load_sklearn
    from mlops.spec.sources import SklearnSource

    iris = load_sklearn(SklearnSource(name="iris"), None)
    iris.insert(0, "id", range(len(iris)))
    iris["species"] = iris["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    profiles = pd.DataFrame({"site": [1, 1, 2], "updated_at": pd.to_datetime(["2026-01-01", "2026-03-01", "2026-01-01"]),
                             "altitude": [100.0, 150.0, 900.0]})
    engine = sqlalchemy.create_engine(url(postgres, postgres["password"]))
    with engine.begin() as connection:
        iris.to_sql("iris", connection, index=False, if_exists="replace")
        profiles.to_sql("profiles", connection, index=False, if_exists="replace")
    engine.dispose()
    return postgres


@pytest.fixture
def db(database, monkeypatch):
    """The database, with its password in the environment variable the specs interpolate."""
    monkeypatch.setenv(PASSWORD, database["password"])
    return database


def iris_spec(directory, source: str, extra: str = "", name: str = "spec.yaml"):
    """A small classification spec reading `source` (a YAML flow mapping)."""
    return write_spec(directory, f"""
name: iris_sql
data:
  source: {source}
  target: target
  id_column: id
  split: {{method: stratified, test_size: 0.3, seed: 0}}
features:
  drop: [species]
model:
  task: classification
  type: sklearn
  estimator: logistic_regression
  params: {{C: 1.0}}
tracking: {{uri: "sqlite:///{directory}/mlflow.db"}}
{extra}""", name)


def table_source(db: dict, table: str = "iris") -> str:
    return f'{{type: sql, url: "{url(db)}", table: {table}}}'


def test_a_table_and_a_query_with_bound_parameters(db):
    whole = read_source({"type": "sql", "url": url(db, db["password"]), "table": "iris"}, ".")
    assert len(whole) == 150 and {"id", "target", "species", "petal_width_cm"} <= set(whole.columns)
    query = "SELECT * FROM iris WHERE species = :species AND sepal_length_cm > :longer ORDER BY id"
    some = read_source({"type": "sql", "url": url(db, db["password"]), "query": query,
                        "params": {"species": "versicolor", "longer": 6.0}}, ".")
    assert len(some) > 0 and set(some["species"]) == {"versicolor"} and some["sepal_length_cm"].min() > 6.0
    # A value is bound, never formatted into the SQL: a quote in it is just a character.
    sneaky = read_source({"type": "sql", "url": url(db, db["password"]), "query": query,
                          "params": {"species": "x' OR 'a'='a", "longer": 0}}, ".")
    assert len(sneaky) == 0


def test_the_rows_decide_what_reruns_and_a_new_password_reruns_nothing(db, tmp_path, monkeypatch):
    import sqlalchemy

    engine = sqlalchemy.create_engine(url(db, db["password"]))
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS iris_copy; CREATE TABLE iris_copy AS SELECT * FROM iris")
    engine.dispose()
    spec = iris_spec(tmp_path, table_source(db, "iris_copy"))
    first = api.validate(spec).data_probe
    assert first.rows == 150 and "target" in first.columns
    load = api.plan(spec).node("load")
    assert load.params["fingerprint"] == first.fingerprint
    rotated = "rotated-" + db["password"][::-1]
    _set_password(db, db["password"], rotated)
    try:
        monkeypatch.setenv(PASSWORD, rotated)
        assert api.plan(spec).node("load").hash == load.hash  # same rows: nothing to rerun
    finally:
        _set_password(db, rotated, db["password"])
        monkeypatch.setenv(PASSWORD, db["password"])
    engine = sqlalchemy.create_engine(url(db, db["password"]))
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE iris_copy SET petal_width_cm = 9.9 WHERE id = 3")
    engine.dispose()
    changed = api.plan(spec).node("load")
    assert changed.params["fingerprint"] != first.fingerprint and changed.hash != load.hash  # a changed row reruns


def _set_password(db: dict, current: str, new: str) -> None:
    """The test user changes its own password (as a rotation would)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url(db, current))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"ALTER ROLE {db['user']} PASSWORD '{new}'")
    engine.dispose()


def test_the_password_stays_out_of_the_plan_and_of_what_the_cli_prints(db, tmp_path):
    spec = iris_spec(tmp_path, table_source(db))
    plan = api.plan(spec)
    for node in plan.nodes:
        assert db["password"] not in json.dumps(node.params), node.id
    load = plan.node("load")
    assert load.params["source"]["url"] == f"postgresql+psycopg://***@127.0.0.1:{db['port']}/mlops_test"
    assert db["password"] in load.call_params()["source"]["url"]  # the node itself still connects
    shown = CliRunner().invoke(app(), ["plan", str(spec), "--json"])
    assert shown.exit_code == 0, shown.output
    assert db["password"] not in shown.output and "***@127.0.0.1" in shown.output
    for command in (["plan", str(spec)], ["validate", str(spec)]):
        printed = CliRunner().invoke(app(), command)
        assert printed.exit_code == 0 and db["password"] not in printed.output, printed.output


def test_trains_end_to_end_and_mlflow_never_sees_the_password(db, tmp_path, caplog, capsys):
    """Every node of the plan run in this process (tests/report_versions.py's way, no Ray), logged to MLflow as
    apply logs a run: the model is registered, and no param, tag or logged file holds the password."""
    import importlib

    from mlflow.tracking import MlflowClient

    from mlops.plan.kinds import kind_of
    from mlops.registry import Registry
    from mlops.runtime.apply import _log_run_inputs
    from mlops.runtime.redacted_registry import RedactedRegistry
    from mlops.stages import register

    caplog.set_level(logging.DEBUG)
    spec = iris_spec(tmp_path, f'{{type: sql, url: "{url(db)}", query: "SELECT * FROM iris WHERE id >= :first", '
                               'params: {first: 0}}')
    project = api.load(spec)
    plan = api.plan(spec)
    uri = plan.node("register").runtime["tracking_uri"]
    registry = RedactedRegistry(Registry(uri))
    run_id = registry.start_run("iris_sql")
    _log_run_inputs(registry, run_id, project, plan)
    outputs = {}
    for node in plan.nodes:
        inputs = {name: outputs[source] for name, source in node.inputs.items()}
        if node.kind == "register":
            done = register.run(**inputs, params=node.params, registry=registry, run_id=run_id)
            break
        module, function = kind_of(node.kind).task.split(":")
        outputs[node.id] = getattr(importlib.import_module(module), function)(**inputs, params=node.call_params())
    registry.end_run(run_id)
    assert done.version == "1" and outputs["load"].fingerprint["rows"] == 150
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    recorded = json.dumps([run.data.params, run.data.tags])
    for path in ("spec/resolved_spec.yaml", "spec/plan.json"):
        recorded += open(client.download_artifacts(run_id, path, str(tmp_path))).read()
    assert "***@127.0.0.1" in recorded and "SELECT * FROM iris" in recorded
    printed = capsys.readouterr()
    for text in (recorded, caplog.text, printed.out, printed.err):
        assert db["password"] not in text


@pytest.mark.parametrize("source, field, words", [
    ('{type: sql, url: "URL", table: no_such_table}', "data.source.table", 'relation "no_such_table" does not exist'),
    ('{type: sql, url: "URL", query: "SELEC * FROM iris"}', "data.source.query", "syntax error"),
    ('{type: sql, url: "URL", query: "SELECT * FROM iris WHERE id > :first"}', "data.source.params", "bind parameter"),
    ('{type: sql, url: "WRONG_PASSWORD", table: iris}', "data.source.url", "password authentication failed"),
    ('{type: sql, url: "CLOSED_PORT", table: iris}', "data.source.url", "cannot connect to the database"),
    ('{type: sql, url: "PG8000", table: iris}', "data.source.url", "the database driver pg8000 is not installed"),
    ('{type: sql, url: "nosuch://user:pw@host/db", table: iris}', "data.source.url", "no dialect 'nosuch'"),
    ('{type: sql, url: "user:pw@host/db", table: iris}', "data.source.url", "not a database URL"),
])
def test_failures_are_one_error_naming_the_field_without_the_password(db, tmp_path, source, field, words):
    urls = {'"URL"': f'"{url(db)}"', '"WRONG_PASSWORD"': f'"{url(db, "not-" + db["password"])}"',
            '"CLOSED_PORT"': f'"{url(db, port=free_port())}"', '"PG8000"': f'"{url(db, driver="pg8000")}"'}
    for placeholder, real in urls.items():
        source = source.replace(placeholder, real)
    spec = iris_spec(tmp_path, source)
    with pytest.raises(SpecError) as raised:
        api.validate(spec)
    assert [p.path for p in raised.value.problems] == [field], str(raised.value)
    assert words in str(raised.value)
    assert db["password"] not in str(raised.value) and "pw@" not in str(raised.value)
    shown = CliRunner().invoke(app(), ["validate", str(spec)])
    assert shown.exit_code == 2 and field in shown.output and "Traceback" not in shown.output
    assert db["password"] not in shown.output


@pytest.mark.parametrize("source, field, words", [
    ('{type: sql, url: "postgresql+psycopg://u@h/d"}', "data.source.query", "needs a query"),
    ('{type: sql, url: "postgresql+psycopg://u@h/d", table: iris, query: "SELECT 1"}', "data.source.table",
     "either query or table"),
    ('{type: sql, url: "postgresql+psycopg://u@h/d", table: iris, params: {a: 1}}', "data.source.params",
     "need a query"),
    ('{type: sql, url: "postgresql+psycopg://u@h/d", table: "iris; DROP TABLE iris"}', "data.source.table",
     "should match pattern"),
])
def test_the_spec_takes_exactly_one_of_query_and_table(tmp_path, source, field, words):
    with pytest.raises(SpecError) as raised:
        api.validate(iris_spec(tmp_path, source))
    assert [p.path for p in raised.value.problems] == [field] and words in str(raised.value), str(raised.value)


def test_a_feature_view_reads_a_sql_table(db, tmp_path):
    from mlops.runtime.node_calls import run_here

    (tmp_path / "labels.csv").write_text("row,site,label_time,x,target\n1,1,2026-02-01,0.5,0\n2,1,2026-04-01,0.7,1\n"
                                         "3,2,2026-02-01,0.1,0\n4,2,2026-05-01,0.9,1\n")
    spec = write_spec(tmp_path, f"""
name: sites
data:
  source: {{type: csv, path: labels.csv}}
  target: target
  id_column: row
  timestamp: label_time
  entity_keys: [site]
features:
  entities: [{{name: site, key: site}}]
  views:
    - {{name: site_profile, entity: site, timestamp: updated_at, features: [altitude],
       source: {{type: sql, url: "{url(db)}", query: "SELECT site, updated_at, altitude FROM profiles"}}}}
model: {{task: classification, type: sklearn, estimator: logistic_regression}}
tracking: {{uri: "sqlite:///{tmp_path}/mlflow.db"}}
""")
    api.validate(spec)
    plan = api.plan(spec)
    assert db["password"] not in json.dumps(plan.node("join_features").params)
    frame = run_here(plan, "join_features")["join_features"].frame  # each label with the view's row as of its time
    assert frame.sort_values("row")["altitude"].tolist() == [100.0, 150.0, 900.0, 900.0]


def test_retraining_data_and_batch_input_take_the_same_source(db, tmp_path):
    from mlops.plan.compile import compile_retrain_plan

    newest = f'{{type: sql, url: "{url(db)}", query: "SELECT * FROM iris WHERE id >= :since", params: {{since: 100}}}}'
    spec = iris_spec(tmp_path, table_source(db), f"""
retraining:
  data: {{source: {newest}}}
  triggers: [{{on: new_data, min_rows: 10}}]
serving:
  batch: {{input: {newest}, output: out/scored.parquet}}
""")
    project = api.load(spec)
    batch = api.plan(spec).node("batch_predict")
    assert db["password"] not in json.dumps(batch.params) and db["password"] in batch.call_params()["input"]["url"]
    assert len(read_source(batch.call_params()["input"], str(tmp_path), "serving.batch.input")) == 50  # what scoring reads
    retrain = compile_retrain_plan(project, project.spec.retraining.data.source)
    assert retrain.node("load").call_params()["source"]["params"] == {"since": 100}
    assert db["password"] not in json.dumps([n.params for n in retrain.nodes])
    assert len(read_source(project.spec.retraining.data.source.model_dump(mode="json"), str(tmp_path))) == 50


def test_a_node_keeps_a_secret_in_its_runtime_not_in_its_params_or_hash():
    """What the compiler does to every node (no database needed): the password in a source's URL stays out of
    the params, so out of the hash; the node's code still gets it (runtime is read over params)."""
    from mlops.plan import Node, Plan
    from mlops.plan.compile import secrets_to_runtime

    def load_node(password: str) -> Node:
        source = {"type": "sql", "url": f"postgresql+psycopg://app:{password}@db:5432/sales", "table": "orders"}
        return secrets_to_runtime(Node("load", "load", {}, {"source": source, "fingerprint": "sql:1"}))

    node = load_node("s3cret")
    assert node.params["source"]["url"] == "postgresql+psycopg://***@db:5432/sales"
    assert node.call_params()["source"]["url"] == "postgresql+psycopg://app:s3cret@db:5432/sales"
    assert Plan("p", [node]).hash == Plan("p", [load_node("rotated")]).hash
    plain = secrets_to_runtime(Node("load", "load", {}, {"source": {"type": "csv", "path": "data/x.csv"}}))
    assert plain.runtime == {}  # nothing secret: nothing moves


def test_validating_a_spec_without_a_sql_source_imports_no_sqlalchemy():
    probe = subprocess.run([sys.executable, "-c", "import sys; from mlops import api; "
                            f"api.validate({str(EXAMPLES / 'iris' / 'spec.yaml')!r}); "
                            "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'fsspec') if m in sys.modules))"],
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "[]", probe.stderr


def app():
    from mlops.cli import app as typer_app

    return typer_app
