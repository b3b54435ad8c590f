"""Source `sql`: the rows of a query (its `:name` parameters bound by the driver) or of a whole table, read
through SQLAlchemy and pandas.read_sql. SQLAlchemy is imported here only, when a sql source is read, so a
spec without one never imports it.

Every error is one DataError at the field it is about (`url` for the connection, `query` or `table` for
what the database refused, `params` for a missing value) with the database's own message, the URL's
credentials hidden: the password never reaches a message, a log or MLflow.
"""
from __future__ import annotations

import hashlib
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mlops.errors import DataError, Problem
from mlops.extras import Extra, install_hint, installed
from mlops.redact import HIDDEN, redact_text, redact_url
from mlops.sources.loaders import Probe
from mlops.spec.sources import SqlSource

SQL = Extra("sql", ("sqlalchemy",))
BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")  # SQLAlchemy's link to its docs
CHUNK_ROWS = 50_000  # rows hashed at a time when the probe fingerprints the result (bounded memory)
CONNECT_TIMEOUT_S = 10  # an unreachable host fails validation in seconds, not after TCP's minutes
# pip packages of the DBAPI drivers SQLAlchemy URLs name most (module -> package).
DRIVERS = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "asyncpg": "asyncpg", "pg8000": "pg8000",
           "pymysql": "pymysql", "MySQLdb": "mysqlclient", "mysql": "mysql-connector-python", "pyodbc": "pyodbc",
           "oracledb": "oracledb", "pymssql": "pymssql", "duckdb_engine": "duckdb-engine",
           "snowflake": "snowflake-sqlalchemy", "sqlalchemy_bigquery": "sqlalchemy-bigquery"}


def load_sql(cfg: SqlSource, base_dir: Path, field: str = "data.source"):
    """Source `sql`: the query's (or the table's) rows as one frame."""
    import pandas as pd

    with _reading(cfg, field) as (connection, statement):
        return pd.read_sql(statement, connection, params=cfg.params or None)


def probe_sql(cfg: SqlSource, base_dir: Path, field: str) -> Probe:
    """Source `sql`: columns, rows and a fingerprint of the result's contents (read once, streamed in chunks),
    so a plan reruns `load` exactly when what the query returns changes; a DataError when it returns no rows."""
    import pandas as pd

    digest, rows, columns = hashlib.sha256(), 0, []
    with _reading(cfg, field) as (connection, statement):
        streamed = connection.execution_options(stream_results=True)
        for chunk in pd.read_sql(statement, streamed, params=cfg.params or None, chunksize=CHUNK_ROWS):
            columns = [str(c) for c in chunk.columns]
            rows += len(chunk)
            digest.update(pd.util.hash_pandas_object(chunk, index=False).to_numpy().tobytes())
    if rows == 0:
        raise DataError(Problem(_what(cfg, field), "the database returned no rows", value=_shown(cfg)))
    digest.update("|".join(columns).encode())
    return Probe(columns, rows, f"sql:{digest.hexdigest()[:16]}")


@contextmanager
def _reading(cfg: SqlSource, field: str) -> Iterator[tuple[Any, Any]]:
    """A connection to the source's database and the statement to run; every failure as a DataError."""
    if not installed(SQL):
        raise DataError(Problem(f"{field}.type", "the sql source needs SQLAlchemy, which is not installed",
                                hint=install_hint(SQL)))
    import sqlalchemy
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError

    engine = _engine(cfg, field)
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as exc:
            raise DataError(Problem(f"{field}.url", f"cannot connect to the database: {_message(exc, cfg)}",
                                    value=redact_url(cfg.url))) from None
        with connection:
            try:
                yield connection, _statement(cfg, sqlalchemy)
            except DBAPIError as exc:  # the database refused the statement: bad SQL, no such table, no permission
                raise DataError(Problem(_what(cfg, field), f"the database refused it: {_message(exc, cfg)}",
                                        value=_shown(cfg))) from None
            except StatementError as exc:  # refused before it was sent: a `:name` without a value in params
                where = f"{field}.params" if "bind parameter" in str(exc) else _what(cfg, field)
                raise DataError(Problem(where, _message(exc, cfg), value=sorted(cfg.params) or None,
                                        hint="give each `:name` of the query a value in params")) from None
    finally:
        engine.dispose()


def _engine(cfg: SqlSource, field: str) -> Any:
    """The engine of the source's URL (no pool: one connection per read); a DataError naming `url` when the
    URL does not parse, its dialect is unknown or its driver is not installed."""
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.pool import NullPool

    where = f"{field}.url"
    try:
        url = sqlalchemy.engine.make_url(cfg.url)
    except ArgumentError:  # its message quotes the URL: the password with it
        raise DataError(Problem(where, "not a database URL", expected="dialect[+driver]://user@host:port/database, "
                                                                       "e.g. postgresql+psycopg://app@db:5432/sales")) from None
    try:
        libpq = url.get_driver_name() in ("psycopg", "psycopg2")  # loads the dialect: inside the try
        timeout = {"connect_timeout": CONNECT_TIMEOUT_S} if libpq and "connect_timeout" not in url.query else {}
        return sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=timeout)
    except NoSuchModuleError:
        raise DataError(Problem(where, f"SQLAlchemy has no dialect '{url.drivername}'", value=redact_url(cfg.url),
                                hint="check the URL's scheme (postgresql+psycopg, mysql+pymysql, sqlite, ...) or "
                                     "install the dialect's package")) from None
    except ImportError as exc:  # the DBAPI driver the URL names
        module = (exc.name or "").split(".")[0] or url.get_driver_name()
        raise DataError(Problem(where, f"the database driver {module} is not installed", value=redact_url(cfg.url),
                                hint=f"pip install '{DRIVERS.get(module, module)}'")) from None


def _statement(cfg: SqlSource, sqlalchemy: Any) -> Any:
    """The query as a text() statement (its parameters bound by the driver), or SELECT * of the table with its
    name quoted for the dialect."""
    if cfg.query is not None:
        return sqlalchemy.text(cfg.query)
    schema, _, name = cfg.table.rpartition(".")
    return sqlalchemy.select(sqlalchemy.text("*")).select_from(sqlalchemy.table(name, schema=schema or None))


def _what(cfg: SqlSource, field: str) -> str:
    return f"{field}.query" if cfg.query is not None else f"{field}.table"


def _shown(cfg: SqlSource) -> str | None:
    """The table's name, or the query's first line, for a message (never the URL)."""
    if cfg.table is not None:
        return cfg.table
    first = cfg.query.strip().splitlines()[0] if cfg.query and cfg.query.strip() else ""
    return first if len(first) <= 80 else first[:77] + "..."


def _message(exc: BaseException, cfg: SqlSource) -> str:
    """The database's own message (its first line, without SQLAlchemy's SQL and link lines), credentials
    hidden: URLs redacted, and the password itself wherever the driver quoted it."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(cause).__name__
    if text.startswith("(") and ")" in text:  # SQLAlchemy's "(module.ErrorType) message" prefix
        text = text.split(")", 1)[1].strip() or text
    text = BACKGROUND.sub("", text)
    text = redact_text(text)
    password = _password(cfg.url)
    return text.replace(password, HIDDEN) if password else text


def _password(url: str) -> str | None:
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(url).password
    except Exception:  # not a URL: nothing was sent with it
        return None

