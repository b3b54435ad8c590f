"""New MLflow SQLite stores in the test process get their tables from one migrated template.

MLflow creates a new store's tables by running every Alembic migration since its first schema: 2-5 s per
store, and the suite makes a new store in most tests that apply. The schema and rows those migrations leave
are the same for every store, so the test process migrates one template per session and writes its schema
and rows (the SQL `iterdump` gives) into each new, empty store in one transaction. A store that is not
empty, any other database, and every process but pytest's (CLI subprocesses, Ray workers, `mlflow server`)
keep MLflow's own path. What mlops does with a store is unchanged: only MLflow's table creation is shorter.
"""
from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import threading

_MODULES = ("mlflow.store.db.utils", "mlflow.store.model_registry.sqlalchemy_store")
_state: dict = {}
_lock = threading.Lock()


def install() -> None:
    """Replace MLflow's `_initialize_tables` once its modules are imported (call before each test's setup)."""
    for name in _MODULES:
        module = sys.modules.get(name)
        original = getattr(module, "_initialize_tables", None)
        if original is None or getattr(original, "from_template", False):
            continue
        _state.setdefault("original", original)
        module._initialize_tables = _from_template


def _template_sql(original) -> list[str]:
    """The statements that rebuild a migrated, empty store (made once per session by MLflow itself)."""
    if "sql" not in _state:
        import sqlalchemy

        folder = tempfile.mkdtemp(prefix="mlflow-template-")
        try:
            engine = sqlalchemy.create_engine(f"sqlite:///{folder}/template.db")
            original(engine)
            engine.dispose()
            conn = sqlite3.connect(f"{folder}/template.db")
            _state["sql"] = [s for s in conn.iterdump() if s not in ("BEGIN TRANSACTION;", "COMMIT;")]
            conn.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return _state["sql"]


def _from_template(engine) -> None:
    original = _state["original"]
    path = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        return original(engine)
    with _lock:
        statements = _template_sql(original)
        conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # the emptiness check and the tables, one writer's transaction
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                conn.execute("ROLLBACK")
                return original(engine)
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
        finally:
            conn.close()


_from_template.from_template = True


def create(database) -> None:
    """The tables of a new SQLite store at `database`, without its Default experiment (for a store a server
    opens: the server adds that experiment, with its own artifact root)."""
    import mlflow.store.db.utils
    import sqlalchemy

    install()
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    try:
        mlflow.store.db.utils._initialize_tables(engine)
    finally:
        engine.dispose()
