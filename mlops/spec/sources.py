"""Spec models of the built-in data sources. Plugins subclass SourceConfig the same way."""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from mlops.errors import FieldValueError
from mlops.spec.base import StrictModel

# A table name as `table:` takes it: a name, or schema.name (quoted by SQLAlchemy for the database's dialect).
TABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$"


def csv_options(source: dict[str, Any]) -> dict[str, Any]:
    """pandas.read_csv's options for a csv source given as plain data (a plan's params): separator, decimal
    mark, thousands separator; initial spaces skipped."""
    return {"sep": source.get("separator", ","), "decimal": source.get("decimal", "."),
            "thousands": source.get("thousands"), "skipinitialspace": True, "encoding": text_encoding(source)}


def text_encoding(source: dict[str, Any]) -> str:
    """The Python codec a csv source is read with: utf-8 as utf-8-sig, which also skips a byte-order mark."""
    import codecs

    name = source.get("encoding") or "utf-8"
    return "utf-8-sig" if codecs.lookup(name).name == "utf-8" else name


class SourceConfig(StrictModel):
    """Base of every data source config: `type` names the registered source."""

    type: str


class CsvSource(SourceConfig):
    """One CSV file, or a glob of them read in sorted order."""

    type: Literal["csv"] = Field("csv", description="csv: CSV files")
    path: str = Field(description="file path or glob, relative to the spec's directory; or a URL (file://, s3://, "
                                  "gs://) read through fsspec, its storage options from the environment")
    separator: str = Field(",", description="the field separator")
    decimal: Literal[".", ","] = Field(".", description="the decimal mark of the file's numbers: ',' for exports "
                                                      "that write 3,5 (with separator ';')")
    thousands: Optional[Literal[",", ".", " ", "'"]] = Field(None, description="the thousands separator inside "
                                                                             "numbers, e.g. '.' for 1.234,56")
    encoding: str = Field("utf-8", description="the files' text encoding: utf-8 (a byte-order mark, as Excel writes "
                                               "one, is skipped), or latin-1, cp1252, ... for older exports")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, name: str) -> str:
        import codecs

        try:
            codecs.lookup(name)
        except LookupError:
            raise ValueError(f"unknown text encoding {name!r} (utf-8, latin-1, cp1252, utf-16, ...)") from None
        return name

    @model_validator(mode="after")
    def _marks_apart(self):
        if self.thousands is not None and self.thousands == self.decimal:
            raise FieldValueError("thousands", f"thousands and decimal are both {self.decimal!r}")
        if self.separator == self.decimal:
            raise FieldValueError("decimal", f"the decimal mark {self.decimal!r} is also the field separator; "
                                             f"set separator (';' is usual with decimal ',')")
        return self

    def pandas_options(self) -> dict[str, Any]:
        """How pandas.read_csv reads these files (every reader of a csv source passes these)."""
        return csv_options(self.model_dump())


class ParquetSource(SourceConfig):
    """A parquet file, a glob of files, or a directory of them."""

    type: Literal["parquet"] = Field("parquet", description="parquet: parquet files")
    path: str = Field(description="file, glob or directory, relative to the spec's directory; or a URL (file://, "
                                  "s3://, gs://) read through fsspec, its storage options from the environment")


class SklearnSource(SourceConfig):
    """A dataset bundled with scikit-learn (no download)."""

    type: Literal["sklearn"] = Field("sklearn", description="sklearn: a dataset bundled with scikit-learn")
    name: Literal["iris", "wine", "breast_cancer", "diabetes", "digits"] = Field(description="which bundled dataset")


class SqlSource(SourceConfig):
    """The rows of a SQL query or a whole table, read through SQLAlchemy (any database it has a driver for)."""

    type: Literal["sql"] = Field("sql", description="sql: a query or a table of a database (SQLAlchemy)")
    url: str = Field(min_length=1, description="SQLAlchemy URL, e.g. postgresql+psycopg://user:${oc.env:PGPASSWORD}@host:5432/db "
                                               "(the password from the environment; hidden in logs, plans and MLflow)")
    query: Optional[str] = Field(None, min_length=1, description="a SELECT whose rows are the data; `:name` marks a "
                                                                "bound parameter given in params (exactly one of query, table)")
    table: Optional[str] = Field(None, pattern=TABLE_NAME, description="a table (or schema.table) read whole "
                                                                      "(exactly one of query, table)")
    params: dict[str, Union[str, int, float, bool, None]] = Field(
        default_factory=dict, description="values of the query's `:name` parameters, bound by the driver (never "
                                          "formatted into the SQL)")

    @model_validator(mode="after")
    def _query_or_table(self):
        if self.query is None and self.table is None:
            raise FieldValueError("query", "the sql source needs a query (SELECT ...) or a table (a table's name)")
        if self.query is not None and self.table is not None:
            raise FieldValueError("table", "give either query or table, not both")
        if self.params and self.query is None:
            raise FieldValueError("params", "bound parameters need a query with `:name` placeholders (table reads "
                                            "the whole table)")
        return self
